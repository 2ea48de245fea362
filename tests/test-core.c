/* Tests of the core: tasks, cancellation, shields, gather, as_completed,
 * wait_any, wait_for, groups, errors and the loop itself. Timing tests run
 * on the virtual clock and assert exact times and orders. */
#include <cio/test.h>

#include "core/internal.h"
#include "core/runtime.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ---- */

static char order[256];
static void note(char c) {
    size_t n = strlen(order);
    if (n + 1 < sizeof order)
        order[n] = c, order[n + 1] = 0;
}

static int ran;
static int add_one(void *arg) {
    ran++;
    return *(int *)arg + 1;
}

typedef struct {
    int64_t ns;
    int result;
    int rc;       /* what the sleep returned */
    char mark;    /* noted in `order` when the sleep ends */
    int64_t woke; /* cio_now() when it ended */
} sleep_job;

static int sleep_task(void *arg) {
    sleep_job *j = arg;
    j->rc = cio_sleep(j->ns);
    j->woke = cio_now();
    if (j->mark)
        note(j->mark);
    return j->rc < 0 ? j->rc : j->result;
}

static int fail_task(void *arg) {
    int64_t ns = *(int64_t *)arg;
    if (cio_sleep(ns) < 0)
        return -ECANCELED;
    return cio_seterr(-EIO, "disk on fire after %lld ms", (long long)(ns / CIO_MS));
}

/* ---- spawn and join ---- */

CIO_TEST(spawn_join_returns_result) {
    int x = 41;
    cio_task *t = cio_spawn(add_one, &x);
    CIO_ASSERT(t != NULL);
    CIO_ASSERT(!cio_task_done(t));
    CIO_ASSERT_EQ(cio_join(t), 42);
}

CIO_TEST(spawned_task_runs_only_when_spawner_suspends) {
    int x = 1;
    ran = 0;
    cio_task *t = cio_spawn(add_one, &x);
    CIO_ASSERT_EQ(ran, 0);
    CIO_ASSERT_EQ(cio_yield(), 0);
    CIO_ASSERT_EQ(ran, 1);
    CIO_ASSERT(cio_task_done(t));
    CIO_ASSERT_EQ(cio_join(t), 2);
}

CIO_TEST(join_null_and_self_are_errors) {
    CIO_ASSERT_EQ(cio_join(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "NULL") != NULL);
    CIO_ASSERT_EQ(cio_join(cio_current()), -EDEADLK);
    CIO_ASSERT_EQ(cio_detach(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_gather(NULL, 1, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_wait_any(NULL, 0), -EINVAL);
    cio_cancel(NULL); /* no effect, no crash */
}

static int two_joiners_second(void *arg) { return cio_join(arg); }

CIO_TEST(a_task_has_one_collector) {
    sleep_job j = {.ns = CIO_MS, .result = 5};
    cio_task *t = cio_spawn(sleep_task, &j);
    cio_task *other = cio_spawn(two_joiners_second, t);
    CIO_ASSERT_EQ(cio_yield(), 0); /* `other` is now joining t */
    CIO_ASSERT_EQ(cio_join(t), -EBUSY);
    CIO_ASSERT_EQ(cio_join(other), 5);
}

static bool seven_returning;

static int yield_once_then_7(void *arg) {
    (void)arg;
    int rc = cio_yield();
    seven_returning = true;
    return rc == 0 ? 7 : -1;
}

struct late_joiner {
    cio_task *t;
    int rc;
    char msg[160];
};

/* Waits until t has returned (its awaiter not yet resumed), then tries to
 * collect it too. */
static int join_when_done(void *arg) {
    struct late_joiner *j = arg;
    while (!seven_returning)
        if (cio_yield() < 0)
            return -1;
    j->rc = cio_join(j->t);
    snprintf(j->msg, sizeof j->msg, "%s", cio_errmsg());
    return 0;
}

static int gather_one(void *arg) {
    int st = 0;
    int rc = cio_gather((cio_task **)arg, 1, &st);
    return rc < 0 ? rc : st;
}

static int join_one(void *arg) { return cio_join(*(cio_task **)arg); }

/* A task stays claimed by its awaiter from the moment it finishes until the
 * awaiter has collected it: a second awaiter that comes in between gets
 * -EBUSY rather than collecting (and releasing) the handle the first one
 * is about to read and release. A gather collects a task that ends well
 * at once: the second awaiter finds it released, and it is not reused
 * for another task before the gather returns. */
CIO_TEST(a_finished_task_stays_claimed_until_its_awaiter_collects_it) {
    cio_fn awaiters[] = {join_one, gather_one};
    for (int k = 0; k < 2; k++) {
        static cio_task *t;
        seven_returning = false;
        t = cio_spawn(yield_once_then_7, NULL);
        struct late_joiner late = {t, 1, ""};
        cio_task *first = cio_spawn(awaiters[k], &t);
        cio_task *second = cio_spawn(join_when_done, &late);
        CIO_ASSERT_EQ(cio_join(first), 7);
        CIO_ASSERT_EQ(cio_join(second), 0);
        if (k == 0) {
            CIO_ASSERT_EQ(late.rc, -EBUSY);
            CIO_ASSERT(strstr(late.msg, "already being awaited") != NULL);
        } else {
            CIO_ASSERT_EQ(late.rc, -EINVAL);
            CIO_ASSERT(strstr(late.msg, "already released") != NULL);
        }
    }
}

/* A finished task in a gather is claimed as well. */
CIO_TEST(gather_claims_tasks_that_already_finished) {
    seven_returning = false;
    cio_task *t = cio_spawn(yield_once_then_7, NULL);
    cio_task *slow = cio_spawn(sleep_task, &(sleep_job){.ns = CIO_MS, .result = 1});
    while (!cio_task_done(t))
        CIO_ASSERT_EQ(cio_yield(), 0);
    cio_task *both[] = {t, slow};
    struct late_joiner late = {t, 1, ""};
    cio_task *joiner = cio_spawn(join_when_done, &late);
    int st[2];
    CIO_ASSERT_EQ(cio_gather(both, 2, st), 0);
    CIO_ASSERT_EQ(st[0], 7);
    CIO_ASSERT_EQ(st[1], 1);
    CIO_ASSERT_EQ(cio_join(joiner), 0);
    CIO_ASSERT_EQ(late.rc, -EBUSY);
}

struct stray_collector {
    cio_task *fast;
    bool release_slow;
    int join_rc;
    bool new_handle_differs;
};

static int yield_until_released(void *arg) {
    struct stray_collector *c = arg;
    while (!c->release_slow)
        if (cio_yield() < 0)
            return -1;
    return 2;
}

/* Once fast has returned (collected by the gather), joins it again and
 * spawns a task while the gather still waits for slow. */
static int stray_collect(void *arg) {
    struct stray_collector *c = arg;
    while (!seven_returning)
        if (cio_yield() < 0)
            return -1;
    c->join_rc = cio_join(c->fast);
    cio_task *fresh = cio_spawn(yield_once_then_7, NULL);
    c->new_handle_differs = fresh != c->fast;
    c->release_slow = true;
    return cio_join(fresh);
}

/* A gather releases a child that ended well at once, but keeps its handle
 * from being reused until the gather returns: a stray second collector
 * gets -EINVAL, never some other task. */
CIO_TEST(gather_keeps_collected_handles_out_of_reuse_until_it_returns) {
    seven_returning = false;
    struct stray_collector c = {NULL, false, 1, false};
    cio_task *ts[2] = {cio_spawn(yield_once_then_7, NULL), cio_spawn(yield_until_released, &c)};
    c.fast = ts[0];
    cio_task *stray = cio_spawn(stray_collect, &c);
    int st[2];
    CIO_ASSERT_EQ(cio_gather(ts, 2, st), 0);
    CIO_ASSERT_EQ(st[0], 7);
    CIO_ASSERT_EQ(st[1], 2);
    CIO_ASSERT_EQ(cio_join(stray), 7);
    CIO_ASSERT_EQ(c.join_rc, -EINVAL);
    CIO_ASSERT(c.new_handle_differs);
}

static int sleep_then_return(void *arg) {
    (void)arg;
    cio_sleep(CIO_MS);
    return 3;
}

CIO_TEST(names_and_ids) {
    cio_task *a = cio_spawn_with(sleep_then_return, NULL, &(cio_spawn_opts){.name = "fetcher"});
    cio_task *b = cio_spawn(sleep_then_return, NULL);
    CIO_ASSERT_STREQ(cio_task_name(a), "fetcher");
    CIO_ASSERT(strncmp(cio_task_name(b), "task-", 5) == 0);
    CIO_ASSERT_STREQ(cio_task_name(NULL), "main");
    CIO_ASSERT_NE(cio_task_id(a), cio_task_id(b));
    CIO_ASSERT_EQ(cio_task_set_name(b, "renamed"), 0);
    CIO_ASSERT_STREQ(cio_task_name(b), "renamed");
    CIO_ASSERT_EQ(cio_join(a), 3);
    CIO_ASSERT_EQ(cio_join(b), 3);
}

static int return_arg(void *arg) { return *(int *)arg; }

/* Until a task first runs, its handle holds its argument where its rarer
 * record (name, id, message) will go: making that record before the first
 * run, any way, must carry the argument over. */
CIO_TEST(argument_survives_a_record_made_before_the_first_run) {
    int v[4] = {11, 12, 13, 14};
    cio_task *named = cio_spawn_with(return_arg, &v[0], &(cio_spawn_opts){.name = "named"});
    cio_task *renamed = cio_spawn(return_arg, &v[1]);
    cio_task *numbered = cio_spawn(return_arg, &v[2]);
    cio_task *cancelled = cio_spawn_with(return_arg, &v[3], &(cio_spawn_opts){.name = "gone"});
    CIO_ASSERT_EQ(cio_task_set_name(renamed, "renamed"), 0);
    CIO_ASSERT(cio_task_id(numbered) > 0);
    cio_cancel(cancelled);
    CIO_ASSERT_EQ(cio_join(named), 11);
    CIO_ASSERT_EQ(cio_join(renamed), 12);
    CIO_ASSERT_EQ(cio_join(numbered), 13);
    CIO_ASSERT_EQ(cio_join(cancelled), -ECANCELED);
}

static int return_inside_a_timeout(void *arg) {
    static cio_scope left_open; /* outlives the task: only the pointer is stale */
    cio_timeout_begin(&left_open, 0); /* already expired */
    (void)arg;
    return 5;
}

static int sleep_a_little(void *arg) {
    (void)arg;
    return cio_sleep(CIO_MS);
}

/* A task that returns inside a scope (a misuse) leaves nothing to the next
 * task started on the stack it finished with: that one sleeps unhurt, not
 * timed out by the scope left behind. */
CIO_TEST_VCLOCK(a_scope_left_open_does_not_reach_the_next_task) {
    cio_task *t[2] = {cio_spawn(return_inside_a_timeout, NULL), cio_spawn(sleep_a_little, NULL)};
    int status[2];
    CIO_ASSERT_EQ(cio_gather(t, 2, status), 0);
    CIO_ASSERT_EQ(status[0], 5);
    CIO_ASSERT_EQ(status[1], 0);
}

static int deep(int n) {
    volatile char buf[1024];
    buf[0] = (char)n;
    return n == 0 ? buf[0] : deep(n - 1) + buf[0];
}
static int use_stack(void *arg) { return deep(*(int *)arg) >= 0 ? 0 : 1; }

CIO_TEST(stack_size_option) {
    int depth = 400; /* ~400 KiB of frames: needs more than the default */
    cio_task *t = cio_spawn_with(use_stack, &depth,
                                 &(cio_spawn_opts){.name = "deep", .stack_size = 1024 * 1024});
    CIO_ASSERT_EQ(cio_join(t), 0);
}

/* A run of never-run tasks that the scheduler starts one after another on
 * the stack the previous one finished with, except where one needs its own
 * (a bigger stack) or never starts (cancelled). Each must still run as
 * itself, in spawn order, with what it asked for. */
struct mixed_run {
    int order[8];
    int n;
};
static struct mixed_run mixed;
static cio_task *mixed_tasks[8];

static int mixed_step(void *arg) {
    int i = (int)(intptr_t)arg;
    mixed.order[mixed.n++] = i;
    if (cio_current() != mixed_tasks[i])
        return -1000 - i; /* ran under another task's handle */
    if (i == 2)
        return use_stack(&(int){400}) == 0 ? 2 : -1; /* ~400 KiB of frames */
    if (i == 4 && strcmp(cio_task_name(NULL), "named") != 0)
        return -4;
    if (i == 5) { /* a suspension in between: the next one needs a new stack */
        int rc = cio_yield();
        if (rc < 0)
            return rc;
    }
    return i;
}

CIO_TEST(short_tasks_in_a_row_each_run_as_themselves) {
    mixed.n = 0;
    for (int i = 0; i < 7; i++) {
        cio_spawn_opts opts = {0};
        if (i == 2)
            opts.stack_size = 1024 * 1024;
        if (i == 4)
            opts.name = "named";
        mixed_tasks[i] = cio_spawn_with(mixed_step, (void *)(intptr_t)i, &opts);
        CIO_ASSERT(mixed_tasks[i] != NULL);
    }
    cio_cancel(mixed_tasks[3]); /* never starts */
    int status[7];
    CIO_ASSERT_EQ(cio_gather(mixed_tasks, 7, status), -ECANCELED);
    int want_status[7] = {0, 1, 2, -ECANCELED, 4, 5, 6};
    for (int i = 0; i < 7; i++)
        CIO_ASSERT_EQ(status[i], want_status[i]);
    int want_order[6] = {0, 1, 2, 4, 5, 6};
    CIO_ASSERT_EQ(mixed.n, 6);
    for (int i = 0; i < 6; i++)
        CIO_ASSERT_EQ(mixed.order[i], want_order[i]);
}

static int overflow_main(void *arg) {
    int depth = 100000;
    cio_task *t = cio_spawn_with(use_stack, &depth,
                                 &(cio_spawn_opts){.name = "recurser", .stack_size = 32768});
    return cio_join(t);
}

/* Runs child() in a forked copy of this process, with its stderr captured
 * into out (NUL-terminated); returns the child's wait status. */
static int run_in_child(void (*child)(void), char *out, size_t cap) {
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        child();
        _exit(0);
    }
    close(pipefd[1]);
    size_t got = 0;
    ssize_t r;
    while ((r = read(pipefd[0], out + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = 0;
    close(pipefd[0]);
    int st = -1;
    waitpid(pid, &st, 0);
    return st;
}

/* run_loop_in_child: in a forked child, setup() (if any), then cio_run(main)
 * on a fresh thread (the child is a copy of a process inside a task). */
static void (*child_setup)(void);
static cio_fn child_main;

static void *child_loop_thread(void *arg) {
    (void)arg;
    cio_run(child_main, NULL);
    return NULL;
}

static void child_loop(void) {
    if (child_setup)
        child_setup();
    pthread_t th;
    pthread_create(&th, NULL, child_loop_thread, NULL);
    pthread_join(th, NULL);
}

static int run_loop_in_child(void (*setup)(void), cio_fn main, char *out, size_t cap) {
    child_setup = setup;
    child_main = main;
    return run_in_child(child_loop, out, cap);
}

CIO_TEST(stack_overflow_is_reported_with_the_task_name) {
    char out[4096];
    int st = run_loop_in_child(NULL, overflow_main, out, sizeof out);
    CIO_ASSERT(!(WIFEXITED(st) && WEXITSTATUS(st) == 0)); /* never silent */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    /* (Sanitizers catch the fault themselves and print their own report.) */
    CIO_ASSERT(strstr(out, "stack overflow") != NULL);
    CIO_ASSERT(strstr(out, "recurser") != NULL);
#endif
}

/* The same overflow on each kind of stack: a slab stack with a guard page
 * installed by madvise (Linux 6.13+), a stack in a mapping of its own with
 * an mprotect'ed guard page (older kernels, within the budget), and a slab
 * stack with only the canary (older kernels, beyond the budget). */
static void no_slab_guards(void) { cio__stack_slab_guards(0); }
static void canary_only(void) {
    cio__stack_slab_guards(0);
    cio__stack_guard_budget_override(0);
}

CIO_TEST(stack_overflow_is_reported_on_every_kind_of_stack) {
    void (*kinds[])(void) = {no_slab_guards, canary_only};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char out[4096];
        int st = run_loop_in_child(kinds[i], overflow_main, out, sizeof out);
        CIO_ASSERT(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        CIO_ASSERT(strstr(out, "stack overflow") != NULL);
        CIO_ASSERT(strstr(out, "recurser") != NULL);
#endif
    }
}

/* A frame larger than a page jumps over a guard page into the top of the
 * stack below (C code built without stack-clash probes): the canary, that
 * stack's top word, still names the task at its next switch. The jump is
 * made by hand here, so that the test needs no compiler flags. */
static int jumper(void *arg) {
    (void)arg;
    char *lo = cio_current()->body->stack->lo;
    long page = sysconf(_SC_PAGESIZE);
    *(volatile uint64_t *)(lo - page - 8) = 0; /* the word under the slot */
    return cio_yield();
}
static int jumper_main(void *arg) {
    (void)arg;
    return cio_join(cio_spawn_with(jumper, NULL, &(cio_spawn_opts){.name = "jumper"}));
}
static void slab_stacks_only(void) { cio__stack_guard_budget_override(0); } /* any kernel */

CIO_TEST(a_frame_that_jumps_the_guard_page_is_caught_by_the_canary) {
    char out[4096];
    int st = run_loop_in_child(slab_stacks_only, jumper_main, out, sizeof out);
    CIO_ASSERT(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    /* (A sanitizer may stop the child first, with its own report.) */
    CIO_ASSERT(strstr(out, "stack overflow") != NULL);
    CIO_ASSERT(strstr(out, "jumper") != NULL);
#endif
}

/* Reads the byte just under a parked task's stack: a guard page faults
 * (the child dies of SIGSEGV, since the fault is not in the running
 * task's own guard), an untouched gap page reads as zero. */
static int parked(void *arg) {
    (void)arg;
    return cio_sleep(CIO_SEC);
}
static cio_task *probe_target;
static int probe_main(void *arg) {
    (void)arg;
    /* More stacks than the old budget of separately guarded mappings. */
    enum { N = 9000 };
    static cio_task *ts[N];
    for (int i = 0; i < N; i++)
        ts[i] = cio_spawn(parked, NULL);
    cio_yield(); /* every task has run and parked on its stack */
    probe_target = ts[N - 1];
    volatile char *under = probe_target->body->stack->lo - 1;
    fprintf(stderr, "PROBE-VALUE=%d\n", *under);
    for (int i = 0; i < N; i++)
        cio_cancel(ts[i]);
    return cio_gather(ts, N, NULL);
}
CIO_TEST(slab_stacks_have_guard_pages_where_the_kernel_can) {
    char out[4096];
    int st = run_loop_in_child(NULL, probe_main, out, sizeof out);
    if (cio__stack_slab_guards_work()) { /* the read faulted (a sanitizer reports it and exits) */
        CIO_ASSERT(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        CIO_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
#endif
        CIO_ASSERT(strstr(out, "PROBE-VALUE") == NULL);
    } else {
        CIO_ASSERT(WIFEXITED(st));
        CIO_ASSERT(strstr(out, "PROBE-VALUE=0") != NULL);
    }
}

/* ---- cancellation ---- */

CIO_TEST(cancel_before_first_run_never_runs) {
    int x = 1;
    ran = 0;
    cio_task *t = cio_spawn(add_one, &x);
    cio_cancel(t);
    CIO_ASSERT(cio_task_cancelled(t));
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(ran, 0);
}

CIO_TEST_VCLOCK(cancel_while_sleeping) {
    sleep_job j = {.ns = 10 * CIO_SEC, .result = 1};
    cio_task *t = cio_spawn(sleep_task, &j);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    CIO_ASSERT_EQ(j.woke - t0, CIO_SEC); /* woke at the cancel, not at 10 s */
}

CIO_TEST(cancel_finished_task_changes_nothing) {
    int x = 9;
    cio_task *t = cio_spawn(add_one, &x);
    CIO_ASSERT_EQ(cio_yield(), 0);
    CIO_ASSERT(cio_task_done(t));
    cio_cancel(t);
    CIO_ASSERT(!cio_task_cancelled(t));
    CIO_ASSERT_EQ(cio_join(t), 10);
}

static int stubborn_rcs[3];
static int stubborn(void *arg) {
    (void)arg;
    stubborn_rcs[0] = cio_sleep(CIO_SEC); /* cancelled here */
    stubborn_rcs[1] = cio_sleep(CIO_SEC); /* ignores it and tries again */
    stubborn_rcs[2] = cio_yield();
    return 0;
}

CIO_TEST_VCLOCK(cancellation_is_level_triggered) {
    cio_task *t = cio_spawn(stubborn, NULL);
    CIO_ASSERT_EQ(cio_yield(), 0);
    int64_t t0 = cio_now();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), 0); /* it returned 0 itself */
    CIO_ASSERT_EQ(stubborn_rcs[0], -ECANCELED);
    CIO_ASSERT_EQ(stubborn_rcs[1], -ECANCELED);
    CIO_ASSERT_EQ(stubborn_rcs[2], -ECANCELED);
    CIO_ASSERT_EQ(cio_now(), t0); /* no sleep happened after the cancel */
}

static int joiner_rc;
static cio_task *joined;
static int joiner(void *arg) {
    (void)arg;
    joiner_rc = cio_join(joined);
    return joiner_rc;
}

CIO_TEST_VCLOCK(cancel_while_joining_cancels_the_joined_task_too) {
    sleep_job j = {.ns = 10 * CIO_SEC, .result = 1};
    joined = cio_spawn(sleep_task, &j);
    cio_task *w = cio_spawn(joiner, NULL);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(w);
    CIO_ASSERT_EQ(cio_join(w), -ECANCELED);
    CIO_ASSERT_EQ(joiner_rc, -ECANCELED);
    CIO_ASSERT_EQ(j.rc, -ECANCELED); /* like awaiting a task in asyncio */
}

static sleep_job gjobs[3];
static int gather_rc, gather_status[3];
static int gatherer(void *arg) {
    (void)arg;
    cio_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = cio_spawn(sleep_task, &gjobs[i]);
    gather_rc = cio_gather(ts, 3, gather_status);
    return gather_rc;
}

CIO_TEST_VCLOCK(cancel_while_gathering_cancels_children) {
    for (int i = 0; i < 3; i++)
        gjobs[i] = (sleep_job){.ns = (i + 1) * 10 * CIO_SEC, .result = i};
    gjobs[0].ns = CIO_MS; /* the first child finishes before the cancel */
    cio_task *g = cio_spawn(gatherer, NULL);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(g);
    CIO_ASSERT_EQ(cio_join(g), -ECANCELED);
    CIO_ASSERT_EQ(gather_status[0], 0);
    CIO_ASSERT_EQ(gather_status[1], -ECANCELED);
    CIO_ASSERT_EQ(gather_status[2], -ECANCELED);
    CIO_ASSERT_EQ(gjobs[1].rc, -ECANCELED);
    CIO_ASSERT_EQ(gjobs[2].rc, -ECANCELED);
}

/* ---- shield ---- */

static cio_task *shielded;
static int shield_rc;
static int shield_waiter(void *arg) {
    (void)arg;
    shield_rc = cio_shield(shielded);
    return shield_rc;
}

CIO_TEST_VCLOCK(shield_keeps_the_inner_task_running) {
    sleep_job j = {.ns = 5 * CIO_SEC, .result = 77};
    shielded = cio_spawn(sleep_task, &j);
    cio_task *w = cio_spawn(shield_waiter, NULL);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(w);
    CIO_ASSERT_EQ(cio_join(w), -ECANCELED);
    CIO_ASSERT_EQ(shield_rc, -ECANCELED);
    CIO_ASSERT(!cio_task_done(shielded)); /* still running */
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_join(shielded), 77); /* result still collectable */
    CIO_ASSERT_EQ(cio_now() - t0, 4 * CIO_SEC);
    CIO_ASSERT_EQ(j.rc, 0);
}

CIO_TEST_VCLOCK(shield_scope_lets_cleanup_await_after_cancel) {
    cio_task *self = cio_current();
    cio_cancel(self);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), -ECANCELED);
    int64_t t0 = cio_now();
    cio_scope s;
    cio_shield_begin(&s, 10 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0); /* cleanup may still await */
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(20 * CIO_SEC), -ETIMEDOUT); /* grace is bounded */
    CIO_ASSERT_EQ(cio_now() - t0, 10 * CIO_SEC);
    CIO_ASSERT_EQ(cio_shield_end(&s), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_yield(), -ECANCELED); /* cancellation is back */
}

/* ---- gather ---- */

CIO_TEST_VCLOCK(gather_with_one_failure_keeps_input_order) {
    sleep_job a = {.ns = 3 * CIO_SEC, .result = 1}, c = {.ns = CIO_SEC, .result = 3};
    int64_t fail_after = 2 * CIO_SEC;
    cio_task *ts[3] = {cio_spawn(sleep_task, &a), cio_spawn(fail_task, &fail_after),
                       cio_spawn(sleep_task, &c)};
    int st[3] = {99, 99, 99};
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_gather(ts, 3, st), -EIO);
    CIO_ASSERT_EQ(cio_now() - t0, 3 * CIO_SEC); /* the others finished */
    CIO_ASSERT_EQ(st[0], 1);
    CIO_ASSERT_EQ(st[1], -EIO);
    CIO_ASSERT_EQ(st[2], 3);
    CIO_ASSERT(strstr(cio_errmsg(), "disk on fire") != NULL);
}

static int fail_at_once(void *arg) {
    return cio_seterr(*(int *)arg, "failed early with %d", *(int *)arg);
}

static int fail_late(void *arg) {
    int code = *(int *)arg;
    if (cio_sleep(code == -EIO ? 2 * CIO_SEC : CIO_SEC + CIO_SEC / 2) < 0)
        return -ECANCELED;
    return cio_seterr(code, "failed late with %d", code);
}

/* Children that ended before the gather (well and badly), children that
 * end well during it (collected at once) and children that fail during it
 * (held): statuses in input order, the first failure in input order with
 * its own message, and every handle released (the harness checks). */
CIO_TEST_VCLOCK(gather_mixes_early_and_late_successes_and_failures) {
    for (int with_status = 0; with_status < 2; with_status++) {
        int one = 1, eperm = -EPERM, eio = -EIO, eacces = -EACCES;
        sleep_job ok = {.ns = CIO_SEC, .result = 7};
        cio_task *ts[6] = {cio_spawn(add_one, &one),       cio_spawn(fail_at_once, &eperm),
                           cio_spawn(fail_late, &eio),     cio_spawn(sleep_task, &ok),
                           cio_spawn(fail_late, &eacces),  cio_spawn(add_one, &one)};
        CIO_ASSERT_EQ(cio_yield(), 0); /* 0, 1 and 5 end before the gather */
        CIO_ASSERT(cio_task_done(ts[0]) && cio_task_done(ts[1]) && cio_task_done(ts[5]));
        int st[6] = {99, 99, 99, 99, 99, 99};
        int64_t t0 = cio_now();
        CIO_ASSERT_EQ(cio_gather(ts, 6, with_status ? st : NULL), -EPERM);
        CIO_ASSERT(strstr(cio_errmsg(), "failed early with") != NULL);
        CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
        int want[6] = {2, -EPERM, -EIO, 7, -EACCES, 2};
        for (int i = 0; with_status && i < 6; i++)
            CIO_ASSERT_EQ(st[i], want[i]);
    }
}

/* Cancelled after one child was collected and one failure is held: the
 * rest are cancelled, every status is kept, nothing is released twice. */
static cio_task *mixed_ts[4];
static int mixed_st[4];
static int gather_mixed(void *arg) {
    (void)arg;
    return cio_gather(mixed_ts, 4, mixed_st);
}

CIO_TEST_VCLOCK(gather_cancelled_after_some_children_were_collected) {
    int eacces = -EACCES;
    sleep_job quick = {.ns = CIO_SEC / 2, .result = 5}, slow = {.ns = 10 * CIO_SEC, .result = 6};
    mixed_ts[0] = cio_spawn(sleep_task, &slow);
    mixed_ts[1] = cio_spawn(sleep_task, &quick);
    mixed_ts[2] = cio_spawn(fail_late, &eacces); /* fails at 1.5 s */
    mixed_ts[3] = cio_spawn(sleep_task, &slow);
    cio_task *g = cio_spawn(gather_mixed, NULL);
    CIO_ASSERT_EQ(cio_sleep(2 * CIO_SEC), 0);
    cio_cancel(g);
    CIO_ASSERT_EQ(cio_join(g), -ECANCELED);
    CIO_ASSERT_EQ(mixed_st[0], -ECANCELED);
    CIO_ASSERT_EQ(mixed_st[1], 5);
    CIO_ASSERT_EQ(mixed_st[2], -EACCES);
    CIO_ASSERT_EQ(mixed_st[3], -ECANCELED);
}

CIO_TEST(gather_of_nothing_and_of_finished_tasks) {
    CIO_ASSERT_EQ(cio_gather(NULL, 0, NULL), 0);
    int x = 1;
    cio_task *ts[2] = {cio_spawn(add_one, &x), cio_spawn(add_one, &x)};
    CIO_ASSERT_EQ(cio_yield(), 0);
    int st[2];
    CIO_ASSERT_EQ(cio_gather(ts, 2, st), 0);
    CIO_ASSERT_EQ(st[0] + st[1], 4);
}

CIO_TEST(gather_rejects_a_task_listed_twice) {
    sleep_job j = {.ns = CIO_MS};
    cio_task *t = cio_spawn(sleep_task, &j);
    cio_task *ts[2] = {t, t};
    CIO_ASSERT_EQ(cio_gather(ts, 2, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_join(t), 0); /* nothing was released */
}

/* ---- a gather of more children than one claiming window (wait.c) ---- */

/* Three windows and a few more. */
#define MANY ((size_t)3 * CIO__GATHER_WINDOW + 5)

static int many_ran;
static int index_or_every_thousandth_fails(void *arg) {
    long i = (long)(intptr_t)arg;
    many_ran++;
    if (i % 1000 == 999)
        return cio_seterr(-EIO, "task %ld failed", i);
    return (int)i;
}

static int sleep_then_index(void *arg) {
    return cio_sleep(CIO_SEC) == 0 ? (int)(intptr_t)arg : -1;
}

static int return_twice_index(void *arg) { return 2 * (int)(intptr_t)arg; }

/* Window by window, a gather still returns every status in input order and
 * the first failure's message, with children that never ran before it
 * (the first half) and children already asleep (the second). */
CIO_TEST_VCLOCK(gather_of_several_windows_keeps_input_order) {
    cio_task **ts = malloc(MANY * sizeof *ts);
    int *st = malloc(MANY * sizeof *st);
    CIO_ASSERT(ts && st);
    many_ran = 0;
    for (size_t i = MANY / 2; i < MANY; i++)
        ts[i] = cio_spawn(sleep_then_index, (void *)(intptr_t)i);
    CIO_ASSERT_EQ(cio_yield(), 0); /* the second half is asleep now */
    for (size_t i = 0; i < MANY / 2; i++)
        ts[i] = cio_spawn(index_or_every_thousandth_fails, (void *)(intptr_t)i);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_gather(ts, MANY, st), -EIO);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT(strstr(cio_errmsg(), "task 999 failed") != NULL);
    CIO_ASSERT_EQ(many_ran, (int)(MANY / 2));
    size_t wrong = 0;
    for (size_t i = 0; i < MANY; i++)
        wrong += st[i] != (i < MANY / 2 && i % 1000 == 999 ? -EIO : (int)i);
    CIO_ASSERT_EQ(wrong, 0);
    free(ts);
    free(st);
}

static cio_task **claimed_ts;
static bool claim_seen_right;

/* At index i of the second window: claimed itself, the window after it
 * not yet. */
static int check_claims(void *arg) {
    size_t i = (size_t)(intptr_t)arg;
    claim_seen_right = claimed_ts[i]->watcher != NULL &&
                       claimed_ts[i + CIO__GATHER_WINDOW]->watcher == NULL;
    return 0;
}

static int return_zero(void *arg) {
    (void)arg;
    return 0;
}

/* The gather claims a window just before it runs, so that a spawn storm's
 * handles are claimed while in the cache, not in a pass of their own. */
CIO_TEST(gather_claims_each_window_just_before_it_runs) {
    cio_task **ts = malloc(MANY * sizeof *ts);
    CIO_ASSERT(ts);
    size_t probe = CIO__GATHER_WINDOW + 7;
    for (size_t i = 0; i < MANY; i++)
        ts[i] = cio_spawn(i == probe ? check_claims : return_zero, (void *)(intptr_t)i);
    claimed_ts = ts;
    claim_seen_right = false;
    CIO_ASSERT_EQ(cio_gather(ts, MANY, NULL), 0);
    CIO_ASSERT(claim_seen_right);
    free(ts);
}

/* Waits (yielding, so the loop goes on) until *released. */
static int wait_released(void *arg) {
    const bool *released = arg;
    while (!*released)
        if (cio_yield() < 0)
            return -1;
    return 5;
}

/* Another task awaits t (claims it) until the event is set. */
static int join_it(void *arg) { return cio_join(arg); }

/* A bad handle in a later window, found after the first windows ran: the
 * gather fails as if at once, and every other task is still there to be
 * collected, with its result and name, including those it had collected
 * and released meanwhile. */
CIO_TEST(gather_refused_in_a_later_window_undoes_every_claim) {
    const char *why[] = {"is NULL", "appears twice", "already being awaited"};
    for (int k = 0; k < 6; k++) { /* each refusal, without and with a status array */
        int r = k / 2;
        cio_task **ts = malloc(MANY * sizeof *ts);
        int *st = k % 2 ? malloc(MANY * sizeof *st) : NULL;
        CIO_ASSERT(ts && (st || k % 2 == 0));
        bool released = false;
        cio_task *busy = cio_spawn(wait_released, &released);
        cio_task *joiner = cio_spawn(join_it, busy); /* runs first: claims busy */
        size_t bad = 2 * CIO__GATHER_WINDOW + 5;
        for (size_t i = 0; i < MANY; i++) /* none has run before the gather */
            ts[i] = cio_spawn(i == 2 ? wait_released : return_twice_index,
                              i == 2 ? (void *)&released : (void *)(intptr_t)i);
        cio_task *named = ts[1]; /* its release would free its name */
        CIO_ASSERT_EQ(cio_task_set_name(named, "named"), 0);
        cio_task *parked = ts[2]; /* waits while claimed */
        cio_task *extra = ts[bad];
        ts[bad] = r == 0 ? NULL : r == 1 ? ts[3] : busy;
        CIO_ASSERT_EQ(cio_gather(ts, MANY, st), r == 2 ? -EBUSY : -EINVAL);
        char want[64];
        snprintf(want, sizeof want, "task %zu %s", bad, why[r]);
        if (r == 2)
            snprintf(want, sizeof want, "task %zu ('", bad);
        CIO_ASSERT(strstr(cio_errmsg(), want) != NULL);
        CIO_ASSERT(strstr(cio_errmsg(), why[r]) != NULL);
        CIO_ASSERT_STREQ(cio_task_name(named), "named");
        released = true;
        size_t wrong = 0;
        for (size_t i = 0; i < MANY; i++)
            if (i != bad && i != 2)
                wrong += cio_join(ts[i]) != 2 * (int)i;
        CIO_ASSERT_EQ(wrong, 0);
        CIO_ASSERT_EQ(cio_join(parked), 5);
        CIO_ASSERT_EQ(cio_join(extra), 2 * (int)bad);
        CIO_ASSERT_EQ(cio_join(joiner), 5);
        free(ts);
        free(st);
    }
}

struct windows_job {
    cio_task **ts;
    int *st;
    cio_scope *scope; /* the gather's timeout scope, or NULL */
    int rc;
    bool timeout_hit;
};

static struct windows_job *windows_job;
static cio_task *windows_gatherer;

/* In the first window: cancels the gathering task, or moves its timeout
 * scope's deadline to now. */
static int interrupt_gatherer(void *arg) {
    if (windows_job->scope)
        cio_timeout_reschedule(windows_job->scope, cio_now());
    else
        cio_cancel(windows_gatherer);
    return (int)(intptr_t)arg;
}

static int gather_windows(void *arg) {
    struct windows_job *j = arg;
    if (j->scope) {
        cio_timeout_begin(j->scope, CIO_SEC);
        j->rc = cio_gather(j->ts, MANY, j->st);
        j->timeout_hit = cio_timeout_end(j->scope) == -ETIMEDOUT;
    } else {
        j->rc = cio_gather(j->ts, MANY, j->st);
    }
    return 0;
}

/* Interrupted between windows (cancelled, or its scope's deadline moved to
 * now by a child), a gather claims the windows left and takes them down
 * too: the children that never ran never will. */
CIO_TEST(gather_interrupted_between_windows_cancels_the_unclaimed_too) {
    for (int k = 0; k < 2; k++) {
        struct windows_job j = {malloc(MANY * sizeof(cio_task *)), malloc(MANY * sizeof(int)),
                                NULL, 0, false};
        cio_scope scope;
        CIO_ASSERT(j.ts && j.st);
        if (k == 1)
            j.scope = &scope;
        windows_job = &j;
        many_ran = 0;
        windows_gatherer = cio_spawn(gather_windows, &j);
        for (size_t i = 0; i < MANY; i++)
            j.ts[i] = cio_spawn(i == 5 ? interrupt_gatherer : index_or_every_thousandth_fails,
                                (void *)(intptr_t)i);
        CIO_ASSERT_EQ(cio_join(windows_gatherer), 0);
        CIO_ASSERT_EQ(j.rc, k == 0 ? -ECANCELED : -ETIMEDOUT);
        CIO_ASSERT_EQ(j.timeout_hit, k == 1);
        CIO_ASSERT_EQ(many_ran, CIO__GATHER_WINDOW - 1); /* the first window, but task 5 */
        size_t wrong = 0;
        for (size_t i = 0; i < MANY; i++) {
            int want = i >= CIO__GATHER_WINDOW ? -ECANCELED : i % 1000 == 999 ? -EIO : (int)i;
            wrong += j.st[i] != want;
        }
        CIO_ASSERT_EQ(wrong, 0);
        free(j.ts);
        free(j.st);
    }
}

CIO_TEST_VCLOCK(gather_honours_timeout_scope) {
    sleep_job a = {.ns = 10 * CIO_SEC};
    cio_task *ts[1] = {cio_spawn(sleep_task, &a)};
    int st[1];
    int rc;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_gather(ts, 1, st); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(st[0], -ECANCELED);
}

/* ---- as_completed / wait_any ---- */

CIO_TEST_VCLOCK(as_completed_yields_in_finish_order) {
    sleep_job j[4] = {{.ns = 3 * CIO_SEC, .result = 0},
                      {.ns = 1 * CIO_SEC, .result = 1},
                      {.ns = 4 * CIO_SEC, .result = 2},
                      {.ns = 2 * CIO_SEC, .result = 3}};
    cio_task *ts[4];
    for (int i = 0; i < 4; i++)
        ts[i] = cio_spawn(sleep_task, &j[i]);
    cio_as_completed *it = cio_as_completed_new(ts, 4);
    CIO_ASSERT(it != NULL);
    int got[4], n = 0;
    cio_task *t;
    int64_t t0 = cio_now();
    while (cio_as_completed_next(it, &t) == 0) {
        got[n++] = cio_join(t);
        CIO_ASSERT_EQ(cio_now() - t0, (int64_t)(n == 1 ? 1 : n == 2 ? 2 : n == 3 ? 3 : 4) * CIO_SEC);
    }
    CIO_ASSERT_EQ(cio_as_completed_next(it, &t), CIO_EEND);
    cio_as_completed_free(it);
    CIO_ASSERT_EQ(n, 4);
    CIO_ASSERT_EQ(got[0], 1);
    CIO_ASSERT_EQ(got[1], 3);
    CIO_ASSERT_EQ(got[2], 0);
    CIO_ASSERT_EQ(got[3], 2);
}

CIO_TEST_VCLOCK(as_completed_reports_failures_per_task) {
    int64_t f = CIO_SEC;
    sleep_job ok = {.ns = 2 * CIO_SEC, .result = 5};
    cio_task *ts[2] = {cio_spawn(sleep_task, &ok), cio_spawn(fail_task, &f)};
    cio_as_completed *it = cio_as_completed_new(ts, 2);
    cio_task *t;
    CIO_ASSERT_EQ(cio_as_completed_next(it, &t), 0);
    CIO_ASSERT_EQ(cio_join(t), -EIO);
    CIO_ASSERT(strstr(cio_errmsg(), "disk on fire") != NULL);
    CIO_ASSERT_EQ(cio_as_completed_next(it, &t), 0);
    CIO_ASSERT_EQ(cio_join(t), 5);
    cio_as_completed_free(it);
}

CIO_TEST_VCLOCK(as_completed_next_times_out_and_free_detaches) {
    sleep_job j = {.ns = 10 * CIO_SEC};
    cio_task *t = cio_spawn(sleep_task, &j), *out;
    cio_as_completed *it = cio_as_completed_new(&t, 1);
    int rc;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_as_completed_next(it, &out); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    cio_as_completed_free(it);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
}

CIO_TEST_VCLOCK(wait_any_returns_first_finisher) {
    sleep_job j[3] = {{.ns = 3 * CIO_SEC}, {.ns = CIO_SEC}, {.ns = 2 * CIO_SEC}};
    cio_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = cio_spawn(sleep_task, &j[i]);
    CIO_ASSERT_EQ(cio_wait_any(ts, 3), 1);
    CIO_ASSERT(cio_task_done(ts[1]));
    CIO_ASSERT(!cio_task_done(ts[0]));
    CIO_ASSERT_EQ(cio_gather(ts, 3, NULL), 0);
}

/* ---- timeouts ---- */

CIO_TEST_VCLOCK(timeout_scope_expires_sleep) {
    cio_scope s;
    int64_t t0 = cio_now();
    cio_timeout_begin(&s, 30 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(60 * CIO_SEC), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 30 * CIO_SEC);
    CIO_ASSERT(cio_timeout_expired(&s));
    CIO_ASSERT_EQ(cio_yield(), -ETIMEDOUT); /* level-triggered inside */
    CIO_ASSERT_EQ(cio_timeout_end(&s), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0); /* fine again outside */
}

CIO_TEST_VCLOCK(timeout_not_reached_returns_zero) {
    cio_scope s;
    cio_timeout_begin(&s, 30 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    CIO_ASSERT(!cio_timeout_expired(&s));
    CIO_ASSERT_EQ(cio_timeout_end(&s), 0);
}

CIO_TEST_VCLOCK(nested_timeouts_inner_first) {
    cio_scope outer, inner;
    int64_t t0 = cio_now();
    cio_timeout_begin(&outer, 10 * CIO_SEC);
    cio_timeout_begin(&inner, 2 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(5 * CIO_SEC), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT_EQ(cio_timeout_end(&inner), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_sleep(5 * CIO_SEC), 0); /* outer still running */
    CIO_ASSERT(!cio_timeout_expired(&outer));
    CIO_ASSERT_EQ(cio_timeout_end(&outer), 0);
}

CIO_TEST_VCLOCK(nested_timeouts_outer_first) {
    cio_scope outer, inner;
    int64_t t0 = cio_now();
    cio_timeout_begin(&outer, 2 * CIO_SEC);
    cio_timeout_begin(&inner, 10 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(5 * CIO_SEC), -ETIMEDOUT); /* inner code sees it */
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT_EQ(cio_timeout_end(&inner), 0);
    CIO_ASSERT_EQ(cio_timeout_end(&outer), -ETIMEDOUT);
}

CIO_TEST_VCLOCK(timeout_block_macro_and_reschedule) {
    int64_t t0 = cio_now();
    int rc = 0;
    CIO_TIMEOUT(CIO_SEC) {
        rc = cio_sleep(5 * CIO_SEC);
    }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    cio_scope s;
    cio_timeout_begin(&s, CIO_SEC);
    cio_timeout_reschedule(&s, cio_now() + 3 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(2 * CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_sleep(2 * CIO_SEC), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_timeout_end(&s), -ETIMEDOUT);
}

/* A task that parks inside a timeout scope another task reschedules. */
struct rescheduled {
    int64_t first_deadline; /* the scope's deadline when it begins */
    int64_t sleep_ns;       /* how long it sleeps; 0: until woken */
    cio_scope *scope;       /* while inside */
    int rc;
    int64_t woke;
};

static int park_in_rescheduled_scope(void *arg) {
    struct rescheduled *r = arg;
    cio_scope s;
    cio_timeout_begin_at(&s, r->first_deadline);
    r->scope = &s;
    r->rc = r->sleep_ns ? cio_sleep(r->sleep_ns) : cio_sleep_until(CIO_FOREVER);
    r->woke = cio_now();
    r->scope = NULL;
    cio_timeout_end(&s);
    return 0;
}

CIO_TEST_VCLOCK(timeout_rescheduled_sooner_by_another_task_wakes_the_waiter_then) {
    struct rescheduled r = {.first_deadline = CIO_FOREVER};
    int64_t t0 = cio_now();
    cio_task *t = cio_spawn(park_in_rescheduled_scope, &r);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0); /* t waits with no deadline at all */
    CIO_ASSERT(r.scope != NULL);
    cio_timeout_reschedule(r.scope, cio_now() + CIO_SEC);
    int rc = -1;
    CIO_TIMEOUT(10 * CIO_SEC) {
        rc = cio_join(t);
    }
    CIO_ASSERT_EQ(rc, 0);
    CIO_ASSERT_EQ(r.rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(r.woke - t0, 2 * CIO_SEC);
}

CIO_TEST_VCLOCK(timeout_rescheduled_later_by_another_task_keeps_a_shorter_sleep) {
    int64_t t0 = cio_now();
    struct rescheduled r = {.first_deadline = t0 + CIO_SEC, .sleep_ns = 10 * CIO_SEC};
    cio_task *t = cio_spawn(park_in_rescheduled_scope, &r);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC / 2), 0);
    cio_timeout_reschedule(r.scope, t0 + 60 * CIO_SEC);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(r.rc, 0); /* the sleep ended, not the scope */
    CIO_ASSERT_EQ(r.woke - t0, 10 * CIO_SEC);
}

CIO_TEST_VCLOCK(timeout_rescheduled_to_the_past_by_another_task_wakes_the_waiter_now) {
    int64_t t0 = cio_now();
    struct rescheduled r = {.first_deadline = t0 + 30 * CIO_SEC};
    cio_task *t = cio_spawn(park_in_rescheduled_scope, &r);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_timeout_reschedule(r.scope, t0);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(r.rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(r.woke - t0, CIO_SEC);
}

CIO_TEST(timeout_rescheduled_without_memory_for_a_timer_wakes_the_waiter_failed) {
    struct rescheduled r = {.first_deadline = CIO_FOREVER};
    cio_task *t = cio_spawn(park_in_rescheduled_scope, &r);
    CIO_ASSERT_EQ(cio_yield(), 0); /* t waits; no timer was ever armed */
    CIO_ASSERT_EQ(cio_loop_current()->timers.cap, 0);
    cio_test_fail_alloc(1); /* the timer heap cannot grow */
    cio_timeout_reschedule(r.scope, cio_now() + CIO_SEC);
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(r.rc, -ENOMEM); /* not a wait past the new deadline */
}

struct reschedule_from_thread {
    cio_scope *scope;
    char msg[256];
};

static void *reschedule_from_thread(void *arg) {
    struct reschedule_from_thread *x = arg;
    cio_timeout_reschedule(x->scope, 0);
    snprintf(x->msg, sizeof x->msg, "%s", cio_errmsg());
    return NULL;
}

CIO_TEST_VCLOCK(timeout_rescheduled_from_another_thread_is_refused_and_says_why) {
    int64_t t0 = cio_now();
    struct rescheduled r = {.first_deadline = t0 + 2 * CIO_SEC};
    cio_task *t = cio_spawn(park_in_rescheduled_scope, &r);
    CIO_ASSERT_EQ(cio_yield(), 0);
    struct reschedule_from_thread x = {r.scope, ""};
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, reschedule_from_thread, &x), 0);
    pthread_join(th, NULL); /* blocks the loop: t cannot move meanwhile */
    CIO_ASSERT(strstr(x.msg, "cio_timeout_reschedule") && strstr(x.msg, "another thread"));
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(r.rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(r.woke - t0, 2 * CIO_SEC); /* the deadline did not move */
}

CIO_TEST_VCLOCK(timeout_beats_cancellation_inside_its_scope) {
    cio_scope s;
    cio_timeout_begin(&s, CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(2 * CIO_SEC), -ETIMEDOUT);
    cio_cancel(cio_current());
    CIO_ASSERT_EQ(cio_yield(), -ETIMEDOUT); /* the nearest expired scope decides */
    cio_timeout_end(&s);
    CIO_ASSERT_EQ(cio_yield(), -ECANCELED);
}

CIO_TEST_VCLOCK(wait_for_cancels_and_waits_for_the_task) {
    sleep_job j = {.ns = 30 * CIO_SEC, .result = 1};
    cio_task *t = cio_spawn(sleep_task, &j);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_wait_for(t, 2 * CIO_SEC), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT_EQ(j.rc, -ECANCELED); /* it ended before wait_for returned */
    CIO_ASSERT(strstr(cio_errmsg(), "did not finish") != NULL);
    sleep_job k = {.ns = CIO_SEC, .result = 8};
    CIO_ASSERT_EQ(cio_wait_for(cio_spawn(sleep_task, &k), 2 * CIO_SEC), 8);
}

CIO_TEST_VCLOCK(join_times_out_inside_scope) {
    sleep_job j = {.ns = 30 * CIO_SEC, .result = 1};
    cio_task *t = cio_spawn(sleep_task, &j);
    int rc;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_join(t); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
}

/* ---- groups ---- */

CIO_TEST_VCLOCK(group_second_child_failure_cancels_siblings) {
    sleep_job a = {.ns = 10 * CIO_SEC, .result = 1}, c = {.ns = 10 * CIO_SEC, .result = 3};
    int64_t f = CIO_SEC;
    cio_group *g = cio_group_new();
    CIO_ASSERT(g != NULL);
    cio_group_spawn(g, sleep_task, &a);
    cio_group_spawn(g, fail_task, &f);
    cio_group_spawn(g, sleep_task, &c);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_group_wait(g), -EIO);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT(strstr(cio_errmsg(), "disk on fire") != NULL);
    CIO_ASSERT_EQ(cio_group_size(g), 3);
    CIO_ASSERT_EQ(cio_group_status(g, 0), -ECANCELED);
    CIO_ASSERT_EQ(cio_group_status(g, 1), -EIO);
    CIO_ASSERT_EQ(cio_group_status(g, 2), -ECANCELED);
    CIO_ASSERT(strstr(cio_group_errmsg(g, 1), "disk on fire") != NULL);
    CIO_ASSERT(cio_group_spawn(g, sleep_task, &a) == NULL);
    CIO_ASSERT_EQ(errno, ECANCELED);
    cio_group_free(g);
}

CIO_TEST_VCLOCK(group_all_succeed) {
    sleep_job j[3] = {{.ns = CIO_SEC, .result = 1}, {.ns = 2 * CIO_SEC, .result = 2},
                      {.ns = 3 * CIO_SEC, .result = 3}};
    cio_group *g = cio_group_new();
    for (int i = 0; i < 3; i++)
        CIO_ASSERT(cio_group_spawn(g, sleep_task, &j[i]) != NULL);
    CIO_ASSERT_EQ(cio_group_wait(g), 0);
    for (int i = 0; i < 3; i++)
        CIO_ASSERT_EQ(cio_group_status(g, i), i + 1);
    cio_group_free(g);
}

static int group_waiter(void *arg) { return cio_group_wait(arg); }

CIO_TEST_VCLOCK(group_waiter_cancelled_cancels_children) {
    sleep_job j = {.ns = 10 * CIO_SEC};
    cio_group *g = cio_group_new();
    cio_group_spawn(g, sleep_task, &j);
    cio_task *w = cio_spawn(group_waiter, g);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(w);
    CIO_ASSERT_EQ(cio_join(w), -ECANCELED);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    CIO_ASSERT_EQ(cio_group_status(g, 0), -ECANCELED);
    cio_group_free(g);
}

CIO_TEST_VCLOCK(group_free_cancels_running_children) {
    sleep_job j = {.ns = 10 * CIO_SEC};
    cio_group *g = cio_group_new();
    cio_group_spawn(g, sleep_task, &j);
    CIO_ASSERT_EQ(cio_yield(), 0);
    cio_group_free(g);
    CIO_ASSERT_EQ(cio_sleep(CIO_MS), 0);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
}

CIO_TEST_VCLOCK(group_cancel_cancels_running_children_only) {
    sleep_job quick = {.ns = CIO_MS, .result = 1}, slow = {.ns = 10 * CIO_SEC, .result = 2};
    cio_group *g = cio_group_new();
    CIO_ASSERT(g != NULL);
    CIO_ASSERT(cio_group_spawn(g, sleep_task, &quick) != NULL);
    CIO_ASSERT(cio_group_spawn(g, sleep_task, &slow) != NULL);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_group_status(g, 0), 1);
    CIO_ASSERT_EQ(cio_group_status(g, 1), -EINPROGRESS);
    int64_t t0 = cio_now();
    cio_group_cancel(g);
    cio_group_cancel(NULL); /* no effect, no crash */
    CIO_ASSERT_EQ(cio_group_wait(g), 0); /* cancelled children are not failures */
    CIO_ASSERT_EQ(cio_now(), t0);
    CIO_ASSERT_EQ(slow.rc, -ECANCELED);
    CIO_ASSERT_EQ(cio_group_status(g, 0), 1);
    CIO_ASSERT_EQ(cio_group_status(g, 1), -ECANCELED);
    cio_group_free(g);
}

CIO_TEST_VCLOCK(group_wait_times_out_and_takes_the_children_down) {
    sleep_job j = {.ns = 10 * CIO_SEC, .result = 1};
    cio_group *g = cio_group_new();
    cio_group_spawn(g, sleep_task, &j);
    int64_t t0 = cio_now();
    int rc = 0;
    CIO_TIMEOUT(2 * CIO_SEC) { rc = cio_group_wait(g); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    CIO_ASSERT_EQ(cio_group_status(g, 0), -ECANCELED);
    cio_group_free(g);
}

CIO_TEST(group_errors) {
    int x = 1;
    errno = 0;
    CIO_ASSERT(cio_group_spawn(NULL, add_one, &x) == NULL);
    CIO_ASSERT_EQ(errno, EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_group_spawn: group is NULL") != NULL);
    CIO_ASSERT_EQ(cio_group_wait(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_group_wait") != NULL);
    CIO_ASSERT_EQ(cio_group_size(NULL), 0);
    CIO_ASSERT_EQ(cio_group_status(NULL, 0), -EINVAL);
    CIO_ASSERT_STREQ(cio_group_errmsg(NULL, 0), "");
    cio_group_free(NULL);
    cio_group *g = cio_group_new();
    CIO_ASSERT(cio_group_spawn_with(g, add_one, &x, &(cio_spawn_opts){.name = "adder"}) != NULL);
    CIO_ASSERT_EQ(cio_group_wait(g), 0);
    CIO_ASSERT_EQ(cio_group_status(g, 0), 2);
    CIO_ASSERT_EQ(cio_group_status(g, 1), -EINVAL); /* out of range */
    CIO_ASSERT_STREQ(cio_group_errmsg(g, 0), "");   /* succeeded: no message */
    CIO_ASSERT_STREQ(cio_group_errmsg(g, 5), "");
    /* The ninth child makes the group's arrays grow: each failure leaves
     * the group usable and the children spawned so far intact. */
    for (int i = 1; i < 8; i++)
        CIO_ASSERT(cio_group_spawn(g, add_one, &x) != NULL);
    int failures = 0;
    for (long n = 1; n < 20; n++) {
        cio_test_fail_alloc(n);
        cio_task *t = cio_group_spawn(g, add_one, &x);
        cio_test_fail_alloc(0);
        if (t)
            break;
        CIO_ASSERT_EQ(errno, ENOMEM);
        CIO_ASSERT(strstr(cio_errmsg(), "out of memory") != NULL);
        failures++;
    }
    CIO_ASSERT_GE(failures, 3); /* one per array of the group */
    CIO_ASSERT_EQ(cio_group_wait(g), 0);
    CIO_ASSERT_EQ(cio_group_size(g), 9);
    for (size_t i = 0; i < 9; i++)
        CIO_ASSERT_EQ(cio_group_status(g, i), 2);
    cio_group_free(g);
}

/* ---- errors, detach and reporting ---- */

static char reported[512];
static void capture_report(int level, const char *msg) {
    (void)level;
    snprintf(reported, sizeof reported, "%s", msg);
}

static int failing_named(void *arg) {
    (void)arg;
    return cio_seterr(-ECONNREFUSED, "connect 127.0.0.1:1: Connection refused");
}

CIO_TEST(detached_failure_is_reported_with_name) {
    reported[0] = 0;
    cio__set_report_hook(capture_report);
    cio_task *t = cio_spawn_with(failing_named, NULL, &(cio_spawn_opts){.name = "dialer"});
    CIO_ASSERT_EQ(cio_detach(t), 0);
    CIO_ASSERT_EQ(cio_yield(), 0);
    cio__set_report_hook(NULL);
    CIO_ASSERT(strstr(reported, "dialer") != NULL);
    CIO_ASSERT(strstr(reported, "Connection refused") != NULL);
}

CIO_TEST(detach_finished_task_and_join_error_message_travels) {
    int x = 0;
    cio_task *t = cio_spawn(add_one, &x);
    CIO_ASSERT_EQ(cio_yield(), 0);
    CIO_ASSERT_EQ(cio_detach(t), 0);
    cio_task *f = cio_spawn(failing_named, NULL);
    CIO_ASSERT_EQ(cio_join(f), -ECONNREFUSED);
    CIO_ASSERT_STREQ(cio_errmsg(), "connect 127.0.0.1:1: Connection refused");
    CIO_ASSERT_STREQ(cio_strerror(-ECONNREFUSED), "Connection refused");
    CIO_ASSERT_STREQ(cio_strerror(CIO_ETLS), "TLS error");
}

CIO_TEST(detach_of_an_awaited_task_is_ebusy) {
    sleep_job j = {.ns = CIO_MS, .result = 5};
    cio_task *t = cio_spawn_with(sleep_task, &j, &(cio_spawn_opts){.name = "awaited"});
    cio_task *joiner = cio_spawn(two_joiners_second, t);
    CIO_ASSERT_EQ(cio_yield(), 0); /* `joiner` is now joining t */
    CIO_ASSERT_EQ(cio_detach(t), -EBUSY);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_detach: task 'awaited' is being awaited") != NULL);
    CIO_ASSERT_EQ(cio_join(joiner), 5); /* the awaiter still collects it */
}

CIO_TEST(spawn_and_rename_errors) {
    errno = 0;
    CIO_ASSERT(cio_spawn(NULL, NULL) == NULL);
    CIO_ASSERT_EQ(errno, EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_spawn: task function is NULL") != NULL);
    CIO_ASSERT_EQ(cio_task_set_name(NULL, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_task_set_name") != NULL);
    CIO_ASSERT_EQ(cio_task_set_name(NULL, "main-renamed"), 0); /* NULL = current task */
    CIO_ASSERT_STREQ(cio_task_name(NULL), "main-renamed");
    CIO_ASSERT_STREQ(cio_task_name(cio_current()), "main-renamed");
    CIO_ASSERT_EQ(cio_task_id(NULL), cio_task_id(cio_current()));
    CIO_ASSERT(!cio_task_cancelled(NULL));
    cio_cancel(cio_current());
    CIO_ASSERT(cio_task_cancelled(NULL));
}

static const char *outside_name;
static uint64_t outside_id;
static int outside_rename;
static void *introspect_outside(void *arg) {
    (void)arg;
    outside_name = cio_task_name(NULL);
    outside_id = cio_task_id(NULL);
    outside_rename = cio_task_set_name(NULL, "x");
    return NULL;
}

CIO_TEST(task_introspection_outside_a_task) {
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, introspect_outside, NULL), 0);
    pthread_join(th, NULL);
    CIO_ASSERT_STREQ(outside_name, "(loop)");
    CIO_ASSERT_EQ(outside_id, 0);
    CIO_ASSERT_EQ(outside_rename, -EINVAL);
}

CIO_TEST(version_and_strerror_name_every_code) {
    int maj = -1, min = -1, pat = -1;
    char extra;
    CIO_ASSERT_EQ(sscanf(cio_version(), "%d.%d.%d%c", &maj, &min, &pat, &extra), 3);
    CIO_ASSERT(maj >= 0 && min >= 0 && pat >= 0);
    static const struct {
        int code;
        const char *text;
    } names[] = {
        {0, "Success"},
        {CIO_EEND, "End of iteration"},
        {CIO_ECLOSED, "Closed or shut down"},
        {CIO_EBROKEN, "Barrier broken"},
        {CIO_EHTTP, "HTTP protocol error"},
        {CIO_ETLS, "TLS error"},
        {CIO_EDNS, "Name resolution failed"},
        {CIO_EPARSE, "Malformed input"},
        {CIO_ELIMIT, "Limit exceeded"},
        {CIO_EPARTIAL, "Incomplete read: end of stream"},
        {-ETIMEDOUT, "Connection timed out"},
        {-4096 - 100, "Unknown error"},
        {5, "Unknown error"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CIO_ASSERT_STREQ(cio_strerror(names[i].code), names[i].text);
}

/* Runs fn with stderr sent to a file and returns what was written. */
static char captured[4096];
static const char *capture_stderr(void (*fn)(void)) {
    char path[512];
    snprintf(path, sizeof path, "%s/stderr.txt", cio_test_tmpdir());
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (saved < 0 || fd < 0)
        return "";
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, captured, sizeof captured - 1, 0);
    close(fd);
    captured[n > 0 ? n : 0] = 0;
    return captured;
}

static void *dump_outside(void *arg) {
    (void)arg;
    cio_dump_tasks(); /* no loop on this thread: prints nothing */
    return NULL;
}
static void dump_from_other_thread(void) {
    pthread_t th;
    if (pthread_create(&th, NULL, dump_outside, NULL) == 0)
        pthread_join(th, NULL);
}

CIO_TEST_VCLOCK(dump_tasks_lists_live_tasks_with_state) {
    sleep_job j = {.ns = 10 * CIO_SEC};
    cio_task *a = cio_spawn_with(sleep_task, &j, &(cio_spawn_opts){.name = "sleeper"});
    cio_task *b = cio_spawn_with(sleep_task, &j, &(cio_spawn_opts){.name = "victim"});
    CIO_ASSERT_EQ(cio_yield(), 0);
    cio_cancel(b);
    cio_task_set_name(NULL, "dumper");
    const char *out = capture_stderr(cio_dump_tasks);
    CIO_ASSERT(strstr(out, "live tasks") != NULL);
    CIO_ASSERT(strstr(out, "'dumper': running\n") != NULL);
    CIO_ASSERT(strstr(out, "'sleeper': parked\n") != NULL);
    CIO_ASSERT(strstr(out, "'victim': ready (cancelled)\n") != NULL);
    CIO_ASSERT_STREQ(capture_stderr(dump_from_other_thread), "");
    cio_cancel(a);
    CIO_ASSERT_EQ(cio_join(a), -ECANCELED);
    CIO_ASSERT_EQ(cio_join(b), -ECANCELED);
}

static atomic_long counted_mallocs, counted_frees;
static void *counting_malloc(size_t n) {
    atomic_fetch_add(&counted_mallocs, 1);
    return malloc(n);
}
static void *counting_realloc(void *p, size_t n) { return realloc(p, n); }
static void counting_free(void *p) {
    atomic_fetch_add(&counted_frees, 1);
    free(p);
}

/* The hooks forward to libc, so blocks allocated before the switch are
 * still freed correctly after it. */
CIO_TEST(set_allocator_routes_cio_allocations) {
    atomic_store(&counted_mallocs, 0);
    atomic_store(&counted_frees, 0);
    cio_set_allocator(counting_malloc, counting_realloc, counting_free);
    cio_group *g = cio_group_new();
    cio_set_allocator(NULL, NULL, NULL);
    CIO_ASSERT(g != NULL);
    CIO_ASSERT_EQ(atomic_load(&counted_mallocs), 1);
    cio_set_allocator(counting_malloc, counting_realloc, counting_free);
    cio_group_free(g);
    cio_set_allocator(NULL, NULL, NULL);
    CIO_ASSERT_EQ(atomic_load(&counted_frees), 1);
    g = cio_group_new(); /* back on libc: not counted */
    cio_group_free(g);
    CIO_ASSERT_EQ(atomic_load(&counted_mallocs), 1);
    CIO_ASSERT_EQ(atomic_load(&counted_frees), 1);
}

static int leftover_rc = 1;
static int leftover(void *arg) {
    (void)arg;
    leftover_rc = cio_sleep(CIO_SEC * 1000);
    return 0;
}
static int main_leaving_a_task(void *arg) {
    cio_detach(cio_spawn(leftover, NULL));
    return 5;
}

static int outside_rcs[5];
static cio_task *outside_spawn;
static void *outside_thread(void *arg) {
    (void)arg;
    outside_rcs[0] = cio_sleep(CIO_MS);
    outside_rcs[1] = cio_yield();
    outside_rcs[2] = cio_join((cio_task *)&outside_rcs); /* any pointer: no loop */
    outside_spawn = cio_spawn(add_one, NULL);
    outside_rcs[3] = errno;
    outside_rcs[4] = cio_run(main_leaving_a_task, NULL);
    return NULL;
}

CIO_TEST(suspending_outside_a_task_is_eperm_and_cio_run_reaps_leftovers) {
    pthread_t th;
    leftover_rc = 1;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, outside_thread, NULL), 0);
    pthread_join(th, NULL);
    CIO_ASSERT_EQ(outside_rcs[0], -EPERM);
    CIO_ASSERT_EQ(outside_rcs[1], -EPERM);
    CIO_ASSERT_EQ(outside_rcs[2], -EPERM);
    CIO_ASSERT(outside_spawn == NULL);
    CIO_ASSERT_EQ(outside_rcs[3], EPERM);
    CIO_ASSERT_EQ(outside_rcs[4], 5);          /* main's result */
    CIO_ASSERT_EQ(leftover_rc, -ECANCELED);    /* leftover cancelled and awaited */
}

CIO_TEST(nested_run_is_refused) {
    CIO_ASSERT_EQ(cio_run(main_leaving_a_task, NULL), -EBUSY);
    CIO_ASSERT_EQ(cio_run(NULL, NULL), -EINVAL);
}

static int sigint_seen = 1;
static int wait_for_sigint(void *arg) {
    (void)arg;
    sigint_seen = cio_sleep(60 * CIO_SEC);
    return sigint_seen;
}
static void *sigint_thread(void *arg) {
    *(int *)arg = cio_run(wait_for_sigint, NULL);
    return NULL;
}

CIO_TEST(sigint_cancels_the_main_task) {
    int rc = 0;
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, sigint_thread, &rc), 0);
    /* Wait (really) until that loop's main task sleeps, then interrupt. */
    for (int i = 0; i < 50; i++)
        cio_sleep(CIO_MS);
    kill(getpid(), SIGINT); /* once: a second SIGINT would end the process */
    pthread_join(th, NULL);
    CIO_ASSERT_EQ(rc, -ECANCELED);
    CIO_ASSERT_EQ(sigint_seen, -ECANCELED);
}

static cio_loop *ts_loop;
static int ts_calls;
static void bump(void *arg) {
    ts_calls += *(int *)arg;
}
static void *poster(void *arg) {
    static int one = 1;
    for (int i = 0; i < 1000; i++)
        cio_call_threadsafe(ts_loop, bump, &one);
    (void)arg;
    return NULL;
}

CIO_TEST(call_threadsafe_from_other_threads) {
    ts_loop = cio_loop_current();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        CIO_ASSERT_EQ(pthread_create(&th[i], NULL, poster, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 1000 && ts_calls < 4000; i++)
        cio_sleep(CIO_MS);
    CIO_ASSERT_EQ(ts_calls, 4000);
    CIO_ASSERT_EQ(cio_call_threadsafe(NULL, bump, NULL), -EINVAL);
}

CIO_TEST(spawn_out_of_memory_leaks_nothing) {
    /* Fail each allocation in turn until spawning with a name succeeds. */
    int x = 1, failures = 0;
    for (long n = 1; n < 20; n++) {
        cio_test_fail_alloc(n);
        cio_task *t = cio_spawn_with(add_one, &x, &(cio_spawn_opts){.name = "oom"});
        cio_test_fail_alloc(0);
        if (!t) {
            CIO_ASSERT_EQ(errno, ENOMEM);
            failures++;
            continue;
        }
        CIO_ASSERT_EQ(cio_join(t), 2);
        break;
    }
    CIO_ASSERT_GT(failures, 0);
    cio_group *g;
    cio_test_fail_alloc(1);
    g = cio_group_new();
    cio_test_fail_alloc(0);
    CIO_ASSERT(g == NULL);
}

static int yield_then_fail_next_alloc(void *arg) {
    int *done = arg;
    if (cio_yield() != 0)
        return -1;
    if ((*done)++ == 0)
        cio_test_fail_alloc(1); /* the first stack given back cannot be filed */
    return 0;
}

/* Free stacks wait in a growable array; when it cannot grow they wait on a
 * list instead, and both are reused. */
CIO_TEST(stack_pool_keeps_stacks_when_its_array_cannot_grow) {
    enum { N = 300 };
    static cio_task *ts[N];
    for (int round = 0; round < 3; round++) {
        int done = 0;
        for (int i = 0; i < N; i++)
            CIO_ASSERT((ts[i] = cio_spawn(yield_then_fail_next_alloc, &done)) != NULL);
        CIO_ASSERT_EQ(cio_gather(ts, N, NULL), 0);
        cio_test_fail_alloc(0);
        CIO_ASSERT_EQ(done, N);
    }
}

CIO_TEST(yield_runs_tasks_fifo) {
    order[0] = 0;
    sleep_job j[3] = {{.ns = 0, .mark = 'a'}, {.ns = 0, .mark = 'b'}, {.ns = 0, .mark = 'c'}};
    cio_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = cio_spawn(sleep_task, &j[i]);
    CIO_ASSERT_EQ(cio_gather(ts, 3, NULL), 0);
    CIO_ASSERT_STREQ(order, "abc");
}

CIO_TEST_VCLOCK(equal_deadlines_fire_in_arming_order) {
    order[0] = 0;
    sleep_job j[4] = {{.ns = CIO_SEC, .mark = '1'}, {.ns = CIO_SEC, .mark = '2'},
                      {.ns = CIO_MS, .mark = '0'}, {.ns = CIO_SEC, .mark = '3'}};
    cio_task *ts[4];
    for (int i = 0; i < 4; i++)
        ts[i] = cio_spawn(sleep_task, &j[i]);
    CIO_ASSERT_EQ(cio_gather(ts, 4, NULL), 0);
    CIO_ASSERT_STREQ(order, "0123");
}

/* ---- more suspension points: timeouts and cancellation ---- */

CIO_TEST_VCLOCK(wait_any_times_out_and_leaves_tasks_owned) {
    sleep_job j[2] = {{.ns = 10 * CIO_SEC, .result = 1}, {.ns = 20 * CIO_SEC, .result = 2}};
    cio_task *ts[2] = {cio_spawn(sleep_task, &j[0]), cio_spawn(sleep_task, &j[1])};
    int rc;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_wait_any(ts, 2); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_wait_any(ts, 2), 0); /* still ours; t0 ends first */
    int st[2];
    CIO_ASSERT_EQ(cio_gather(ts, 2, st), 0);
    CIO_ASSERT_EQ(st[0] + st[1], 3);
}

CIO_TEST_VCLOCK(shield_times_out_and_task_runs_on) {
    sleep_job j = {.ns = 5 * CIO_SEC, .result = 4};
    cio_task *t = cio_spawn(sleep_task, &j);
    int rc;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_shield(t); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT(!cio_task_done(t));
    CIO_ASSERT_EQ(cio_join(t), 4);
}

CIO_TEST_VCLOCK(shield_returns_the_result_and_releases_the_task) {
    sleep_job j = {.ns = 2 * CIO_SEC, .result = 9};
    cio_task *t = cio_spawn(sleep_task, &j);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_shield(t), 9);
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    cio_task *f = cio_spawn(failing_named, NULL);
    CIO_ASSERT_EQ(cio_shield(f), -ECONNREFUSED); /* a failure's message travels too */
    CIO_ASSERT_STREQ(cio_errmsg(), "connect 127.0.0.1:1: Connection refused");
    CIO_ASSERT_EQ(cio_shield(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_shield") != NULL);
    CIO_ASSERT_EQ(cio_shield(cio_current()), -EDEADLK);
}

CIO_TEST_VCLOCK(sleep_until_cancelled_and_timed_out) {
    int64_t t0 = cio_now();
    int rc = 0;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_sleep_until(t0 + 10 * CIO_SEC); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    cio_cancel(cio_current());
    CIO_ASSERT_EQ(cio_sleep_until(t0 + 10 * CIO_SEC), -ECANCELED);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC); /* returned at once */
}

static int wait_any_two(void *arg) { return cio_wait_any(arg, 2); }

CIO_TEST_VCLOCK(wait_any_cancelled_leaves_tasks_owned) {
    sleep_job j[2] = {{.ns = 10 * CIO_SEC, .result = 1}, {.ns = 20 * CIO_SEC, .result = 2}};
    cio_task *ts[2] = {cio_spawn(sleep_task, &j[0]), cio_spawn(sleep_task, &j[1])};
    cio_task *w = cio_spawn(wait_any_two, ts);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(w);
    CIO_ASSERT_EQ(cio_join(w), -ECANCELED);
    CIO_ASSERT(!cio_task_done(ts[0])); /* not cancelled with the waiter */
    CIO_ASSERT_EQ(j[0].rc, 0);
    int st[2];
    CIO_ASSERT_EQ(cio_gather(ts, 2, st), 0); /* and not claimed any more */
    CIO_ASSERT_EQ(st[0], 1);
    CIO_ASSERT_EQ(st[1], 2);
}

CIO_TEST(wait_any_errors_name_the_bad_task) {
    sleep_job j = {.ns = CIO_MS, .result = 1};
    cio_task *t = cio_spawn(sleep_task, &j);
    cio_task *ts[2] = {t, NULL};
    CIO_ASSERT_EQ(cio_wait_any(ts, 0), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_wait_any") != NULL);
    CIO_ASSERT_EQ(cio_wait_any(ts, 2), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "task 1 is NULL") != NULL);
    ts[1] = cio_current();
    CIO_ASSERT_EQ(cio_wait_any(ts, 2), -EDEADLK);
    CIO_ASSERT(strstr(cio_errmsg(), "cannot wait for itself") != NULL);
    ts[1] = t;
    CIO_ASSERT_EQ(cio_wait_any(ts, 2), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "appears twice") != NULL);
    CIO_ASSERT_EQ(cio_join(t), 1); /* a failed call left no claim behind */
}

static int as_completed_first(void *arg) {
    cio_as_completed *it = arg;
    cio_task *t = NULL;
    return cio_as_completed_next(it, &t);
}

CIO_TEST_VCLOCK(as_completed_next_cancelled_and_errors) {
    sleep_job j = {.ns = 10 * CIO_SEC, .result = 6};
    cio_task *t = cio_spawn(sleep_task, &j), *out = NULL;
    cio_as_completed *it = cio_as_completed_new(&t, 1);
    CIO_ASSERT(it != NULL);
    CIO_ASSERT_EQ(cio_as_completed_next(NULL, &out), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_as_completed_next") != NULL);
    CIO_ASSERT_EQ(cio_as_completed_next(it, NULL), -EINVAL);
    cio_task *w = cio_spawn(as_completed_first, it);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(w);
    CIO_ASSERT_EQ(cio_join(w), -ECANCELED);
    CIO_ASSERT(!cio_task_done(t));
    CIO_ASSERT_EQ(cio_as_completed_next(it, &out), 0); /* the iterator goes on */
    CIO_ASSERT(out == t);
    CIO_ASSERT_EQ(cio_as_completed_next(it, &out), CIO_EEND);
    cio_as_completed_free(it);
    cio_as_completed_free(NULL);
    CIO_ASSERT_EQ(cio_join(t), 6);
    cio_task *self = cio_current();
    CIO_ASSERT(cio_as_completed_new(&self, 1) == NULL);
    CIO_ASSERT_EQ(errno, EDEADLK);
    cio_test_fail_alloc(1);
    it = cio_as_completed_new(&t, 0);
    cio_test_fail_alloc(0);
    CIO_ASSERT(it == NULL);
    CIO_ASSERT_EQ(errno, ENOMEM);
    CIO_ASSERT(strstr(cio_errmsg(), "out of memory") != NULL);
}

CIO_TEST_VCLOCK(sleep_until_and_past_deadlines) {
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_sleep_until(t0 + 3 * CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_now(), t0 + 3 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep_until(t0), 0); /* already past: returns at once */
    CIO_ASSERT_EQ(cio_now(), t0 + 3 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sleep(-5), 0);
}

CIO_TEST(task_errmsg_readable_before_release) {
    cio_task *f = cio_spawn(failing_named, NULL);
    CIO_ASSERT_EQ(cio_yield(), 0);
    CIO_ASSERT(cio_task_done(f));
    CIO_ASSERT_STREQ(cio_task_errmsg(f), "connect 127.0.0.1:1: Connection refused");
    CIO_ASSERT_EQ(cio_join(f), -ECONNREFUSED);
}

/* Timers: random deadlines with random cancellations fire exactly at their
 * deadline and in deadline order (equal deadlines in arming order). */
#define NTIMERS 20000
static int64_t timer_start, woke_at[NTIMERS], wanted[NTIMERS];
static int woke_seq[NTIMERS], woke_count;
static int timer_task(void *arg) {
    int i = (int)(intptr_t)arg;
    int rc = cio_sleep_until(timer_start + wanted[i]);
    woke_at[i] = cio_now();
    if (rc == 0)
        woke_seq[woke_count++] = i;
    return rc;
}

CIO_TEST_VCLOCK(timers_fire_in_deadline_order_under_cancellation) {
    static cio_task *ts[NTIMERS];
    static int st[NTIMERS];
    unsigned long long seed = 7;
    int n = (int)cio_test_scale(NTIMERS); /* sanitizers: fewer fibres */
    timer_start = cio_now();
    woke_count = 0;
    for (int i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        wanted[i] = (int64_t)(1 + (seed >> 33) % 500) * CIO_MS; /* many ties */
        ts[i] = cio_spawn(timer_task, (void *)(intptr_t)i);
    }
    CIO_ASSERT_EQ(cio_yield(), 0); /* all armed */
    for (int i = 0; i < n; i += 3)
        cio_cancel(ts[i]);
    CIO_ASSERT_EQ(cio_gather(ts, (size_t)n, st), -ECANCELED);
    int expected = 0;
    for (int i = 0; i < n; i++) {
        if (i % 3 == 0) {
            CIO_ASSERT_EQ(st[i], -ECANCELED);
            continue;
        }
        expected++;
        CIO_ASSERT_EQ(st[i], 0);
        CIO_ASSERT_EQ(woke_at[i] - timer_start, wanted[i]);
    }
    CIO_ASSERT_EQ(woke_count, expected);
    for (int k = 1; k < woke_count; k++) {
        int a = woke_seq[k - 1], b = woke_seq[k];
        CIO_ASSERT(wanted[a] < wanted[b] || (wanted[a] == wanted[b] && a < b));
    }
}

/* ---- debug mode ---- */

static char slow_report[512];
static void capture_slow(int level, const char *msg) {
    if (strstr(msg, "without suspending") && !slow_report[0])
        snprintf(slow_report, sizeof slow_report, "%s", msg);
    (void)level;
}
static int busy_task(void *arg) {
    (void)arg;
    int64_t until = cio_now() + 20 * CIO_MS;
    while (cio_now() < until) {
    }
    return 0;
}
static int debug_main(void *arg) {
    (void)arg;
    cio_task *t = cio_spawn_with(busy_task, NULL, &(cio_spawn_opts){.name = "hog"});
    return cio_join(t);
}
static void *debug_thread(void *arg) {
    cio_run_opts o = {.debug = true, .slow_task_ns = 5 * CIO_MS, .no_sigint = true};
    *(int *)arg = cio_run_with(debug_main, NULL, &o);
    return NULL;
}

CIO_TEST(debug_mode_names_a_task_that_blocks_the_loop) {
    slow_report[0] = 0;
    cio__set_report_hook(capture_slow);
    int rc = -1;
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, debug_thread, &rc), 0);
    pthread_join(th, NULL);
    cio__set_report_hook(NULL);
    CIO_ASSERT_EQ(rc, 0);
    CIO_ASSERT(strstr(slow_report, "'hog'") != NULL); /* and only hog: main did not block */
}

/* ---- resource limits ---- */

static int nothing(void *arg) {
    (void)arg;
    return 0;
}
static void *run_without_fds(void *arg) {
    int *out = arg;
    out[0] = cio_run(nothing, NULL);
    out[1] = strstr(cio_errmsg(), "cannot create the loop") != NULL;
    return NULL;
}

CIO_TEST(cio_run_without_free_fds_fails_cleanly) {
    /* Use up every descriptor, then start a loop on a fresh thread: it has
     * none for epoll or its wake-up eventfd. (No fork: sanitizers dislike
     * threads started after fork.) */
    struct rlimit old;
    CIO_ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    int used = cio_test_fd_count();
    struct rlimit rl = {(rlim_t)used + 8, old.rlim_max};
    CIO_ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int fds[64], n = 0;
    while (n < 64 && pipe(&fds[n]) == 0)
        n += 2;
    int out[2] = {0, 0};
    pthread_t th;
    int created = pthread_create(&th, NULL, run_without_fds, out);
    if (created == 0)
        pthread_join(th, NULL);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    setrlimit(RLIMIT_NOFILE, &old);
    CIO_ASSERT_EQ(created, 0);
    CIO_ASSERT_EQ(out[0], -EMFILE);
    CIO_ASSERT(out[1]);
}

static int run_oom_ran;
static int count_and_return_7(void *arg) {
    (void)arg;
    run_oom_ran++;
    return 7;
}

#define RUN_OOM_TRIES 64
static int run_oom_rc[RUN_OOM_TRIES], run_oom_ran_at[RUN_OOM_TRIES];
static char run_oom_msg[RUN_OOM_TRIES][160];

/* On a thread with no loop: cio_run_with with each allocation failing in
 * turn, errno holding something unrelated beforehand. */
static void *run_with_oom_thread(void *arg) {
    (void)arg;
    cio_run_opts o = {.no_sigint = true};
    for (int n = 1; n < RUN_OOM_TRIES; n++) {
        run_oom_ran = 0;
        errno = ENOENT;
        cio_test_fail_alloc(n);
        run_oom_rc[n] = cio_run_with(count_and_return_7, NULL, &o);
        cio_test_fail_alloc(0);
        run_oom_ran_at[n] = run_oom_ran;
        snprintf(run_oom_msg[n], sizeof run_oom_msg[n], "%s", cio_errmsg());
        if (run_oom_rc[n] == 7)
            break;
    }
    return NULL;
}

/* cio_run_with when the loop, the main task or its stack cannot be
 * allocated: -ENOMEM with a message naming which, main never runs, nothing is leaked (the
 * harness checks), and with memory back it runs main once. */
CIO_TEST(run_with_out_of_memory_fails_cleanly) {
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, run_with_oom_thread, NULL), 0);
    pthread_join(th, NULL);
    int loop_failures = 0, main_failures = 0, n;
    for (n = 1; n < RUN_OOM_TRIES && run_oom_rc[n] != 7; n++) {
        if (run_oom_rc[n] != -ENOMEM)
            fprintf(stderr, "allocation %d: %d (%s)\n", n, run_oom_rc[n], run_oom_msg[n]);
        CIO_ASSERT_EQ(run_oom_rc[n], -ENOMEM);
        CIO_ASSERT_EQ(run_oom_ran_at[n], 0);
        if (strstr(run_oom_msg[n], "cio_run: cannot create the loop") == run_oom_msg[n])
            loop_failures++;
        else if (strcmp(run_oom_msg[n], "cio_run: cannot create the main task") == 0)
            main_failures++;
        else /* the main task exists, but its stack does not: it ends before it runs */
            CIO_ASSERT_STREQ(run_oom_msg[n], "spawn: cannot map a task stack");
    }
    CIO_ASSERT_LT(n, RUN_OOM_TRIES);
    CIO_ASSERT_EQ(run_oom_rc[n], 7);
    CIO_ASSERT_EQ(run_oom_ran_at[n], 1);
    CIO_ASSERT_GE(loop_failures, 1);
    CIO_ASSERT_GE(main_failures, 1);
}

/* ---- debug mode turns misuse into an abort with a message ---- */

static cio_task *released;
static void use_released_handle(void) {
    /* The child is a copy of this task: using the handle again is the bug. */
    setenv("CIO_DEBUG", "1", 1);
    cio_detach(released);
}

CIO_TEST(debug_mode_aborts_on_a_released_handle) {
    released = cio_spawn(nothing, NULL);
    CIO_ASSERT_EQ(cio_join(released), 0); /* released now */
    char out[2048];
    int st = run_in_child(use_released_handle, out, sizeof out);
    CIO_ASSERT(WIFSIGNALED(st));
    CIO_ASSERT(strstr(out, "already released") != NULL);
    CIO_ASSERT_EQ(cio_detach(released), -EINVAL); /* without debug mode: an error */
}

/* A NULL scope: begin does nothing, end is -EINVAL naming the call. */
CIO_TEST(scope_calls_with_null_are_einval) {
    cio_timeout_begin(NULL, CIO_SEC);
    cio_timeout_begin_at(NULL, CIO_FOREVER);
    cio_shield_begin(NULL, CIO_SEC);
    cio_timeout_reschedule(NULL, 0);
    CIO_ASSERT(!cio_timeout_expired(NULL));
    cio__scope_cleanup(NULL);
    CIO_ASSERT_EQ(cio_timeout_end(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_timeout_end: scope is NULL") != NULL);
    CIO_ASSERT_EQ(cio_shield_end(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_shield_end: scope is NULL") != NULL);
    CIO_ASSERT_EQ(cio_sleep(0), 0); /* the task's scope chain is untouched */
}
