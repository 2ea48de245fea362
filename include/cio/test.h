/* cio test support (pytest.mark.asyncio for C).
 *
 *   #include <cio/test.h>
 *   CIO_TEST(sleep_returns_zero) { CIO_ASSERT_EQ(cio_sleep(CIO_MS), 0); }
 *   CIO_TEST_VCLOCK(timeout_30s) { ... }   // virtual clock: runs instantly
 *
 * Each body runs as the main task of cio_run, in its own process when run
 * through CTest (`test-core <name>`), with a time limit (CIO_TEST_TIMEOUT
 * seconds, default 60) and, after the loop closes, a check that no task,
 * allocation or file descriptor leaked. Link with libcio_test, which
 * provides main(): `prog` runs all tests, `prog name...` runs those,
 * `prog --list` lists them. */
#ifndef CIO_TEST_H
#define CIO_TEST_H

#include "cio/core.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_test_case {
    const char *name;
    void (*body)(void);
    const char *file;
    int line;
    bool virtual_clock;
    struct cio_test_case *next;
} cio_test_case;

CIO_API void cio_test_register(cio_test_case *tc);
/* Marks the running test failed with a message (printf-style); the body
 * goes on unless the caller returns. CIO_ASSERT* return from the body. */
CIO_API void cio_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Scale factor for heavy tests (CIO_TEST_SCALE, default 1; the sanitizer
 * build sets it lower): returns max(1, n * scale). */
CIO_API long cio_test_scale(long n);
/* Number of open file descriptors of the process. */
CIO_API int cio_test_fd_count(void);
/* Makes the n-th cio allocation from now fail (1 = the next); 0 disables. */
CIO_API void cio_test_fail_alloc(long n);
/* Path to a scratch directory unique to this test (created on demand). */
CIO_API const char *cio_test_tmpdir(void);

#define CIO__TEST_DEFINE(name_, vclock_)                                     \
    static void cio_test_body_##name_(void);                                 \
    static cio_test_case cio_test_case_##name_ = {                           \
        #name_, cio_test_body_##name_, __FILE__, __LINE__, vclock_, NULL};   \
    __attribute__((constructor)) static void cio_test_reg_##name_(void) {    \
        cio_test_register(&cio_test_case_##name_);                           \
    }                                                                        \
    static void cio_test_body_##name_(void)

/* A test whose body runs as a task on the real clock. */
#define CIO_TEST(name) CIO__TEST_DEFINE(name, false)
/* A test on the virtual clock: when every task waits on a timer, time
 * jumps to the next deadline, so long timeouts cost nothing. */
#define CIO_TEST_VCLOCK(name) CIO__TEST_DEFINE(name, true)

#define CIO_ASSERT(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            cio_test_fail(__FILE__, __LINE__, "assertion failed: %s", #cond); \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CIO_ASSERT_EQ(a, b)                                                  \
    do {                                                                     \
        long long cio__a = (long long)(a), cio__b = (long long)(b);          \
        if (cio__a != cio__b) {                                              \
            cio_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld (%s)", \
                          #a, #b, cio__a, cio__b, cio_errmsg());             \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CIO_ASSERT_NE(a, b)                                                  \
    do {                                                                     \
        long long cio__a = (long long)(a), cio__b = (long long)(b);          \
        if (cio__a == cio__b) {                                              \
            cio_test_fail(__FILE__, __LINE__, "%s != %s: both %lld",         \
                          #a, #b, cio__a);                                   \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CIO__ASSERT_CMP(a, op, b)                                            \
    do {                                                                     \
        long long cio__a = (long long)(a), cio__b = (long long)(b);          \
        if (!(cio__a op cio__b)) {                                           \
            cio_test_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld",      \
                          #a, #op, #b, cio__a, cio__b);                      \
            return;                                                          \
        }                                                                    \
    } while (0)
#define CIO_ASSERT_LT(a, b) CIO__ASSERT_CMP(a, <, b)
#define CIO_ASSERT_LE(a, b) CIO__ASSERT_CMP(a, <=, b)
#define CIO_ASSERT_GT(a, b) CIO__ASSERT_CMP(a, >, b)
#define CIO_ASSERT_GE(a, b) CIO__ASSERT_CMP(a, >=, b)

#define CIO_ASSERT_STREQ(a, b)                                               \
    do {                                                                     \
        const char *cio__a = (a), *cio__b = (b);                             \
        if (!cio__a || !cio__b || strcmp(cio__a, cio__b) != 0) {             \
            cio_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"",  \
                          #a, #b, cio__a ? cio__a : "(null)",                \
                          cio__b ? cio__b : "(null)");                       \
            return;                                                          \
        }                                                                    \
    } while (0)

/* Non-returning forms, for use inside task functions (which return int):
 * they mark the test failed and go on. */
#define CIO_EXPECT(cond)                                                     \
    do {                                                                     \
        if (!(cond))                                                         \
            cio_test_fail(__FILE__, __LINE__, "expectation failed: %s", #cond); \
    } while (0)
#define CIO_EXPECT_EQ(a, b)                                                  \
    do {                                                                     \
        long long cio__a = (long long)(a), cio__b = (long long)(b);          \
        if (cio__a != cio__b)                                                \
            cio_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld (%s)", \
                          #a, #b, cio__a, cio__b, cio_errmsg());             \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
