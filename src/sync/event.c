/* asyncio.Event: set wakes every waiter; each returns 0 even if the event
 * is cleared again before it runs (as asyncio's futures are resolved). */
#include "sync/waitlist.h"

void cio_event_init(cio_event *e) {
    if (e)
        *e = (cio_event)CIO_EVENT_INIT;
}

int cio_event_wait(cio_event *e) {
    if (cio__likely(e && e->set))
        return 0;
    if (cio__unlikely(!e))
        return cio_seterr(-EINVAL, "cio_event_wait: event is NULL");
    /* a tail call (core/arch/jump_return.h) */
    return cio__waitq_park(cio__wq(&e->waiters), "cio_event_wait");
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
