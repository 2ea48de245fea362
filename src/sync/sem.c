/* asyncio.Semaphore and BoundedSemaphore. A release with waiters hands the
 * unit straight to the first one (the value stays 0), which keeps FIFO
 * order exact: a newcomer cannot take a unit a waiter was woken for. */
#include "sync/waitlist.h"

int cio_sem_init(cio_sem *s, long n, bool bounded) {
    if (!s || n < 0)
        return cio_seterr(-EINVAL, "cio_sem_init: %s", s ? "negative start value" : "semaphore is NULL");
    *s = (cio_sem)CIO_SEM_INIT(n);
    if (bounded)
        s->bound = n;
    return 0;
}

int cio_sem_try_acquire(cio_sem *s) {
    if (cio__unlikely(!s))
        return cio_seterr(-EINVAL, "cio_sem_try_acquire: semaphore is NULL");
    if (s->value <= 0)
        return cio_seterr(-EAGAIN, "cio_sem_try_acquire: no unit is free");
    s->value--;
    return 0;
}

CIO__HIDDEN int cio__sem_acquire_wait(cio_sem *s);

int cio_sem_acquire(cio_sem *s) {
    if (cio__likely(s && s->value > 0)) {
        s->value--;
        return 0;
    }
    return cio__sem_acquire_wait(s); /* a tail call (core/arch/jump_return.h) */
}

CIO__JUMP_RETURN_HIDDEN(int, cio__sem_acquire_wait)(cio_sem *s) {
    if (cio__unlikely(!s))
        return cio_seterr(-EINVAL, "cio_sem_acquire: semaphore is NULL");
    cio__waiter w;
    int rc = cio__waitq_wait_until(cio__wq(&s->waiters), &w, CIO_FOREVER);
    if (cio__unlikely(rc < 0)) {
        if (rc == -EPERM)
            return cio_seterr(rc, "cio_sem_acquire: must wait but the caller is not a task");
        return rc;
    }
    int code = cio__interrupted(); /* handed a unit as we were cancelled */
    if (cio__unlikely(code)) {
        cio_sem_release(s);
        return code;
    }
    return 0;
}

int cio_sem_release(cio_sem *s) {
    if (cio__unlikely(!s))
        return cio_seterr(-EINVAL, "cio_sem_release: semaphore is NULL");
    cio__waitq *q = cio__wq(&s->waiters);
    if (q->head) {
        cio__waitq_wake_one(q, 0);
        return 0;
    }
    if (s->bound >= 0 && s->value >= s->bound)
        return cio_seterr(-EINVAL, "cio_sem_release: bounded semaphore released too many times");
    s->value++;
    return 0;
}

long cio_sem_value(const cio_sem *s) { return s ? s->value : 0; }

bool cio_sem_locked(const cio_sem *s) {
    return s && (s->value == 0 || s->waiters.head_ != NULL);
}
