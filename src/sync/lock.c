/* asyncio.Lock. A release hands the lock straight to the first waiter, so
 * a woken task never has to race for it and FIFO order is exact. */
#include "sync/waitlist.h"

void cio_lock_init(cio_lock *l) {
    if (l)
        *l = (cio_lock)CIO_LOCK_INIT;
}

int cio_lock_try_acquire(cio_lock *l) {
    if (cio__unlikely(!l))
        return cio_seterr(-EINVAL, "cio_lock_try_acquire: lock is NULL");
    if (l->locked)
        return cio_seterr(-EAGAIN, "cio_lock_try_acquire: the lock is held");
    l->locked = 1;
    return 0;
}

CIO__HIDDEN int cio__lock_acquire_wait(cio_lock *l);

int cio_lock_acquire(cio_lock *l) {
    if (cio__likely(l && !l->locked)) {
        l->locked = 1;
        return 0;
    }
    return cio__lock_acquire_wait(l); /* a tail call (core/arch/jump_return.h) */
}

CIO__JUMP_RETURN_HIDDEN(int, cio__lock_acquire_wait)(cio_lock *l) {
    if (cio__unlikely(!l))
        return cio_seterr(-EINVAL, "cio_lock_acquire: lock is NULL");
    cio__waiter w;
    int rc = cio__waitq_wait_until(cio__wq(&l->waiters), &w, CIO_FOREVER);
    if (cio__unlikely(rc < 0)) {
        if (rc == -EPERM)
            return cio_seterr(rc, "cio_lock_acquire: the lock is held and the caller is not a task");
        return rc;
    }
    /* We own the lock now. If we were cancelled after the hand-over but
     * before we ran, pass it on rather than keep a lock nobody will use. */
    int code = cio__interrupted();
    if (cio__unlikely(code)) {
        cio_lock_release(l);
        return code;
    }
    return 0;
}

int cio_lock_release(cio_lock *l) {
    if (cio__unlikely(!l))
        return cio_seterr(-EINVAL, "cio_lock_release: lock is NULL");
    if (cio__unlikely(!l->locked))
        return cio_seterr(-EPERM, "cio_lock_release: the lock is not acquired");
    cio__waitq *q = cio__wq(&l->waiters);
    if (q->head)
        cio__waitq_wake_one(q, 0); /* stays locked: now the waiter's */
    else
        l->locked = 0;
    return 0;
}

bool cio_lock_locked(const cio_lock *l) { return l && l->locked; }
