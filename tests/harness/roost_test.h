/*
 * roost_test.h - the unit-test harness: ROOST_TEST(name) registers a test,
 * CHECK_* record a failure and go on, REQUIRE_* record and end the test.
 * Each test file is its own executable (ctest isolates crashes and enforces
 * time-outs); main() runs every test, or those matching argv[1], and ends
 * with "N passed, N failed".
 */
#ifndef ROOST_TEST_H
#define ROOST_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef void (*roost_test_fn)(void);

struct roost_test_case {
    const char *name;
    roost_test_fn fn;
    struct roost_test_case *next;
};

void roost_test_register(struct roost_test_case *tc);
void roost_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void roost_test_abort(void);
/* A fresh empty directory for this test, under $ROOST_TEST_TMP or /tmp. */
const char *roost_test_tmpdir(void);
/* Decodes hex (spaces allowed) into out; returns byte count or -1. */
long roost_test_unhex(const char *hex, uint8_t *out, size_t cap);

#define ROOST_TEST(name)                                                       \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)             \
    {                                                                          \
        static struct roost_test_case tc = {#name, test_##name, NULL};         \
        roost_test_register(&tc);                                              \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            roost_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);           \
    } while (0)

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            roost_test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);         \
            roost_test_abort();                                                \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long va_ = (long long)(a), vb_ = (long long)(b);                  \
        if (va_ != vb_)                                                        \
            roost_test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", \
                            #a, #b, va_, vb_);                                 \
    } while (0)

#define REQUIRE_EQ(a, b)                                                       \
    do {                                                                       \
        long long va_ = (long long)(a), vb_ = (long long)(b);                  \
        if (va_ != vb_) {                                                      \
            roost_test_fail(__FILE__, __LINE__, "REQUIRE_EQ(%s, %s): %lld != %lld", \
                            #a, #b, va_, vb_);                                 \
            roost_test_abort();                                                \
        }                                                                      \
    } while (0)

#define CHECK_OK(expr) CHECK_EQ((expr), 0)
#define REQUIRE_OK(expr) REQUIRE_EQ((expr), 0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *sa_ = (a), *sb_ = (b);                                     \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                             \
            roost_test_fail(__FILE__, __LINE__, "CHECK_STR(%s, %s): \"%s\" != \"%s\"", \
                            #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
    } while (0)

#define CHECK_MEM(a, b, n)                                                     \
    do {                                                                       \
        if (memcmp((a), (b), (n)) != 0)                                        \
            roost_test_fail(__FILE__, __LINE__, "CHECK_MEM(%s, %s, %s) differ", #a, #b, #n); \
    } while (0)

#endif /* ROOST_TEST_H */
