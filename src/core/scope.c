/* Cancel scopes: timeouts (asyncio.timeout) and shields. A scope is a
 * record on the task's stack linked into the task's scope chain; the
 * scheduler reads the chain at every suspension point (sched.c). */
#include "core/runtime.h"

#include <stdio.h>
#include <stdlib.h>

enum { SCOPE_SHIELD = 1, SCOPE_HIT = 2 };
#define SCOPE_MAGIC 0x5c09e5u

static void scope_push(cio_scope *s, int64_t deadline, uint32_t flags) {
    if (!s) /* a no-op: the matching end reports the NULL scope */
        return;
    cio_task *t = cio__task();
    s->task = t;
    s->deadline = deadline;
    s->flags = flags;
    s->magic = SCOPE_MAGIC;
    if (!t) { /* outside a task a scope has nothing to govern */
        s->parent = NULL;
        return;
    }
    s->parent = t->body->scope;
    t->body->scope = s;
}

static int64_t after(int64_t ns) {
    int64_t now = cio_now();
    return ns >= CIO_FOREVER - now ? CIO_FOREVER : now + (ns < 0 ? 0 : ns);
}

void cio_timeout_begin_at(cio_scope *s, int64_t deadline) { scope_push(s, deadline, 0); }
void cio_timeout_begin(cio_scope *s, int64_t ns) { scope_push(s, after(ns), 0); }

static int scope_pop(cio_scope *s, const char *fn) {
    if (!s)
        return cio_seterr(-EINVAL, "%s: scope is NULL", fn);
    if (s->magic != SCOPE_MAGIC) {
        cio__report(3, "%s: scope was not begun (or already ended)", fn);
        abort();
    }
    cio_task *t = s->task;
    s->magic = 0;
    if (!t)
        return cio_seterr(-EPERM, "%s: scope begun outside a task", fn);
    if (t->body->scope != s) {
        cio__report(3, "%s: scopes must end in reverse order of beginning (task '%s')", fn,
                    cio_task_name(t));
        abort();
    }
    t->body->scope = s->parent;
    return (s->flags & SCOPE_HIT) ? -ETIMEDOUT : 0;
}

int cio_timeout_end(cio_scope *s) { return scope_pop(s, "cio_timeout_end"); }

bool cio_timeout_expired(const cio_scope *s) { return s && (s->flags & SCOPE_HIT); }

void cio_timeout_reschedule(cio_scope *s, int64_t deadline) {
    if (!s || s->magic != SCOPE_MAGIC)
        return;
    cio_task *t = s->task;
    if (t && t->body->loop != cio__tls_loop) {
        cio__misuse(-EPERM, "cio_timeout_reschedule: the scope's task runs on another "
                            "thread's loop (post the change to that loop instead)");
        return;
    }
    s->deadline = deadline;
    /* Moved by another task while the scope's own waits: its timer must
     * follow now, sooner or later (asyncio re-arms the timeout's handle). */
    if (t && t->state == CIO__PARKED)
        cio__park_retime(t->body->loop, t);
}

void cio_shield_begin(cio_scope *s, int64_t grace_ns) {
    scope_push(s, after(grace_ns), SCOPE_SHIELD);
}

int cio_shield_end(cio_scope *s) { return scope_pop(s, "cio_shield_end"); }

void cio__scope_cleanup(cio_scope *s) {
    if (s && s->magic == SCOPE_MAGIC)
        scope_pop(s, "scope block");
}
