#include <cio/test.h>

static int add_one(void *arg) { return *(int *)arg + 1; }

CIO_TEST(spawn_join_returns_result) {
    int x = 41;
    cio_task *t = cio_spawn(add_one, &x);
    CIO_ASSERT(t != NULL);
    CIO_ASSERT_EQ(cio_join(t), 42);
}

CIO_TEST_VCLOCK(sleep_advances_virtual_clock) {
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_sleep(30 * CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_now() - t0, 30 * CIO_SEC);
}
