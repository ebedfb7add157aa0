/*
 * config.c - where `roost` finds its server and its keys. A data dir made by
 * roostd holds everything: admin.credentials (AWS shared-credentials format,
 * so the AWS CLI can use the same file), pki/root-ca.pem (the CA that signed
 * the server's certificate) and ports.json (the ports actually in use). Flags
 * override each piece. The parsers are pure and unit-tested; only
 * cli__read_file and cli__config_resolve touch the file system.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- credentials file -------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    return end;
}

static bool span_eq(const char *p, const char *end, const char *want)
{
    size_t n = strlen(want);
    return (size_t)(end - p) == n && memcmp(p, want, n) == 0;
}

static int copy_value(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = (size_t)(end - p);
    if (n + 1 > cap)
        return ROOST_ETOOBIG;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int cli__creds_parse(const char *text, size_t len, const char *profile, struct cli_creds *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = text, *end = text + len;
    bool in_profile = false, seen_profile = false;
    int rc = 0;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *s = skip_ws(p, line_end);
        const char *e = trim_end(s, line_end);
        bool indented = s != p;
        p = nl ? nl + 1 : end;
        /* Indented lines continue a value or nest settings (botocore's
         * reader); neither carries a key we use. */
        if (s == e || *s == '#' || *s == ';' || indented)
            continue;
        if (*s == '[') {
            if (e[-1] != ']') {
                in_profile = false;
                continue;
            }
            const char *ns = skip_ws(s + 1, e - 1);
            const char *ne = trim_end(ns, e - 1);
            /* The config file's form, "[profile name]", is accepted too. */
            if ((size_t)(ne - ns) > 8 && memcmp(ns, "profile ", 8) == 0)
                ns = skip_ws(ns + 8, ne);
            in_profile = span_eq(ns, ne, profile);
            seen_profile |= in_profile;
            continue;
        }
        if (!in_profile)
            continue;
        /* `key = value` or `key: value`, whichever comes first. */
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *colon = memchr(s, ':', (size_t)(e - s));
        if (!eq || (colon && colon < eq))
            eq = colon;
        if (!eq)
            continue;
        const char *ke = trim_end(s, eq);
        const char *vs = skip_ws(eq + 1, e);
        if (span_eq(s, ke, "aws_access_key_id"))
            rc = copy_value(vs, e, out->access_key_id, sizeof(out->access_key_id));
        else if (span_eq(s, ke, "aws_secret_access_key"))
            rc = copy_value(vs, e, out->secret, sizeof(out->secret));
        else if (span_eq(s, ke, "aws_session_token"))
            rc = copy_value(vs, e, out->token, sizeof(out->token));
    }
    if (!rc && (!seen_profile || !out->access_key_id[0] || !out->secret[0]))
        rc = ROOST_ENOTFOUND;
    if (rc) {
        /* Never leave half a secret behind. */
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- ports.json ------------------------------------------------------------- */

static int port_member(const json_t *root, const char *key)
{
    const json_t *v = json_object_get(root, key);
    if (!json_is_integer(v))
        return 0;
    json_int_t n = json_integer_value(v);
    return n > 0 && n < 65536 ? (int)n : 0;
}

int cli__ports_parse(const char *text, size_t len, int *out_mqtt, int *out_https)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    int rc = 0;
    *out_mqtt = *out_https = 0;
    if (!json_is_object(root)) {
        rc = ROOST_EMALFORMED;
        goto out;
    }
    *out_mqtt = port_member(root, "mqtt");
    *out_https = port_member(root, "https");
out:
    json_decref(root);
    return rc;
}

/* ---- files --------------------------------------------------------------------- */

int cli__read_file(const char *path, size_t limit, char **out, size_t *out_len)
{
    if (strcmp(path, "-") != 0)
        return roost_read_file(path, limit, out, out_len);
    int fd = dup(STDIN_FILENO);
    if (fd < 0) {
        *out = NULL;
        return -errno;
    }
    int rc = roost_read_fd(fd, limit, out, out_len);
    close(fd);
    return rc;
}

/* ---- endpoint -------------------------------------------------------------------- */

int cli__endpoint_split(const char *url, char **out_authority, char **out_host)
{
    const char *p;
    *out_authority = *out_host = NULL;
    if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return ROOST_EINVAL;
    size_t n = strcspn(p, "/?#");
    if (n == 0 || (p[n] != '\0' && strcmp(p + n, "/") != 0))
        return ROOST_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= ' ' || p[i] == '@')
            return ROOST_EINVAL;
    const char *host = p;
    size_t host_n;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (!close)
            return ROOST_EINVAL;
        host = p + 1;
        host_n = (size_t)(close - host);
    } else {
        const char *colon = memchr(p, ':', n);
        host_n = colon ? (size_t)(colon - p) : n;
    }
    if (host_n == 0)
        return ROOST_EINVAL;
    *out_authority = roost_xstrndup(p, n);
    *out_host = roost_xstrndup(host, host_n);
    return 0;
}

/* ---- resolution ------------------------------------------------------------------- */

static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = roost_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int load_creds(const struct cli_global *g, const char *data_dir, struct cli_creds *out,
                      char *err, size_t errlen)
{
    char *path = g->credentials ? roost_xstrdup(g->credentials)
                                : path_join(data_dir, "admin.credentials");
    const char *profile = g->profile ? g->profile : getenv("ROOST_PROFILE");
    char *text = NULL;
    size_t len = 0;
    if (!profile || !profile[0])
        profile = "default";
    int rc = cli__read_file(path, 1u << 20, &text, &len);
    if (rc == -ENOENT && !g->credentials) {
        const char *akid = getenv("AWS_ACCESS_KEY_ID");
        const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
        const char *token = getenv("AWS_SESSION_TOKEN");
        if (akid && secret && strlen(akid) <= CLI_AKID_MAX && strlen(secret) <= CLI_SECRET_MAX &&
            (!token || strlen(token) <= CLI_TOKEN_MAX)) {
            memset(out, 0, sizeof(*out));
            snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", akid);
            snprintf(out->secret, sizeof(out->secret), "%s", secret);
            snprintf(out->token, sizeof(out->token), "%s", token ? token : "");
            rc = 0;
            goto out;
        }
        cfg_err(err, errlen,
                "no credentials: %s does not exist (is --data-dir roostd's data dir? or give "
                "--credentials)",
                path);
        rc = CLI_EUSAGE;
        goto out;
    }
    if (rc) {
        cfg_err(err, errlen, "cannot read credentials %s: %s", path, roost_strerror(rc));
        rc = CLI_EUSAGE;
        goto out;
    }
    rc = cli__creds_parse(text, len, profile, out);
    if (rc) {
        cfg_err(err, errlen, "%s has no usable profile [%s] (aws_access_key_id, "
                "aws_secret_access_key)", path, profile);
        rc = CLI_EUSAGE;
    }
out:
    if (text) {
        memset(text, 0, len);
        roost_free(text);
    }
    roost_free(path);
    return rc;
}

int cli__config_resolve(const struct cli_global *g, struct cli_config *out, char *err,
                        size_t errlen)
{
    int rc = 0;
    char *ports_path = NULL, *text = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    err[0] = '\0';

    const char *dir = g->data_dir;
    if (!dir || !dir[0])
        dir = getenv("ROOST_DATA_DIR");
    if (!dir || !dir[0])
        dir = "./roost-data";
    out->data_dir = roost_xstrdup(dir);
    out->region = roost_xstrdup(g->region && g->region[0] ? g->region : "us-east-1");

    out->mqtt_port = 8883;
    out->https_port = 8443;
    ports_path = path_join(dir, "ports.json");
    if (cli__read_file(ports_path, 64u << 10, &text, &len) == 0) {
        int mqtt = 0, https = 0;
        if (cli__ports_parse(text, len, &mqtt, &https) == 0) {
            if (mqtt)
                out->mqtt_port = mqtt;
            if (https)
                out->https_port = https;
        }
    }

    if (g->endpoint) {
        out->endpoint = roost_xstrdup(g->endpoint);
        size_t n = strlen(out->endpoint);
        if (n > 0 && out->endpoint[n - 1] == '/')
            out->endpoint[n - 1] = '\0';
    } else {
        char url[64];
        snprintf(url, sizeof(url), "https://localhost:%d", out->https_port);
        out->endpoint = roost_xstrdup(url);
    }
    if (cli__endpoint_split(out->endpoint, &out->authority, &out->host)) {
        cfg_err(err, errlen, "bad --endpoint '%s' (want https://HOST[:PORT])", out->endpoint);
        rc = CLI_EUSAGE;
        goto out;
    }

    out->ca_file = g->ca_file ? roost_xstrdup(g->ca_file) : path_join(dir, "pki/root-ca.pem");
    if (strncmp(out->endpoint, "https://", 8) == 0 && access(out->ca_file, R_OK) != 0) {
        cfg_err(err, errlen, "cannot read the CA file %s: %s (give --ca-file or --data-dir)",
                out->ca_file, strerror(errno));
        rc = CLI_EUSAGE;
        goto out;
    }

    rc = load_creds(g, dir, &out->creds, err, errlen);
out:
    if (rc)
        cli__config_cleanup(out);
    roost_free(ports_path);
    roost_free(text);
    return rc;
}

void cli__config_cleanup(struct cli_config *c)
{
    if (!c)
        return;
    roost_free(c->data_dir);
    roost_free(c->endpoint);
    roost_free(c->authority);
    roost_free(c->host);
    roost_free(c->ca_file);
    roost_free(c->region);
    memset(c, 0, sizeof(*c));
}
