/* async with (class-style and generator-style managers), the CIO_WITH
 * block, and exit stacks: order of events, status flow, suppression,
 * shielded exits bounded by the grace deadline, cancellation. */
#include <cio.h>
#include <cio/test.h>

#include "stack_fill.h"

#include <stdarg.h>
#include <stdio.h>

static char trace[512];
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = strlen(trace);
    vsnprintf(trace + n, sizeof trace - n, fmt, ap);
    va_end(ap);
}

/* ---- a class-style manager whose exit returns a configured result ---- */

typedef struct res {
    const char *name;
    int enter_rc;        /* what enter returns */
    int exit_mode;       /* 0: pass status on, 1: suppress, 2: replace by -EIO */
    int64_t exit_sleep;  /* exit awaits this long */
    int exit_sleep_rc;   /* what that sleep returned */
} res;

static int res_enter(void *self, void **as) {
    res *r = self;
    note("enter %s;", r->name);
    *as = (void *)r->name;
    return r->enter_rc;
}

static int res_exit(void *self, int status) {
    res *r = self;
    if (r->exit_sleep)
        r->exit_sleep_rc = cio_sleep(r->exit_sleep);
    note("exit %s(%d);", r->name, status);
    return r->exit_mode == 0 ? status : r->exit_mode == 1 ? 0 : cio_seterr(-EIO, "exit of %s failed", r->name);
}

#define RES_CM(r) ((cio_cm){res_enter, res_exit, (r)})

static int body_ok(void *arg) {
    note("body;");
    return (int)(intptr_t)arg;
}

CIO_TEST(with_runs_enter_body_exit_and_passes_status) {
    trace[0] = 0;
    res r = {"r", 0, 0, 0, 0};
    cio_cm cm = RES_CM(&r);
    CIO_ASSERT_EQ(cio_with(&cm, body_ok, (void *)0), 0);
    CIO_ASSERT_EQ(cio_with(&cm, body_ok, (void *)(intptr_t)-EPIPE), -EPIPE);
    CIO_ASSERT_STREQ(trace, "enter r;body;exit r(0);enter r;body;exit r(-32);");
}

CIO_TEST(with_exit_may_suppress_or_replace) {
    trace[0] = 0;
    res s = {"s", 0, 1, 0, 0}, x = {"x", 0, 2, 0, 0};
    cio_cm cs = RES_CM(&s), cx = RES_CM(&x);
    CIO_ASSERT_EQ(cio_with(&cs, body_ok, (void *)(intptr_t)-EPIPE), 0);
    CIO_ASSERT_EQ(cio_with(&cx, body_ok, (void *)0), -EIO);
    CIO_ASSERT_STREQ(cio_errmsg(), "exit of x failed");
}

CIO_TEST(with_failed_enter_skips_body_and_exit) {
    trace[0] = 0;
    res r = {"r", -ECONNREFUSED, 0, 0, 0};
    cio_cm cm = RES_CM(&r);
    CIO_ASSERT_EQ(cio_with(&cm, body_ok, NULL), -ECONNREFUSED);
    CIO_ASSERT_STREQ(trace, "enter r;");
}

CIO_TEST(with_errors) {
    cio_cm bad = {NULL, res_exit, NULL};
    CIO_ASSERT_EQ(cio_with(NULL, body_ok, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_with(&bad, body_ok, NULL), -EINVAL);
    res r = {"r", 0, 0, 0, 0};
    cio_cm cm = RES_CM(&r);
    CIO_ASSERT_EQ(cio_with(&cm, NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_with_enter(NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_with_exit(NULL, 0), -EINVAL);
}

static int body_sleeps(void *arg) {
    (void)arg;
    note("body;");
    return cio_sleep(10 * CIO_SEC);
}

static int with_task(void *arg) {
    cio_cm cm = RES_CM((res *)arg);
    return cio_with(&cm, body_sleeps, NULL);
}

CIO_TEST_VCLOCK(with_exit_runs_shielded_after_cancellation) {
    trace[0] = 0;
    res r = {"r", 0, 0, CIO_SEC, -1};
    cio_task *t = cio_spawn(with_task, &r);
    cio_sleep(CIO_SEC);
    int64_t t0 = cio_now();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(r.exit_sleep_rc, 0); /* the exit could still await */
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT_STREQ(trace, "enter r;body;exit r(-125);");
}

CIO_TEST_VCLOCK(with_exit_is_bounded_by_the_grace_deadline) {
    trace[0] = 0;
    res r = {"r", 0, 0, 60 * CIO_SEC, 1};
    cio_task *t = cio_spawn(with_task, &r);
    cio_yield();
    int64_t t0 = cio_now();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(r.exit_sleep_rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_CLEANUP_GRACE);
}

CIO_TEST(with_block_macro) {
    trace[0] = 0;
    res r = {"r", 0, 0, 0, 0}, f = {"f", -EACCES, 0, 0, 0};
    cio_cm cm = RES_CM(&r), cf = RES_CM(&f);
    int rc = 1;
    CIO_WITH(&cm, rc) {
        note("block;");
        rc = -EPIPE;
    }
    CIO_ASSERT_EQ(rc, -EPIPE);
    CIO_WITH(&cm, rc) {
        note("brk;");
        break;
    }
    CIO_ASSERT_EQ(rc, 0);
    CIO_WITH(&cf, rc) { note("never;"); }
    CIO_ASSERT_EQ(rc, -EACCES);
    CIO_ASSERT_STREQ(trace, "enter r;block;exit r(-32);enter r;brk;exit r(0);enter f;");
}

/* ---- generator-style managers ---- */

static int gen_mode; /* 0: pass on; 1: suppress; 2: return before yield (error); 3: no yield */

static int managed(cio_gencm *g, void *arg) {
    note("setup %s;", (char *)arg);
    if (gen_mode == 2)
        return cio_seterr(-ENOENT, "no such resource");
    if (gen_mode == 3)
        return 0;
    int st = cio_gencm_yield(g, arg);
    int slept = cio_sleep(CIO_SEC); /* teardown may await */
    note("teardown %s(%d,%d);", (char *)arg, st, slept);
    return gen_mode == 1 ? 0 : st;
}

static int body_as(void *arg) {
    note("body %s;", (char *)((cio_gencm *)arg)->value);
    return -EPIPE;
}

CIO_TEST_VCLOCK(gencm_setup_body_teardown) {
    trace[0] = 0;
    gen_mode = 0;
    cio_gencm g;
    CIO_ASSERT_EQ(cio_gencm_init(&g, managed, "A"), 0);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_with(&g.cm, body_as, &g), -EPIPE);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    gen_mode = 1; /* reuse the same manager; this time it suppresses */
    CIO_ASSERT_EQ(cio_with(&g.cm, body_as, &g), 0);
    CIO_ASSERT_STREQ(trace, "setup A;body A;teardown A(-32,0);setup A;body A;teardown A(-32,0);");
}

CIO_TEST(gencm_that_does_not_yield_fails_enter) {
    trace[0] = 0;
    cio_gencm g;
    cio_gencm_init(&g, managed, "B");
    gen_mode = 2;
    CIO_ASSERT_EQ(cio_with(&g.cm, body_as, &g), -ENOENT);
    CIO_ASSERT_STREQ(cio_errmsg(), "no such resource");
    gen_mode = 3;
    CIO_ASSERT_EQ(cio_with(&g.cm, body_as, &g), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "without yielding") != NULL);
    CIO_ASSERT_STREQ(trace, "setup B;setup B;");
    CIO_ASSERT_EQ(cio_gencm_yield(&g, NULL), -EINVAL); /* not the manager's task */
    CIO_ASSERT_EQ(cio_gencm_init(&g, NULL, NULL), -EINVAL);
}

static int slow_setup(cio_gencm *g, void *arg) {
    (void)arg;
    int rc = cio_sleep(10 * CIO_SEC);
    note("setup(%d);", rc);
    if (rc < 0)
        return rc;
    return cio_gencm_yield(g, NULL);
}

static int with_gen_task(void *arg) { return cio_with(&((cio_gencm *)arg)->cm, body_sleeps, NULL); }

CIO_TEST_VCLOCK(gencm_cancel_during_setup_and_during_body) {
    trace[0] = 0;
    cio_gencm g;
    cio_gencm_init(&g, slow_setup, NULL);
    cio_task *t = cio_spawn(with_gen_task, &g);
    cio_sleep(CIO_SEC);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_STREQ(trace, "setup(-125);"); /* the manager was cancelled too */

    trace[0] = 0;
    gen_mode = 0;
    cio_gencm_init(&g, managed, "C");
    t = cio_spawn(with_gen_task, &g);
    cio_sleep(CIO_SEC);
    int64_t t0 = cio_now();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    /* teardown saw the cancellation and could still sleep its second */
    CIO_ASSERT_STREQ(trace, "setup C;body;teardown C(-125,0);");
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
}

static int body_as_null(void *arg) {
    (void)arg;
    return cio_sleep(CIO_SEC);
}

/* the seed's async_timer, under the virtual clock */
static int async_timer(cio_gencm *g, void *arg) {
    int64_t start = cio_now();
    note("%s 開始;", (char *)arg);
    int st = cio_gencm_yield(g, NULL);
    note("%s 完了: %.2f秒;", (char *)arg, (double)(cio_now() - start) / 1e9);
    return st;
}

CIO_TEST_VCLOCK(gencm_async_timer_seed) {
    trace[0] = 0;
    cio_gencm g;
    cio_gencm_init(&g, async_timer, "データ取得");
    CIO_ASSERT_EQ(cio_with(&g.cm, body_as_null, NULL), 0);
    CIO_ASSERT_STREQ(trace, "データ取得 開始;データ取得 完了: 1.00秒;");
}

/* ---- exit stacks ---- */

static int cb(void *arg, int status) {
    note("cb %s(%d);", (char *)arg, status);
    return status;
}
static int cb_fail(void *arg, int status) {
    note("fail %s(%d);", (char *)arg, status);
    return cio_seterr(-EIO, "cleanup %s failed", (char *)arg);
}

CIO_TEST(exitstack_unwinds_lifo_and_errors_do_not_skip) {
    trace[0] = 0;
    cio_exitstack s = CIO_EXITSTACK_INIT;
    res a = {"a", 0, 0, 0, 0};
    cio_cm ca = RES_CM(&a);
    void *as = NULL;
    CIO_ASSERT_EQ(cio_exitstack_enter(&s, &ca, &as), 0);
    CIO_ASSERT_STREQ(as, "a");
    CIO_ASSERT_EQ(cio_exitstack_push(&s, cb, "1"), 0);
    CIO_ASSERT_EQ(cio_exitstack_push(&s, cb_fail, "2"), 0);
    CIO_ASSERT_EQ(cio_exitstack_push(&s, cb, "3"), 0);
    CIO_ASSERT_EQ(cio_exitstack_size(&s), 4);
    CIO_ASSERT_EQ(cio_exitstack_close(&s, 0), -EIO);
    CIO_ASSERT_STREQ(cio_errmsg(), "cleanup 2 failed");
    CIO_ASSERT_STREQ(trace, "enter a;cb 3(0);fail 2(0);cb 1(-5);exit a(-5);");
    CIO_ASSERT_EQ(cio_exitstack_size(&s), 0);
    CIO_ASSERT_EQ(cio_exitstack_close(&s, 0), 0); /* empty: nothing to do */
}

CIO_TEST(exitstack_failed_enter_is_not_pushed) {
    trace[0] = 0;
    cio_exitstack s;
    cio_exitstack_init(&s);
    res bad = {"bad", -EACCES, 0, 0, 0};
    cio_cm cb_ = RES_CM(&bad);
    CIO_ASSERT_EQ(cio_exitstack_enter(&s, &cb_, NULL), -EACCES);
    CIO_ASSERT_EQ(cio_exitstack_size(&s), 0);
    CIO_ASSERT_EQ(cio_exitstack_enter(NULL, &cb_, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_exitstack_push(&s, NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_exitstack_close(NULL, 0), -EINVAL);
    /* an allocation failure: nothing entered, nothing pushed */
    res r = {"r", 0, 0, 0, 0};
    cio_cm cr = RES_CM(&r);
    cio_test_fail_alloc(1);
    CIO_ASSERT_EQ(cio_exitstack_enter(&s, &cr, NULL), -ENOMEM);
    cio_test_fail_alloc(1);
    CIO_ASSERT_EQ(cio_exitstack_push(&s, cb, "x"), -ENOMEM);
    CIO_ASSERT_STREQ(trace, "enter bad;");
}

static int stack_task(void *arg) {
    cio_exitstack s = CIO_EXITSTACK_INIT;
    cio_gencm *g = arg;
    int rc = cio_exitstack_enter(&s, &g[0].cm, NULL);
    if (rc == 0)
        rc = cio_exitstack_enter(&s, &g[1].cm, NULL);
    if (rc == 0)
        rc = cio_sleep(10 * CIO_SEC);
    return cio_exitstack_close(&s, rc);
}

CIO_TEST_VCLOCK(exitstack_closes_on_cancellation_with_awaiting_cleanups) {
    trace[0] = 0;
    gen_mode = 0;
    cio_gencm g[2];
    cio_gencm_init(&g[0], managed, "A");
    cio_gencm_init(&g[1], managed, "B");
    cio_task *t = cio_spawn(stack_task, g);
    cio_sleep(CIO_SEC);
    int64_t t0 = cio_now();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_STREQ(trace, "setup A;setup B;teardown B(-125,0);teardown A(-125,0);");
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC); /* each teardown slept its second */
}

/* the seed's AsyncExitStack example */
static int resource(cio_gencm *g, void *name) {
    note("%s 確保;", (char *)name);
    int st = cio_gencm_yield(g, name);
    note("%s 解放;", (char *)name);
    return st;
}

CIO_TEST(exitstack_seed_example) {
    trace[0] = 0;
    cio_gencm a, b;
    cio_gencm_init(&a, resource, "A");
    cio_gencm_init(&b, resource, "B");
    cio_exitstack s = CIO_EXITSTACK_INIT;
    void *r1 = NULL, *r2 = NULL;
    CIO_ASSERT_EQ(cio_exitstack_enter(&s, &a.cm, &r1), 0);
    CIO_ASSERT_EQ(cio_exitstack_enter(&s, &b.cm, &r2), 0);
    note("使用中: %s, %s;", (char *)r1, (char *)r2);
    CIO_ASSERT_EQ(cio_exitstack_close(&s, 0), 0);
    CIO_ASSERT_STREQ(trace, "A 確保;B 確保;使用中: A, B;B 解放;A 解放;");
}

CIO_TEST(gencm_manager_task_cancelled_during_body) {
    trace[0] = 0;
    gen_mode = 0;
    cio_gencm g;
    cio_gencm_init(&g, managed, "D");
    void *as = NULL;
    CIO_ASSERT_EQ(cio_with_enter(&g.cm, &as), 0);
    CIO_ASSERT_STREQ(as, "D");
    CIO_ASSERT_EQ(cio_with_enter(&g.cm, &as), -EINVAL); /* already in use */
    cio_cancel(g.task); /* as the loop's shutdown would */
    cio_yield();
    CIO_ASSERT_EQ(cio_with_exit(&g.cm, 0), -ECANCELED);
    CIO_ASSERT_STREQ(trace, "setup D;teardown D(-125,-125);");
    CIO_ASSERT_EQ(cio_with_exit(&g.cm, 0), -EINVAL); /* not entered */
}

CIO_TEST_VCLOCK(gencm_in_with_block) {
    trace[0] = 0;
    gen_mode = 0;
    cio_gencm g;
    cio_gencm_init(&g, managed, "E");
    int rc;
    CIO_WITH(&g.cm, rc) {
        note("in %s;", (char *)g.value);
        rc = -EAGAIN;
    }
    CIO_ASSERT_EQ(rc, -EAGAIN);
    CIO_ASSERT_STREQ(trace, "setup E;in E;teardown E(-11,0);");
}

static int slow_teardown(cio_gencm *g, void *arg) {
    (void)arg;
    int st = cio_gencm_yield(g, NULL);
    int rc = cio_sleep(60 * CIO_SEC);
    note("teardown(%d,%d);", st, rc);
    return st;
}

CIO_TEST_VCLOCK(gencm_teardown_is_bounded_by_the_grace_deadline) {
    trace[0] = 0;
    cio_gencm g;
    cio_gencm_init(&g, slow_teardown, NULL);
    cio_task *t = cio_spawn(with_gen_task, &g);
    cio_yield();
    int64_t t0 = cio_now();
    cio_cancel(t);
    /* the caller waited the grace period, then the manager was cancelled */
    CIO_ASSERT_EQ(cio_join(t), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_CLEANUP_GRACE);
    CIO_ASSERT_STREQ(trace, "body;teardown(-125,-125);");
}

CIO_TEST(exitstack_pop_all_moves_cleanups) {
    trace[0] = 0;
    cio_exitstack outer = CIO_EXITSTACK_INIT, inner = CIO_EXITSTACK_INIT;
    CIO_ASSERT_EQ(cio_exitstack_push(&outer, cb, "o"), 0);
    CIO_ASSERT_EQ(cio_exitstack_push(&inner, cb, "1"), 0);
    CIO_ASSERT_EQ(cio_exitstack_push(&inner, cb, "2"), 0);
    CIO_ASSERT_EQ(cio_exitstack_pop_all(&inner, &outer), 0);
    CIO_ASSERT_EQ(cio_exitstack_size(&inner), 0);
    CIO_ASSERT_EQ(cio_exitstack_size(&outer), 3);
    CIO_ASSERT_EQ(cio_exitstack_close(&inner, 0), 0); /* nothing left there */
    CIO_ASSERT_STREQ(trace, "");
    CIO_ASSERT_EQ(cio_exitstack_close(&outer, 0), 0);
    CIO_ASSERT_STREQ(trace, "cb 2(0);cb 1(0);cb o(0);");
    CIO_ASSERT_EQ(cio_exitstack_pop_all(NULL, &outer), -EINVAL);
}

/* The manager's task cannot get a stack: entering fails at once with
 * -ENOMEM and the reason (it used to wait for a task that was gone), and
 * the body never runs. */
static int never_body(void *arg) {
    *(int *)arg = 1;
    return 0;
}

CIO_TEST_VCLOCK(gencm_whose_task_cannot_get_a_stack_fails_enter_at_once) {
    static cio_task *ts[600];
    int n_parked = stack_fill(ts, 600);
    CIO_ASSERT_GE(n_parked, 0);
    trace[0] = 0;
    gen_mode = 1;
    int could_not_start = 0, rc = -1;
    for (long n = 1; n < 8 && rc < 0; n++) {
        cio_gencm g;
        CIO_ASSERT_EQ(cio_gencm_init(&g, managed, "C"), 0);
        int ran = 0;
        cio_test_fail_alloc(n);
        rc = cio_with(&g.cm, never_body, &ran);
        cio_test_fail_alloc(0);
        if (rc < 0) {
            CIO_ASSERT_EQ(rc, -ENOMEM);
            CIO_ASSERT_EQ(ran, 0);
            could_not_start += strstr(cio_errmsg(), "its task could not start: spawn: cannot "
                                                    "map a task stack") != NULL;
        }
    }
    CIO_ASSERT_EQ(could_not_start, 1);
    CIO_ASSERT_EQ(stack_fill_release(ts, n_parked), n_parked ? -ECANCELED : 0);
}
