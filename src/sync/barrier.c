/* asyncio.Barrier. The last arrival releases the round at once and the
 * barrier is immediately ready for the next one: each waiter was given its
 * index in its waiter record, so there is no draining phase to wait out. */
#include "sync/waitlist.h"

int cio_barrier_init(cio_barrier *b, unsigned parties) {
    if (!b || parties == 0)
        return cio_seterr(-EINVAL, "cio_barrier_init: %s", b ? "parties must be > 0" : "barrier is NULL");
    *b = (cio_barrier)CIO_BARRIER_INIT(parties);
    return 0;
}

static int broken(void) { return cio_seterr(CIO_EBROKEN, "cio_barrier_wait: the barrier is broken"); }

CIO__JUMP_RETURN(int, cio_barrier_wait)(cio_barrier *b) {
    if (cio__unlikely(!b || b->parties == 0))
        return cio_seterr(-EINVAL, "cio_barrier_wait: barrier is NULL or has no parties");
    if (b->broken)
        return broken();
    cio__waitq *q = cio__wq(&b->waiters);
    unsigned idx = b->count;
    if (idx + 1 == b->parties) {
        b->count = 0;
        while (q->head) /* each waiter reads its index from its record */
            cio__waitq_wake_one(q, 0);
        return (int)idx;
    }
    cio__waiter w;
    w.data = idx;
    b->count++;
    int rc = cio__waitq_wait(q, &w);
    if (rc == 0)
        return (int)w.data;
    if (rc == CIO_EBROKEN)
        return broken();
    /* We gave up (we are no longer queued): leave the round and close the
     * gap in the indices of those who came after us. */
    b->count--;
    for (cio__waiter *o = q->head; o; o = o->next)
        if (o->data > idx)
            o->data--;
    if (rc == -EPERM)
        return cio_seterr(rc, "cio_barrier_wait: must wait but the caller is not a task");
    return rc;
}

void cio_barrier_abort(cio_barrier *b) {
    if (!b)
        return;
    b->broken = 1;
    b->count = 0;
    cio__waitq_wake_all(cio__wq(&b->waiters), CIO_EBROKEN);
}

void cio_barrier_reset(cio_barrier *b) {
    if (!b)
        return;
    b->count = 0;
    cio__waitq_wake_all(cio__wq(&b->waiters), CIO_EBROKEN);
    b->broken = 0;
}

unsigned cio_barrier_n_waiting(const cio_barrier *b) { return b ? b->count : 0; }
unsigned cio_barrier_parties(const cio_barrier *b) { return b ? b->parties : 0; }
bool cio_barrier_broken(const cio_barrier *b) { return b && b->broken; }
