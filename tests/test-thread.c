/* The thread pool, cio_to_thread, cio_call_threadsafe, cio_run_threadsafe. */
#include <cio/test.h>
#include <cio/sync.h>
#include <cio/thread.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/runtime.h"

/* A one-task flag to wait on from a task and set from loop callbacks. */
typedef struct {
    bool set;
    cio__waitq q;
} flag;
static void flag_set(void *arg) {
    flag *f = arg;
    f->set = true;
    cio__waitq_wake_all(&f->q, 0);
}
static int flag_wait(flag *f) {
    while (!f->set) {
        cio__waiter w;
        int rc = cio__waitq_wait(&f->q, &w);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int answer(void *arg) {
    *(pthread_t *)arg = pthread_self();
    return 42;
}

CIO_TEST(to_thread_returns_result_from_another_thread) {
    pthread_t where = pthread_self();
    CIO_ASSERT_EQ(cio_to_thread(answer, &where), 42);
    CIO_ASSERT(!pthread_equal(where, pthread_self()));
    CIO_ASSERT_GE(cio_thread_pool_threads(), 1);
}

static int fails(void *arg) {
    (void)arg;
    return cio_seterr(-ENOENT, "no such widget: %s", "w-7");
}

CIO_TEST(to_thread_error_carries_message) {
    CIO_ASSERT_EQ(cio_to_thread(fails, NULL), -ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), "no such widget: w-7") != NULL);
}

static int fails_silently(void *arg) {
    (void)arg;
    return -EIO;
}

CIO_TEST(to_thread_error_without_message_gets_one_naming_the_call) {
    cio_seterr(-EINVAL, "a stale message");
    CIO_ASSERT_EQ(cio_to_thread(fails_silently, NULL), -EIO);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_to_thread") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "stale") == NULL);
    /* and the next failure with a message still carries it */
    CIO_ASSERT_EQ(cio_to_thread(fails, NULL), -ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), "no such widget: w-7") != NULL);
}

/* Fails with a message, then makes the very next allocation fail: on this
 * worker thread that is the copy of the message (the loop thread is idle,
 * waiting for this call). */
static int fails_then_no_memory(void *arg) {
    (void)arg;
    int rc = cio_seterr(-ENOENT, "no such widget: %s", "w-8");
    cio_test_fail_alloc(1);
    return rc;
}

CIO_TEST(to_thread_error_message_survives_a_failed_copy) {
    CIO_ASSERT_EQ(cio_to_thread(fails_then_no_memory, NULL), -ENOENT);
    cio_test_fail_alloc(0);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_to_thread") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "w-8") == NULL);
}

static void *outside_loop(void *arg) {
    *(int *)arg = cio_to_thread(fails, NULL);
    return NULL;
}

CIO_TEST(to_thread_bad_arguments) {
    CIO_ASSERT_EQ(cio_to_thread(NULL, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "NULL") != NULL);
    int rc = 0;
    pthread_t th;
    pthread_create(&th, NULL, outside_loop, &rc);
    pthread_join(th, NULL);
    CIO_ASSERT_EQ(rc, -EPERM);
}

/* A job that signals it started, then waits to be released. */
typedef struct {
    sem_t started, release, finished;
    atomic_int ran;
} gate;
static void gate_init(gate *g) {
    sem_init(&g->started, 0, 0);
    sem_init(&g->release, 0, 0);
    sem_init(&g->finished, 0, 0);
    atomic_init(&g->ran, 0);
}
static void gate_destroy(gate *g) {
    sem_destroy(&g->started);
    sem_destroy(&g->release);
    sem_destroy(&g->finished);
}
/* Waits for a worker's signal without blocking the loop (jobs are handed
 * to the pool between loop iterations, so the loop must keep turning). */
static int sem_wait_task(sem_t *s) {
    while (sem_trywait(s) != 0) {
        int rc = cio_sleep(CIO_MS);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int gated(void *arg) {
    gate *g = arg;
    sem_post(&g->started);
    sem_wait(&g->release);
    atomic_fetch_add(&g->ran, 1);
    sem_post(&g->finished);
    return 5;
}
static int call_gated(void *arg) { return cio_to_thread(gated, arg); }

CIO_TEST(to_thread_cancel_while_running_returns_at_once) {
    gate g;
    gate_init(&g);
    cio_task *t = cio_spawn(call_gated, &g);
    CIO_ASSERT(t != NULL);
    CIO_ASSERT_EQ(sem_wait_task(&g.started), 0); /* the job runs on a worker */
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED); /* while the job still runs */
    CIO_ASSERT_EQ(atomic_load(&g.ran), 0);
    sem_post(&g.release);
    sem_wait(&g.finished); /* the job ran to its end; its record is freed */
    CIO_ASSERT_EQ(atomic_load(&g.ran), 1);
    /* The pool is still usable afterwards. */
    pthread_t where;
    CIO_ASSERT_EQ(cio_to_thread(answer, &where), 42);
    gate_destroy(&g);
}

static atomic_int queued_ran;
static int mark_ran(void *arg) {
    (void)arg;
    atomic_fetch_add(&queued_ran, 1);
    return 0;
}
static int call_mark(void *arg) { return cio_to_thread(mark_ran, arg); }

CIO_TEST(to_thread_cancel_while_queued_never_runs) {
    CIO_ASSERT_EQ(cio_thread_pool_set_size(1), 0);
    gate g;
    gate_init(&g);
    cio_task *busy = cio_spawn(call_gated, &g);
    CIO_ASSERT_EQ(sem_wait_task(&g.started), 0); /* the only worker is taken */
    cio_task *t = cio_spawn(call_mark, NULL);
    CIO_ASSERT_EQ(cio_yield(), 0); /* t's job waits in the queue */
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    sem_post(&g.release);
    CIO_ASSERT_EQ(cio_join(busy), 5);
    CIO_ASSERT_EQ(atomic_load(&queued_ran), 0);
    CIO_ASSERT_EQ(cio_to_thread(mark_ran, NULL), 0);
    CIO_ASSERT_EQ(atomic_load(&queued_ran), 1);
    gate_destroy(&g);
    cio_thread_pool_set_size(0);
}

CIO_TEST(to_thread_already_cancelled_does_not_submit) {
    cio_task *self = cio_current();
    cio_cancel(self);
    CIO_ASSERT_EQ(cio_to_thread(mark_ran, NULL), -ECANCELED);
    CIO_ASSERT_EQ(atomic_load(&queued_ran), 0);
}

CIO_TEST(to_thread_timeout_returns_etimedout) {
    gate g;
    gate_init(&g);
    int rc = 0;
    CIO_TIMEOUT(20 * CIO_MS) { rc = cio_to_thread(gated, &g); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    sem_post(&g.release);
    sem_wait(&g.finished);
    gate_destroy(&g);
}

static int sleeper(void *arg) {
    (void)arg;
    return cio_sleep(5 * CIO_SEC);
}
static int real_pause(void *arg) {
    (void)arg;
    usleep(20000);
    return 1;
}

/* While a job is out, virtual time must not jump to the next timer. */
CIO_TEST_VCLOCK(to_thread_holds_the_virtual_clock) {
    int64_t t0 = cio_now();
    cio_task *s = cio_spawn(sleeper, NULL);
    CIO_ASSERT_EQ(cio_to_thread(real_pause, NULL), 1);
    CIO_ASSERT(!cio_task_done(s));
    CIO_ASSERT_LT(cio_now() - t0, CIO_SEC);
    CIO_ASSERT_EQ(cio_join(s), 0);
    CIO_ASSERT_EQ(cio_now() - t0, 5 * CIO_SEC);
}

static int square(void *arg) {
    long *v = arg;
    *v = *v * *v;
    return 0;
}
static int call_square(void *arg) { return cio_to_thread(square, arg); }

CIO_TEST(to_thread_many_concurrent_calls) {
    enum { N = 2000 };
    static long vals[N];
    static cio_task *ts[N];
    for (long i = 0; i < N; i++) {
        vals[i] = i;
        ts[i] = cio_spawn(call_square, &vals[i]);
        CIO_ASSERT(ts[i] != NULL);
    }
    CIO_ASSERT_EQ(cio_gather(ts, N, NULL), 0);
    for (long i = 0; i < N; i++)
        CIO_ASSERT_EQ(vals[i], i * i);
}

/* Callers resume in the order their jobs finished: with one worker, the
 * order they called in, however the completions were batched. */
static int resume_order[200], n_resumed;
static int call_then_note(void *arg) {
    long v = 0;
    int rc = cio_to_thread(square, &v);
    resume_order[n_resumed++] = (int)(intptr_t)arg;
    return rc;
}

CIO_TEST(to_thread_callers_resume_in_completion_order) {
    CIO_ASSERT_EQ(cio_thread_pool_set_size(1), 0);
    enum { N = 200 };
    cio_task *ts[N];
    for (int round = 0; round < 3; round++) {
        n_resumed = 0;
        for (int i = 0; i < N; i++)
            CIO_ASSERT((ts[i] = cio_spawn(call_then_note, (void *)(intptr_t)i)) != NULL);
        CIO_ASSERT_EQ(cio_gather(ts, N, NULL), 0);
        CIO_ASSERT_EQ(n_resumed, N);
        for (int i = 0; i < N; i++)
            CIO_ASSERT_EQ(resume_order[i], i);
    }
    cio_thread_pool_set_size(0);
}

/* Cancelling half the callers of one batch: they return -ECANCELED, the
 * others get their results, and the pool goes on serving. */
CIO_TEST(to_thread_cancel_half_of_a_batch) {
    enum { N = 1000 };
    static long rounds[3][N]; /* one each: an abandoned job may still run */
    static cio_task *ts[N];
    static int status[N];
    for (int round = 0; round < 3; round++) {
        long *vals = rounds[round];
        for (long i = 0; i < N; i++) {
            vals[i] = i;
            CIO_ASSERT((ts[i] = cio_spawn(call_square, &vals[i])) != NULL);
        }
        CIO_ASSERT_EQ(cio_yield(), 0); /* every caller has handed its job over */
        for (int i = 1; i < N; i += 2)
            cio_cancel(ts[i]);
        CIO_ASSERT_EQ(cio_gather(ts, N, status), -ECANCELED);
        for (long i = 0; i < N; i++) {
            CIO_ASSERT_EQ(status[i], i % 2 ? -ECANCELED : 0);
            if (i % 2 == 0)
                CIO_ASSERT_EQ(vals[i], i * i);
        }
    }
    long v = 7;
    CIO_ASSERT_EQ(cio_to_thread(square, &v), 0);
    CIO_ASSERT_EQ(v, 49);
}

static atomic_int running_now, running_max;
static int busy_ms(void *arg) {
    (void)arg;
    int r = atomic_fetch_add(&running_now, 1) + 1;
    int m = atomic_load(&running_max);
    while (r > m && !atomic_compare_exchange_weak(&running_max, &m, r)) {
    }
    usleep(1000);
    atomic_fetch_sub(&running_now, 1);
    return 0;
}
static int call_busy(void *arg) { return cio_to_thread(busy_ms, arg); }
static int ticker(void *arg) {
    long *ticks = arg;
    for (;;) {
        if (cio_sleep(CIO_MS) < 0)
            return 0;
        (*ticks)++;
    }
}

/* More jobs than workers: they queue, never more than the pool size run,
 * and the loop keeps serving other tasks meanwhile. */
CIO_TEST(to_thread_saturated_pool_queues_without_blocking_the_loop) {
    CIO_ASSERT_EQ(cio_thread_pool_set_size(2), 0);
    enum { N = 60 };
    cio_task *ts[N];
    long ticks = 0;
    cio_task *tick = cio_spawn(ticker, &ticks);
    for (int i = 0; i < N; i++)
        ts[i] = cio_spawn(call_busy, NULL);
    CIO_ASSERT_EQ(cio_gather(ts, N, NULL), 0);
    cio_cancel(tick);
    CIO_ASSERT_EQ(cio_join(tick), 0);
    CIO_ASSERT_LE(atomic_load(&running_max), 2);
    CIO_ASSERT_LE(cio_thread_pool_threads(), 2);
    CIO_ASSERT_GT(ticks, 0);
    cio_thread_pool_set_size(0);
}

/* A burst wakes one worker per CPU at first; jobs that block (here: until
 * every one of them has started) must still all get a worker of their own,
 * from the monitor that adds workers while the running ones make no
 * progress. */
enum { BLOCKERS = 8 };
static atomic_int blockers_in;

static int block_until_all_in(void *arg) {
    (void)arg;
    atomic_fetch_add(&blockers_in, 1);
    for (int ms = 0; ms < 10000 && atomic_load(&blockers_in) < BLOCKERS; ms++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return atomic_load(&blockers_in) == BLOCKERS ? 0 : -ETIMEDOUT;
}

static int call_blocker(void *arg) { return cio_to_thread(block_until_all_in, arg); }

CIO_TEST(to_thread_blocking_jobs_beyond_the_cpus_all_run_at_once) {
    CIO_ASSERT_EQ(cio_thread_pool_set_size(BLOCKERS), 0);
    atomic_store(&blockers_in, 0);
    cio_task *ts[BLOCKERS];
    for (int i = 0; i < BLOCKERS; i++)
        ts[i] = cio_spawn(call_blocker, NULL);
    int st[BLOCKERS];
    CIO_ASSERT_EQ(cio_gather(ts, BLOCKERS, st), 0);
    CIO_ASSERT_EQ(atomic_load(&blockers_in), BLOCKERS);
    CIO_ASSERT_EQ(cio_thread_pool_threads(), BLOCKERS);
    cio_thread_pool_set_size(0);
}

CIO_TEST(thread_pool_size_configuration) {
    CIO_ASSERT_EQ(cio_thread_pool_set_size(-1), -EINVAL);
    CIO_ASSERT_EQ(cio_thread_pool_set_size(100000), -EINVAL);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int def = n + 4 < 32 ? (int)n + 4 : 32;
    CIO_ASSERT_EQ(cio_thread_pool_size(), def);
    setenv("CIO_THREADS", "3", 1);
    CIO_ASSERT_EQ(cio_thread_pool_size(), 3);
    unsetenv("CIO_THREADS");
    CIO_ASSERT_EQ(cio_thread_pool_set_size(7), 0);
    CIO_ASSERT_EQ(cio_thread_pool_size(), 7);
    CIO_ASSERT_EQ(cio_thread_pool_set_size(0), 0);
    CIO_ASSERT_EQ(cio_thread_pool_size(), def);
}

/* ---- several loops in several threads ---- */

static int loop_main(void *arg) {
    long *sum = arg;
    for (long i = 0; i < 200; i++) {
        long v = i;
        if (cio_to_thread(square, &v) != 0)
            return -1;
        *sum += v;
    }
    return 0;
}
static void *loop_thread(void *arg) {
    long *sum = arg;
    if (cio_run(loop_main, sum) != 0)
        *sum = -1;
    return NULL;
}
static int join_thread(void *arg) { return pthread_join(*(pthread_t *)arg, NULL) ? -1 : 0; }

CIO_TEST(to_thread_from_several_loops_at_once) {
    enum { LOOPS = 4 };
    pthread_t th[LOOPS];
    long sums[LOOPS] = {0};
    for (int i = 0; i < LOOPS; i++)
        CIO_ASSERT_EQ(pthread_create(&th[i], NULL, loop_thread, &sums[i]), 0);
    /* Meanwhile this loop uses the pool too, and waits off the loop. */
    pthread_t where;
    CIO_ASSERT_EQ(cio_to_thread(answer, &where), 42);
    for (int i = 0; i < LOOPS; i++)
        CIO_ASSERT_EQ(cio_to_thread(join_thread, &th[i]), 0);
    long expect = 0;
    for (long i = 0; i < 200; i++)
        expect += i * i;
    for (int i = 0; i < LOOPS; i++)
        CIO_ASSERT_EQ(sums[i], expect);
}

static void *lone_loop(void *arg) {
    long sum = 0;
    int *threads_after = arg;
    cio_run(loop_main, &sum);
    *threads_after = cio_thread_pool_threads();
    return NULL;
}

/* This loop never touches the pool, so the other loop's exit stops it. */
CIO_TEST(thread_pool_stops_when_the_last_loop_ends) {
    int after = -1;
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, lone_loop, &after), 0);
    pthread_join(th, NULL);
    CIO_ASSERT_EQ(after, 0);
}

/* ---- cio_call_threadsafe and cio_run_threadsafe ---- */

typedef struct {
    cio_loop *loop;
    flag f;
} post_ctx;
static int post_from_worker(void *arg) {
    post_ctx *c = arg;
    return cio_call_threadsafe(c->loop, flag_set, &c->f);
}

CIO_TEST(call_threadsafe_from_a_worker_runs_on_the_loop) {
    post_ctx c = {.loop = cio_loop_current(), .f = {false, CIO__WAITQ_INIT}};
    CIO_ASSERT_EQ(cio_to_thread(post_from_worker, &c), 0);
    CIO_ASSERT_EQ(flag_wait(&c.f), 0);
    CIO_ASSERT(c.f.set);
    CIO_ASSERT_EQ(cio_call_threadsafe(NULL, flag_set, &c.f), -EINVAL);
}

typedef struct {
    cio_loop *loop;
    cio_fn fn;
    int result;
    char msg[128];
    pthread_t loop_thread, ran_on;
} rts_ctx;
static int on_loop(void *arg) {
    rts_ctx *c = arg;
    c->ran_on = pthread_self();
    if (cio_current() == NULL)
        return -1;
    int rc = cio_sleep(CIO_MS); /* a real task: it may suspend */
    return rc < 0 ? rc : 9;
}
static int on_loop_fails(void *arg) {
    (void)arg;
    return cio_seterr(-EIO, "disk on fire");
}
static void *rts_thread(void *arg) {
    rts_ctx *c = arg;
    c->result = cio_run_threadsafe(c->loop, c->fn, c);
    snprintf(c->msg, sizeof c->msg, "%s", cio_errmsg());
    return NULL;
}

CIO_TEST(run_threadsafe_runs_a_task_on_the_loop_and_waits) {
    rts_ctx c = {.loop = cio_loop_current(), .fn = on_loop, .loop_thread = pthread_self()};
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, rts_thread, &c), 0);
    CIO_ASSERT_EQ(cio_to_thread(join_thread, &th), 0);
    CIO_ASSERT_EQ(c.result, 9);
    CIO_ASSERT(pthread_equal(c.ran_on, pthread_self()));

    rts_ctx d = {.loop = cio_loop_current(), .fn = on_loop_fails};
    CIO_ASSERT_EQ(pthread_create(&th, NULL, rts_thread, &d), 0);
    CIO_ASSERT_EQ(cio_to_thread(join_thread, &th), 0);
    CIO_ASSERT_EQ(d.result, -EIO);
    CIO_ASSERT_STREQ(d.msg, "disk on fire");
}

CIO_TEST(run_threadsafe_bad_arguments) {
    CIO_ASSERT_EQ(cio_run_threadsafe(NULL, on_loop, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_run_threadsafe(cio_loop_current(), NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_run_threadsafe(cio_loop_current(), on_loop, NULL), -EDEADLK);
}

/* Two loops call into each other's thread with run_threadsafe while both
 * use the pool: the TSan build checks this. */
typedef struct {
    cio_loop *_Atomic loop;
    atomic_int hits;
    sem_t ready, done;
} peer;
static int bump(void *arg) {
    atomic_fetch_add(&((peer *)arg)->hits, 1);
    return cio_yield();
}
static int peer_main(void *arg) {
    peer *p = arg;
    atomic_store(&p->loop, cio_loop_current());
    sem_post(&p->ready);
    /* Serve run_threadsafe calls until told to stop (off the loop). */
    return cio_to_thread((cio_fn)(void *)sem_wait, &p->done) == 0 ? 0 : -1;
}
static void *peer_thread(void *arg) {
    cio_run(peer_main, arg);
    return NULL;
}
static int hammer(void *arg) {
    peer *p = arg;
    for (int i = 0; i < 50; i++)
        if (cio_run_threadsafe(atomic_load(&p->loop), bump, p) != 0)
            return -1;
    return 0;
}

static int call_hammer(void *arg) { return cio_to_thread(hammer, arg); }

CIO_TEST(run_threadsafe_between_loops_in_threads) {
    peer p;
    atomic_init(&p.loop, NULL);
    atomic_init(&p.hits, 0);
    sem_init(&p.ready, 0, 0);
    sem_init(&p.done, 0, 0);
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, peer_thread, &p), 0);
    sem_wait(&p.ready);
    cio_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = cio_spawn(call_hammer, &p);
    CIO_ASSERT_EQ(cio_gather(ts, 3, NULL), 0);
    CIO_ASSERT_EQ(atomic_load(&p.hits), 150);
    sem_post(&p.done);
    CIO_ASSERT_EQ(cio_to_thread(join_thread, &th), 0);
    sem_destroy(&p.ready);
    sem_destroy(&p.done);
}

/* ---- the seed's to_thread example ---- */

typedef struct {
    char out[1024];
    int status;
    double seconds;
} example_run;

static int run_to_thread_example(void *arg) {
    example_run *r = arg;
    const char *build = getenv("CIO_BUILD_DIR");
    if (!build)
        return -ENOENT;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/examples/to_thread 2>&1", build);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(r->out, 1, sizeof r->out - 1, p) : 0;
    r->out[n] = 0;
    r->status = p ? pclose(p) : -1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    r->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    return 0;
}

/* The blocking second and the sleeping second overlap: about 1 s in all. */
CIO_TEST(example_to_thread_overlaps_blocking_work_and_sleep) {
    static example_run r;
    CIO_ASSERT_EQ(cio_to_thread(run_to_thread_example, &r), 0);
    CIO_ASSERT_EQ(r.status, 0);
    const char *want[] = {"started main at ", "start blocking_io at ",
                          "blocking_io complete at ", "finished main at "};
    char *line = r.out;
    for (int i = 0; i < 4; i++) {
        int h, m, s;
        CIO_ASSERT(strncmp(line, want[i], strlen(want[i])) == 0);
        CIO_ASSERT_EQ(sscanf(line + strlen(want[i]), "%2d:%2d:%2d", &h, &m, &s), 3);
        line = strchr(line, '\n');
        CIO_ASSERT(line != NULL);
        line++;
    }
    CIO_ASSERT_EQ(*line, 0);
    CIO_ASSERT(r.seconds >= 1.0 && r.seconds < 1.9);
}

/* Whichever allocation fails, the call fails cleanly or succeeds. */
CIO_TEST(to_thread_out_of_memory) {
    pthread_t where;
    int failed = 0;
    for (long n = 1; n <= 4; n++) {
        cio_test_fail_alloc(n);
        int rc = cio_to_thread(answer, &where);
        cio_test_fail_alloc(0);
        CIO_ASSERT(rc == 42 || rc == -ENOMEM);
        failed += rc == -ENOMEM;
    }
    CIO_ASSERT_GT(failed, 0);
    CIO_ASSERT_EQ(cio_to_thread(answer, &where), 42);
}

static atomic_int rts_oom_runs;
static int rts_count(void *arg) {
    (void)arg;
    atomic_fetch_add(&rts_oom_runs, 1);
    return 9;
}
typedef struct {
    cio_loop *loop;
    sem_t go;
    pthread_t th;
    int rc[2], runs[2];
    char msg[2][160];
} rts_oom;
/* Off the loop: a call whose request cannot be posted, then one that can.
 * It starts only once the loop is parked in the test's to_thread call, so
 * the failure it arms cannot hit an allocation of the loop's own. */
static void *rts_oom_thread(void *arg) {
    rts_oom *o = arg;
    sem_wait(&o->go);
    for (int i = 0; i < 2; i++) {
        atomic_store(&rts_oom_runs, 0);
        cio_test_fail_alloc(i == 0 ? 1 : 0); /* the first: the post itself */
        o->rc[i] = cio_run_threadsafe(o->loop, rts_count, NULL);
        cio_test_fail_alloc(0);
        o->runs[i] = atomic_load(&rts_oom_runs);
        snprintf(o->msg[i], sizeof o->msg[i], "%s", cio_errmsg());
    }
    return NULL;
}

/* run_threadsafe that cannot post its request to the loop: -ENOMEM at once
 * with a message saying so, the function never runs, nothing leaks; the
 * next call goes through. */
static int start_and_join(void *arg) {
    rts_oom *o = arg;
    sem_post(&o->go); /* the loop is parked in this call by now */
    return pthread_join(o->th, NULL);
}

CIO_TEST(run_threadsafe_out_of_memory_for_the_post) {
    static rts_oom o;
    o.loop = cio_loop_current();
    sem_init(&o.go, 0, 0);
    CIO_ASSERT_EQ(pthread_create(&o.th, NULL, rts_oom_thread, &o), 0);
    CIO_ASSERT_EQ(cio_to_thread(start_and_join, &o), 0);
    sem_destroy(&o.go);
    CIO_ASSERT_EQ(o.rc[0], -ENOMEM);
    CIO_ASSERT_EQ(o.runs[0], 0);
    CIO_ASSERT_STREQ(o.msg[0],
                     "cio_run_threadsafe: cannot post to the loop: Cannot allocate memory");
    CIO_ASSERT_EQ(o.rc[1], 9);
    CIO_ASSERT_EQ(o.runs[1], 1);
}

/* A loop on another thread whose stack slab is full and which may not map
 * separately guarded stacks: the next task's stack needs a new slab, whose
 * record an injected failure can refuse. */
static cio_event l2_stop = CIO_EVENT_INIT;
static cio_loop *l2_loop;
static sem_t l2_ready;
enum { L2_PARKED = 255 }; /* with main, the 256 stacks of one slab */

static int l2_parked(void *arg) {
    (void)arg;
    return cio_event_wait(&l2_stop);
}
static int l2_main(void *arg) {
    (void)arg;
    static cio_task *ts[L2_PARKED];
    for (int i = 0; i < L2_PARKED; i++)
        ts[i] = cio_spawn(l2_parked, NULL);
    cio_yield(); /* each has run, and parked on its own stack */
    l2_loop = cio_loop_current();
    sem_post(&l2_ready);
    int rc = cio_event_wait(&l2_stop);
    int g = cio_gather(ts, L2_PARKED, NULL);
    return rc < 0 ? rc : g;
}
static void *l2_thread(void *arg) {
    (void)arg;
    cio_run_opts o = {.no_sigint = true};
    cio_run_with(l2_main, NULL, &o);
    return NULL;
}
static void l2_stop_now(void *arg) {
    (void)arg;
    cio_event_set(&l2_stop);
}

/* The task a request starts cannot get a stack: the caller hears of it at
 * once (-ENOMEM, with the reason), instead of waiting for that loop to
 * close; with memory back the next request runs. */
CIO_TEST(run_threadsafe_whose_task_cannot_get_a_stack_answers_at_once) {
    sem_init(&l2_ready, 0, 0);
    cio_event_clear(&l2_stop);
    cio__stack_guard_budget_override(0);
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, l2_thread, NULL), 0);
    sem_wait(&l2_ready); /* blocks this loop: nothing else allocates here */
    cio__stack_guard_budget_override(-1);
    int stack_failures = 0, rc = -1;
    for (long n = 1; n < 8; n++) { /* the post, the loop's probe, the watch, ... */
        atomic_store(&rts_oom_runs, 0);
        cio_test_fail_alloc(n);
        rc = cio_run_threadsafe(l2_loop, rts_count, NULL);
        cio_test_fail_alloc(0);
        if (rc != 9) {
            CIO_ASSERT_EQ(rc, -ENOMEM);
            CIO_ASSERT_EQ(atomic_load(&rts_oom_runs), 0);
            stack_failures += strstr(cio_errmsg(), "the task ended before it ran: spawn: "
                                                   "cannot map a task stack") != NULL;
        }
    }
    CIO_ASSERT_EQ(rc, 9);
    CIO_ASSERT_EQ(stack_failures, 1);
    CIO_ASSERT_EQ(cio_call_threadsafe(l2_loop, l2_stop_now, NULL), 0);
    pthread_join(th, NULL);
    sem_destroy(&l2_ready);
}

/* A job that sets a message and still succeeds must not lend it to the
 * next failing job on the same worker. */
static int succeeds_with_a_message(void *arg) {
    (void)arg;
    cio_seterr(-ENOENT, "stale: something retried");
    return 0;
}

CIO_TEST(to_thread_never_reports_an_earlier_jobs_message) {
    CIO_ASSERT_EQ(cio_thread_pool_set_size(1), 0); /* both jobs on one worker */
    CIO_ASSERT_EQ(cio_to_thread(succeeds_with_a_message, NULL), 0);
    CIO_ASSERT_EQ(cio_to_thread(fails_silently, NULL), -EIO);
    CIO_ASSERT(strstr(cio_errmsg(), "stale") == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_to_thread") != NULL);
}
