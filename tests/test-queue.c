/* cio_queue: FIFO/LIFO/priority order, bounded waits, hand-offs, task_done
 * and join, Python 3.13 shutdown, cancellation that loses nothing. */
#include <cio.h>
#include <cio/test.h>

#include "core/internal.h"

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

static cio_queue q;
static char trace[256];
static void note(const char *s) { strncat(trace, s, sizeof trace - strlen(trace) - 1); }

CIO_TEST(queue_fifo_lifo_prio_order) {
    void *v;
    int64_t key;
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_FIFO, 0), 0);
    for (int i = 1; i <= 40; i++) /* past the initial capacity: grows */
        CIO_ASSERT_EQ(cio_queue_put_nowait(&q, I(i)), 0);
    CIO_ASSERT_EQ(cio_queue_size(&q), 40);
    for (int i = 1; i <= 40; i++) {
        CIO_ASSERT_EQ(cio_queue_get_nowait(&q, &v), 0);
        CIO_ASSERT_EQ(V(v), i);
    }
    CIO_ASSERT_EQ(cio_queue_get_nowait(&q, &v), -EAGAIN);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_queue_get_nowait: the queue is empty") != NULL);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);

    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_LIFO, 0), 0);
    for (int i = 1; i <= 3; i++)
        cio_queue_put(&q, I(i));
    for (int i = 3; i >= 1; i--) {
        CIO_ASSERT_EQ(cio_queue_get(&q, &v), 0);
        CIO_ASSERT_EQ(V(v), i);
    }
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);

    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_PRIO, 0), 0);
    int64_t keys[] = {5, 1, 3, 1, 9, 0, 3, 7, 2, 8, 1, 6};
    for (int i = 0; i < 12; i++)
        CIO_ASSERT_EQ(cio_queue_put_prio(&q, I(i), keys[i]), 0);
    int expect[] = {5, 1, 3, 10, 8, 2, 6, 0, 11, 7, 9, 4}; /* by key, FIFO among equals */
    for (int i = 0; i < 12; i++) {
        CIO_ASSERT_EQ(cio_queue_get_prio(&q, &v, &key), 0);
        CIO_ASSERT_EQ(V(v), expect[i]);
        CIO_ASSERT_EQ(key, keys[expect[i]]);
    }
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_errors) {
    void *v;
    CIO_ASSERT_EQ(cio_queue_init(NULL, CIO_QUEUE_FIFO, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_queue_init(&q, (cio_queue_kind)7, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_queue_put(NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_queue_get(NULL, &v), -EINVAL);
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_FIFO, 2), 0);
    CIO_ASSERT_EQ(cio_queue_get(&q, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_queue_maxsize(&q), 2);
    CIO_ASSERT_EQ(cio_queue_put_nowait(&q, I(1)), 0);
    CIO_ASSERT_EQ(cio_queue_put_nowait(&q, I(2)), 0);
    CIO_ASSERT(cio_queue_full(&q));
    CIO_ASSERT_EQ(cio_queue_put_nowait(&q, I(3)), -EAGAIN);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_queue_put_nowait: the queue is full") != NULL);
    CIO_ASSERT_EQ(cio_queue_task_done(&q), 0);
    CIO_ASSERT_EQ(cio_queue_task_done(&q), 0);
    CIO_ASSERT_EQ(cio_queue_task_done(&q), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "task_done() called too many times") != NULL);
    CIO_ASSERT_EQ(cio_queue_task_done(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
    CIO_ASSERT_EQ(cio_queue_destroy(NULL), -EINVAL);
}

CIO_TEST(queue_bounded_put_get_allocate_nothing) {
    void *v;
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_FIFO, 8), 0);
    long before = cio__alloc_live();
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 8; i++)
            CIO_ASSERT_EQ(cio_queue_put(&q, I(i)), 0);
        for (int i = 0; i < 8; i++)
            CIO_ASSERT_EQ(cio_queue_get(&q, &v), 0);
    }
    CIO_ASSERT_EQ(cio__alloc_live(), before);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

static int getter(void *arg) {
    void *v;
    int rc = cio_queue_get(&q, &v);
    if (rc == 0)
        *(int *)arg = V(v);
    return rc;
}

static int putter(void *arg) { return cio_queue_put(&q, arg); }

CIO_TEST(queue_getters_served_fifo_by_handoff) {
    int got[3] = {0};
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(getter, &got[i]);
    cio_yield();
    for (int i = 0; i < 3; i++)
        CIO_ASSERT_EQ(cio_queue_put(&q, I(10 + i)), 0);
    CIO_ASSERT_EQ(cio_queue_size(&q), 0); /* handed straight to the getters */
    void *v;
    CIO_ASSERT_EQ(cio_queue_get_nowait(&q, &v), -EAGAIN); /* nothing to steal */
    CIO_ASSERT_EQ(cio_gather(t, 3, NULL), 0);
    CIO_ASSERT_EQ(got[0], 10);
    CIO_ASSERT_EQ(got[1], 11);
    CIO_ASSERT_EQ(got[2], 12);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_full_putters_served_fifo) {
    void *v;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 1);
    cio_queue_put(&q, I(1));
    cio_task *t[3] = {cio_spawn(putter, I(2)), cio_spawn(putter, I(3)), cio_spawn(putter, I(4))};
    cio_yield();
    CIO_ASSERT_EQ(cio_queue_size(&q), 1);
    for (int i = 1; i <= 4; i++) {
        CIO_ASSERT_EQ(cio_queue_get(&q, &v), 0);
        CIO_ASSERT_EQ(V(v), i);
        CIO_ASSERT_EQ(cio_queue_size(&q), i < 4 ? 1 : 0); /* the next putter's item moved in */
    }
    CIO_ASSERT_EQ(cio_gather(t, 3, NULL), 0);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_cancelled_get_loses_no_item) {
    int got = -1;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    cio_task *a = cio_spawn(getter, &got);
    cio_yield();
    cio_cancel(a); /* while waiting: nothing handed to it */
    CIO_ASSERT_EQ(cio_join(a), -ECANCELED);
    CIO_ASSERT_EQ(cio_queue_put(&q, I(7)), 0);
    CIO_ASSERT_EQ(cio_queue_size(&q), 1); /* not given to the cancelled getter */
    void *v;
    CIO_ASSERT_EQ(cio_queue_get(&q, &v), 0);
    CIO_ASSERT_EQ(V(v), 7);

    /* cancelled after the hand-over: the item is its (get returns 0) */
    int got2 = -1;
    cio_task *b = cio_spawn(getter, &got2);
    cio_yield();
    cio_queue_put(&q, I(8));
    cio_cancel(b);
    CIO_ASSERT_EQ(cio_join(b), 0);
    CIO_ASSERT_EQ(got2, 8);
    CIO_ASSERT_EQ(got, -1);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_cancelled_put_adds_nothing) {
    cio_queue_init(&q, CIO_QUEUE_FIFO, 1);
    cio_queue_put(&q, I(1));
    cio_task *a = cio_spawn(putter, I(2));
    cio_yield();
    cio_cancel(a);
    CIO_ASSERT_EQ(cio_join(a), -ECANCELED);
    void *v;
    CIO_ASSERT_EQ(cio_queue_get(&q, &v), 0);
    CIO_ASSERT_EQ(V(v), 1);
    CIO_ASSERT_EQ(cio_queue_size(&q), 0);
    CIO_ASSERT_EQ(cio_queue_get_nowait(&q, &v), -EAGAIN);
    CIO_ASSERT_EQ(cio_queue_task_done(&q), 0);
    CIO_ASSERT_EQ(cio_queue_task_done(&q), -EINVAL); /* only one item was ever added */
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST_VCLOCK(queue_get_and_put_time_out) {
    void *v;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 1);
    int rc = 0;
    int64_t t0 = cio_now();
    CIO_TIMEOUT(CIO_SEC) { rc = cio_queue_get(&q, &v); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    cio_queue_put(&q, I(1));
    CIO_TIMEOUT(CIO_SEC) { rc = cio_queue_put(&q, I(2)); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT_EQ(cio_queue_size(&q), 1);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

static int worker(void *arg) {
    for (;;) {
        void *v;
        int rc = cio_queue_get(&q, &v);
        if (rc < 0)
            return rc == -ECANCELED || rc == CIO_ECLOSED ? 0 : rc;
        cio_sleep(V(v) * CIO_MS);
        (*(int *)arg)++;
        cio_queue_task_done(&q);
    }
}

CIO_TEST_VCLOCK(queue_join_waits_for_every_task_done) {
    int done = 0;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    CIO_ASSERT_EQ(cio_queue_join(&q), 0); /* nothing pending */
    for (int i = 1; i <= 9; i++)
        cio_queue_put(&q, I(i * 100));
    cio_task *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = cio_spawn(worker, &done);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_queue_join(&q), 0);
    CIO_ASSERT_EQ(done, 9);
    /* 3 workers: (100,400,700) (200,500,800) (300,600,900) -> 1800 ms */
    CIO_ASSERT_EQ(cio_now() - t0, 1800 * CIO_MS);
    for (int i = 0; i < 3; i++)
        cio_cancel(w[i]);
    CIO_ASSERT_EQ(cio_gather(w, 3, NULL), 0);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

static int joiner(void *arg) {
    (void)arg;
    int rc = cio_queue_join(&q);
    note(rc == 0 ? "J" : "j");
    return rc;
}

CIO_TEST(queue_join_cancel_and_timeout) {
    trace[0] = 0;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    cio_queue_put(&q, I(1));
    cio_task *t = cio_spawn(joiner, NULL);
    cio_yield();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    int rc = 0;
    CIO_TIMEOUT(CIO_MS) { rc = cio_queue_join(&q); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    t = cio_spawn(joiner, NULL);
    cio_yield();
    void *v;
    cio_queue_get(&q, &v);
    CIO_ASSERT_STREQ(trace, "j");
    cio_queue_task_done(&q);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_STREQ(trace, "jJ");
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

static int join_rc;
static void join_outside(void *arg) {
    join_rc = cio_queue_join(arg);
    snprintf(trace, sizeof trace, "%s", cio_errmsg());
}

CIO_TEST(queue_join_errors) {
    CIO_ASSERT_EQ(cio_queue_join(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_queue_join: queue is NULL") != NULL);
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    cio_queue_put(&q, I(1));
    trace[0] = 0;
    join_rc = 1;
    CIO_ASSERT_EQ(cio_call_threadsafe(cio_loop_current(), join_outside, &q), 0);
    for (int i = 0; i < 1000 && join_rc == 1; i++)
        cio_sleep(CIO_MS); /* posts run between loop iterations */
    CIO_ASSERT_EQ(join_rc, -EPERM);
    CIO_ASSERT(strstr(trace, "cio_queue_join: items are pending") != NULL);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_shutdown_wakes_waiters_with_closed) {
    int got = -1;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 1);
    cio_task *g = cio_spawn(getter, &got);
    cio_yield();
    cio_queue_shutdown(&q, false);
    CIO_ASSERT_EQ(cio_join(g), CIO_ECLOSED);
    CIO_ASSERT_EQ(cio_queue_put(&q, I(1)), CIO_ECLOSED);
    CIO_ASSERT_EQ(cio_queue_put_nowait(&q, I(1)), CIO_ECLOSED);
    void *v;
    CIO_ASSERT_EQ(cio_queue_get(&q, &v), CIO_ECLOSED);
    CIO_ASSERT_EQ(cio_queue_get_nowait(&q, &v), CIO_ECLOSED);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);

    /* graceful: remaining items are still delivered; putters are refused */
    cio_queue_init(&q, CIO_QUEUE_FIFO, 1);
    cio_queue_put(&q, I(5));
    cio_task *p = cio_spawn(putter, I(6));
    cio_yield();
    cio_queue_shutdown(&q, false);
    CIO_ASSERT_EQ(cio_join(p), CIO_ECLOSED);
    CIO_ASSERT_EQ(cio_queue_get(&q, &v), 0);
    CIO_ASSERT_EQ(V(v), 5);
    CIO_ASSERT_EQ(cio_queue_get(&q, &v), CIO_ECLOSED);
    cio_queue_task_done(&q);
    CIO_ASSERT_EQ(cio_queue_join(&q), 0);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

static int dropped;
static void count_drop(void *item) { dropped += V(item); }

CIO_TEST(queue_shutdown_immediate_drops_items_and_releases_join) {
    trace[0] = 0;
    dropped = 0;
    cio_queue_init(&q, CIO_QUEUE_PRIO, 0);
    cio_queue_set_drop(&q, count_drop);
    cio_queue_put_prio(&q, I(1), 1);
    cio_queue_put_prio(&q, I(2), 2);
    cio_queue_put_prio(&q, I(4), 3);
    void *v;
    cio_queue_get(&q, &v); /* taken, not yet done: join still waits for it */
    cio_task *j = cio_spawn(joiner, NULL);
    cio_yield();
    cio_queue_shutdown(&q, true);
    CIO_ASSERT_EQ(dropped, 6);
    CIO_ASSERT_EQ(cio_queue_size(&q), 0);
    cio_yield();
    CIO_ASSERT_STREQ(trace, "");
    cio_queue_task_done(&q);
    CIO_ASSERT_EQ(cio_join(j), 0);
    CIO_ASSERT_EQ(cio_queue_get_nowait(&q, &v), CIO_ECLOSED);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

/* With no item taken, an immediate shutdown leaves nothing unfinished: it
 * releases a waiting join by itself. */
CIO_TEST(queue_shutdown_immediate_releases_a_waiting_join_at_once) {
    trace[0] = 0;
    dropped = 0;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    cio_queue_set_drop(&q, count_drop);
    cio_queue_put(&q, I(3));
    cio_queue_put(&q, I(4));
    cio_task *j = cio_spawn(joiner, NULL);
    cio_yield();
    CIO_ASSERT_STREQ(trace, "");
    cio_queue_shutdown(&q, true);
    CIO_ASSERT_EQ(dropped, 7);
    CIO_ASSERT_EQ(cio_join(j), 0);
    CIO_ASSERT_STREQ(trace, "J");
    CIO_ASSERT_EQ(cio_queue_task_done(&q), -EINVAL); /* the drops counted as done */
    cio_queue_shutdown(NULL, true); /* no effect, no crash */
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_destroy_refuses_while_tasks_wait_and_drops_items) {
    int got = -1;
    dropped = 0;
    cio_queue_init(&q, CIO_QUEUE_LIFO, 0);
    cio_task *g = cio_spawn(getter, &got);
    cio_yield();
    CIO_ASSERT_EQ(cio_queue_destroy(&q), -EBUSY);
    cio_queue_put(&q, I(3));
    CIO_ASSERT_EQ(cio_join(g), 0);
    cio_queue_set_drop(&q, count_drop);
    cio_queue_put(&q, I(10));
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
    CIO_ASSERT_EQ(dropped, 10);
}

CIO_TEST(queue_nowait_and_introspection) {
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    void *v;
    CIO_ASSERT_EQ(cio_queue_get_nowait(&q, &v), -EAGAIN);
    CIO_ASSERT(cio_queue_empty(&q));
    CIO_ASSERT(!cio_queue_full(&q));
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

static int producer(void *arg) {
    for (int i = 0; i < 1000; i++)
        if (cio_queue_put(&q, I(i + 1)) < 0)
            return -1;
    (void)arg;
    return 0;
}

static int consumer(void *arg) {
    long *sum = arg;
    for (int i = 0; i < 1000; i++) {
        void *v;
        if (cio_queue_get(&q, &v) < 0)
            return -1;
        *sum += V(v);
        cio_queue_task_done(&q);
    }
    return 0;
}

CIO_TEST(queue_many_producers_consumers_sum) {
    long sum = 0;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 16);
    cio_task *t[8];
    for (int i = 0; i < 4; i++) {
        t[i] = cio_spawn(producer, NULL);
        t[4 + i] = cio_spawn(consumer, &sum);
    }
    CIO_ASSERT_EQ(cio_gather(t, 8, NULL), 0);
    CIO_ASSERT_EQ(sum, 4L * 1000 * 1001 / 2);
    CIO_ASSERT_EQ(cio_queue_join(&q), 0);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_out_of_memory_adds_nothing) {
    cio_test_fail_alloc(1);
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_FIFO, 0), -ENOMEM);
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_FIFO, 0), 0);
    for (int i = 0; i < 16; i++) /* the initial capacity */
        CIO_ASSERT_EQ(cio_queue_put_nowait(&q, I(i)), 0);
    cio_test_fail_alloc(1); /* growing fails */
    CIO_ASSERT_EQ(cio_queue_put(&q, I(16)), -ENOMEM);
    CIO_ASSERT_EQ(cio_queue_size(&q), 16);
    CIO_ASSERT_EQ(cio_queue_put(&q, I(16)), 0); /* and works again */
    void *v;
    for (int i = 0; i <= 16; i++) {
        CIO_ASSERT_EQ(cio_queue_get(&q, &v), 0);
        CIO_ASSERT_EQ(V(v), i);
        CIO_ASSERT_EQ(cio_queue_task_done(&q), 0);
    }
    CIO_ASSERT_EQ(cio_queue_task_done(&q), -EINVAL); /* the failed put counted nothing */
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

/* The waiting halves of get_prio and put_prio are separate functions
 * reached by tail calls (core/arch/jump_return.h): every argument has to
 * arrive, and the item and its key come back through them. */
static int prio_getter(void *arg) {
    void *v;
    int64_t key = 0;
    int rc = cio_queue_get_prio(&q, &v, &key);
    *(int64_t *)arg = rc == 0 ? key * 100 + V(v) : rc;
    return rc;
}

static int prio_putter(void *arg) { return cio_queue_put_prio(&q, I(9), (int64_t)(intptr_t)arg); }

CIO_TEST(queue_prio_waits_carry_item_and_key) {
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_PRIO, 1), 0);
    int64_t got = 0;
    cio_task *g = cio_spawn(prio_getter, &got);
    cio_yield(); /* g waits on the empty queue */
    CIO_ASSERT_EQ(cio_queue_put_prio(&q, I(5), 7), 0);
    CIO_ASSERT_EQ(cio_join(g), 0);
    CIO_ASSERT_EQ(got, 705);

    CIO_ASSERT_EQ(cio_queue_put_prio(&q, I(1), 3), 0); /* now full */
    cio_task *p = cio_spawn(prio_putter, (void *)(intptr_t)4);
    cio_yield(); /* p waits for room */
    CIO_ASSERT(!cio_task_done(p));
    void *v;
    int64_t key;
    CIO_ASSERT_EQ(cio_queue_get_prio(&q, &v, &key), 0);
    CIO_ASSERT_EQ(V(v), 1);
    CIO_ASSERT_EQ(key, 3);
    CIO_ASSERT_EQ(cio_join(p), 0); /* its item moved in with its key */
    CIO_ASSERT_EQ(cio_queue_get_prio(&q, &v, &key), 0);
    CIO_ASSERT_EQ(V(v), 9);
    CIO_ASSERT_EQ(key, 4);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

static int prio_getter_rc(void *arg) {
    void *v;
    int64_t key;
    int rc = cio_queue_get_prio(&q, &v, &key);
    *(int *)arg = rc;
    return rc;
}

CIO_TEST_VCLOCK(queue_prio_waits_cancelled_and_timed_out) {
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_PRIO, 1), 0);
    int grc = 1;
    cio_task *g = cio_spawn(prio_getter_rc, &grc);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(g);
    CIO_ASSERT_EQ(cio_join(g), -ECANCELED);
    void *v;
    int64_t key = -1;
    int rc = 0;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_queue_get_prio(&q, &v, &key); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(key, -1);
    CIO_ASSERT_EQ(cio_queue_put_prio(&q, I(1), 3), 0); /* now full */
    cio_task *p = cio_spawn(prio_putter, (void *)(intptr_t)4);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(p);
    CIO_ASSERT_EQ(cio_join(p), -ECANCELED);
    CIO_TIMEOUT(CIO_SEC) { rc = cio_queue_put_prio(&q, I(2), 1); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_queue_size(&q), 1); /* neither waiter added anything */
    CIO_ASSERT_EQ(cio_queue_get_prio(&q, &v, &key), 0);
    CIO_ASSERT_EQ(V(v), 1);
    CIO_ASSERT_EQ(key, 3);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}

CIO_TEST(queue_put_prio_nowait_orders_by_key) {
    CIO_ASSERT_EQ(cio_queue_init(&q, CIO_QUEUE_PRIO, 3), 0);
    CIO_ASSERT_EQ(cio_queue_put_prio_nowait(&q, I(30), 3), 0);
    CIO_ASSERT_EQ(cio_queue_put_prio_nowait(&q, I(10), 1), 0);
    CIO_ASSERT_EQ(cio_queue_put_prio_nowait(&q, I(11), 1), 0); /* FIFO among equal keys */
    CIO_ASSERT_EQ(cio_queue_put_prio_nowait(&q, I(0), 0), -EAGAIN); /* full */
    CIO_ASSERT(strstr(cio_errmsg(), "cio_queue_put_prio_nowait: the queue is full") != NULL);
    CIO_ASSERT_EQ(cio_queue_put_prio_nowait(NULL, I(0), 0), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_queue_put_prio_nowait") != NULL);
    int want[3][2] = {{10, 1}, {11, 1}, {30, 3}};
    for (int i = 0; i < 3; i++) {
        void *v;
        int64_t key;
        CIO_ASSERT_EQ(cio_queue_get_prio(&q, &v, &key), 0);
        CIO_ASSERT_EQ(V(v), want[i][0]);
        CIO_ASSERT_EQ(key, want[i][1]);
    }
    cio_queue_shutdown(&q, false);
    CIO_ASSERT_EQ(cio_queue_put_prio_nowait(&q, I(1), 1), CIO_ECLOSED);
    CIO_ASSERT_EQ(cio_queue_destroy(&q), 0);
}
