/*
 * roost_test.c - runner for roost_test.h: runs the registered tests in
 * registration order, prints one line per test and the closing tally.
 */
#include "roost_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct roost_test_case *tests_head, **tests_tail = &tests_head;
static bool current_failed;
static jmp_buf current_jmp;
static const char *current_name;
static char tmpdir_path[512];

void roost_test_register(struct roost_test_case *tc)
{
    *tests_tail = tc;
    tests_tail = &tc->next;
}

void roost_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failed = true;
}

_Noreturn void roost_test_abort(void)
{
    longjmp(current_jmp, 1);
}

const char *roost_test_tmpdir(void)
{
    const char *base = getenv("ROOST_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir_path, sizeof(tmpdir_path), "%s/%s-%d-XXXXXX", base, current_name,
             (int)getpid());
    if (!mkdtemp(tmpdir_path)) {
        perror("mkdtemp");
        abort();
    }
    return tmpdir_path;
}

long roost_test_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9') v = *p - '0';
        else if (*p >= 'a' && *p <= 'f') v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F') v = *p - 'A' + 10;
        else if (*p == ' ' || *p == '\n' || *p == '\t') continue;
        else return -1;
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? (long)n : -1;
}

/* Runs one test; setjmp lives here so no caller variable can be clobbered. */
static bool run_one(struct roost_test_case *tc)
{
    current_failed = false;
    current_name = tc->name;
    if (setjmp(current_jmp) == 0)
        tc->fn();
    return !current_failed;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    unsigned passed = 0, failed = 0;
    for (struct roost_test_case *tc = tests_head; tc; tc = tc->next) {
        if (filter && !strstr(tc->name, filter))
            continue;
        if (!run_one(tc)) {
            failed++;
            printf("not ok - %s\n", tc->name);
        } else {
            passed++;
            printf("ok - %s\n", tc->name);
        }
        fflush(stdout);
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
