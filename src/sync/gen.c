/* Async generators. The producer is a task that parks at each yield; the
 * consumer parks in next until the producer yields or returns. Only the
 * side that is waiting may be woken (the *_waiting flags), so a wake-up
 * never lands on a task parked somewhere else, e.g. in a join. */
#include "cio/gen.h"

#include "core/internal.h"

enum { NEW, RUNNING, SUSPENDED, FINISHED, DONE };

int cio_gen_init(cio_gen *g, cio_gen_fn fn, void *arg) {
    if (!g || !fn)
        return cio_seterr(-EINVAL, "cio_gen_init: %s is NULL", g ? "producer" : "generator");
    *g = (cio_gen){fn, arg, NULL, NULL, NULL, NEW, CIO_EEND, 0, 0};
    return 0;
}

static int producer(void *arg) {
    cio_gen *g = arg;
    int r = g->fn(g, g->arg);
    g->state = FINISHED;
    if (g->consumer_waiting)
        cio__wake(g->consumer, 0);
    return r;
}

/* Joins the producer, shielded within the grace deadline; records how
 * the generator ended. */
static int finish(cio_gen *g) {
    cio_scope s;
    cio_shield_begin(&s, CIO_CLEANUP_GRACE);
    int r = cio_join(g->task);
    cio_shield_end(&s);
    g->task = NULL;
    g->state = DONE;
    g->result = r < 0 && r != CIO_ECLOSED && r != -ECANCELED ? r : CIO_EEND;
    return r;
}

static int ended(cio_gen *g) {
    if (g->result == CIO_EEND)
        return cio_seterr(CIO_EEND, "generator exhausted");
    return g->result;
}

int cio_gen_next(cio_gen *g, void **out) {
    if (!g || !out)
        return cio_seterr(-EINVAL, "cio_gen_next: generator or output is NULL");
    int rc = cio__check_in_task("cio_gen_next");
    if (rc < 0)
        return rc;
    if (g->state == DONE)
        return ended(g);
    if (g->state == RUNNING)
        return cio_seterr(-EBUSY, "cio_gen_next: the generator is already running");
    if (g->state == NEW) {
        g->task = cio_spawn(producer, g);
        if (!g->task)
            return cio_seterr(-ENOMEM, "cio_gen_next: cannot spawn the producer");
    } else if (g->state == SUSPENDED) {
        cio__wake(g->task, 0);
    }
    if (g->state != FINISHED) {
        g->state = RUNNING;
        g->consumer = cio__task();
        g->consumer_waiting = 1;
        while (g->state == RUNNING && rc == 0 && !cio_task_done(g->task))
            rc = cio__park_watching(g->task);
        g->consumer_waiting = 0;
    }
    if (g->state == SUSPENDED) { /* a value, even if we were interrupted just now */
        *out = g->value;
        return 0;
    }
    if (g->state == FINISHED) {
        if (finish(g) == -ECANCELED) /* the producer task itself was cancelled */
            return cio_seterr(-ECANCELED, "cio_gen_next: the generator's producer was cancelled");
        return ended(g);
    }
    if (cio_task_done(g->task)) { /* ended without running: no stack for it */
        int r = finish(g);
        return cio__seterr_wrap(r < 0 ? r : -ENOMEM, "cio_gen_next: the producer could not start");
    }
    /* Interrupted while the producer runs: cancellation closes it. */
    cio_cancel(g->task);
    finish(g);
    return rc;
}

int cio_gen_yield(cio_gen *g, void *value) {
    if (!g || !cio__task() || cio__task() != g->task)
        return cio_seterr(-EINVAL, "cio_gen_yield: not called from the generator's producer");
    if (g->closing)
        return cio_seterr(CIO_ECLOSED, "generator closed");
    g->value = value;
    g->state = SUSPENDED;
    if (g->consumer_waiting)
        cio__wake(g->consumer, 0);
    int rc = 0;
    while (g->state == SUSPENDED && !g->closing && rc == 0)
        rc = cio__park(CIO_FOREVER);
    if (g->closing)
        return cio_seterr(CIO_ECLOSED, "generator closed");
    return rc; /* 0: the consumer asked for the next value */
}

int cio_gen_close(cio_gen *g) {
    if (!g)
        return cio_seterr(-EINVAL, "cio_gen_close: generator is NULL");
    switch (g->state) {
    case NEW:
        g->state = DONE;
        return 0;
    case DONE:
        return 0;
    case RUNNING:
        return cio_seterr(-EBUSY, "cio_gen_close: a next() is in progress");
    case SUSPENDED:
        g->closing = 1;
        cio__wake(g->task, 0);
        break;
    }
    int r = finish(g);
    return r < 0 && r != CIO_ECLOSED && r != -ECANCELED ? r : 0;
}
