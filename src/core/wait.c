/* Waiting for several tasks: gather, wait_any, wait_for, as_completed. */
#include "core/runtime.h"

#include <stdio.h>
#include <string.h>

void cio__cancel_and_wait(cio_task *t);

/* Undoes w's claims on ts[0..n). */
static void unwatch_all(cio_task **ts, size_t n, cio__watcher *w) {
    for (size_t i = 0; i < n; i++)
        if (ts[i]->watcher == w)
            ts[i]->watcher = NULL;
}

static bool listed_before(cio_task **ts, size_t i, const cio_task *t) {
    for (size_t j = 0; j < i; j++)
        if (ts[j] == t)
            return true;
    return false;
}

/* Says why task i cannot be claimed by w (it failed one of the checks). */
static int refuse_claim(cio_task **ts, size_t i, cio_task *self, const char *fn) {
    cio_task *t = ts[i];
    if (!t)
        return cio_seterr(-EINVAL, "%s: task %zu is NULL", fn, i);
    if (listed_before(ts, i, t))
        return cio_seterr(-EINVAL, "%s: task %zu appears twice", fn, i);
    if (t->state == CIO__FREE)
        return cio_seterr(-EINVAL, "%s: task %zu is already released", fn, i);
    if (t == self)
        return cio_seterr(-EDEADLK, "%s: a task cannot wait for itself", fn);
    return cio_seterr(-EBUSY, "%s: task %zu ('%s') is already being awaited", fn, i,
                      cio_task_name(t));
}

static int claim_checks(cio_task **ts, size_t n, const char *fn) {
    int rc = cio__check_in_task(fn);
    if (rc < 0)
        return rc;
    if (n && !ts)
        return cio_seterr(-EINVAL, "%s: task array is NULL", fn);
    return 0;
}

/* Checks the handles ts[from..to) and sets w as the watcher of each task
 * (a finished one too: the watcher is the claim that keeps a second
 * awaiter off), in one pass. Returns the number unfinished, or the
 * refusal of the bad handle at *bad (the caller undoes the claims before
 * it). */
static long watch_range(cio_task **ts, size_t from, size_t to, cio__watcher *w, cio_task *self,
                        const char *fn, size_t *bad) {
    long watched = 0;
    for (size_t i = from; i < to; i++) {
        cio_task *t = ts[i];
        if (i + 48 < to)
            __builtin_prefetch(ts[i + 48], 1);
        if (cio__unlikely(!t || t->watcher || t->state == CIO__FREE || t == self)) {
            *bad = i;
            return refuse_claim(ts, i, self, fn);
        }
        t->watcher = w; /* claimed, finished or not (see cio__task_complete) */
        if (t->state != CIO__DONE) {
            t->result = (int)i; /* the index comes back to w->done */
            watched++;
        }
    }
    return watched;
}

/* watch_range over all of ts, after the checks of the call itself; on a
 * refusal, nothing stays claimed. */
static long watch_all(cio_task **ts, size_t n, cio__watcher *w, const char *fn) {
    int rc = claim_checks(ts, n, fn);
    if (rc < 0)
        return rc;
    size_t bad = 0;
    long watched = watch_range(ts, 0, n, w, cio__task(), fn, &bad);
    if (watched < 0)
        unwatch_all(ts, bad, w);
    return watched;
}

/* ---- gather ---- */

/* A child that ends well is collected as it ends, while its handle is
 * still in the cache from running it: its status is stored and its handle
 * released (onto the gather's own list, reused only once the gather
 * returns), so a gather of a million tasks does not walk them all again
 * afterwards. A child that fails is held to the end, for its message. A
 * plain child (no context variables, no extra) skips even the
 * bookkeeping of its end (cio__gather_end, runtime.h).
 *
 * The gather claims its children a window at a time, each window just
 * before it runs: it claims the first, queues itself behind the last task
 * of the window and claims the next when its turn comes. Tasks spawned in
 * a row run in a row, so the children of a spawn storm are claimed while
 * their handles are in the cache for running them, not in a pass of its
 * own over all of them (a million: 40 MB that the caches lost since the
 * spawns). A bad handle in a later window still undoes every claim; the
 * children released by then read as ended again. */

struct gather {
    cio__gather_core c;       /* pending, status, released (see runtime.h) */
    size_t held;              /* ended but not yet collected */
    cio_task *waiter;
    size_t released_ended;    /* of the released: those that ended the usual way */
    bool claiming;            /* windows remain: a child with an extra is held */
};

static __attribute__((noinline)) void gather_done_rare(struct gather *g, cio_task *t, int r) {
    /* While later windows may yet fail to be claimed, a child whose
     * release would free its extra (name, message) is held, so that
     * undoing the claims could give it back whole. */
    if (r < 0 || (g->claiming && (t->flags & CIO__HAS_EXTRA))) {
        g->held++;
    } else {
        cio__task_release_to(t, &g->c.released);
        g->released_ended++;
    }
    if (--g->c.pending == 0)
        cio__wake(g->waiter, 0);
}

/* A child with context variables or an extra ends here, after the usual
 * bookkeeping of its end. */
void cio__gather_done(cio__watcher *w, cio_task *t, int index) {
    struct gather *g = (struct gather *)w;
    int r = t->result;
    if (g->c.status)
        g->c.status[index] = r;
    gather_done_rare(g, t, r);
}

/* A plain child ends here when cio__gather_end cannot release it at once:
 * it failed, it is the last, or there is no status array to hold its
 * result. */
void cio__gather_ended(cio__watcher *w, cio_task *t, int index, int result) {
    struct gather *g = (struct gather *)w;
    if (g->c.status)
        g->c.status[index] = result;
    cio__task_end(cio__tls_loop, t, result);
    gather_done_rare(g, t, result);
}

/* Counts off the loop's live tasks the children released without the
 * bookkeeping of their end: released ones, less those that had it. */
static void gather_count_off(struct gather *g, size_t released) {
    cio__tls_loop->alive -= released - g->released_ended;
}

/* After a refusal, undoes the gather's claims on ts[0..n): a child it
 * released reads as ended again, with the result the status array has,
 * for whoever collects it. */
static void gather_unclaim(struct gather *g, cio_task **ts, size_t n) {
    size_t released = 0;
    for (size_t i = 0; i < n; i++) {
        cio_task *t = ts[i];
        if (t->watcher != &g->c.base)
            continue;
        if (t->state == CIO__FREE) {
            if (g->c.status) /* else it had its bookkeeping, result and all */
                t->result = g->c.status[i];
            t->state = CIO__DONE;
            t->body = NULL;
            released++;
        }
        t->watcher = NULL;
    }
    gather_count_off(g, released);
}

/* Claims all n children, window by window (see above). Returns 0, or a
 * refusal with every claim undone. *interrupted gets what interrupted a
 * wait between windows (cancellation, a scope's deadline); the remaining
 * windows are then claimed at once, so that all the children go down
 * with the gather. */
static int gather_claim(struct gather *g, cio_task **ts, size_t n, int *interrupted) {
    g->c.pending = 1; /* the claiming: no child's end wakes the gather before it waits */
    g->claiming = n > CIO__GATHER_WINDOW;
    for (size_t from = 0; from < n;) {
        if (from > 0 && *interrupted == 0) {
            cio_task *last = ts[from - 1];
            if (last->state == CIO__NEW || last->state == CIO__READY) /* queued */
                *interrupted = cio__yield_behind(last);
        }
        size_t to = n - from > CIO__GATHER_WINDOW ? from + CIO__GATHER_WINDOW : n;
        size_t bad = 0;
        long watched = watch_range(ts, from, to, &g->c.base, g->waiter, "cio_gather", &bad);
        if (watched < 0) {
            gather_unclaim(g, ts, bad);
            return (int)watched;
        }
        g->c.pending += (size_t)watched;
        g->held += to - from - (size_t)watched;
        from = to;
    }
    g->claiming = false;
    g->c.pending--;
    return 0;
}

/* Collects the children still held (failed, or ended before the gather):
 * statuses in input order, the first failure's message. The others are
 * released already: their handles read as free. */
static int gather_collect(struct gather *g, cio_task **ts, size_t n) {
    size_t released = n - g->held;
    int first = 0;
    for (size_t i = 0; i < n && g->held; i++) {
        cio_task *t = ts[i];
        if (t->state == CIO__FREE) /* released as it ended */
            continue;
        int r = t->result;
        if (g->c.status)
            g->c.status[i] = r;
        if (r < 0 && first == 0) {
            first = r;
            cio__errmsg_propagate(t);
        }
        g->held--;
        cio__task_release(cio__tls_loop, t);
    }
    gather_count_off(g, released);
    cio__task_recycle(cio__tls_loop, &g->c.released, released);
    return first;
}

CIO__JUMP_RETURN(int, cio_gather)(cio_task **ts, size_t n, int *status) {
    int rc = claim_checks(ts, n, "cio_gather");
    if (rc < 0)
        return rc;
    struct gather g = {{{cio__gather_done}, 0, status, {NULL, NULL}}, 0, cio__task(), 0, false};
    int refused = gather_claim(&g, ts, n, &rc);
    if (refused < 0)
        return refused;
    while (g.c.pending && rc == 0)
        rc = cio__park(CIO_FOREVER);
    if (g.c.pending) { /* interrupted: the children go down with us */
        for (size_t i = 0; i < n; i++)
            if (ts[i]->state != CIO__FREE) /* not ended and released */
                cio_cancel(ts[i]);
        cio_scope s;
        cio_shield_begin(&s, CIO_FOREVER);
        while (g.c.pending)
            cio__park(CIO_FOREVER);
        cio_shield_end(&s);
    }
    int first = gather_collect(&g, ts, n);
    return rc < 0 ? rc : first;
}

/* ---- wait_any ---- */

struct any {
    cio__watcher base;
    cio_task *waiter;
    cio_task *first;
};

static void any_done(cio__watcher *w, cio_task *t, int index) {
    (void)index;
    struct any *a = (struct any *)w;
    if (!a->first) {
        a->first = t;
        cio__wake(a->waiter, 0);
    }
}

CIO__JUMP_RETURN(int, cio_wait_any)(cio_task **ts, size_t n) {
    if (n == 0)
        return cio_seterr(-EINVAL, "cio_wait_any: no tasks");
    struct any a = {{any_done}, cio__task(), NULL};
    long watched = watch_all(ts, n, &a.base, "cio_wait_any");
    if (watched < 0)
        return (int)watched;
    for (size_t i = 0; i < n; i++)
        if (ts[i]->state == CIO__DONE) {
            unwatch_all(ts, n, &a.base);
            return (int)i;
        }
    int rc = 0;
    while (!a.first && rc == 0)
        rc = cio__park(CIO_FOREVER);
    unwatch_all(ts, n, &a.base);
    if (a.first)
        for (size_t i = 0; i < n; i++)
            if (ts[i] == a.first)
                return (int)i;
    return rc;
}

/* ---- wait_for ---- */

CIO__JUMP_RETURN(int, cio_wait_for)(cio_task *t, int64_t ns) {
    char name[64];
    snprintf(name, sizeof name, "%s", t && t->state != CIO__FREE ? cio_task_name(t) : "?");
    cio_scope s;
    cio_timeout_begin(&s, ns);
    int rc = cio_join(t);
    if (cio_timeout_end(&s) == -ETIMEDOUT && rc == -ETIMEDOUT)
        return cio_seterr(-ETIMEDOUT, "wait_for: task '%s' did not finish within %.3f s",
                          name, (double)ns / CIO_SEC);
    return rc;
}

/* ---- as_completed ---- */

struct cio_as_completed {
    cio__watcher base;
    cio_task *waiter;
    cio_task **tasks;
    cio_task **done;
    size_t n, ndone, taken;
};

static void ac_done(cio__watcher *w, cio_task *t, int index) {
    (void)index;
    cio_as_completed *it = (cio_as_completed *)w;
    it->done[it->ndone++] = t;
    if (it->waiter)
        cio__wake(it->waiter, 0);
}

cio_as_completed *cio_as_completed_new(cio_task **ts, size_t n) {
    if (cio__check_in_task("cio_as_completed_new") < 0) {
        errno = EPERM;
        return NULL;
    }
    cio_as_completed *it = cio__calloc(1, sizeof *it);
    cio_task **arr = cio__calloc(n ? 2 * n : 1, sizeof *arr);
    if (!it || !arr) {
        cio__free(it);
        cio__free(arr);
        errno = ENOMEM;
        cio_seterr(-ENOMEM, "cio_as_completed_new: out of memory");
        return NULL;
    }
    it->base.done = ac_done;
    it->tasks = arr;
    it->done = arr + n;
    it->n = n;
    long rc = watch_all(ts, n, &it->base, "cio_as_completed_new");
    if (rc < 0) {
        cio__free(arr);
        cio__free(it);
        errno = (int)-rc;
        return NULL;
    }
    memcpy(it->tasks, ts, n * sizeof *ts);
    for (size_t i = 0; i < n; i++)
        if (ts[i]->state == CIO__DONE)
            it->done[it->ndone++] = ts[i];
    return it;
}

CIO__JUMP_RETURN(int, cio_as_completed_next)(cio_as_completed *it, cio_task **out) {
    if (!it || !out)
        return cio_seterr(-EINVAL, "cio_as_completed_next: NULL argument");
    int rc = cio__check_in_task("cio_as_completed_next");
    if (rc < 0)
        return rc;
    if (it->taken == it->n)
        return CIO_EEND;
    while (it->taken == it->ndone) {
        it->waiter = cio__task();
        rc = cio__park(CIO_FOREVER);
        it->waiter = NULL;
        if (rc < 0 && it->taken == it->ndone)
            return rc;
    }
    cio_task *t = it->done[it->taken++];
    if (t->watcher == &it->base)
        t->watcher = NULL; /* handed over: the caller collects it */
    *out = t;
    return 0;
}

void cio_as_completed_free(cio_as_completed *it) {
    if (!it)
        return;
    unwatch_all(it->tasks, it->n, &it->base);
    cio__free(it->tasks);
    cio__free(it);
}
