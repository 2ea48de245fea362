/* AsyncExitStack: a LIFO of exits and callbacks, each unwound shielded.
 * Every cleanup runs whatever the ones before it returned, and gets their
 * status, as __aexit__ methods see the exception in flight. */
#include "cio/with.h"

#include "core/internal.h"

#include <stdio.h>
#include <string.h>

struct cio__exit_entry {
    cio__exit_entry *next;
    cio_cm cm;                    /* exit.. when a manager */
    int (*fn)(void *arg, int status); /* .. or a callback */
    void *arg;
};

void cio_exitstack_init(cio_exitstack *s) {
    if (s)
        s->top = NULL;
}

static cio__exit_entry *entry_new(cio_exitstack *s, const char *fn) {
    cio__exit_entry *e = cio__calloc(1, sizeof *e);
    if (!e)
        cio_seterr(-ENOMEM, "%s: out of memory", fn);
    (void)s;
    return e;
}

int cio_exitstack_enter(cio_exitstack *s, const cio_cm *cm, void **as) {
    if (!s || !cm || !cm->enter || !cm->exit)
        return cio_seterr(-EINVAL, "cio_exitstack_enter: stack or manager is NULL");
    /* Allocate first: a manager that was entered must never go unexited. */
    cio__exit_entry *e = entry_new(s, "cio_exitstack_enter");
    if (!e)
        return -ENOMEM;
    e->cm = *cm;
    int rc = cio_with_enter(&e->cm, as);
    if (rc < 0) {
        cio__free(e);
        return rc;
    }
    e->next = s->top;
    s->top = e;
    return 0;
}

int cio_exitstack_push(cio_exitstack *s, int (*fn)(void *arg, int status), void *arg) {
    if (!s || !fn)
        return cio_seterr(-EINVAL, "cio_exitstack_push: stack or callback is NULL");
    cio__exit_entry *e = entry_new(s, "cio_exitstack_push");
    if (!e)
        return -ENOMEM;
    e->fn = fn;
    e->arg = arg;
    e->next = s->top;
    s->top = e;
    return 0;
}

static int run_one(cio__exit_entry *e, int status) {
    if (!e->fn)
        return cio_with_exit(&e->cm, status);
    if (!cio__task())
        return e->fn(e->arg, status);
    cio_scope sc;
    cio_shield_begin(&sc, CIO_CLEANUP_GRACE);
    int r = e->fn(e->arg, status);
    cio_shield_end(&sc);
    return r;
}

int cio_exitstack_close(cio_exitstack *s, int status) {
    if (!s)
        return cio_seterr(-EINVAL, "cio_exitstack_close: stack is NULL");
    char prev[256];
    while (s->top) {
        cio__exit_entry *e = s->top;
        s->top = e->next;
        if (status < 0)
            snprintf(prev, sizeof prev, "%s", cio_errmsg());
        int r = run_one(e, status);
        cio__free(e);
        if (status < 0 && r < 0 && r != status)
            cio__report(2, "exit stack: error '%s' (%s) was replaced by a later cleanup's error '%s'",
                        cio_strerror(status), prev, cio_strerror(r));
        status = r;
    }
    return status;
}

size_t cio_exitstack_size(const cio_exitstack *s) {
    size_t n = 0;
    for (const cio__exit_entry *e = s ? s->top : NULL; e; e = e->next)
        n++;
    return n;
}

int cio_exitstack_pop_all(cio_exitstack *from, cio_exitstack *to) {
    if (!from || !to)
        return cio_seterr(-EINVAL, "cio_exitstack_pop_all: stack is NULL");
    if (!from->top || from == to)
        return 0;
    cio__exit_entry *bottom = from->top;
    while (bottom->next)
        bottom = bottom->next;
    bottom->next = to->top;
    to->top = from->top;
    from->top = NULL;
    return 0;
}
