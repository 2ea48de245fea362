/* For tests of what happens when a task cannot get a stack: parks tasks
 * until the loop's default-size stack pool has no free stack and no room
 * left in its slab, and allows no separately guarded stack, so the next
 * task's first run needs a new slab, whose record an injected allocation
 * failure (cio_test_fail_alloc) can refuse. */
#ifndef CIO_TESTS_STACK_FILL_H
#define CIO_TESTS_STACK_FILL_H

#include <cio/test.h>

#include "core/runtime.h"

static int stack_fill_parked(void *arg) {
    (void)arg;
    return cio_sleep(CIO_FOREVER);
}

/* Returns how many tasks it parked in ts (at most max), or -1 if the pool
 * was still not full after max. */
static inline int stack_fill(cio_task **ts, int max) {
    cio_loop *L = cio__loop();
    L->guard_budget = 0;
    cio__stack_pool *p = NULL;
    for (int i = 0; i < CIO__STACK_POOLS && !p; i++)
        if (L->pools[i].size == L->default_stack || L->pools[i].size == 0)
            p = &L->pools[i];
    int n = 0;
    while (p && (p->size == 0 || p->nfree > 0 || p->ncold > 0 ||
                 p->slab + p->size + L->page <= p->slab_end)) {
        if (n == max)
            return -1;
        ts[n++] = cio_spawn(stack_fill_parked, NULL);
        cio_yield(); /* it runs, and parks on its stack */
    }
    return n;
}

/* Cancels and collects what stack_fill parked. */
static inline int stack_fill_release(cio_task **ts, int n) {
    for (int i = 0; i < n; i++)
        cio_cancel(ts[i]);
    return cio_gather(ts, (size_t)n, NULL);
}

#endif
