/* Tasks: spawn, join, detach, cancel, shield, sleep, yield, names. */
#include "core/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Task handles come from chunks kept until the loop closes, so spawning
 * rarely allocates and the loop can scan every task at shutdown. The first
 * chunks are small (a program with a few tasks stays small); once a loop
 * holds many tasks, chunks are 2 MiB mappings backed by a transparent huge
 * page where the kernel allows it: a million handles then cost about 24 page
 * faults instead of 12,000, which is most of the price of a spawn. */
#define SMALL_CHUNK_TASKS 256
#define SMALL_CHUNKS 16
#define HUGE_CHUNK_BYTES ((size_t)2 << 20)

void (*cio__ctx_inherit_hook)(void **child, void *parent_value);
void (*cio__ctx_release_hook)(void *value);

/* The context variables of t (see struct cio_task): in its extra if it
 * has one, else in its word once the first is set. */
static inline void *ctx_of(const cio_task *t) {
    if (t->flags & CIO__HAS_EXTRA)
        return t->extra->ctxvars;
    return (t->flags & CIO__HAS_CTX) ? t->ctx : NULL;
}

/* The slot for them, the word taken if it must be. A task that has not
 * started has no word for them unless it has an extra. */
void **cio__task_ctx_slot(cio_task *t) {
    if (!t || (t->state == CIO__NEW && !(t->flags & CIO__HAS_EXTRA)))
        return NULL;
    if (t->flags & CIO__HAS_EXTRA)
        return &t->extra->ctxvars;
    if (!(t->flags & CIO__HAS_CTX)) {
        t->ctx = NULL;
        t->flags |= CIO__HAS_CTX;
    }
    return &t->ctx;
}

void *cio__task_ctx(const cio_task *t) { return t ? ctx_of(t) : NULL; }

/* A 2 MiB-aligned 2 MiB mapping (alignment lets one huge page cover it). */
static cio__task_chunk *map_huge_chunk(void) {
    size_t len = HUGE_CHUNK_BYTES;
    char *raw = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + len - 1) & ~(uintptr_t)(len - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (p + len < raw + 2 * len)
        munmap(p + len, (size_t)(raw + 2 * len - (p + len)));
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
    cio__task_chunk *c = (cio__task_chunk *)p;
    c->n = (len - sizeof *c) / sizeof(cio_task);
    c->mapped = len;
    return c;
}

void cio__task_chunk_free(cio__task_chunk *c) {
    if (c->mapped)
        munmap(c, c->mapped);
    else
        cio__free(c);
}

_Static_assert(CIO__FREE == 0, "new chunks are zeroed and must read as free handles");

static cio__task_chunk *alloc_small_chunk(void) {
    cio__task_chunk *c = cio__calloc(1, sizeof *c + SMALL_CHUNK_TASKS * sizeof(cio_task));
    if (c)
        c->n = SMALL_CHUNK_TASKS; /* mapped = 0 */
    return c;
}

static cio_task *alloc_from_new_chunk(cio_loop *L) {
    cio__task_chunk *c = L->n_chunks < SMALL_CHUNKS ? alloc_small_chunk() : map_huge_chunk();
    if (!c)
        return NULL;
    L->n_chunks++;
    c->next = L->chunks;
    L->chunks = c;
    /* A new chunk is zero, and zero is CIO__FREE: the shutdown scans can
     * walk all of it, and its handles go out in address order, each first
     * touched by the spawn that takes it. */
    L->bump = c->tasks + 1;
    L->bump_end = c->tasks + c->n;
    return c->tasks;
}

/* A handle never used since the newest chunk was zeroed, or NULL when the
 * chunk has none left. */
static inline cio_task *bump_handle(cio_loop *L) {
    if (cio__unlikely(L->bump == L->bump_end))
        return NULL;
    /* A spawn storm writes fresh handles one after another, faster than
     * the hardware fetches them on its own: ask for one 32 ahead (W1's
     * spawns 19.2 -> 17.7 ns). Past the chunk's end it is dropped. */
    __builtin_prefetch(L->bump + 32, 1);
    return L->bump++;
}

/* A handle never used since its chunk was zeroed, or NULL when memory for
 * a new chunk is short. */
static inline cio_task *fresh_handle(cio_loop *L) {
    cio_task *t = bump_handle(L);
    return t ? t : alloc_from_new_chunk(L);
}

/* A free handle, or NULL when memory for a new chunk is short. */
static inline cio_task *task_alloc(cio_loop *L) {
    cio_task *t = L->free_tasks;
    if (cio__likely(t != NULL)) {
        L->free_tasks = t->next;
        return t;
    }
    return fresh_handle(L);
}

static cio_loop *current_loop_or_fail(const char *fn) {
    cio_loop *L = cio__tls_loop;
    if (!L) {
        errno = EPERM;
        cio_seterr(-EPERM, "%s: no loop runs on this thread (call it from a task)", fn);
    }
    return L;
}

/* A spawn in two steps around the options: a new task (no stack yet; its
 * body is set up when it first runs), then queued to run, sharing the
 * spawner's context variables. */
static inline void init_new(cio_task *t, cio_fn fn, void *arg) {
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    t->watcher = NULL;
    t->result = 0;
    t->state = CIO__NEW;
    t->flags = 0;
    t->stack_pages = 0;
}

/* init_new for a fresh handle (zero), with only the stores of what is not
 * zero: a spawn storm's handles are fresh memory, and every store to it
 * waits for its line. */
static inline void init_fresh(cio_task *t, cio_fn fn, void *arg) {
    t->fn = fn;
    t->arg = arg;
    t->state = CIO__NEW;
}

static cio_task *spawn_failed(int code, const char *msg) {
    errno = -code;
    cio_seterr(code, "%s", msg);
    return NULL;
}

/* A handle taken for a spawn that then failed goes back, free. */
static void give_back(cio_loop *L, cio_task *t) {
    cio__task_mark_free(t);
    t->next = L->free_tasks;
    L->free_tasks = t;
}

/* A spawn from a task with context variables shares them. A task that has
 * not run keeps them in its extra (see struct cio_task), so this is the
 * one spawn that allocates. */
static __attribute__((noinline)) bool share_ctx(cio_task *t, void *parent_ctx) {
    if (!cio__ctx_inherit_hook)
        return true;
    cio__extra *x = cio__task_extra(t);
    if (!x)
        return false;
    cio__ctx_inherit_hook(&x->ctxvars, parent_ctx);
    return true;
}

/* Counts t, new, among the loop's tasks and queues it to run (it stays
 * CIO__NEW until it first runs): cio__rq_push, with t->next already NULL. */
static inline void count_and_queue(cio_loop *L, cio_task *t) {
    L->alive++;
    L->handles++;
    if (L->rq_tail)
        L->rq_tail->next = t;
    else
        L->rq_head = t;
    L->rq_tail = t;
}

/* Queues t, new, to run, sharing the spawner's context variables; or
 * gives it back and fails. */
static inline cio_task *enqueue_new(cio_loop *L, cio_task *t) {
    cio_task *parent = L->cur; /* running, so it has a word for its context */
    void *parent_ctx = parent ? ctx_of(parent) : NULL;
    if (cio__unlikely(parent_ctx != NULL) && !share_ctx(t, parent_ctx)) {
        give_back(L, t);
        return spawn_failed(-ENOMEM, "cio_spawn: out of memory");
    }
    count_and_queue(L, t);
    return t;
}

cio_task *cio_spawn_with(cio_fn fn, void *arg, const cio_spawn_opts *opts) {
    cio_loop *L = current_loop_or_fail("cio_spawn");
    if (!L)
        return NULL;
    if (!fn)
        return spawn_failed(-EINVAL, "cio_spawn: task function is NULL");
    cio_task *t = task_alloc(L);
    if (!t)
        return spawn_failed(-ENOMEM, "cio_spawn: out of memory");
    init_new(t, fn, arg);
    if (opts) {
        if (opts->name && cio_task_set_name(t, opts->name) < 0) {
            give_back(L, t);
            return spawn_failed(-ENOMEM, "cio_spawn: out of memory");
        }
        if (opts->stack_size) {
            /* room for the descriptor and the body at the top */
            size_t pages = (opts->stack_size + 512 + L->page - 1) / L->page;
            if (pages < 16384 / L->page)
                pages = 16384 / L->page;
            if (pages > UINT16_MAX)
                pages = UINT16_MAX;
            t->stack_pages = (uint16_t)pages;
        }
    }
    return enqueue_new(L, t);
}

/* The plain spawn, the hot one: no options to look at. Whatever is not
 * the common case (a bad call, a spawner with context variables to share,
 * a new chunk to map) goes to cio_spawn_with as a tail call, so that the
 * common case saves no registers. */
cio_task *cio_spawn(cio_fn fn, void *arg) {
    cio_loop *L = cio__tls_loop;
    if (cio__unlikely(!L || !fn || (L->cur && ctx_of(L->cur) != NULL)))
        return cio_spawn_with(fn, arg, NULL);
    cio_task *t = L->free_tasks;
    if (cio__likely(t != NULL)) {
        L->free_tasks = t->next;
        init_new(t, fn, arg);
    } else if (cio__likely((t = bump_handle(L)) != NULL)) {
        init_fresh(t, fn, arg);
    } else {
        return cio_spawn_with(fn, arg, NULL);
    }
    count_and_queue(L, t);
    return t;
}

static void report_unretrieved(cio_task *t) {
    if (t->result < 0 && t->result != -ECANCELED) {
        const char *m = cio__task_msg(t);
        cio__report(3, "task '%s' (id %llu) failed and nobody collected it: %s%s%s",
                    cio_task_name(t), (unsigned long long)cio_task_id(t),
                    cio_strerror(t->result), m && m[0] ? ": " : "", m ? m : "");
    }
}

cio__extra *cio__task_extra(cio_task *t) {
    if (!(t->flags & CIO__HAS_EXTRA)) {
        cio__extra *x = cio__calloc(1, sizeof *x);
        if (!x)
            return NULL;
        if (t->state == CIO__NEW)
            x->arg = t->arg; /* a new task's word held its argument */
        else
            x->ctxvars = ctx_of(t);
        t->extra = x;
        t->flags = (uint8_t)((t->flags & ~CIO__HAS_CTX) | CIO__HAS_EXTRA);
    }
    return t->extra;
}

void cio__task_free_extra(cio_task *t) {
    cio__free(t->extra->errmsg);
    cio__free(t->extra->name);
    cio__free(t->extra);
    t->flags &= (uint8_t)~CIO__HAS_EXTRA;
}

void cio__task_release(cio_loop *L, cio_task *t) {
    cio__task_retire(L, t);
    t->next = L->free_tasks;
    L->free_tasks = t;
}

void cio__task_recycle(cio_loop *L, cio__task_list *list, size_t n) {
    L->handles -= n;
    if (!list->head)
        return;
    list->tail->next = L->free_tasks;
    L->free_tasks = list->head;
    list->head = list->tail = NULL;
}

void cio__task_drop_ctx(cio_task *t) {
    void **ctx = (t->flags & CIO__HAS_EXTRA) ? &t->extra->ctxvars : &t->ctx;
    if (*ctx && cio__ctx_release_hook) {
        cio__ctx_release_hook(*ctx);
        *ctx = NULL;
    }
}

void cio__task_ended_detached(cio_loop *L, cio_task *t) {
    report_unretrieved(t);
    cio__task_release(L, t);
}

int cio__collect(cio_task *t) {
    int r = t->result;
    if (r < 0)
        cio__errmsg_propagate(t);
    cio__task_release(cio__tls_loop, t);
    return r;
}

/* ---- awaiting a task ---- */

void cio__task_watch(cio_task *t, cio__watcher *w) { t->watcher = w; }
int cio__task_result(const cio_task *t) { return t->result; }
const char *cio__task_reason(const cio_task *t) {
    const char *m = cio__task_msg(t);
    return m && *m ? m : cio_strerror(t->result);
}
void cio__task_free(cio_task *t) { cio__task_release(cio__tls_loop, t); }

struct join_watch {
    cio__watcher base;
    cio_task *waiter;
};

static void join_done(cio__watcher *w, cio_task *t, int index) {
    (void)t, (void)index;
    cio__wake(((struct join_watch *)w)->waiter, 0);
}

/* Parks like cio__park(CIO_FOREVER), and is also woken if t ends meanwhile,
 * even without ever having run (no memory for its stack): a task waiting
 * for t's next move must not wait for a task that is gone. t is left
 * unclaimed either way, for a later join. */
int cio__park_watching(cio_task *t) {
    if (t->state == CIO__DONE)
        return 0;
    if (t->watcher) /* already awaited by someone else */
        return cio__park(CIO_FOREVER);
    struct join_watch jw = {{join_done}, cio__task()};
    t->watcher = &jw.base;
    int rc = cio__park(CIO_FOREVER);
    if (t->watcher == &jw.base)
        t->watcher = NULL;
    return rc;
}

/* Parks until t is done or the caller is interrupted. Returns 0 when t is
 * done, else the interruption code (t then still runs). */
static int wait_done(cio_task *t) {
    if (t->watcher)
        return cio_seterr(-EBUSY, "task '%s' is already being awaited", cio_task_name(t));
    if (t->state == CIO__DONE)
        return 0;
    struct join_watch jw = {{join_done}, cio__tls_loop->cur};
    t->watcher = &jw.base;
    int rc = cio__park(CIO_FOREVER);
    if (t->watcher == &jw.base)
        t->watcher = NULL;
    return t->state == CIO__DONE ? 0 : (rc ? rc : -EINTR);
}

/* Cancels t and waits for it to end, shielded from the caller's own
 * cancellation (as awaiting a task in asyncio propagates the cancel). */
void cio__cancel_and_wait(cio_task *t) {
    cio_cancel(t);
    cio_scope s;
    cio_shield_begin(&s, CIO_FOREVER);
    while (t->state != CIO__DONE)
        wait_done(t);
    cio_shield_end(&s);
}

static int check_handle(cio_task *t, const char *fn) {
    if (!t)
        return cio_seterr(-EINVAL, "%s: task is NULL", fn);
    int rc = cio__check_in_task(fn);
    if (rc < 0)
        return rc;
    if (t->state == CIO__FREE)
        return cio__misuse(-EINVAL, "%s: task handle was already released (joined twice?)", fn);
    if (t == cio__tls_loop->cur)
        return cio_seterr(-EDEADLK, "%s: a task cannot wait for itself", fn);
    if (cio__task_started(t) && t->body->loop != cio__tls_loop)
        return cio__misuse(-EXDEV, "%s: task belongs to another thread's loop", fn);
    return 0;
}

CIO__JUMP_RETURN(int, cio_join)(cio_task *t) {
    int rc = check_handle(t, "cio_join");
    if (rc < 0)
        return rc;
    rc = wait_done(t);
    if (rc == -EBUSY)
        return rc; /* another awaiter's: left alone */
    if (rc < 0) {
        cio__cancel_and_wait(t);
        cio__task_release(cio__tls_loop, t);
        return rc;
    }
    return cio__collect(t);
}

int cio_shield(cio_task *t) {
    int rc = check_handle(t, "cio_shield");
    if (rc < 0)
        return rc;
    rc = wait_done(t);
    if (rc < 0)
        return rc; /* t runs on; the caller still owns it */
    return cio__collect(t);
}

int cio_detach(cio_task *t) {
    if (!t)
        return cio_seterr(-EINVAL, "cio_detach: task is NULL");
    if (t->state == CIO__FREE)
        return cio__misuse(-EINVAL, "cio_detach: task handle was already released");
    if (t->watcher)
        return cio_seterr(-EBUSY, "cio_detach: task '%s' is being awaited", cio_task_name(t));
    if (t->state == CIO__DONE) {
        report_unretrieved(t);
        cio__task_release(cio__tls_loop, t);
        return 0;
    }
    t->flags |= CIO__DETACHED;
    return 0;
}

void cio_cancel(cio_task *t) {
    if (!t || t->state == CIO__DONE || t->state == CIO__FREE)
        return;
    t->flags |= CIO__CANCELLED;
    if (t->state == CIO__PARKED) {
        int code = cio__interrupt_code(t->body->loop, t);
        if (code)
            cio__unpark(t->body->loop, t, code);
    }
}

/* ---- sleeping and yielding ---- */

CIO__JUMP_RETURN(int, cio_sleep_until)(int64_t deadline) {
    int rc = cio__park_raw(deadline);
    return rc == CIO__DEADLINE ? 0 : rc;
}

CIO__JUMP_RETURN(int, cio_sleep)(int64_t ns) {
    if (ns <= 0)
        return cio_yield();
    cio_loop *L = cio__tls_loop;
    if (!L || !L->cur)
        return cio__check_in_task("cio_sleep");
    int64_t now = cio_now();
    return cio_sleep_until(ns > CIO_FOREVER - now ? CIO_FOREVER - 1 : now + ns);
}

/* ---- introspection ---- */

cio_task *cio_current(void) { return cio__task(); }

bool cio_task_done(const cio_task *t) { return t && t->state == CIO__DONE; }

bool cio_task_cancelled(const cio_task *t) {
    if (!t)
        t = cio__task();
    return t && (t->flags & CIO__CANCELLED);
}

uint64_t cio_task_id(const cio_task *t) {
    if (!t)
        t = cio__task();
    cio_loop *L = cio__tls_loop;
    if (!t || !L)
        return 0;
    cio__extra *x = cio__task_extra((cio_task *)t);
    if (!x)
        return 0;
    if (!x->id) /* assigned on first use: spawning touches only the handle */
        x->id = ++L->next_id;
    return x->id;
}

const char *cio_task_name(const cio_task *t) {
    if (!t)
        t = cio__task();
    if (!t)
        return "(loop)";
    const cio__extra *x = cio__task_extra_if(t);
    if (x && x->name)
        return x->name;
    char buf[32];
    snprintf(buf, sizeof buf, "task-%llu", (unsigned long long)cio_task_id(t));
    if (cio_task_set_name((cio_task *)t, buf) < 0)
        return "task";
    return t->extra->name;
}

int cio_task_set_name(cio_task *t, const char *name) {
    if (!t)
        t = cio__task();
    if (!t || !name)
        return cio_seterr(-EINVAL, "cio_task_set_name: no task or no name");
    cio__extra *x = cio__task_extra(t);
    char *n = x ? cio__strdup(name) : NULL;
    if (!n)
        return cio_seterr(-ENOMEM, "cio_task_set_name: out of memory");
    cio__free(x->name);
    x->name = n;
    return 0;
}

const char *cio_task_errmsg(const cio_task *t) {
    const char *m = t ? cio__task_msg(t) : NULL;
    return m ? m : "";
}

static const char *state_name(int s) {
    static const char *names[] = {"free", "new", "ready", "running", "parked", "done"};
    return names[s];
}

void cio_dump_tasks(void) {
    cio_loop *L = cio__tls_loop;
    if (!L)
        return;
    fprintf(stderr, "cio: %zu live tasks, %zu handles\n", L->alive, L->handles);
    for (cio__task_chunk *c = L->chunks; c; c = c->next)
        for (size_t i = 0; i < c->n; i++) {
            cio_task *t = &c->tasks[i];
            if (t->state != CIO__FREE)
                fprintf(stderr, "  task %llu '%s': %s%s\n", (unsigned long long)cio_task_id(t),
                        cio_task_name(t), state_name(t->state),
                        t->flags & CIO__CANCELLED ? " (cancelled)" : "");
        }
}

/* ---- loop shutdown ---- */

/* Both scans stop once they have seen every task they look for: after a
 * burst, the chunks hold a million free handles and a clean exit should
 * not walk them. */
void cio__loop_cancel_all(cio_loop *L) {
    size_t left = L->alive;
    for (cio__task_chunk *c = L->chunks; c && left; c = c->next)
        for (size_t i = 0; i < c->n && left; i++) {
            cio_task *t = &c->tasks[i];
            if (t->state != CIO__FREE && t->state != CIO__DONE) {
                cio_cancel(t);
                left--;
            }
        }
}

size_t cio__loop_reap(cio_loop *L) {
    size_t leaked = 0, left = L->handles - L->alive; /* ended, not released */
    for (cio__task_chunk *c = L->chunks; c && left; c = c->next)
        for (size_t i = 0; i < c->n && left; i++) {
            cio_task *t = &c->tasks[i];
            if (t->state != CIO__DONE)
                continue;
            left--;
            leaked++;
            report_unretrieved(t);
            if (L->debug)
                cio__report(2, "task '%s' (id %llu) was never joined or detached",
                            cio_task_name(t), (unsigned long long)cio_task_id(t));
            cio__task_release(L, t);
        }
    return leaked;
}
