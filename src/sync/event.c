/* asyncio.Event: set wakes every waiter; each returns 0 even if the event
 * is cleared again before it runs (as asyncio's futures are resolved). */
#include "sync/waitlist.h"

void cio_event_init(cio_event *e) {
    if (e)
        *e = (cio_event)CIO_EVENT_INIT;
}

CIO__HIDDEN int cio__event_wait_slow(cio_event *e);

int cio_event_wait(cio_event *e) {
    if (cio__likely(e && e->set))
        return 0;
    return cio__event_wait_slow(e); /* a tail call (core/arch/jump_return.h) */
}

CIO__JUMP_RETURN_HIDDEN(int, cio__event_wait_slow)(cio_event *e) {
    if (cio__unlikely(!e))
        return cio_seterr(-EINVAL, "cio_event_wait: event is NULL");
    cio__waiter w;
    int rc = cio__waitq_wait(cio__wq(&e->waiters), &w);
    if (rc == -EPERM)
        return cio_seterr(rc, "cio_event_wait: must wait but the caller is not a task");
    return rc;
}

void cio_event_set(cio_event *e) {
    if (!e || e->set)
        return;
    e->set = 1;
    cio__waitq_wake_all(cio__wq(&e->waiters), 0);
}

void cio_event_clear(cio_event *e) {
    if (e)
        e->set = 0;
}

bool cio_event_is_set(const cio_event *e) { return e && e->set; }
