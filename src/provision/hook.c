/*
 * hook.c - pre-provisioning hooks. AWS calls a Lambda function with the
 * RegisterThing request and provisions only when it answers
 * {"allowProvisioning": true, "parameterOverrides": {...}}. A self-hosted
 * server has no Lambda, so a template's preProvisioningHook.targetArn names
 * either a webhook ("https://..." or "http://...", POSTed the same JSON)
 * or a local program ("exec:/absolute/path", given the JSON on stdin and
 * expected to print the answer on stdout). Both get the same time limit as
 * AWS's hook (5 s by default). Runs on the provisioning hook threads only,
 * never on an event loop or the store's writer.
 */
#include "provision/provision.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOOK_ANSWER_MAX (64 * 1024)

static int fail(char *err, size_t errcap, int rc, const char *fmt, const char *detail)
{
    snprintf(err, errcap, fmt, detail ? detail : "");
    return rc;
}

/* ==== Webhook ============================================================== */

static size_t collect(char *data, size_t size, size_t nmemb, void *ud)
{
    struct roost_buf *b = ud;
    size_t n = size * nmemb;
    if (roost_buf_size(b) + n > HOOK_ANSWER_MAX)
        return 0; /* makes curl fail the transfer */
    roost_buf_append(b, data, n);
    return n;
}

static int run_webhook(const char *url, const char *body, unsigned timeout_ms,
                       struct roost_buf *answer, char *err, size_t errcap)
{
    int rc = 0;
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    if (!curl)
        return fail(err, errcap, ROOST_ENOMEM, "cannot start an HTTP client%s", NULL);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = fail(err, errcap, cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO,
                  "webhook failed: %s", curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        char code[16];
        snprintf(code, sizeof(code), "%ld", status);
        rc = fail(err, errcap, -EIO, "webhook answered HTTP %s", code);
    }
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

/* ==== Local command ======================================================== */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Feeds `body` to the program's stdin and reads its stdout, both
 * non-blocking under one deadline, so a program that never reads or never
 * exits cannot hold the thread past the timeout. */
static int run_command(const char *path, const char *body, unsigned timeout_ms,
                       struct roost_buf *answer, char *err, size_t errcap)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    int rc = 0;
    pid_t pid = -1;
    if (path[0] != '/')
        return fail(err, errcap, ROOST_EINVAL, "hook command must be an absolute path%s", NULL);
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        rc = fail(err, errcap, -EIO, "cannot run the hook: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        rc = fail(err, errcap, -EIO, "cannot run the hook: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        char *const argv[] = {(char *)path, NULL};
        execv(path, argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in[0] = out[1] = -1;
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);

    size_t body_len = strlen(body), written = 0;
    uint64_t deadline = mono_ms() + timeout_ms;
    bool eof = false;
    while (!eof) {
        uint64_t now = mono_ms();
        if (now >= deadline) {
            rc = fail(err, errcap, -ETIMEDOUT, "hook command timed out%s", NULL);
            goto out;
        }
        struct pollfd pfd[2] = {{.fd = out[0], .events = POLLIN}, {.fd = in[1], .events = POLLOUT}};
        int nfds = in[1] >= 0 ? 2 : 1;
        if (poll(pfd, (nfds_t)nfds, (int)(deadline - now)) < 0 && errno != EINTR) {
            rc = fail(err, errcap, -EIO, "hook command: %s", strerror(errno));
            goto out;
        }
        if (nfds == 2 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in[1], body + written, body_len - written);
            if (w > 0)
                written += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                written = body_len; /* it closed stdin: it does not want the rest */
            if (written == body_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[4096];
            ssize_t r = read(out[0], buf, sizeof(buf));
            if (r == 0) {
                eof = true;
            } else if (r > 0) {
                if (roost_buf_size(answer) + (size_t)r > HOOK_ANSWER_MAX) {
                    rc = fail(err, errcap, ROOST_ETOOBIG, "hook command wrote too much%s", NULL);
                    goto out;
                }
                roost_buf_append(answer, buf, (size_t)r);
            } else if (errno != EAGAIN && errno != EINTR) {
                rc = fail(err, errcap, -EIO, "hook command: %s", strerror(errno));
                goto out;
            }
        }
    }
    int status = 0;
    /* stdout closed: the program is exiting; wait for it within the deadline */
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (mono_ms() >= deadline) {
            rc = fail(err, errcap, -ETIMEDOUT, "hook command timed out%s", NULL);
            goto out;
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char code[32];
        snprintf(code, sizeof(code), "%d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        rc = fail(err, errcap, -EIO, "hook command exited with status %s", code);
    }
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    return rc;
}

int roost_provision_run_hook(const char *target, const json_t *payload, unsigned timeout_ms,
                             json_t **out_answer, char *err, size_t errcap)
{
    *out_answer = NULL;
    err[0] = '\0';
    char *body = json_dumps(payload, JSON_COMPACT);
    if (!body)
        return fail(err, errcap, ROOST_ENOMEM, "out of memory%s", NULL);
    struct roost_buf answer;
    roost_buf_init(&answer, 0);
    int rc;
    if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0)
        rc = run_webhook(target, body, timeout_ms, &answer, err, errcap);
    else if (strncmp(target, "exec:", 5) == 0)
        rc = run_command(target + 5, body, timeout_ms, &answer, err, errcap);
    else
        rc = fail(err, errcap, ROOST_EINVAL, "unsupported hook target %s", target);
    free(body);
    if (rc)
        goto out;
    json_error_t je;
    json_t *j = json_loadb(answer.data ? (const char *)answer.data : "", roost_buf_size(&answer),
                           0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        rc = fail(err, errcap, ROOST_EMALFORMED, "the hook's answer is not a JSON object%s", NULL);
        goto out;
    }
    *out_answer = j;
out:
    roost_buf_cleanup(&answer);
    return rc;
}
