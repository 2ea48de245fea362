/* asyncio.Condition over a cio_lock. wait always returns with the lock
 * held again, even when cancelled (asyncio re-acquires in a finally), so
 * callers can release it unconditionally. */
#include "sync/waitlist.h"

int cio_cond_init(cio_cond *c, cio_lock *l) {
    if (!c || !l)
        return cio_seterr(-EINVAL, "cio_cond_init: %s is NULL", c ? "lock" : "condition");
    *c = (cio_cond)CIO_COND_INIT(l);
    return 0;
}

static int check(cio_cond *c, const char *fn) {
    if (cio__unlikely(!c || !c->lock))
        return cio_seterr(-EINVAL, "%s: condition or its lock is NULL", fn);
    if (cio__unlikely(!c->lock->locked))
        return cio_seterr(-EPERM, "%s: the condition's lock is not acquired", fn);
    return 0;
}

CIO__JUMP_RETURN(int, cio_cond_wait)(cio_cond *c) {
    int rc = check(c, "cio_cond_wait");
    if (rc < 0)
        return rc;
    if ((rc = cio__check_in_task("cio_cond_wait")) < 0)
        return rc;
    cio_lock_release(c->lock);
    cio__waiter w;
    rc = cio__waitq_wait(cio__wq(&c->waiters), &w);
    /* Take the lock back whatever happened; the shield keeps a cancelled
     * task from failing (or giving up) this acquire. */
    cio_scope s;
    cio_shield_begin(&s, CIO_FOREVER);
    cio_lock_acquire(c->lock);
    cio_shield_end(&s);
    if (rc == 0) {
        int code = cio__interrupted();
        if (cio__unlikely(code)) { /* notified as we were cancelled: pass it on */
            cio__waitq_wake_one(cio__wq(&c->waiters), 0);
            rc = code;
        }
    }
    return rc;
}

CIO__JUMP_RETURN(int, cio_cond_wait_for)(cio_cond *c, bool (*pred)(void *arg), void *arg) {
    int rc = check(c, "cio_cond_wait_for");
    if (rc < 0)
        return rc;
    if (!pred)
        return cio_seterr(-EINVAL, "cio_cond_wait_for: predicate is NULL");
    while (!pred(arg))
        if ((rc = cio_cond_wait(c)) < 0)
            return rc;
    return 0;
}

int cio_cond_notify(cio_cond *c, int n) {
    int rc = check(c, "cio_cond_notify");
    if (rc < 0)
        return rc;
    int woken = 0;
    while (woken < n && cio__waitq_wake_one(cio__wq(&c->waiters), 0))
        woken++;
    return woken;
}

int cio_cond_notify_all(cio_cond *c) {
    int rc = check(c, "cio_cond_notify_all");
    if (rc < 0)
        return rc;
    return (int)cio__waitq_wake_all(cio__wq(&c->waiters), 0);
}
