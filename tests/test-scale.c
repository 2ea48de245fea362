/* A million tasks alive at once, each parked, on a default kernel. */
#include <cio/test.h>

#include "core/internal.h"

#include <stdlib.h>

static cio__waitq gate = CIO__WAITQ_INIT;
static long woken;

static int wait_at_gate(void *arg) {
    cio__waiter w;
    int rc = cio__waitq_wait(&gate, &w);
    woken++;
    return rc == 0 ? (int)((intptr_t)arg & 1) : rc;
}

CIO_TEST(million_tasks_alive_at_once) {
    long n = cio_test_scale(1000000);
    cio_task **ts = malloc(sizeof *ts * (size_t)n);
    int *st = malloc(sizeof *st * (size_t)n);
    CIO_ASSERT(ts && st);
    for (long i = 0; i < n; i++) {
        ts[i] = cio_spawn(wait_at_gate, (void *)(intptr_t)i);
        CIO_ASSERT(ts[i] != NULL);
    }
    CIO_ASSERT_EQ(cio_yield(), 0); /* every task runs and parks */
    long parked = 0;
    for (cio__waiter *w = gate.head; w; w = w->next)
        parked++;
    CIO_ASSERT_EQ(parked, n); /* all alive at once, each on its own stack */
    CIO_ASSERT_EQ(cio__waitq_wake_all(&gate, 0), (size_t)n);
    CIO_ASSERT_EQ(cio_gather(ts, (size_t)n, st), 0);
    CIO_ASSERT_EQ(woken, n);
    long odd = 0;
    for (long i = 0; i < n; i++)
        odd += st[i];
    CIO_ASSERT_EQ(odd, n / 2);
    free(ts);
    free(st);
}
