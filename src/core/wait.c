/* Waiting for several tasks: gather, wait_any, wait_for, as_completed. */
#include "core/runtime.h"

#include <stdio.h>
#include <string.h>

void cio__cancel_and_wait(cio_task *t);

static void unwatch_all(cio_task **ts, size_t n, cio__watcher *w) {
    for (size_t i = 0; i < n; i++)
        if (ts[i]->watcher == w)
            ts[i]->watcher = NULL;
}

/* Says why task i cannot be claimed by w (it failed one of the checks),
 * then undoes the claims made before it. */
static int refuse_claim(cio_task **ts, size_t i, cio__watcher *w, cio_task *self,
                        const char *fn) {
    cio_task *t = ts[i];
    int rc;
    if (!t || t->state == CIO__FREE)
        rc = cio_seterr(-EINVAL, "%s: task %zu is NULL or already released", fn, i);
    else if (t == self)
        rc = cio_seterr(-EDEADLK, "%s: a task cannot wait for itself", fn);
    else if (t->watcher == w)
        rc = cio_seterr(-EINVAL, "%s: task %zu appears twice", fn, i);
    else
        rc = cio_seterr(-EBUSY, "%s: task %zu ('%s') is already being awaited", fn, i,
                        cio_task_name(t));
    unwatch_all(ts, i, w);
    return rc;
}

/* Checks every handle and sets w as the watcher of each task (a finished
 * one too: the watcher is the claim that keeps a second awaiter off), in
 * one pass (a gather of a million tasks touches each handle once here). On a
 * bad handle, undoes what it set and fails. Returns the number unfinished. */
static long watch_all(cio_task **ts, size_t n, cio__watcher *w, const char *fn) {
    int rc = cio__check_in_task(fn);
    if (rc < 0)
        return rc;
    if (n && !ts)
        return cio_seterr(-EINVAL, "%s: task array is NULL", fn);
    cio_task *self = cio__task();
    long watched = 0;
    for (size_t i = 0; i < n; i++) {
        cio_task *t = ts[i];
        if (i + 48 < n)
            __builtin_prefetch(ts[i + 48], 1);
        if (cio__unlikely(!t || t->watcher || t->state == CIO__FREE || t == self))
            return refuse_claim(ts, i, w, self, fn);
        t->watcher = w; /* claimed, finished or not (see cio__task_complete) */
        if (t->state != CIO__DONE) {
            t->result = (int)i; /* the index comes back to w->done */
            watched++;
        }
    }
    return watched;
}

/* ---- gather ---- */

/* A child that ends well is collected at once, while its handle is still
 * in the cache from running it: its status is stored and its handle
 * released (onto the gather's own list, reused only once the gather
 * returns), so a gather of a million tasks does not walk them all again
 * afterwards. A child that fails is held to the end, for its message. */
struct gather {
    cio__watcher base;
    size_t pending;
    size_t held;              /* ended but not yet collected */
    cio_task *waiter;
    int *status;
    cio__task_list released;
};

static __attribute__((noinline)) void gather_done_rare(struct gather *g, cio_task *t, int r) {
    if (r < 0)
        g->held++;
    else
        cio__task_release_to(t, &g->released);
    if (--g->pending == 0)
        cio__wake(g->waiter, 0);
}

/* Calls only in tail position, so the common case needs no frame. */
static void gather_done(cio__watcher *w, cio_task *t, int index) {
    struct gather *g = (struct gather *)w;
    int r = t->result;
    if (g->status)
        g->status[index] = r;
    if (cio__unlikely(r < 0 || (t->flags & CIO__HAS_EXTRA) || g->pending == 1)) {
        gather_done_rare(g, t, r);
        return;
    }
    cio__task_release_to(t, &g->released);
    g->pending--;
}

/* Collects the children still held (failed, or ended before the gather):
 * statuses in input order, the first failure's message. The others are
 * released already: their handles read as free. */
static int gather_collect(struct gather *g, cio_task **ts, size_t n) {
    size_t released = n - g->held;
    int first = 0;
    for (size_t i = 0; i < n && g->held; i++) {
        cio_task *t = ts[i];
        if (t->state == CIO__FREE) /* released by gather_done */
            continue;
        int r = t->result;
        if (g->status)
            g->status[i] = r;
        if (r < 0 && first == 0) {
            first = r;
            cio__errmsg_propagate(t);
        }
        g->held--;
        cio__task_release(cio__tls_loop, t);
    }
    cio__task_recycle(cio__tls_loop, &g->released, released);
    return first;
}

CIO__JUMP_RETURN(int, cio_gather)(cio_task **ts, size_t n, int *status) {
    struct gather g = {{gather_done}, 0, 0, cio__task(), status, {NULL, NULL}};
    long watched = watch_all(ts, n, &g.base, "cio_gather");
    if (watched < 0)
        return (int)watched;
    g.pending = (size_t)watched;
    g.held = n - (size_t)watched;
    int rc = 0;
    while (g.pending && rc == 0)
        rc = cio__park(CIO_FOREVER);
    if (g.pending) { /* interrupted: the children go down with us */
        for (size_t i = 0; i < n; i++)
            if (ts[i]->state != CIO__FREE) /* not ended and released */
                cio_cancel(ts[i]);
        cio_scope s;
        cio_shield_begin(&s, CIO_FOREVER);
        while (g.pending)
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
