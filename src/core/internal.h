/* The interface the core offers to the rest of libcio (sync, thread, fs,
 * net, http, log). Everything here is cio__-prefixed and hidden from users. */
#ifndef CIO_INTERNAL_H
#define CIO_INTERNAL_H

#include "cio/core.h"
#include "core/arch/jump_return.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIO__HIDDEN __attribute__((visibility("hidden")))
#define cio__likely(x) __builtin_expect(!!(x), 1)
#define cio__unlikely(x) __builtin_expect(!!(x), 0)

/* ---- allocation: every allocation in libcio goes through these --------- */
/* They honour cio_set_allocator, count live blocks (for the tests' leak
 * check) and can be told to fail (fault injection in tests). */
void *cio__malloc(size_t n);
void *cio__calloc(size_t n, size_t size);
void *cio__realloc(void *p, size_t n);
void cio__free(void *p);
char *cio__strdup(const char *s);
/* Live allocation count (malloc'd minus freed). */
long cio__alloc_live(void);

/* ---- errors ------------------------------------------------------------- */
/* Same as cio_seterr; vprintf form. */
int cio__vseterr(int code, const char *fmt, va_list ap);
/* Sets the message to "<what>: <strerror(code)>" and returns code. */
int cio__seterr_code(int code, const char *what);
/* Sets "<fmt...>: <the current message>" (naming where an error from a
 * deeper call surfaced), and returns code. */
int cio__seterr_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- reporting: cio's own warnings go through one hook ------------------ */
/* level: 0 debug, 1 info, 2 warning, 3 error. The default writes stderr;
 * the logger (src/log) installs itself here. */
void cio__report(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
typedef void (*cio__report_fn)(int level, const char *msg);
void cio__set_report_hook(cio__report_fn fn);

/* ---- the current loop and task ------------------------------------------ */
cio_loop *cio__loop(void);       /* this thread's loop or NULL */
cio_task *cio__task(void);       /* running task or NULL */
/* 0 if the caller may suspend, else -EPERM with a message naming fn. */
int cio__check_in_task(const char *fn);

/* ---- parking: the one way a task waits ---------------------------------- */
/* A waiter lives on the waiting task's stack while it is parked. A primitive
 * keeps waiters in a cio__waitq (FIFO). When the task is interrupted
 * (cancelled, timed out) the core unlinks the waiter from its queue before
 * the task resumes, so a primitive never wakes a task that has given up. */
typedef struct cio__waiter cio__waiter;
typedef struct cio__waitq {
    cio__waiter *head, *tail;
} cio__waitq;
struct cio__waiter {
    cio__waiter *next, *prev;
    cio__waitq *q;       /* queue it is linked in, or NULL */
    cio_task *task;
    uintptr_t data;      /* free for the primitive (item, count, flags) */
    void *ptr;           /* free for the primitive */
};
#define CIO__WAITQ_INIT {NULL, NULL}

/* An intrusive doubly linked list threaded through `next` and `prev`
 * fields (the servers' connection lists): push at the head, unlink
 * anywhere. */
#define CIO__DLIST_PUSH(head, node)      \
    do {                                 \
        (node)->prev = NULL;             \
        (node)->next = (head);           \
        if ((node)->next)                \
            (node)->next->prev = (node); \
        (head) = (node);                 \
    } while (0)
#define CIO__DLIST_UNLINK(head, node)              \
    do {                                           \
        if ((node)->prev)                          \
            (node)->prev->next = (node)->next;     \
        else                                       \
            (head) = (node)->next;                 \
        if ((node)->next)                          \
            (node)->next->prev = (node)->prev;     \
    } while (0)

/* Appends w to q and parks the current task until a cio__waitq_wake* or
 * cio__wake_waiter picks it, returning the result given there. Returns
 * -ECANCELED / -ETIMEDOUT at once (without queueing) if the task is already
 * interrupted, or when interrupted while parked (w is then unlinked). */
int cio__waitq_wait(cio__waitq *q, cio__waiter *w);
/* cio__waitq_wait with a waiter of its own, for a primitive that keeps
 * nothing in it: a tail call from the primitive's public function (it
 * returns by a jump, core/arch/jump_return.h); -EPERM outside a task, with
 * `who` named in the message. */
CIO__HIDDEN int cio__waitq_park(cio__waitq *q, const char *who);
/* Same, with an absolute deadline (CIO_FOREVER = none): returns -ETIMEDOUT
 * when it passes (w unlinked). */
int cio__waitq_wait_until(cio__waitq *q, cio__waiter *w, int64_t deadline);
/* Unlinks the first waiter, makes its task ready with result; returns the
 * waiter (valid until that task runs) or NULL if q was empty. */
cio__waiter *cio__waitq_wake_one(cio__waitq *q, int result);
/* Wakes every waiter with result; returns how many. */
size_t cio__waitq_wake_all(cio__waitq *q, int result);
/* Unlinks w from its queue and makes its task ready with result. */
void cio__wake_waiter(cio__waiter *w, int result);
static inline bool cio__waitq_empty(const cio__waitq *q) { return q->head == NULL; }
static inline cio__waiter *cio__waitq_first(const cio__waitq *q) { return q->head; }
void cio__waitq_remove(cio__waitq *q, cio__waiter *w);

/* Lower level: parks the current task with no queue; some other code keeps
 * the cio_task pointer and calls cio__wake(t, result). If interrupted,
 * returns -ECANCELED/-ETIMEDOUT and the keeper must not wake it (check
 * cio__task_parked(t) or clear its pointer via on_interrupt). When the
 * park's own deadline passes it returns -ETIMEDOUT. Wake results (here and
 * in the wait queues) may be any int except INT_MIN. */
int cio__park(int64_t deadline);
void cio__wake(cio_task *t, int result);
/* cio__wake(t, 0) for a task parked by cio__park (never in a wait queue):
 * touches only the task handle, not the task's stack, so a waker of
 * thousands of tasks at once (the thread pool) saves a cache miss each. */
void cio__wake_parked(cio_task *t);
bool cio__task_parked(const cio_task *t);
/* 0 if the current task may go on waiting, or the code it must return now
 * (-ECANCELED, -ETIMEDOUT). Cheap; call it before starting work that
 * would be wasted. */
int cio__interrupted(void);

/* ---- file descriptors (the poller) -------------------------------------- */
/* An fd registered with the loop's poller, edge-triggered for both
 * directions: try the syscall, and on EAGAIN call cio__fd_wait. */
typedef struct cio__fd {
    int fd;
    uint8_t ready;          /* CIO__READ/CIO__WRITE bits seen since last wait */
    uint8_t registered;
    cio_task *reader;       /* task waiting to read, or NULL */
    cio_task *writer;       /* task waiting to write, or NULL */
    cio_loop *loop;
} cio__fd;
/* ready bits; CIO__HUP (sticky) says the peer hung up or the fd has an
 * error pending (EPOLLRDHUP/HUP/ERR), so a reader can skip one recv. */
enum { CIO__READ = 1, CIO__WRITE = 2, CIO__HUP = 4 };
/* Registers fd (must be non-blocking) with the current loop. */
int cio__fd_open(cio__fd *f, int fd);
/* Parks until fd is readable (CIO__READ) or writable (CIO__WRITE), error
 * or hang-up (reported as ready). One reader and one writer at a time
 * (-EBUSY otherwise). Returns 0, -ECANCELED, -ETIMEDOUT. Suspends. */
int cio__fd_wait(cio__fd *f, int dir);
int cio__fd_wait_until(cio__fd *f, int dir, int64_t deadline);
/* Deregisters (does not close fd); wakes any waiter with -EBADF. */
void cio__fd_close(cio__fd *f);

/* A callback-style watch on an fd, for subsystems that own an fd on the
 * loop (an io_uring ring's eventfd, a signal fd): cb runs on the loop
 * thread, outside any task, with the epoll event bits. `events` goes to
 * epoll as given: level-triggered unless it includes EPOLLET. */
typedef struct cio__watch cio__watch;
struct cio__watch {
    int fd;
    uint32_t events;                              /* EPOLLIN | EPOLLOUT ... */
    void (*cb)(cio__watch *w, uint32_t revents);
    cio_loop *loop;
};
int cio__watch_start(cio__watch *w, int fd, uint32_t events,
                     void (*cb)(cio__watch *w, uint32_t revents));
void cio__watch_stop(cio__watch *w);

/* Per-loop storage for subsystems (one pointer each) and a hook run when
 * the loop closes, after every task has ended (LIFO). */
enum { CIO__SLOT_URING, CIO__SLOT_FS, CIO__SLOT_NET, CIO__SLOT_HTTP, CIO__SLOT_LOG,
       CIO__SLOT_USER, CIO__NSLOTS };
void **cio__loop_slot(cio_loop *loop, int slot);
int cio__loop_on_close(cio_loop *loop, void (*fn)(void *arg), void *arg);
/* Runs fn(arg) on the loop's own thread at the next iteration (outside any
 * task); from the loop's thread itself too. Same as cio_call_threadsafe. */
int cio__loop_post(cio_loop *loop, void (*fn)(void *), void *arg);
/* Observes a task's completion; at most one per task (the collector).
 * index is what core's own watchers (gather, group) stored in the task
 * when they claimed it: the task's position in their arrays. */
typedef struct cio__watcher cio__watcher;
struct cio__watcher {
    void (*done)(cio__watcher *w, cio_task *t, int index);
};
/* For modules outside core: makes w the collector of a task just spawned
 * (instead of detaching it). w->done runs when t ends, even if it never
 * ran (no memory for its stack), and must release t with cio__task_free;
 * cio__task_result and cio__task_reason (its message, else its code's
 * text) say how it ended. */
void cio__task_watch(cio_task *t, cio__watcher *w);
int cio__task_result(const cio_task *t);
const char *cio__task_reason(const cio_task *t);
void cio__task_free(cio_task *t);
/* Parks until woken, or until task t ends (even before it ever ran). */
int cio__park_watching(cio_task *t);
/* Empties the current task's (or thread's) error message. */
void cio__errmsg_clear(void);
/* True once the loop is being freed (on its own thread: its last posts). */
bool cio__loop_closing(const cio_loop *loop);
/* Make a task ready from loop context (callback, timer): same as cio__wake. */

/* ---- cross-thread --------------------------------------------------------- */
/* The loop's clock won't jump (virtual clock) while holds > 0: use it while
 * work is out on another thread that will wake a task. */
void cio__loop_hold(cio_loop *loop, int delta);
/* Hooks run by cio_run after every task is gone, before the loop is freed
 * (LIFO; used by the thread pool to shut down, the logger to flush). A
 * process-wide registration, idempotent per fn. */
void cio__at_run_exit(void (*fn)(void));

/* ---- context variables: per-task slot owned by src/sync/ctxvar.c --------- */
/* The task's context (NULL: none yet), and where it is kept. */
void *cio__task_ctx(const cio_task *t);
void **cio__task_ctx_slot(cio_task *t);
/* Called by spawn (parent's slot -> child's slot) and at task exit. */
extern void (*cio__ctx_inherit_hook)(void **child, void *parent_value);
extern void (*cio__ctx_release_hook)(void *value);

#endif
