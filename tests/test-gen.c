/* Async generators: values in order, the end code, awaiting producers,
 * errors, early close running the producer's cleanup, and consumer
 * cancellation/timeouts closing the generator. */
#include <cio.h>
#include <cio/test.h>

#include "stack_fill.h"

#include <stdlib.h>

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

static char trace[256];
static void note(const char *s) { strncat(trace, s, sizeof trace - strlen(trace) - 1); }

static int count_to(cio_gen *g, void *arg) {
    note("start;");
    for (int i = 1; i <= V(arg); i++) {
        int rc = cio_sleep(100 * CIO_MS);
        if (rc < 0) {
            note(rc == -ECANCELED ? "cancelled;" : "timedout;");
            return rc;
        }
        rc = cio_gen_yield(g, I(i));
        if (rc < 0) {
            note(rc == CIO_ECLOSED ? "closed;" : "yield-error;");
            return rc;
        }
    }
    note("end;");
    return 0;
}

CIO_TEST_VCLOCK(gen_yields_in_order_then_ends) {
    trace[0] = 0;
    cio_gen g;
    CIO_ASSERT_EQ(cio_gen_init(&g, count_to, I(3)), 0);
    CIO_ASSERT_STREQ(trace, ""); /* nothing runs before the first next */
    int64_t t0 = cio_now();
    void *v;
    for (int i = 1; i <= 3; i++) {
        CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
        CIO_ASSERT_EQ(V(v), i);
        CIO_ASSERT_EQ(cio_now() - t0, i * 100 * CIO_MS);
    }
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    CIO_ASSERT_STREQ(trace, "start;end;");
}

CIO_TEST_VCLOCK(gen_foreach_macro) {
    trace[0] = 0;
    cio_gen g;
    cio_gen_init(&g, count_to, I(4));
    int sum = 0, rc;
    CIO_GEN_FOREACH(&g, v, rc) { sum += V(v); }
    CIO_ASSERT_EQ(rc, CIO_EEND);
    CIO_ASSERT_EQ(sum, 10);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
}

CIO_TEST_VCLOCK(gen_close_early_runs_cleanup) {
    trace[0] = 0;
    cio_gen g;
    cio_gen_init(&g, count_to, I(10));
    void *v;
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    CIO_ASSERT_STREQ(trace, "start;closed;");
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
}

CIO_TEST(gen_close_before_start_runs_nothing) {
    trace[0] = 0;
    cio_gen g;
    cio_gen_init(&g, count_to, I(3));
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    void *v;
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
    CIO_ASSERT_STREQ(trace, "");
}

static int fails_after_one(cio_gen *g, void *arg) {
    (void)arg;
    if (cio_gen_yield(g, I(1)) < 0)
        return 0;
    return cio_seterr(-EPROTO, "bad data at item 2");
}

CIO_TEST(gen_producer_error_reaches_consumer) {
    cio_gen g;
    cio_gen_init(&g, fails_after_one, NULL);
    void *v;
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), -EPROTO);
    CIO_ASSERT_STREQ(cio_errmsg(), "bad data at item 2");
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), -EPROTO);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
}

static int consume_all(void *arg) {
    void *v;
    int rc;
    while ((rc = cio_gen_next(arg, &v)) == 0)
        ;
    return rc;
}

CIO_TEST_VCLOCK(gen_consumer_cancellation_closes_it) {
    trace[0] = 0;
    cio_gen g;
    cio_gen_init(&g, count_to, I(100));
    cio_task *t = cio_spawn(consume_all, &g);
    cio_sleep(250 * CIO_MS); /* the producer is inside its third sleep */
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_STREQ(trace, "start;cancelled;");
    void *v;
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
}

CIO_TEST_VCLOCK(gen_next_timeout_closes_it) {
    trace[0] = 0;
    cio_gen g;
    cio_gen_init(&g, count_to, I(100));
    void *v;
    int rc = 0;
    int64_t t0 = cio_now();
    CIO_TIMEOUT(50 * CIO_MS) { rc = cio_gen_next(&g, &v); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 50 * CIO_MS);
    CIO_ASSERT_STREQ(trace, "start;cancelled;");
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
}

static int slow_cleanup(cio_gen *g, void *arg) {
    int rc = cio_gen_yield(g, I(1));
    if (rc < 0) {
        rc = cio_sleep(V(arg) * CIO_SEC); /* the cleanup awaits */
        note(rc == 0 ? "cleaned;" : "cut;");
    }
    return 0;
}

CIO_TEST_VCLOCK(gen_close_lets_cleanup_await_within_grace) {
    trace[0] = 0;
    cio_gen g;
    cio_gen_init(&g, slow_cleanup, I(1));
    void *v;
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT_STREQ(trace, "cleaned;");

    trace[0] = 0;
    cio_gen_init(&g, slow_cleanup, I(3600));
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    t0 = cio_now();
    CIO_ASSERT_EQ(cio_gen_close(&g), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_CLEANUP_GRACE);
    CIO_ASSERT_STREQ(trace, "cut;");
}

static int next_once(void *arg) {
    void *v;
    return cio_gen_next(arg, &v);
}

CIO_TEST_VCLOCK(gen_misuse) {
    cio_gen g;
    void *v;
    CIO_ASSERT_EQ(cio_gen_init(NULL, count_to, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_gen_init(&g, NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_gen_next(NULL, &v), -EINVAL);
    CIO_ASSERT_EQ(cio_gen_close(NULL), -EINVAL);
    cio_gen_init(&g, count_to, I(2));
    CIO_ASSERT_EQ(cio_gen_yield(&g, NULL), -EINVAL); /* not the producer */
    cio_task *t = cio_spawn(next_once, &g);
    cio_yield(); /* t waits in next while the producer sleeps */
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), -EBUSY);
    CIO_ASSERT_EQ(cio_gen_close(&g), -EBUSY);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
}

CIO_TEST_VCLOCK(gen_producer_cancelled_at_its_yield) {
    trace[0] = 0;
    cio_gen g;
    cio_gen_init(&g, count_to, I(5));
    void *v;
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    cio_cancel(g.task); /* e.g. the loop shutting down */
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), -ECANCELED);
    CIO_ASSERT_STREQ(trace, "start;yield-error;");
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
}

/* A producer that goes on yielding after its yield said the generator was
 * closed: every later yield is CIO_ECLOSED at once, with its message. */
static int yield_after_close[3];
static char yield_after_close_msg[128];

static int stubborn(cio_gen *g, void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++)
        yield_after_close[i] = 1;
    yield_after_close[0] = cio_gen_yield(g, I(1)); /* 0: the consumer asked again */
    yield_after_close[1] = cio_gen_yield(g, I(2)); /* parked here when closed */
    yield_after_close[2] = cio_gen_yield(g, I(3));
    snprintf(yield_after_close_msg, sizeof yield_after_close_msg, "%s", cio_errmsg());
    return 0;
}

CIO_TEST_VCLOCK(gen_yield_after_close_is_eclosed) {
    cio_gen g;
    CIO_ASSERT_EQ(cio_gen_init(&g, stubborn, NULL), 0);
    void *v;
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    CIO_ASSERT_EQ(V(v), 1);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    CIO_ASSERT_EQ(V(v), 2);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    CIO_ASSERT_EQ(yield_after_close[0], 0);
    CIO_ASSERT_EQ(yield_after_close[1], CIO_ECLOSED);
    CIO_ASSERT_EQ(yield_after_close[2], CIO_ECLOSED); /* returns at once, never parks */
    CIO_ASSERT_STREQ(yield_after_close_msg, "generator closed");
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND); /* closed: exhausted from now on */
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
}

static int three_values(cio_gen *g, void *arg) {
    (void)arg;
    for (int i = 1; i <= 3; i++)
        if (cio_gen_yield(g, I(i)) < 0)
            return 0;
    return 0;
}

static int wait_for_event(void *arg) { return cio_event_wait(arg); }

/* The first next cannot spawn the producer: -ENOMEM with its message, the
 * generator is left as it was (nothing ran, nothing leaked), and a later
 * next starts it normally. Task handles come from chunks, so fillers take
 * handles until the producer's spawn needs a new chunk and that fails. */
CIO_TEST(gen_next_out_of_memory_for_the_producer) {
    enum { MAX = 2048 };
    cio_task **fill = calloc(MAX, sizeof *fill);
    CIO_ASSERT(fill != NULL);
    cio_event ev;
    cio_event_init(&ev);
    cio_gen g;
    void *v = I(-1);
    int rc = 0, nfill = 0;
    while (nfill < MAX) {
        CIO_ASSERT_EQ(cio_gen_init(&g, three_values, NULL), 0);
        v = I(-1);
        cio_test_fail_alloc(1);
        rc = cio_gen_next(&g, &v);
        cio_test_fail_alloc(0);
        if (rc < 0)
            break;
        CIO_ASSERT_EQ(V(v), 1);
        CIO_ASSERT_EQ(cio_gen_close(&g), 0);
        fill[nfill] = cio_spawn(wait_for_event, &ev); /* takes the handle g used */
        CIO_ASSERT(fill[nfill] != NULL);
        nfill++;
    }
    CIO_ASSERT_EQ(rc, -ENOMEM);
    CIO_ASSERT_STREQ(cio_errmsg(), "cio_gen_next: cannot spawn the producer");
    CIO_ASSERT_EQ(V(v), -1);
    CIO_ASSERT(g.task == NULL);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0); /* memory back: it starts from the beginning */
    CIO_ASSERT_EQ(V(v), 1);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    CIO_ASSERT_EQ(V(v), 2);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), 0);
    CIO_ASSERT_EQ(V(v), 3);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    /* A generator that never got its producer can be closed as it is. */
    CIO_ASSERT_EQ(cio_gen_init(&g, three_values, NULL), 0);
    fill[nfill] = cio_spawn(wait_for_event, &ev); /* the handle just given back */
    CIO_ASSERT(fill[nfill] != NULL);
    nfill++;
    while (nfill < MAX) { /* use up the new chunk too */
        cio_test_fail_alloc(1);
        rc = cio_gen_next(&g, &v);
        cio_test_fail_alloc(0);
        if (rc < 0)
            break;
        CIO_ASSERT_EQ(cio_gen_close(&g), 0);
        CIO_ASSERT_EQ(cio_gen_init(&g, three_values, NULL), 0);
        CIO_ASSERT((fill[nfill++] = cio_spawn(wait_for_event, &ev)) != NULL);
    }
    CIO_ASSERT_EQ(rc, -ENOMEM);
    CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    CIO_ASSERT_EQ(cio_gen_next(&g, &v), CIO_EEND);
    cio_event_set(&ev);
    for (int i = 0; i < nfill; i++)
        CIO_ASSERT_EQ(cio_join(fill[i]), 0);
    free(fill);
}

/* The producer task cannot get a stack, so it ends without ever running:
 * next answers at once with -ENOMEM and the reason (it used to wait for a
 * producer that was gone), and later calls report the same end. */
CIO_TEST(gen_next_whose_producer_cannot_get_a_stack_answers_at_once) {
    static cio_task *ts[600];
    int n_parked = stack_fill(ts, 600);
    CIO_ASSERT_GE(n_parked, 0);
    int could_not_start = 0, rc = -1;
    for (long n = 1; n < 8 && rc < 0; n++) {
        cio_gen g;
        void *v = I(-1);
        CIO_ASSERT_EQ(cio_gen_init(&g, three_values, NULL), 0);
        cio_test_fail_alloc(n);
        rc = cio_gen_next(&g, &v);
        cio_test_fail_alloc(0);
        if (rc < 0) {
            CIO_ASSERT_EQ(rc, -ENOMEM);
            CIO_ASSERT_EQ(V(v), -1);
            if (strstr(cio_errmsg(), "the producer could not start: spawn: cannot map a task "
                                     "stack") != NULL) {
                could_not_start++;
                CIO_ASSERT_EQ(cio_gen_next(&g, &v), -ENOMEM); /* it stays ended */
            }
        } else {
            CIO_ASSERT_EQ(V(v), 1);
        }
        CIO_ASSERT_EQ(cio_gen_close(&g), 0);
    }
    CIO_ASSERT_EQ(rc, 0);
    CIO_ASSERT_EQ(could_not_start, 1);
    CIO_ASSERT_EQ(stack_fill_release(ts, n_parked), n_parked ? -ECANCELED : 0);
}
