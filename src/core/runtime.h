/* Private structures of the core: the loop, the task, stacks, timers.
 * Only src/core/ and src/poll/ include this file. */
#ifndef CIO_RUNTIME_H
#define CIO_RUNTIME_H

#include "core/arch/switch.h"
#include "core/internal.h"

#include <pthread.h>
#include <stdatomic.h>

#if defined(__SANITIZE_ADDRESS__) || defined(CIO_ASAN)
#define CIO__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) || defined(CIO_TSAN)
#define CIO__TSAN 1
#endif

/* ---- stacks (stack.c) ---- */

/* Lives in the top 64 bytes of the stack it describes, so stacks need no
 * separate allocation. */
typedef struct cio__stack {
    char *lo;                 /* lowest usable byte */
    size_t size;              /* usable bytes, lo .. this descriptor */
    struct cio__stack *next;  /* free list */
    struct cio__stack *all;   /* every guarded stack, for unmapping */
    const uint64_t *canary;   /* the word an overflow would clobber first */
    unsigned valgrind_id;
    bool guarded;
    uint16_t color;           /* bytes the body and frames start below the top */
    uint64_t top_canary;      /* the highest word of the stack's mapping */
} cio__stack;

typedef struct cio__stack_pool {
    size_t size;              /* mapping size of each stack */
    cio__stack **warm;        /* free stacks, pages still committed (LIFO) */
    size_t nwarm, cap;        /* in warm[], and its room */
    cio__stack *free;         /* more of them, when warm[] could not grow */
    size_t nfree;             /* all of them: nwarm + those in free */
    cio__stack *cold;         /* trimmed: pages given back to the kernel */
    size_t ncold;
    char *slab, *slab_end;    /* carving area for unguarded stacks */
} cio__stack_pool;

#define CIO__STACK_POOLS 4
#define CIO__CANARY 0x63696f5f63616e61ULL

cio__stack *cio__stack_get(cio_loop *L, size_t size);
void cio__stack_put(cio_loop *L, cio__stack *s);
void cio__stacks_free_all(cio_loop *L);
size_t cio__stacks_trim(cio_loop *L, size_t budget);
/* A slab stack's overflow runs into the top of the stack below it, whose
 * top_canary is checked here; a guarded stack checks its own (constant)
 * canary and relies on its guard page. Only pages already touched are
 * read, so the check costs no memory. */
static inline bool cio__stack_intact(const cio__stack *s) {
    return *s->canary == CIO__CANARY;
}
void cio__stack_overflow(cio_task *t) __attribute__((noreturn));
void cio__guard_handler_install(cio_loop *L);
void cio__guard_handler_remove(cio_loop *L);

/* ---- tasks ---- */

enum cio__task_state {
    CIO__FREE = 0,
    CIO__NEW,     /* spawned, never ran; has no stack yet */
    CIO__READY,   /* in the run queue */
    CIO__RUNNING,
    CIO__PARKED,
    CIO__DONE
};

enum cio__task_flags {
    CIO__CANCELLED = 1,
    CIO__DETACHED = 2,
    CIO__HAS_EXTRA = 4,       /* the handle points at its cio__extra */
    CIO__HAS_CTX = 8,         /* without an extra: its word holds context variables */
};

/* cio__watcher (a task's collector) is declared in internal.h. */

/* What a task needs only while it runs or waits. It lives at the top of the
 * task's stack, under the stack descriptor, so it costs no memory of its
 * own, and a short task that reuses a warm stack touches no new line. */
typedef struct cio__body {
    cio__ctx ctx;
    cio_fn fn;                /* the task's function and argument, when it */
    void *arg;                /* starts by a switch (take_new_here passes them) */
    cio_task *task;           /* set when a timer is armed (the heap holds bodies) */
    cio_loop *loop;
    cio__stack *stack;
    const uint64_t *canary;   /* the stack's overflow canary (see stack.c) */
    cio_scope *scope;         /* innermost cancel scope */
    cio__waiter *waiter;      /* set while parked in a waitq */
    int64_t own_deadline;     /* the deadline the park call itself asked for */
    int64_t deadline;         /* timer deadline while armed */
    uint64_t seq;             /* timer tie-break: FIFO among equal deadlines */
    int wake;                 /* value handed over by cio__wake */
    uint32_t heap_idx;        /* timer: position + 1 in the heap, 0 = unarmed */
#ifdef CIO__TSAN
    void *fiber;
#endif
} cio__body;

/* Rarely needed per-task data, allocated on first use. */
typedef struct cio__extra {
    uint64_t id;              /* assigned on first use, unique per loop */
    char *name;
    char *errmsg;
    void *ctxvars;            /* context variables (sync/ctxvar.c), or NULL */
    void *arg;                /* the task's argument until its first run */
} cio__extra;

/* The task handle: 40 bytes, all that spawning, running a task that never
 * suspends and collecting it touch. A million tasks waiting to run cost
 * 40 MB, and a spawn storm's cost is mostly the kernel clearing those
 * fresh pages, so every byte here counts: what a task needs only while it
 * runs lives in its body, what few tasks need lives in extra. */
struct cio_task {
    cio_task *next;           /* run queue / free list */
    cio__watcher *watcher;
    union {
        cio_fn fn;            /* until the first run (state CIO__NEW) */
        cio__body *body;      /* from the first run to the end, then NULL */
    };
    /* With flag CIO__HAS_EXTRA, the task's rarer data, which holds its
     * context variables and, until the first run, its argument. Without
     * it: the argument until the first run (a new task has no context
     * variables of its own: a spawn that inherits some makes an extra),
     * then, once flag CIO__HAS_CTX says so, the context variables
     * (sync/ctxvar.c; the first one set takes the word). So a plain spawn
     * and a plain task pay nothing for either, not even a store. */
    union {
        void *arg;
        void *ctx;
        cio__extra *extra;
    };
    int result;               /* before the end: the watcher's index */
    uint8_t state;
    uint8_t flags;
    uint16_t stack_pages;     /* requested stack size in pages; 0 = default */
};

_Static_assert(sizeof(struct cio_task) == 40, "a task handle is 40 bytes");

/* True once t has a body: it has started and not yet ended. */
static inline bool cio__task_started(const cio_task *t) {
    return t->state != CIO__NEW && t->state != CIO__DONE && t->state != CIO__FREE;
}

/* ---- timers (timer.c): a 4-ary heap of (deadline, task) ---- */

typedef struct cio__heap_entry {
    int64_t deadline;
    cio__body *body;
} cio__heap_entry;

typedef struct cio__heap {
    cio__heap_entry *a;       /* a[0] is the root */
    void *mem;                /* allocation behind a (aligned for cache lines) */
    size_t n, cap;
    uint64_t seq;
} cio__heap;

int cio__timer_arm(cio_loop *L, cio__body *b, int64_t deadline);
void cio__timer_cancel(cio_loop *L, cio__body *b);
static inline cio__body *cio__timer_min(const cio__heap *h) { return h->n ? h->a[0].body : NULL; }
cio__body *cio__timer_pop(cio_loop *L);
void cio__heap_free(cio__heap *h);

/* ---- the poller backend (src/poll/) ---- */

int cio__poll_init(cio_loop *L);
void cio__poll_close(cio_loop *L);
/* tag: a cio__fd*, a cio__watch* | 1, or CIO__TAG_WAKE. */
int cio__poll_add(cio_loop *L, int fd, uint32_t events, uintptr_t tag);
int cio__poll_mod(cio_loop *L, int fd, uint32_t events, uintptr_t tag);
int cio__poll_del(cio_loop *L, int fd);
/* Waits up to timeout_ns (-1 = forever) and dispatches events through
 * cio__poll_dispatch. Returns the number of events or a negative errno. */
int cio__poll_wait(cio_loop *L, int64_t timeout_ns);
void cio__poll_dispatch(cio_loop *L, uintptr_t tag, uint32_t events);
#define CIO__TAG_WAKE ((uintptr_t)2)

/* ---- the loop ---- */

typedef struct cio__post {
    struct cio__post *next;
    void (*fn)(void *);
    void *arg;
} cio__post;

typedef struct cio__hook {
    struct cio__hook *next;
    void (*fn)(void *);
    void *arg;
} cio__hook;

typedef struct cio__task_chunk {
    struct cio__task_chunk *next;
    size_t n;
    size_t mapped; /* bytes of its own mapping, 0 when malloc'd */
    char pad_[64 - 3 * sizeof(size_t)]; /* tasks[] on a cache line in mapped chunks */
    cio_task tasks[];
} cio__task_chunk;

struct cio_loop {
    cio__ctx ctx;             /* the loop's own context (the thread's stack) */
    cio_task *cur;            /* running task, NULL in loop context */
    cio_task *rq_head, *rq_tail;
    long budget;              /* task runs left before the next poll */
    int64_t now;              /* read it through cio__loop_now */
    bool now_stale;           /* the clock has not been read since the last poll */
    bool virtual_clock;
    bool debug;
    bool closing;
    int64_t slow_task_ns;
    int64_t run_start;        /* debug: when the current task was switched in */
    cio__heap timers;
    int epfd;
    int wake_fd;
    atomic_int wake_pending;
    pthread_mutex_t post_lock;
    cio__post *posted;
    atomic_int holds;
    size_t alive;             /* spawned and not finished (gathers count late: cio__gather_end) */
    size_t handles;           /* tasks not yet released */
    uint64_t next_id;
    cio_task *free_tasks;
    cio__task_chunk *chunks;
    size_t n_chunks;
    cio_task *bump, *bump_end; /* never-used handles of the newest chunk */
    cio__stack_pool pools[CIO__STACK_POOLS];
    int64_t stack_last_get;   /* when a stack last left the pools */
    cio__stack *guarded_all;
    size_t guarded_count, guard_budget;
    struct cio__slab { struct cio__slab *next; char *base; size_t len; } *slabs;
    cio__stack *dying_stack;  /* released by the next context after a switch */
    bool trim_due;            /* some pool holds more than its warm stacks */
    size_t default_stack;
    size_t page;
    cio_task *main;
    void *slots[CIO__NSLOTS];
    cio__hook *on_close;
    void *altstack;
#ifdef CIO__ASAN
    const void *main_stack_lo;
    size_t main_stack_size;
#endif
#ifdef CIO__TSAN
    void *fiber;
    void *dead_fiber;
#endif
};

extern __thread cio_loop *cio__tls_loop __attribute__((tls_model("initial-exec")));

/* sched.c */
void cio__run_ready(cio_loop *L);          /* from loop context */
/* Appends t to the run queue (FIFO). */
static inline __attribute__((always_inline)) void cio__rq_push(cio_loop *L, cio_task *t) {
    t->next = NULL;
    if (L->rq_tail)
        L->rq_tail->next = t;
    else
        L->rq_head = t;
    L->rq_tail = t;
}
/* Queues a task that has run before (a new one is queued by spawn, with
 * cio__rq_push, and stays CIO__NEW until it first runs). */
static inline __attribute__((always_inline)) void cio__make_ready(cio_loop *L, cio_task *t) {
    cio__rq_push(L, t);
    t->state = CIO__READY;
}
void cio__suspend(cio_loop *L, cio_task *cur); /* cur's state already set */
int cio__interrupt_code(cio_loop *L, cio_task *t);
int64_t cio__scope_deadline(const cio_task *t);
void cio__unpark(cio_loop *L, cio_task *t, int code);
/* Sets the timer of t, parked inside a scope, after a deadline of its
 * scopes moved: the nearer of its park's own deadline and its scopes'. */
void cio__park_retime(cio_loop *L, cio_task *t);
/* What cio__park_raw returns when the park's own deadline passed (as
 * opposed to an enclosing scope's): no wake value can be INT_MIN. */
#define CIO__DEADLINE INT32_MIN
int cio__park_raw(int64_t deadline);
/* Queues the running task right behind after, which is queued (new or
 * ready), and lets the tasks ahead of it run: it runs again once after
 * has had its turn. Returns 0, or at once what interrupts it. */
int cio__yield_behind(cio_task *after);
/* A gather claims its children this many at a time (wait.c). */
#define CIO__GATHER_WINDOW 2048

/* task.c */
/* The rare parts of ending and releasing a task, out of line (drop_ctx
 * for a task with an extra or context variables only). */
void cio__task_drop_ctx(cio_task *t);
void cio__task_ended_detached(cio_loop *L, cio_task *t);
void cio__task_free_extra(cio_task *t);

/* The bookkeeping of t's end: its result kept, its body gone, one task
 * fewer alive. */
static inline void cio__task_end(cio_loop *L, cio_task *t, int result) {
    t->result = result;
    t->state = CIO__DONE;
    t->body = NULL;
    L->alive--;
}

typedef struct cio__task_list {
    cio_task *head, *tail;
} cio__task_list;

/* Marks the handle of t, ended, free, its rare data freed. */
static inline void cio__task_mark_free(cio_task *t) {
    /* Its context variables went when it ended (cio__task_drop_ctx); an
     * extra goes now. */
    if (cio__unlikely(t->flags & CIO__HAS_EXTRA))
        cio__task_free_extra(t);
    t->state = CIO__FREE;
}

/* Releases t, which a gather has collected, onto the gather's list: the
 * handle stays out of reuse (a stray second collector sees it released,
 * not some new task) until cio__task_recycle hands the list back and
 * counts the handles off. Its watcher stays set until a spawn reuses it,
 * so the gather tells the handles it released by their state. One store
 * less per task, for the gather of a spawn storm is bound by stores. */
static inline void cio__task_release_to(cio_task *t, cio__task_list *list) {
    cio__task_mark_free(t);
    t->next = list->head;
    list->head = t;
    if (!list->tail)
        list->tail = t;
}

/* The part of a gather (wait.c) that its plain children end into, inline
 * in the loop that runs them. */
typedef struct cio__gather_core {
    cio__watcher base;
    size_t pending;           /* unfinished claimed children, +1 while claiming */
    int *status;
    cio__task_list released;
} cio__gather_core;

/* A gather's watcher (wait.c): done for a child after that bookkeeping;
 * ended for a plain child that cio__gather_end cannot release at once. */
CIO__HIDDEN void cio__gather_done(cio__watcher *w, cio_task *t, int index);
CIO__HIDDEN void cio__gather_ended(cio__watcher *w, cio_task *t, int index, int result);

/* A plain child of gather w ended with result, and has had none of the
 * bookkeeping of an end: if it ended well, the gather stores its status
 * and releases it at once, onto the gather's own list, so the handle goes
 * from running to released without being marked done; the gather counts
 * it off the live tasks when it returns. A spawn storm's gather is bound
 * by stores, and these were four per child. */
static inline void cio__gather_end(cio__watcher *w, cio_task *t, int index, int result) {
    cio__gather_core *g = (cio__gather_core *)w;
    if (cio__unlikely(result < 0 || g->pending == 1 || !g->status)) {
        cio__gather_ended(w, t, index, result);
        return;
    }
    g->status[index] = result;
    cio__task_release_to(t, &g->released);
    g->pending--;
}

/* t has ended with result: its awaiter, if any, hears of it at once (and
 * may release t); a detached task is released, its failure reported. */
static inline void cio__task_complete(cio_loop *L, cio_task *t, int result) {
    int index = t->result; /* the watcher's, until now */
    cio__watcher *w = t->watcher;
    /* A plain child of a gather (no context variables, no extra) skips
     * the bookkeeping when the gather releases it at once. */
    if (w && w->done == cio__gather_done && !(t->flags & (CIO__HAS_EXTRA | CIO__HAS_CTX))) {
        cio__gather_end(w, t, index, result);
        return;
    }
    cio__task_end(L, t, result);
    if (cio__unlikely(t->flags & (CIO__HAS_EXTRA | CIO__HAS_CTX))) /* some may be set */
        cio__task_drop_ctx(t);
    /* The watcher stays set: the task is still claimed by its awaiter until
     * that awaiter collects it or lets it go, so a second awaiter cannot
     * collect it in between (-EBUSY). */
    if (w)
        w->done(w, t, index);
    else if (t->flags & CIO__DETACHED)
        cio__task_ended_detached(L, t);
}

/* Marks t's handle free and unclaimed, and counts it off the loop. */
static inline void cio__task_retire(cio_loop *L, cio_task *t) {
    cio__task_mark_free(t);
    t->watcher = NULL;
    L->handles--;
}

void cio__task_release(cio_loop *L, cio_task *t);

/* Hands list (of n handles) back for reuse. */
void cio__task_recycle(cio_loop *L, cio__task_list *list, size_t n);
void cio__task_chunk_free(cio__task_chunk *c);
/* Returns t's result, hands its message to the caller, releases t. */
int cio__collect(cio_task *t);

/* loop.c */
int64_t cio__clock(void);
/* The loop's time: the clock is read at most once per iteration, and only
 * when something asks (a timer is pending, a scope has a deadline, a stack
 * leaves its pool), so a poll that wakes one I/O task costs no clock read. */
static inline int64_t cio__loop_now(cio_loop *L) {
    if (cio__unlikely(L->now_stale)) {
        L->now = cio__clock();
        L->now_stale = false;
    }
    return L->now;
}

/* task.c: at loop close, cancel every live task; then free the finished
 * ones nobody collected (reporting their errors) and return their count. */
void cio__loop_cancel_all(cio_loop *L);
size_t cio__loop_reap(cio_loop *L);

/* stack.c */
size_t cio__stack_guard_budget(void);
/* Test hooks (stack.c): the separately-guarded budget of the next loops
 * (-1 = derived again), and whether slab stacks get guard pages (0 = as if
 * the kernel could not, -1 = probe again). */
CIO_API void cio__stack_guard_budget_override(long n);
CIO_API void cio__stack_slab_guards(int known);
CIO_API bool cio__stack_slab_guards_work(void);

/* error.c */
void cio__errmsg_propagate(const cio_task *from);
int cio__misuse(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* t's rarer data, made on first use (NULL: out of memory). */
cio__extra *cio__task_extra(cio_task *t);
/* t's rarer data if it has any, else NULL. */
static inline cio__extra *cio__task_extra_if(const cio_task *t) {
    return (t->flags & CIO__HAS_EXTRA) ? t->extra : NULL;
}
static inline const char *cio__task_msg(const cio_task *t) {
    const cio__extra *x = cio__task_extra_if(t);
    return x && x->errmsg ? x->errmsg : NULL;
}

#endif
