/* The scheduler: switching between tasks, parking and waking, wait queues.
 *
 * A suspending task switches straight to the next ready task when there is
 * one and the loop's budget allows, and to the loop's own context only when
 * it must poll. A task that finishes hands its still-warm stack to the next
 * task that has never run, so short tasks need no switch and no new stack. */
#include "core/runtime.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef CIO__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CIO__TSAN
#include <sanitizer/tsan_interface.h>
#endif

__thread cio_loop *cio__tls_loop __attribute__((tls_model("initial-exec")));

/* Runs in the context just switched to: finishes sanitizer bookkeeping and
 * releases the stack of a task that has just ended. */
static inline void after_switch(cio_loop *L, void *fake_stack) {
#ifdef CIO__ASAN
    __sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
#else
    (void)fake_stack;
#endif
#ifdef CIO__TSAN
    if (L->dead_fiber) {
        __tsan_destroy_fiber(L->dead_fiber);
        L->dead_fiber = NULL;
    }
#endif
    if (cio__unlikely(L->dying_stack != NULL)) {
        cio__stack_put(L, L->dying_stack);
        L->dying_stack = NULL;
    }
}

/* to == NULL switches to the loop's context. dying: from never resumes. */
static inline void do_switch(cio_loop *L, cio__ctx *from, cio_task *to, bool dying) {
    cio__ctx *dst = to ? &to->body->ctx : &L->ctx;
    void *fake = NULL;
#ifdef CIO__ASAN
    const void *lo = to ? (const void *)to->body->stack->lo : L->main_stack_lo;
    size_t size = to ? to->body->stack->size : L->main_stack_size;
    __sanitizer_start_switch_fiber(dying ? NULL : &fake, lo, size);
#else
    (void)dying;
#endif
#ifdef CIO__TSAN
    __tsan_switch_to_fiber(to ? to->body->fiber : L->fiber, 0);
#endif
    cio__ctx_switch(from, dst);
    after_switch(L, fake);
}

static void task_entry(void);

/* The body sits under the stack descriptor (and the stack's colour offset,
 * see stack.c), on its own cache line; the task's frames start below it. */
static inline cio__body *body_of(cio__stack *s) {
    return (cio__body *)(((uintptr_t)s - s->color - sizeof(cio__body)) & ~(uintptr_t)63);
}

/* The argument of t, which has never run. Its word holds context
 * variables only once the first is set (CIO__HAS_CTX, see struct
 * cio_task), so it needs no clearing here. */
static inline void *take_arg(const cio_task *t) {
    if (cio__likely(!(t->flags & CIO__HAS_EXTRA)))
        return t->arg;
    return t->extra->arg;
}

static void task_fail_early(cio_loop *L, cio_task *t, int code, const char *msg) {
    cio__extra *x = cio__task_extra(t);
    if (x && !x->errmsg)
        x->errmsg = cio__malloc(256);
    if (x && x->errmsg)
        snprintf(x->errmsg, 256, "%s", msg);
    cio__task_complete(L, t, code);
}

/* Makes b the body of t, which has never run: what is the task's own
 * (its loop, stack and canary are the stack's). */
static inline void body_take(cio__body *b, cio_task *t) {
    b->fn = t->fn; /* before t->body takes its place */
    b->arg = take_arg(t);
    b->scope = NULL;
    b->waiter = NULL;
    b->heap_idx = 0;
    t->body = b;
}

/* Gives a never-run task a stack (reuse, if it fits), a body and a
 * context. Returns false if the task ended here instead: cancelled before
 * it ever ran, or no memory for a stack. */
static bool prepare(cio_loop *L, cio_task *t, cio__stack *reuse) {
    if (cio__likely(t->state != CIO__NEW))
        return true;
    if (t->flags & CIO__CANCELLED) {
        cio__task_complete(L, t, -ECANCELED);
        return false;
    }
    size_t want = t->stack_pages ? (size_t)t->stack_pages * L->page : L->default_stack;
    cio__stack *s = reuse;
    if (!reuse || reuse->size + 64 != want) {
        s = cio__stack_get(L, want);
        if (!s) {
            task_fail_early(L, t, -ENOMEM, "spawn: cannot map a task stack");
            return false;
        }
    }
    cio__body *b = body_of(s);
    b->loop = L;
    b->stack = s;
    b->canary = s->canary;
    body_take(b, t);
    if (s != reuse) {
        cio__ctx_make(&b->ctx, s->lo, (size_t)((char *)b - s->lo), task_entry);
#ifdef CIO__TSAN
        b->fiber = __tsan_create_fiber(0);
#endif
    }
    return true;
}

/* With thousands of parked tasks, each one's stack top (context, frames,
 * descriptor) has left the caches and the TLB by the time it runs again:
 * resuming it would stall on misses, one task after another. The run
 * queue says which tasks come next, so start fetching them early: the
 * body of the task two places ahead, then (its body having arrived) the
 * saved frames and the stack descriptor of the task one place ahead. */
static inline void prefetch_ahead(const cio_task *next) {
    if (next->state != CIO__NEW) {
        const cio__body *b = next->body;
        __builtin_prefetch(cio__ctx_sp(&b->ctx));
        __builtin_prefetch(b->stack);
    }
    if (next->next && next->next->state != CIO__NEW)
        __builtin_prefetch(next->next->body);
}

/* Pops the next runnable task within the budget, or NULL. */
static cio_task *next_task(cio_loop *L, cio__stack *reuse) {
    while (L->budget > 0 && L->rq_head) {
        cio_task *t = L->rq_head;
        L->rq_head = t->next;
        if (!L->rq_head)
            L->rq_tail = NULL;
        else
            prefetch_ahead(L->rq_head);
        L->budget--;
        if (prepare(L, t, reuse))
            return t;
    }
    return NULL;
}

static void debug_slow_check(cio_loop *L, cio_task *t) {
    int64_t ran = cio__clock() - L->run_start;
    if (ran > L->slow_task_ns)
        cio__report(2, "task '%s' (id %llu) ran %.1f ms without suspending: "
                       "a blocking call inside a task stalls every task on the loop",
                    cio_task_name(t), (unsigned long long)cio_task_id(t), (double)ran / 1e6);
}

/* Every switch away from a task checks the canary its stack overflow would
 * clobber first (see stack.c). */
static inline void check_canary(cio_task *t) {
    if (cio__unlikely(*t->body->canary != CIO__CANARY))
        cio__stack_overflow(t);
}

void cio__suspend(cio_loop *L, cio_task *cur) {
    check_canary(cur);
    if (cio__unlikely(L->debug))
        debug_slow_check(L, cur);
    cio_task *n = next_task(L, NULL);
    if (n == cur) { /* a yield with nothing else ready */
        cur->state = CIO__RUNNING;
        return;
    }
    L->cur = n;
    if (n) {
        n->state = CIO__RUNNING;
        if (cio__unlikely(L->debug))
            L->run_start = cio__clock();
    }
    do_switch(L, &cur->body->ctx, n, false);
}

void cio__run_ready(cio_loop *L) {
    cio_task *n;
    while ((n = next_task(L, NULL))) {
        L->cur = n;
        n->state = CIO__RUNNING;
        if (cio__unlikely(L->debug))
            L->run_start = cio__clock();
        do_switch(L, &L->ctx, n, false);
    }
    L->cur = NULL;
}

/* Takes the next task to run right here, in the body b that a task has
 * just finished with, in the common case: the run queue's head has never
 * run, wants a default stack as b's is (default_stack) and is not
 * cancelled, within the budget. The body keeps its loop, stack and canary,
 * and its last task left its scope, waiter and timer clear (task_entry
 * sees to it), so only the handle changes; the function and argument come
 * back in *fn and *arg, not through the body. Returns NULL when the
 * general path must decide. */
static inline cio_task *take_new_here(cio_loop *L, cio__body *b, bool default_stack, cio_fn *fn,
                                      void **arg) {
    cio_task *n = L->rq_head;
    if (!n || L->budget <= 0 || n->state != CIO__NEW || n->stack_pages || !default_stack ||
        (n->flags & CIO__CANCELLED))
        return NULL;
    L->rq_head = n->next;
    if (!L->rq_head)
        L->rq_tail = NULL;
    else
        __builtin_prefetch(L->rq_head->next);
    /* New tasks spawned in a row sit in a row in their chunk, and run in
     * that order: fetch the handle a gather window on, which a gather of
     * them claims next, before it runs (see wait.c). A guess, and a wrong
     * one costs only the fetch. */
    __builtin_prefetch(n + CIO__GATHER_WINDOW, 1);
    L->budget--;
    *fn = n->fn;
    *arg = take_arg(n);
    n->body = b;
    n->state = CIO__RUNNING;
    L->cur = n;
    return n;
}

/* A task that returned inside a cancel scope (a misuse) left it set; a
 * waiter and a timer are cleared by every wake. */
static inline void body_clear_after(cio__body *b) {
    if (cio__unlikely(b->scope || b->waiter || b->heap_idx)) {
        b->scope = NULL;
        b->waiter = NULL;
        b->heap_idx = 0;
    }
}

static void task_entry(void) {
    cio_loop *L = cio__tls_loop;
    after_switch(L, NULL);
    cio_task *t = L->cur;
    cio__body *b = t->body;
    cio__stack *s = b->stack;
    bool default_stack = s->size + 64 == L->default_stack;
    cio_fn fn = b->fn;
    void *arg = b->arg;
    for (;;) {
        int result = fn(arg);
        if (cio__unlikely(!cio__stack_intact(s)))
            cio__stack_overflow(t);
        if (cio__unlikely(L->debug))
            debug_slow_check(L, t);
        body_clear_after(b);
        cio__task_complete(L, t, result); /* may free t */
        if (cio__likely(!L->debug) && (t = take_new_here(L, b, default_stack, &fn, &arg)))
            continue;
        cio_task *n = next_task(L, s);
        if (n && cio__unlikely(L->debug))
            L->run_start = cio__clock();
        if (n && n->body->stack == s) { /* a new task (cancelled ones ended in next_task) */
            L->cur = t = n;
            n->state = CIO__RUNNING;
            fn = b->fn;
            arg = b->arg;
            continue;
        }
#ifdef CIO__TSAN
        L->dead_fiber = b->fiber;
#endif
        L->dying_stack = s;
        L->cur = n;
        if (n)
            n->state = CIO__RUNNING;
        cio__ctx dead;
        do_switch(L, &dead, n, true);
        abort(); /* a finished task is never switched back to */
    }
}

/* ---- interruption: cancellation and cancel scopes ---- */

/* Kept out of line: the fast checks that call it stay small. */
__attribute__((noinline)) int cio__interrupt_code(cio_loop *L, cio_task *t) {
    for (cio_scope *s = t->body->scope; s; s = s->parent) {
        if (s->deadline != CIO_FOREVER && s->deadline <= cio__loop_now(L)) {
            s->flags |= 2; /* SCOPE_HIT, see scope.c */
            return -ETIMEDOUT;
        }
        if (s->flags & 1) /* SCOPE_SHIELD */
            return 0;
    }
    return (t->flags & CIO__CANCELLED) ? -ECANCELED : 0;
}

int64_t cio__scope_deadline(const cio_task *t) {
    int64_t d = CIO_FOREVER;
    for (const cio_scope *s = t->body->scope; s; s = s->parent) {
        if (s->deadline < d)
            d = s->deadline;
        if (s->flags & 1)
            break;
    }
    return d;
}

int cio__interrupted(void) {
    cio_loop *L = cio__tls_loop;
    cio_task *t = L ? L->cur : NULL;
    if (!t)
        return 0;
    if (cio__likely(!t->body->scope && !(t->flags & CIO__CANCELLED)))
        return 0;
    return cio__interrupt_code(L, t);
}

int cio__check_in_task(const char *fn) {
    cio_loop *L = cio__tls_loop;
    if (cio__likely(L && L->cur))
        return 0;
    return cio__misuse(-EPERM, "%s: called outside a task (suspending calls need a task)", fn);
}

/* ---- parking ---- */

/* The deadline a park of t wakes at: the park's own or its scopes'
 * nearest, whichever comes first. */
static int64_t park_deadline(const cio_task *t, int64_t own) {
    if (t->body->scope != NULL) {
        int64_t sd = cio__scope_deadline(t);
        if (sd < own)
            return sd;
    }
    return own;
}

/* Arms t's timer for deadline. The heap holds bodies, and a body learns
 * its task here, the one place that needs it. */
static int arm_timer(cio_loop *L, cio_task *t, int64_t deadline) {
    t->body->task = t;
    return cio__timer_arm(L, t->body, deadline);
}

/* A park with a deadline or inside a scope: arms a timer for the earliest
 * deadline and cancels it after the wake. */
static __attribute__((noinline)) int park_timed(cio_loop *L, cio_task *t, int64_t deadline) {
    cio__body *b = t->body;
    int64_t d = park_deadline(t, deadline);
    b->own_deadline = deadline;
    if (d != CIO_FOREVER && arm_timer(L, t, d) < 0)
        return cio_seterr(-ENOMEM, "cannot arm a timer: out of memory");
    t->state = CIO__PARKED;
    b->wake = 0; /* what cio__wake_parked hands over */
    cio__suspend(L, t);
    if (b->heap_idx != 0)
        cio__timer_cancel(L, b);
    return b->wake;
}

/* Parks the running task until a wake. The common park (no deadline, no
 * scope) needs no timer, so it is only a state change and a switch. */
static inline __attribute__((always_inline)) int park_now(cio_loop *L, cio_task *t,
                                                          int64_t deadline) {
    cio__body *b = t->body;
    if (cio__unlikely(deadline != CIO_FOREVER || b->scope != NULL))
        return park_timed(L, t, deadline);
    t->state = CIO__PARKED;
    b->wake = 0; /* what cio__wake_parked hands over */
    cio__suspend(L, t);
    return b->wake;
}

int cio__park_raw(int64_t deadline) {
    cio_loop *L = cio__tls_loop;
    cio_task *t = L ? L->cur : NULL;
    if (cio__unlikely(!t))
        return cio__check_in_task("cio__park");
    if (cio__unlikely(t->body->scope || (t->flags & CIO__CANCELLED))) {
        int code = cio__interrupt_code(L, t);
        if (code)
            return code;
    }
    return park_now(L, t, deadline);
}

int cio__park(int64_t deadline) {
    int r = cio__park_raw(deadline);
    return r == CIO__DEADLINE ? -ETIMEDOUT : r;
}

bool cio__task_parked(const cio_task *t) { return t && t->state == CIO__PARKED; }

void cio__park_retime(cio_loop *L, cio_task *t) {
    cio__body *b = t->body;
    int64_t d = park_deadline(t, b->own_deadline);
    if (d == CIO_FOREVER) {
        if (b->heap_idx != 0)
            cio__timer_cancel(L, b);
        return;
    }
    if (arm_timer(L, t, d) < 0)
        cio__unpark(L, t, -ENOMEM); /* never wake late: wake now, failed */
}

void cio__unpark(cio_loop *L, cio_task *t, int code) {
    if (t->body->waiter) {
        if (t->body->waiter->q)
            cio__waitq_remove(t->body->waiter->q, t->body->waiter);
        t->body->waiter = NULL;
    }
    t->body->wake = code;
    cio__make_ready(L, t);
}

void cio__wake(cio_task *t, int result) {
    if (!t || t->state != CIO__PARKED)
        return;
    cio__unpark(t->body->loop, t, result);
}

void cio__wake_parked(cio_task *t) {
    if (t && t->state == CIO__PARKED)
        cio__make_ready(cio__tls_loop, t);
}

/* ---- yielding ---- */

CIO__JUMP_RETURN(int, cio_yield)(void) {
    cio_loop *L = cio__tls_loop;
    cio_task *t = L ? L->cur : NULL;
    if (cio__unlikely(!t))
        return cio__check_in_task("cio_yield");
    if (cio__unlikely(t->body->scope || (t->flags & CIO__CANCELLED))) {
        int code = cio__interrupt_code(L, t);
        if (code)
            return code;
    }
    cio_task *n = L->rq_head;
    if (!n && L->budget > 1) {
        /* Nothing else is ready: count the turn and carry on. The loop
         * still polls once the budget is spent. */
        L->budget--;
        return 0;
    }
    if (cio__unlikely(!n || L->budget <= 1 || n->state == CIO__NEW || L->debug)) {
        cio__make_ready(L, t);
        cio__suspend(L, t);
        return 0;
    }
    /* The common case: straight to the next ready task, which has run
     * before, with this one queued behind the rest. */
    check_canary(t);
    cio__ctx *from = &t->body->ctx;
    t->next = NULL; /* cio__make_ready without its branch: n is queued */
    L->rq_tail->next = t;
    L->rq_tail = t;
    t->state = CIO__READY;
    L->rq_head = n->next; /* not NULL: t is behind n */
    L->budget--;
    L->cur = n;
    n->state = CIO__RUNNING;
    do_switch(L, from, n, false);
    return 0;
}

int cio__yield_behind(cio_task *after) {
    int code = cio__interrupted();
    if (code)
        return code;
    cio_loop *L = cio__tls_loop;
    cio_task *t = L->cur;
    t->next = after->next;
    after->next = t;
    if (L->rq_tail == after)
        L->rq_tail = t;
    t->state = CIO__READY;
    cio__suspend(L, t);
    return 0;
}

/* ---- wait queues ---- */

static inline __attribute__((always_inline)) void waitq_remove(cio__waitq *q,
                                                              cio__waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
    w->q = NULL;
}

void cio__waitq_remove(cio__waitq *q, cio__waiter *w) { waitq_remove(q, w); }

static inline __attribute__((always_inline)) int waitq_wait(cio__waitq *q, cio__waiter *w,
                                                          int64_t deadline, const char *who) {
    cio_loop *L = cio__tls_loop;
    cio_task *t = L ? L->cur : NULL;
    if (cio__unlikely(!t))
        return cio__check_in_task(who);
    if (cio__unlikely(t->body->scope || (t->flags & CIO__CANCELLED))) {
        int code = cio__interrupt_code(L, t);
        if (code)
            return code;
    }
    /* The body is loaded once: the build allows any store to alias it, and
     * reloading it after linking w costs a W2 hand-off about 8 %. For the
     * same hand-off, park_now's fast path is written out here: calling it
     * with b (and checking w->q after every park) measured 5-8 % slower. */
    cio__body *b = t->body;
    w->task = t;
    w->q = q;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    b->waiter = w;
    int r;
    if (cio__likely(deadline == CIO_FOREVER && b->scope == NULL)) {
        t->state = CIO__PARKED;
        b->wake = 0; /* what cio__wake_parked hands over */
        cio__suspend(L, t);
        r = b->wake; /* every wake unlinked w and cleared b->waiter */
    } else {
        r = park_timed(L, t, deadline);
        if (cio__unlikely(w->q != NULL)) { /* arming the timer failed: never parked */
            waitq_remove(q, w);
            b->waiter = NULL;
        }
    }
    return r == CIO__DEADLINE ? -ETIMEDOUT : r;
}

int cio__waitq_wait_until(cio__waitq *q, cio__waiter *w, int64_t deadline) {
    return waitq_wait(q, w, deadline, "wait");
}

/* The waiter in this frame: a primitive's slow path tail-calls this, so the
 * switch happens a call and a frame shallower than through its own frame
 * and cio__waitq_wait (about a nanosecond of a W2 hand-off). */
CIO__JUMP_RETURN_HIDDEN(int, cio__waitq_park)(cio__waitq *q, const char *who) {
    cio__waiter w;
    return waitq_wait(q, &w, CIO_FOREVER, who);
}

int cio__waitq_wait(cio__waitq *q, cio__waiter *w) {
    return cio__waitq_wait_until(q, w, CIO_FOREVER);
}

/* Makes the task of an unlinked waiter ready with result. */
static inline __attribute__((always_inline)) void ready_waiter(cio_loop *L, cio__waiter *w,
                                                               int result) {
    cio_task *t = w->task;
    t->body->waiter = NULL;
    t->body->wake = result;
    cio__make_ready(L, t);
}

static inline __attribute__((always_inline)) void wake_waiter(cio_loop *L, cio__waiter *w,
                                                              int result) {
    if (w->q)
        waitq_remove(w->q, w);
    ready_waiter(L, w, result);
}

/* wake_waiter for the head of a non-empty queue: the common wake, with
 * the unlink reduced to what a head needs. */
static inline __attribute__((always_inline)) cio__waiter *wake_first(cio_loop *L,
                                                                    cio__waitq *q,
                                                                    int result) {
    cio__waiter *w = q->head;
    q->head = w->next;
    if (w->next)
        w->next->prev = NULL;
    else
        q->tail = NULL;
    w->next = NULL;
    w->q = NULL;
    ready_waiter(L, w, result);
    return w;
}

void cio__wake_waiter(cio__waiter *w, int result) { wake_waiter(cio__tls_loop, w, result); }

cio__waiter *cio__waitq_wake_one(cio__waitq *q, int result) {
    return q->head ? wake_first(cio__tls_loop, q, result) : NULL;
}

size_t cio__waitq_wake_all(cio__waitq *q, int result) {
    cio_loop *L = cio__tls_loop;
    size_t n = 0;
    for (; q->head; n++)
        wake_first(L, q, result);
    return n;
}
