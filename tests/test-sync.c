/* Lock, Semaphore, Event, Condition, Barrier: success paths, errors, FIFO
 * order, cancellation at every suspension point, timeouts (virtual clock). */
#include <cio.h>
#include <cio/test.h>

#include "core/internal.h"

#include <unwind.h>

/* ---- a log of events, to assert exact orders ---- */
static char trace[256];
static void note(const char *s) { strncat(trace, s, sizeof trace - strlen(trace) - 1); }

static cio_lock lock;
static cio_sem sem;
static cio_event ev;
static cio_cond cond;
static cio_barrier bar;

/* ================================ Lock ================================ */

CIO_TEST(lock_uncontended_allocates_nothing) {
    cio_lock l = CIO_LOCK_INIT;
    cio_seterr(0, "an older message"); /* the task's message buffer exists */
    long before = cio__alloc_live();
    CIO_ASSERT(!cio_lock_locked(&l));
    CIO_ASSERT_EQ(cio_lock_acquire(&l), 0);
    CIO_ASSERT(cio_lock_locked(&l));
    CIO_ASSERT_EQ(cio_lock_try_acquire(&l), -EAGAIN);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_lock_try_acquire: the lock is held") != NULL);
    CIO_ASSERT_EQ(cio_lock_release(&l), 0);
    CIO_ASSERT_EQ(cio_lock_try_acquire(&l), 0);
    CIO_ASSERT_EQ(cio_lock_release(&l), 0);
    CIO_ASSERT_EQ(cio__alloc_live(), before);
}

CIO_TEST(lock_errors) {
    cio_lock l;
    cio_lock_init(&l);
    CIO_ASSERT_EQ(cio_lock_release(&l), -EPERM);
    CIO_ASSERT(strstr(cio_errmsg(), "not acquired") != NULL);
    CIO_ASSERT_EQ(cio_lock_acquire(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_lock_release(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_lock_try_acquire(NULL), -EINVAL);
    CIO_ASSERT(!cio_lock_locked(NULL));
}

static int lock_and_note(void *arg) {
    int rc = cio_lock_acquire(&lock);
    if (rc < 0)
        return rc;
    note(arg);
    cio_yield();
    return cio_lock_release(&lock);
}

CIO_TEST(lock_waiters_are_served_fifo) {
    trace[0] = 0;
    cio_lock_init(&lock);
    CIO_ASSERT_EQ(cio_lock_acquire(&lock), 0);
    cio_task *t[3] = {cio_spawn(lock_and_note, "1"), cio_spawn(lock_and_note, "2"),
                      cio_spawn(lock_and_note, "3")};
    cio_yield(); /* all three park on the lock */
    note("m");
    CIO_ASSERT_EQ(cio_lock_release(&lock), 0);
    /* a newcomer must queue behind the waiters */
    CIO_ASSERT_EQ(cio_lock_try_acquire(&lock), -EAGAIN);
    CIO_ASSERT_EQ(cio_gather(t, 3, NULL), 0);
    CIO_ASSERT_STREQ(trace, "m123");
    CIO_ASSERT(!cio_lock_locked(&lock));
}

static int critical(void *arg) {
    int rc;
    CIO_LOCKED(&lock, rc) {
        note(arg);
        note("+");
        cio_sleep(CIO_SEC);
        note(arg);
        note("-");
    }
    return rc;
}

CIO_TEST_VCLOCK(lock_critical_sections_never_interleave) {
    trace[0] = 0;
    cio_lock_init(&lock);
    int64_t t0 = cio_now();
    cio_task *t[2] = {cio_spawn(critical, "A"), cio_spawn(critical, "B")};
    CIO_ASSERT_EQ(cio_gather(t, 2, NULL), 0);
    CIO_ASSERT_STREQ(trace, "A+A-B+B-");
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT(!cio_lock_locked(&lock));
}

CIO_TEST(lock_block_releases_on_break) {
    cio_lock_init(&lock);
    int rc = -1;
    for (int i = 0; i < 3; i++) {
        CIO_LOCKED(&lock, rc) {
            CIO_ASSERT(cio_lock_locked(&lock));
            break;
        }
        CIO_ASSERT_EQ(rc, 0);
        CIO_ASSERT(!cio_lock_locked(&lock));
    }
}

static int just_acquire(void *arg) {
    (void)arg;
    int rc = cio_lock_acquire(&lock);
    if (rc == 0) {
        note("got");
        cio_lock_release(&lock);
    }
    return rc;
}

CIO_TEST(lock_cancel_while_waiting_holds_nothing) {
    trace[0] = 0;
    cio_lock_init(&lock);
    cio_lock_acquire(&lock);
    cio_task *t = cio_spawn(just_acquire, NULL);
    cio_yield();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT(cio_lock_locked(&lock)); /* still ours */
    CIO_ASSERT_EQ(cio_lock_release(&lock), 0);
    CIO_ASSERT(!cio_lock_locked(&lock));
    CIO_ASSERT_STREQ(trace, "");
}

CIO_TEST(lock_cancelled_at_handoff_passes_it_on) {
    trace[0] = 0;
    cio_lock_init(&lock);
    cio_lock_acquire(&lock);
    cio_task *a = cio_spawn(just_acquire, NULL);
    cio_task *b = cio_spawn(just_acquire, NULL);
    cio_yield();
    cio_lock_release(&lock); /* hands the lock to a ... */
    cio_cancel(a);           /* ... which is cancelled before it runs */
    CIO_ASSERT_EQ(cio_join(a), -ECANCELED);
    CIO_ASSERT_EQ(cio_join(b), 0); /* b got it instead */
    CIO_ASSERT_STREQ(trace, "got");
    CIO_ASSERT(!cio_lock_locked(&lock));
}

CIO_TEST_VCLOCK(lock_acquire_times_out) {
    cio_lock_init(&lock);
    cio_lock_acquire(&lock);
    int64_t t0 = cio_now();
    int rc = 0;
    CIO_TIMEOUT(CIO_SEC) { rc = cio_lock_acquire(&lock); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT(cio_lock_locked(&lock));
    CIO_ASSERT(cio__waitq_empty((cio__waitq *)&lock.waiters));
    cio_lock_release(&lock);
    CIO_ASSERT(!cio_lock_locked(&lock));
}

CIO_TEST(lock_cancelled_task_still_acquires_free_lock) {
    /* asyncio: acquiring a free lock does not suspend, so it succeeds */
    cio_lock_init(&lock);
    cio_cancel(cio_current());
    CIO_ASSERT_EQ(cio_lock_acquire(&lock), 0);
    CIO_ASSERT_EQ(cio_lock_release(&lock), 0);
    cio_lock_acquire(&lock);
    cio_task *me = cio_current();
    (void)me;
    /* contended: the cancelled task must not wait */
    cio_lock l2 = CIO_LOCK_INIT;
    l2.locked = 1;
    CIO_ASSERT_EQ(cio_lock_acquire(&l2), -ECANCELED);
    cio_lock_release(&lock);
}

/* ============================== Semaphore ============================= */

CIO_TEST(sem_counts) {
    cio_sem s = CIO_SEM_INIT(2);
    cio_seterr(0, "an older message"); /* the task's message buffer exists */
    long before = cio__alloc_live();
    CIO_ASSERT_EQ(cio_sem_value(&s), 2);
    CIO_ASSERT(!cio_sem_locked(&s));
    CIO_ASSERT_EQ(cio_sem_acquire(&s), 0);
    CIO_ASSERT_EQ(cio_sem_try_acquire(&s), 0);
    CIO_ASSERT(cio_sem_locked(&s));
    CIO_ASSERT_EQ(cio_sem_try_acquire(&s), -EAGAIN);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_sem_try_acquire: no unit is free") != NULL);
    CIO_ASSERT_EQ(cio_sem_release(&s), 0);
    CIO_ASSERT_EQ(cio_sem_release(&s), 0);
    CIO_ASSERT_EQ(cio_sem_release(&s), 0); /* unbounded: may exceed the start */
    CIO_ASSERT_EQ(cio_sem_value(&s), 3);
    CIO_ASSERT_EQ(cio__alloc_live(), before);
}

CIO_TEST(sem_bounded_release_too_often_is_an_error) {
    cio_sem s = CIO_BOUNDED_SEM_INIT(1);
    CIO_ASSERT_EQ(cio_sem_release(&s), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "released too many times") != NULL);
    CIO_ASSERT_EQ(cio_sem_acquire(&s), 0);
    CIO_ASSERT_EQ(cio_sem_release(&s), 0);
    CIO_ASSERT_EQ(cio_sem_value(&s), 1);
    cio_sem b;
    CIO_ASSERT_EQ(cio_sem_init(&b, 2, true), 0);
    CIO_ASSERT_EQ(cio_sem_release(&b), -EINVAL);
}

CIO_TEST(sem_errors) {
    cio_sem s;
    CIO_ASSERT_EQ(cio_sem_init(&s, -1, false), -EINVAL);
    CIO_ASSERT_EQ(cio_sem_init(NULL, 1, false), -EINVAL);
    CIO_ASSERT_EQ(cio_sem_acquire(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_sem_release(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_sem_try_acquire(NULL), -EINVAL);
}

static int inside, max_inside;
static int limited(void *arg) {
    int rc;
    CIO_SEM_HELD(&sem, rc) {
        note(arg);
        if (++inside > max_inside)
            max_inside = inside;
        cio_sleep(CIO_SEC);
        inside--;
    }
    return rc;
}

CIO_TEST_VCLOCK(sem_limits_concurrency_fifo) {
    trace[0] = 0;
    inside = max_inside = 0;
    cio_sem_init(&sem, 3, false);
    static const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    cio_task *t[10];
    int64_t t0 = cio_now();
    for (int i = 0; i < 10; i++)
        t[i] = cio_spawn(limited, (void *)names[i]);
    CIO_ASSERT_EQ(cio_gather(t, 10, NULL), 0);
    CIO_ASSERT_EQ(max_inside, 3);
    CIO_ASSERT_STREQ(trace, "abcdefghij");
    CIO_ASSERT_EQ(cio_now() - t0, 4 * CIO_SEC);
    CIO_ASSERT_EQ(cio_sem_value(&sem), 3);
}

static int sem_take(void *arg) {
    (void)arg;
    int rc = cio_sem_acquire(&sem);
    if (rc == 0) {
        note("got");
        cio_sem_release(&sem);
    }
    return rc;
}

CIO_TEST(sem_cancel_while_waiting_and_at_handoff) {
    trace[0] = 0;
    cio_sem_init(&sem, 1, true);
    cio_sem_acquire(&sem);
    cio_task *a = cio_spawn(sem_take, NULL);
    cio_task *b = cio_spawn(sem_take, NULL);
    cio_task *c = cio_spawn(sem_take, NULL);
    cio_yield();
    cio_cancel(a); /* while waiting */
    CIO_ASSERT_EQ(cio_join(a), -ECANCELED);
    cio_sem_release(&sem); /* to b */
    cio_cancel(b);         /* at the hand-off: b passes the unit on to c */
    CIO_ASSERT_EQ(cio_join(b), -ECANCELED);
    CIO_ASSERT_EQ(cio_join(c), 0);
    CIO_ASSERT_STREQ(trace, "got");
    CIO_ASSERT_EQ(cio_sem_value(&sem), 1);
}

CIO_TEST_VCLOCK(sem_acquire_times_out) {
    cio_sem_init(&sem, 0, false);
    int rc = 0;
    int64_t t0 = cio_now();
    CIO_TIMEOUT(250 * CIO_MS) { rc = cio_sem_acquire(&sem); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 250 * CIO_MS);
    CIO_ASSERT_EQ(cio_sem_release(&sem), 0);
    CIO_ASSERT_EQ(cio_sem_value(&sem), 1);
}

/* ================================ Event =============================== */

static int event_waiter(void *arg) {
    int rc = cio_event_wait(&ev);
    if (rc == 0)
        note(arg);
    return rc;
}

CIO_TEST(event_set_wakes_every_waiter_in_order) {
    trace[0] = 0;
    cio_event_init(&ev);
    CIO_ASSERT(!cio_event_is_set(&ev));
    cio_task *t[3] = {cio_spawn(event_waiter, "1"), cio_spawn(event_waiter, "2"),
                      cio_spawn(event_waiter, "3")};
    cio_yield();
    CIO_ASSERT_STREQ(trace, "");
    cio_event_set(&ev);
    cio_event_clear(&ev); /* they were woken by the set: they still return 0 */
    CIO_ASSERT_EQ(cio_gather(t, 3, NULL), 0);
    CIO_ASSERT_STREQ(trace, "123");
}

CIO_TEST(event_wait_on_set_event_returns_at_once) {
    cio_event e = CIO_EVENT_INIT;
    cio_event_set(&e);
    CIO_ASSERT(cio_event_is_set(&e));
    CIO_ASSERT_EQ(cio_event_wait(&e), 0);
    cio_event_clear(&e);
    CIO_ASSERT(!cio_event_is_set(&e));
    CIO_ASSERT_EQ(cio_event_wait(NULL), -EINVAL);
    cio_event_set(NULL);
    cio_event_clear(NULL);
}

CIO_TEST_VCLOCK(event_wait_cancel_and_timeout) {
    cio_event_init(&ev);
    cio_task *t = cio_spawn(event_waiter, "x");
    cio_yield();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT(cio__waitq_empty((cio__waitq *)&ev.waiters));
    int rc = 0;
    CIO_TIMEOUT(2 * CIO_SEC) { rc = cio_event_wait(&ev); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT(cio__waitq_empty((cio__waitq *)&ev.waiters));
}

static int set_later(void *arg) {
    cio_sleep(CIO_SEC);
    cio_event_set(arg);
    return 0;
}

CIO_TEST_VCLOCK(event_waiter_example_timing) {
    cio_event e = CIO_EVENT_INIT;
    int64_t t0 = cio_now();
    cio_task *t = cio_spawn(set_later, &e);
    CIO_ASSERT_EQ(cio_event_wait(&e), 0);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT_EQ(cio_join(t), 0);
}

/* ============================== Condition ============================= */

static int items;
static int cond_waiter(void *arg) {
    int rc = cio_lock_acquire(&lock);
    if (rc < 0)
        return rc;
    rc = cio_cond_wait(&cond);
    /* the lock is held again, whatever happened */
    if (!cio_lock_locked(&lock))
        rc = -999;
    if (rc == 0)
        note(arg);
    cio_lock_release(&lock);
    return rc;
}

CIO_TEST(cond_notify_wakes_fifo) {
    trace[0] = 0;
    cio_lock_init(&lock);
    cio_cond_init(&cond, &lock);
    cio_task *t[3] = {cio_spawn(cond_waiter, "1"), cio_spawn(cond_waiter, "2"),
                      cio_spawn(cond_waiter, "3")};
    cio_yield();
    CIO_ASSERT(!cio_lock_locked(&lock)); /* every waiter released it */
    cio_lock_acquire(&lock);
    CIO_ASSERT_EQ(cio_cond_notify(&cond, 1), 1);
    cio_lock_release(&lock);
    cio_yield();
    CIO_ASSERT_STREQ(trace, "1");
    cio_lock_acquire(&lock);
    CIO_ASSERT_EQ(cio_cond_notify_all(&cond), 2);
    cio_lock_release(&lock);
    CIO_ASSERT_EQ(cio_gather(t, 3, NULL), 0);
    CIO_ASSERT_STREQ(trace, "123");
}

CIO_TEST(cond_requires_the_lock) {
    cio_lock l = CIO_LOCK_INIT;
    cio_cond c = CIO_COND_INIT(&l);
    CIO_ASSERT_EQ(cio_cond_wait(&c), -EPERM);
    CIO_ASSERT_EQ(cio_cond_notify(&c, 1), -EPERM);
    CIO_ASSERT_EQ(cio_cond_notify_all(&c), -EPERM);
    CIO_ASSERT_EQ(cio_cond_init(&c, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_cond_wait(NULL), -EINVAL);
    cio_lock_acquire(&l);
    CIO_ASSERT_EQ(cio_cond_notify(&c, 5), 0); /* nobody waits */
    CIO_ASSERT_EQ(cio_cond_wait_for(&c, NULL, NULL), -EINVAL);
    cio_lock_release(&l);
}

static bool have_items(void *arg) { return *(int *)arg >= 3; }
static int consumer_for(void *arg) {
    (void)arg;
    cio_lock_acquire(&lock);
    int rc = cio_cond_wait_for(&cond, have_items, &items);
    if (rc == 0)
        note("ok");
    cio_lock_release(&lock);
    return rc;
}

CIO_TEST(cond_wait_for_predicate) {
    trace[0] = 0;
    items = 0;
    cio_lock_init(&lock);
    cio_cond_init(&cond, &lock);
    cio_task *t = cio_spawn(consumer_for, NULL);
    for (int i = 0; i < 3; i++) {
        cio_yield();
        CIO_ASSERT_STREQ(trace, "");
        cio_lock_acquire(&lock);
        items++;
        cio_cond_notify_all(&cond);
        cio_lock_release(&lock);
    }
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_STREQ(trace, "ok");
}

/* A suspending call returns to its caller through a stub that jumps
 * (core/arch/jump_return.h); its unwind information must still lead back
 * to the caller, or debuggers and crash handlers lose the task's frames.
 * The predicate runs inside cio_cond_wait_for, so it can walk from there. */
struct unwind_probe {
    void *want; /* the function that made the suspending call */
    int frames;
    bool found;
};

static _Unwind_Reason_Code probe_frame(struct _Unwind_Context *ctx, void *arg) {
    struct unwind_probe *p = arg;
    uintptr_t ip = _Unwind_GetIP(ctx);
    if (ip && _Unwind_FindEnclosingFunction((void *)(ip - 1)) == p->want)
        p->found = true;
    return ++p->frames < 64 ? _URC_NO_REASON : _URC_END_OF_STACK;
}

static bool unwind_reaches_caller(void *arg) {
    _Unwind_Backtrace(probe_frame, arg);
    return true;
}

static __attribute__((noinline)) int call_wait_for(void *arg) {
    cio_lock_acquire(&lock);
    int rc = cio_cond_wait_for(&cond, unwind_reaches_caller, arg);
    cio_lock_release(&lock);
    return rc;
}

CIO_TEST(unwinding_from_inside_a_suspending_call_reaches_its_caller) {
    cio_lock_init(&lock);
    cio_cond_init(&cond, &lock);
    struct unwind_probe p = {(void *)call_wait_for, 0, false};
    CIO_ASSERT_EQ(call_wait_for(&p), 0);
    CIO_ASSERT(p.found);
    CIO_ASSERT_GT(p.frames, 3);
}

CIO_TEST(cond_cancelled_waiter_reacquires_and_passes_notify_on) {
    trace[0] = 0;
    cio_lock_init(&lock);
    cio_cond_init(&cond, &lock);
    cio_task *a = cio_spawn(cond_waiter, "a");
    cio_task *b = cio_spawn(cond_waiter, "b");
    cio_task *c = cio_spawn(cond_waiter, "c");
    cio_yield();
    cio_cancel(c); /* while waiting */
    CIO_ASSERT_EQ(cio_join(c), -ECANCELED); /* and it re-took and released the lock */
    cio_lock_acquire(&lock);
    cio_cond_notify(&cond, 1); /* to a ... */
    cio_cancel(a);             /* ... cancelled before it runs: b gets it */
    cio_lock_release(&lock);
    CIO_ASSERT_EQ(cio_join(a), -ECANCELED);
    CIO_ASSERT_EQ(cio_join(b), 0);
    CIO_ASSERT_STREQ(trace, "b");
    CIO_ASSERT(!cio_lock_locked(&lock));
}

CIO_TEST_VCLOCK(cond_wait_times_out_with_lock_held) {
    cio_lock_init(&lock);
    cio_cond_init(&cond, &lock);
    cio_lock_acquire(&lock);
    int rc = 0;
    int64_t t0 = cio_now();
    CIO_TIMEOUT(CIO_SEC) { rc = cio_cond_wait(&cond); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, CIO_SEC);
    CIO_ASSERT(cio_lock_locked(&lock));
    cio_lock_release(&lock);
}

static bool never_true(void *arg) {
    (void)arg;
    return false;
}

static int cond_waiter_for_never(void *arg) {
    cio_lock_acquire(&lock);
    int rc = cio_cond_wait_for(&cond, never_true, NULL);
    *(bool *)arg = cio_lock_locked(&lock); /* held again, even on error */
    cio_lock_release(&lock);
    return rc;
}

CIO_TEST_VCLOCK(cond_wait_for_cancelled_and_timed_out_with_lock_held) {
    cio_lock_init(&lock);
    cio_cond_init(&cond, &lock);
    bool held = false;
    cio_task *t = cio_spawn(cond_waiter_for_never, &held);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    CIO_ASSERT(!cio_lock_locked(&lock)); /* released while waiting */
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT(held);
    CIO_ASSERT(!cio_lock_locked(&lock));
    cio_lock_acquire(&lock);
    int rc = 0;
    int64_t t0 = cio_now();
    CIO_TIMEOUT(2 * CIO_SEC) { rc = cio_cond_wait_for(&cond, never_true, NULL); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT(cio_lock_locked(&lock));
    CIO_ASSERT_EQ(cio_cond_wait_for(&cond, NULL, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_cond_wait_for: predicate is NULL") != NULL);
    cio_lock_release(&lock);
    CIO_ASSERT_EQ(cio_cond_wait_for(&cond, never_true, NULL), -EPERM);
    CIO_ASSERT(strstr(cio_errmsg(), "lock is not acquired") != NULL);
}

/* =============================== Barrier ============================== */

static int party(void *arg) {
    int rc = cio_barrier_wait(&bar);
    if (rc >= 0)
        ((int *)arg)[rc]++;
    return rc < 0 ? rc : 0;
}

CIO_TEST(barrier_releases_all_parties_with_distinct_indices) {
    int seen[3] = {0};
    cio_barrier_init(&bar, 3);
    for (int round = 1; round <= 2; round++) {
        cio_task *t[2] = {cio_spawn(party, seen), cio_spawn(party, seen)};
        cio_yield();
        CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 2);
        int idx = cio_barrier_wait(&bar); /* the last one: no suspension */
        CIO_ASSERT_EQ(idx, 2);
        seen[idx]++;
        CIO_ASSERT_EQ(cio_gather(t, 2, NULL), 0);
        CIO_ASSERT_EQ(seen[0], round);
        CIO_ASSERT_EQ(seen[1], round);
        CIO_ASSERT_EQ(seen[2], round);
        CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 0);
    }
}

CIO_TEST(barrier_abort_and_reset) {
    int seen[2] = {0};
    cio_barrier_init(&bar, 2);
    cio_task *t = cio_spawn(party, seen);
    cio_yield();
    cio_barrier_abort(&bar);
    CIO_ASSERT_EQ(cio_join(t), CIO_EBROKEN);
    CIO_ASSERT(cio_barrier_broken(&bar));
    CIO_ASSERT_EQ(cio_barrier_wait(&bar), CIO_EBROKEN);
    cio_barrier_reset(&bar);
    CIO_ASSERT(!cio_barrier_broken(&bar));
    t = cio_spawn(party, seen);
    cio_yield();
    cio_barrier_reset(&bar); /* waiters of a reset barrier see it broken */
    CIO_ASSERT_EQ(cio_join(t), CIO_EBROKEN);
    CIO_ASSERT(!cio_barrier_broken(&bar));
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 0);
}

CIO_TEST(barrier_cancelled_party_leaves_the_round) {
    int seen[3] = {0};
    cio_barrier_init(&bar, 3);
    cio_task *a = cio_spawn(party, seen);
    cio_task *b = cio_spawn(party, seen);
    cio_yield();
    cio_cancel(a);
    CIO_ASSERT_EQ(cio_join(a), -ECANCELED);
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 1);
    CIO_ASSERT(!cio_barrier_broken(&bar));
    cio_task *c = cio_spawn(party, seen);
    cio_yield();
    CIO_ASSERT_EQ(cio_barrier_wait(&bar), 2);
    CIO_ASSERT_EQ(cio_join(b), 0);
    CIO_ASSERT_EQ(cio_join(c), 0);
    CIO_ASSERT_EQ(seen[0], 1); /* b kept index 0, c got 1 after a left */
    CIO_ASSERT_EQ(seen[1], 1);
}

CIO_TEST_VCLOCK(barrier_wait_times_out) {
    cio_barrier_init(&bar, 2);
    int rc = 0;
    CIO_TIMEOUT(3 * CIO_SEC) { rc = cio_barrier_wait(&bar); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 0);
}

CIO_TEST(barrier_errors) {
    cio_barrier b;
    CIO_ASSERT_EQ(cio_barrier_init(&b, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_barrier_init(NULL, 2), -EINVAL);
    CIO_ASSERT_EQ(cio_barrier_wait(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_barrier_init(&b, 4), 0);
    CIO_ASSERT_EQ(cio_barrier_parties(&b), 4);
    cio_barrier one = CIO_BARRIER_INIT(1);
    CIO_ASSERT_EQ(cio_barrier_wait(&one), 0); /* a party of one never waits */
}

/* ---- outside any task (a loop callback): waits fail with -EPERM ---- */

static int outside_rc[10];
static int never(cio_gen *g, void *arg) {
    (void)g, (void)arg;
    return 0;
}
static bool outside_ran;
static cio_event outside_done = CIO_EVENT_INIT;
static cio_ctxvar outside_var = CIO_CTXVAR_INIT("outside", "dflt");
static const char *outside_get;
static char outside_event_msg[256];

static void outside_cb(void *arg) {
    (void)arg;
    cio_lock l = CIO_LOCK_INIT;
    l.locked = 1;
    outside_rc[0] = cio_lock_acquire(&l);
    cio_sem s = CIO_SEM_INIT(0);
    outside_rc[1] = cio_sem_acquire(&s);
    cio_event e = CIO_EVENT_INIT;
    outside_rc[2] = cio_event_wait(&e);
    snprintf(outside_event_msg, sizeof outside_event_msg, "%s", cio_errmsg());
    cio_barrier b = CIO_BARRIER_INIT(2);
    outside_rc[3] = cio_barrier_wait(&b);
    outside_rc[4] = cio_ctxvar_set(&outside_var, "x", NULL);
    outside_get = cio_ctxvar_get(&outside_var);
    cio_lock l2 = CIO_LOCK_INIT;
    cio_cond c = CIO_COND_INIT(&l2);
    l2.locked = 1;
    outside_rc[5] = cio_cond_wait(&c);
    /* free paths need no task */
    cio_lock l3 = CIO_LOCK_INIT;
    outside_rc[6] = cio_lock_acquire(&l3) + cio_lock_release(&l3);
    cio_queue q;
    void *v;
    cio_queue_init(&q, CIO_QUEUE_FIFO, 0);
    outside_rc[7] = cio_queue_get(&q, &v);
    cio_queue_destroy(&q);
    cio_gen g;
    cio_gen_init(&g, never, NULL);
    outside_rc[8] = cio_gen_next(&g, &v);
    outside_ran = true;
    cio_event_set(&outside_done); /* setting needs no task */
}

CIO_TEST(waiting_outside_a_task_is_eperm) {
    outside_ran = false;
    cio_event_clear(&outside_done);
    CIO_ASSERT_EQ(cio_call_threadsafe(cio_loop_current(), outside_cb, NULL), 0);
    CIO_ASSERT_EQ(cio_event_wait(&outside_done), 0); /* posts run between loop iterations */
    CIO_ASSERT(outside_ran);
    for (int i = 0; i < 6; i++)
        CIO_ASSERT_EQ(outside_rc[i], -EPERM);
    CIO_ASSERT_EQ(outside_rc[6], 0);
    CIO_ASSERT_EQ(outside_rc[7], -EPERM);
    CIO_ASSERT_EQ(outside_rc[8], -EPERM);
    CIO_ASSERT_STREQ(outside_get, "dflt");
    CIO_ASSERT(strstr(outside_event_msg, "cio_event_wait") != NULL);
}
