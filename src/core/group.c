/* Task groups (asyncio.TaskGroup): the first failure cancels the siblings;
 * every child's result and message stay readable after the wait. */
#include "core/runtime.h"

#include <string.h>

struct cio_group {
    cio__watcher base;
    cio_loop *loop;
    cio_task **tasks;
    int *status;
    char **msgs;
    size_t n, cap, pending;
    size_t first_idx;
    int first_err;
    bool failed;
    cio_task *waiter;
};

static void cancel_running(cio_group *g) {
    for (size_t i = 0; i < g->n; i++)
        cio_cancel(g->tasks[i]);
}

static void group_done(cio__watcher *w, cio_task *t, int index) {
    cio_group *g = (cio_group *)w;
    size_t i = (size_t)index;
    g->status[i] = t->result;
    const char *m = cio__task_msg(t);
    if (t->result < 0 && m && m[0])
        g->msgs[i] = cio__strdup(m);
    if (t->result < 0 && t->result != -ECANCELED && !g->failed) {
        g->failed = true;
        g->first_err = t->result;
        g->first_idx = i;
        cancel_running(g);
    }
    if (--g->pending == 0 && g->waiter)
        cio__wake(g->waiter, 0);
}

cio_group *cio_group_new(void) {
    cio_group *g = cio__calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        cio_seterr(-ENOMEM, "cio_group_new: out of memory");
        return NULL;
    }
    g->base.done = group_done;
    g->loop = cio__loop();
    return g;
}

static int grow(cio_group *g) {
    size_t cap = g->cap ? 2 * g->cap : 8;
    cio_task **t = cio__realloc(g->tasks, cap * sizeof *t);
    if (!t)
        return -ENOMEM;
    g->tasks = t;
    int *s = cio__realloc(g->status, cap * sizeof *s);
    if (!s)
        return -ENOMEM;
    g->status = s;
    char **m = cio__realloc(g->msgs, cap * sizeof *m);
    if (!m)
        return -ENOMEM;
    g->msgs = m;
    g->cap = cap;
    return 0;
}

cio_task *cio_group_spawn_with(cio_group *g, cio_fn fn, void *arg, const cio_spawn_opts *o) {
    if (!g) {
        errno = EINVAL;
        cio_seterr(-EINVAL, "cio_group_spawn: group is NULL");
        return NULL;
    }
    if (g->failed) {
        errno = ECANCELED;
        cio_seterr(-ECANCELED, "cio_group_spawn: the group has failed and is shutting down");
        return NULL;
    }
    if (g->n == g->cap && grow(g) < 0) {
        errno = ENOMEM;
        cio_seterr(-ENOMEM, "cio_group_spawn: out of memory");
        return NULL;
    }
    cio_task *t = cio_spawn_with(fn, arg, o);
    if (!t)
        return NULL;
    if (!g->loop)
        g->loop = cio__tls_loop;
    t->watcher = &g->base;
    t->result = (int)g->n; /* the index comes back to group_done */
    g->tasks[g->n] = t;
    g->status[g->n] = 0;
    g->msgs[g->n] = NULL;
    g->n++;
    g->pending++;
    return t;
}

cio_task *cio_group_spawn(cio_group *g, cio_fn fn, void *arg) {
    return cio_group_spawn_with(g, fn, arg, NULL);
}

CIO__JUMP_RETURN(int, cio_group_wait)(cio_group *g) {
    if (!g)
        return cio_seterr(-EINVAL, "cio_group_wait: group is NULL");
    int rc = cio__check_in_task("cio_group_wait");
    if (rc < 0)
        return rc;
    while (g->pending && rc == 0) {
        g->waiter = cio__task();
        rc = cio__park(CIO_FOREVER);
        g->waiter = NULL;
    }
    if (g->pending) { /* the waiter was interrupted: take the children down */
        cancel_running(g);
        cio_scope s;
        cio_shield_begin(&s, CIO_FOREVER);
        while (g->pending) {
            g->waiter = cio__task();
            cio__park(CIO_FOREVER);
            g->waiter = NULL;
        }
        cio_shield_end(&s);
        return rc;
    }
    if (g->failed) {
        const char *m = g->msgs[g->first_idx];
        if (m)
            cio_seterr(g->first_err, "%s", m);
        return g->first_err;
    }
    return 0;
}

void cio_group_cancel(cio_group *g) {
    if (g)
        cancel_running(g);
}

size_t cio_group_size(const cio_group *g) { return g ? g->n : 0; }

int cio_group_status(const cio_group *g, size_t i) {
    if (!g || i >= g->n)
        return -EINVAL;
    return g->tasks[i]->state == CIO__DONE ? g->status[i] : -EINPROGRESS;
}

const char *cio_group_errmsg(const cio_group *g, size_t i) {
    if (!g || i >= g->n || !g->msgs[i])
        return "";
    return g->msgs[i];
}

void cio_group_free(cio_group *g) {
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        cio_task *t = g->tasks[i];
        if (t->state == CIO__DONE) {
            cio__task_release(g->loop, t);
        } else { /* still running: cancel it and let it free itself */
            t->watcher = NULL;
            t->flags |= CIO__DETACHED;
            cio_cancel(t);
        }
        cio__free(g->msgs[i]);
    }
    cio__free(g->tasks);
    cio__free(g->status);
    cio__free(g->msgs);
    cio__free(g);
}
