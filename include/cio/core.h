/* cio core: the loop, tasks, cancellation, timeouts, gather and groups.
 *
 * Conventions (see docs/errors.md): fallible calls return 0 or a count on
 * success and a negative errno on failure; cio_errmsg() holds the sentence.
 * "Suspends" marks a suspension point: it may switch to other tasks, it
 * returns -EPERM outside a task, -ECANCELED once the task is cancelled and
 * -ETIMEDOUT once an enclosing timeout scope has expired. */
#ifndef CIO_CORE_H
#define CIO_CORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CIO_API __attribute__((visibility("default")))
#else
#define CIO_API
#endif

/* A task body. Its return value is the task's result (negative = error). */
typedef int (*cio_fn)(void *arg);

typedef struct cio_task cio_task;
typedef struct cio_loop cio_loop;

/* Time is int64_t nanoseconds on the loop's monotonic clock. */
#define CIO_NS ((int64_t)1)
#define CIO_US ((int64_t)1000)
#define CIO_MS ((int64_t)1000000)
#define CIO_SEC ((int64_t)1000000000)
#define CIO_FOREVER INT64_MAX

/* cio-specific error codes, all below -4096 so they never clash with errno. */
enum {
    CIO_EEND = -4097,    /* an iterator or generator is exhausted */
    CIO_ECLOSED = -4098, /* the queue/object was shut down or closed */
    CIO_EBROKEN = -4099, /* a barrier was broken or aborted */
    CIO_EHTTP = -4100,   /* HTTP protocol error */
    CIO_ETLS = -4101,    /* TLS handshake or verification failure */
    CIO_EDNS = -4102,    /* name resolution failure */
    CIO_EPARSE = -4103,  /* malformed input */
    CIO_ELIMIT = -4104,  /* a configured limit was exceeded */
    CIO_EPARTIAL = -4105 /* stream ended before the requested amount */
};

/* Names any code returned by cio (negative errno or CIO_E*). Never NULL. */
CIO_API const char *cio_strerror(int code);
/* The current task's (or thread's) last error message; "" when none. */
CIO_API const char *cio_errmsg(void);
/* Sets the current task's error message (printf-style) and returns code,
 * so that `return cio_seterr(-EINVAL, "bad port %d", p);` reads naturally. */
CIO_API int cio_seterr(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Library version as "major.minor.patch". */
CIO_API const char *cio_version(void);

/* ---- running a loop ---------------------------------------------------- */

typedef struct cio_run_opts {
    bool virtual_clock;     /* time jumps to the next deadline when all wait */
    bool debug;             /* debug mode (also CIO_DEBUG=1) */
    bool no_sigint;         /* do not turn SIGINT into cancellation of main */
    size_t stack_size;      /* default task stack size; 0 = CIO_STACK_DEFAULT */
    int64_t slow_task_ns;   /* debug: warn when a task runs longer; 0 = 100ms */
} cio_run_opts;

#define CIO_STACK_DEFAULT ((size_t)128 * 1024)

/* asyncio.run: creates a loop on this thread, runs main(arg) as a task,
 * then cancels and waits for every leftover task, shuts the thread pool
 * down, and returns main's result. SIGINT cancels main (twice: exits). */
CIO_API int cio_run(cio_fn main, void *arg);
/* cio_run with options (opts may be NULL). */
CIO_API int cio_run_with(cio_fn main, void *arg, const cio_run_opts *opts);
/* The loop running on this thread, or NULL. */
CIO_API cio_loop *cio_loop_current(void);
/* Now, in ns, on the current loop's clock (CLOCK_MONOTONIC outside a loop). */
CIO_API int64_t cio_now(void);

/* ---- tasks ------------------------------------------------------------- */

typedef struct cio_spawn_opts {
    const char *name;  /* copied; NULL = "task-<id>" */
    size_t stack_size; /* 0 = the loop's default; rounded up to pages */
} cio_spawn_opts;

/* asyncio.create_task: schedules fn(arg) as a new task. The handle must be
 * released by cio_join (or gather/wait_for/shield) or cio_detach.
 * Returns NULL with errno = EPERM outside a loop, ENOMEM when out of memory. */
CIO_API cio_task *cio_spawn(cio_fn fn, void *arg);
/* cio_spawn with a name and stack size (opts may be NULL). */
CIO_API cio_task *cio_spawn_with(cio_fn fn, void *arg, const cio_spawn_opts *opts);
/* await task. Suspends until t finishes; returns its result (-ECANCELED if
 * it was cancelled) and releases the handle. As awaiting a task in asyncio,
 * if the caller is cancelled (or its timeout scope expires) while waiting,
 * t is cancelled too, waited for, and released, and the caller gets
 * -ECANCELED (-ETIMEDOUT). A finished t is collected without suspending.
 * Errors: -EINVAL (NULL or released handle), -EBUSY (already awaited),
 * -EDEADLK (t is the caller), -EPERM (outside a task). */
CIO_API int cio_join(cio_task *t);
/* Releases the handle without waiting. If t fails and nobody collected it,
 * its error is logged with its name. Returns 0 or -EINVAL. */
CIO_API int cio_detach(cio_task *t);
/* task.cancel(): level-triggered; every suspension point t reaches returns
 * -ECANCELED until t returns. A task cancelled before it first runs never
 * runs. No effect on a finished task or NULL. Does not suspend. */
CIO_API void cio_cancel(cio_task *t);
/* asyncio.shield: waits for t like cio_join, but cancelling the caller does
 * not cancel t: the caller gets -ECANCELED and t runs on, still owned by
 * the caller (join or detach it later). Suspends. */
CIO_API int cio_shield(cio_task *t);
/* True once t has finished (its result is ready to collect). */
CIO_API bool cio_task_done(const cio_task *t);
/* True if cio_cancel was called on t (or on the current task, for NULL). */
CIO_API bool cio_task_cancelled(const cio_task *t);
/* The running task, or NULL outside tasks. */
CIO_API cio_task *cio_current(void);
/* Name and id of t (NULL = current task). Names are never NULL; the
 * default name is "task-<id>". Ids are unique per loop, given on first use. */
CIO_API const char *cio_task_name(const cio_task *t);
CIO_API uint64_t cio_task_id(const cio_task *t);
/* The error message t finished with (valid until t is released). */
CIO_API const char *cio_task_errmsg(const cio_task *t);
/* Renames t (NULL = current). Returns 0, -EINVAL or -ENOMEM. */
CIO_API int cio_task_set_name(cio_task *t, const char *name);

/* asyncio.sleep: suspends for ns nanoseconds (<= 0: like cio_yield). */
CIO_API int cio_sleep(int64_t ns);
/* Suspends until the loop clock reaches deadline. */
CIO_API int cio_sleep_until(int64_t deadline);
/* sleep(0): lets every other ready task run once. Suspends. */
CIO_API int cio_yield(void);

/* gather(*ts, return_exceptions=True): waits for all n tasks, stores each
 * result in status[i] (status may be NULL), releases them all (one that
 * succeeds as soon as it ends), and returns 0 or the first failure in
 * input order. Cancelling the caller cancels the
 * children, waits for them, and returns -ECANCELED. Suspends. */
CIO_API int cio_gather(cio_task **ts, size_t n, int *status);

/* asyncio.wait(FIRST_COMPLETED): suspends until at least one of ts has
 * finished; returns the index of the first to finish. Releases nothing. */
CIO_API int cio_wait_any(cio_task **ts, size_t n);

/* wait_for: joins t with a deadline of ns; on timeout cancels t, waits
 * for it to end, releases it and returns -ETIMEDOUT. Suspends. */
CIO_API int cio_wait_for(cio_task *t, int64_t ns);

/* as_completed: yields tasks in the order they finish.
 *   cio_as_completed *it = cio_as_completed_new(ts, n);
 *   cio_task *t;
 *   while (cio_as_completed_next(it, &t) == 0) { int r = cio_join(t); ... }
 *   cio_as_completed_free(it);
 * The caller still owns every task (join the yielded ones); free releases
 * the iterator only, detaching from tasks not yet yielded. */
typedef struct cio_as_completed cio_as_completed;
CIO_API cio_as_completed *cio_as_completed_new(cio_task **ts, size_t n);
/* Suspends until the next task finishes; 0 and *out, or CIO_EEND when all
 * were yielded, or -ECANCELED/-ETIMEDOUT. */
CIO_API int cio_as_completed_next(cio_as_completed *it, cio_task **out);
CIO_API void cio_as_completed_free(cio_as_completed *it);

/* ---- task groups (TaskGroup) ------------------------------------------- */

typedef struct cio_group cio_group;
/* Creates an empty group. NULL + errno ENOMEM. */
CIO_API cio_group *cio_group_new(void);
/* Spawns into g. NULL (errno ECANCELED) once the group has failed. */
CIO_API cio_task *cio_group_spawn(cio_group *g, cio_fn fn, void *arg);
CIO_API cio_task *cio_group_spawn_with(cio_group *g, cio_fn fn, void *arg,
                                       const cio_spawn_opts *opts);
/* Waits for every child. The first child failure (other than -ECANCELED)
 * cancels the siblings; returns 0 or that first error (its message becomes
 * the caller's). If the caller is cancelled, cancels the children, waits
 * for them and returns -ECANCELED. Suspends. */
CIO_API int cio_group_wait(cio_group *g);
/* Cancels every child still running. */
CIO_API void cio_group_cancel(cio_group *g);
/* Number of children spawned so far; result and message of child i
 * (valid after cio_group_wait). */
CIO_API size_t cio_group_size(const cio_group *g);
CIO_API int cio_group_status(const cio_group *g, size_t i);
CIO_API const char *cio_group_errmsg(const cio_group *g, size_t i);
/* Frees the group; running children are cancelled and detached. */
CIO_API void cio_group_free(cio_group *g);

/* ---- cancel scopes: timeouts and shields ------------------------------- */

/* A scope lives on the task's stack between begin and end (nest freely,
 * end in reverse order). Fields are private. */
typedef struct cio_scope {
    struct cio_scope *parent;
    cio_task *task;
    int64_t deadline;
    uint32_t flags;
    uint32_t magic;
} cio_scope;
typedef cio_scope cio_timeout;

/* asyncio.timeout(ns): suspension points inside return -ETIMEDOUT once the
 * deadline passes, until the scope ends. The nearest expired scope decides
 * the code. Must be called in a task. A NULL scope: begin does nothing,
 * end returns -EINVAL. */
CIO_API void cio_timeout_begin(cio_scope *s, int64_t ns);
CIO_API void cio_timeout_begin_at(cio_scope *s, int64_t deadline);
/* Ends the scope; returns -ETIMEDOUT if it expired, else 0. */
CIO_API int cio_timeout_end(cio_scope *s);
/* True once a suspension point inside failed because of this scope. */
CIO_API bool cio_timeout_expired(const cio_scope *s);
/* Moves the deadline (asyncio Timeout.reschedule), also from another task
 * of the loop: a task waiting inside wakes at the new deadline (or with
 * -ENOMEM at once if no timer can be armed for it). */
CIO_API void cio_timeout_reschedule(cio_scope *s, int64_t deadline);

/* A shield scope hides the task's cancellation and outer timeouts from the
 * suspension points inside, so cleanups can await; grace_ns bounds it
 * (-ETIMEDOUT after it; CIO_FOREVER for none). */
CIO_API void cio_shield_begin(cio_scope *s, int64_t grace_ns);
CIO_API int cio_shield_end(cio_scope *s);

/* Default grace for cleanups run by cio (exit stacks, with-exits). */
#define CIO_CLEANUP_GRACE (5 * CIO_SEC)

CIO_API void cio__scope_cleanup(cio_scope *s);
#define CIO__CAT2(a, b) a##b
#define CIO__CAT(a, b) CIO__CAT2(a, b)
#define CIO__ONCE CIO__CAT(cio__once_, __LINE__)
#define CIO__SCOPE CIO__CAT(cio__scope_, __LINE__)
/* CIO_TIMEOUT(2 * CIO_SEC) { ... } — a timeout scope as a block; leaving
 * the block by break/return/goto ends the scope too. */
#define CIO_TIMEOUT(ns)                                                      \
    for (cio_scope CIO__SCOPE __attribute__((cleanup(cio__scope_cleanup))), \
         *CIO__ONCE = (cio_timeout_begin(&CIO__SCOPE, (ns)), &CIO__SCOPE);  \
         CIO__ONCE; CIO__ONCE = NULL)
/* CIO_SHIELDED(grace) { ... } — a shield scope as a block. */
#define CIO_SHIELDED(grace_ns)                                               \
    for (cio_scope CIO__SCOPE __attribute__((cleanup(cio__scope_cleanup))), \
         *CIO__ONCE = (cio_shield_begin(&CIO__SCOPE, (grace_ns)), &CIO__SCOPE); \
         CIO__ONCE; CIO__ONCE = NULL)

/* ---- threads ----------------------------------------------------------- */

/* call_soon_threadsafe: runs fn(arg) on loop's thread, from any thread,
 * outside any task (fn must not suspend; it may spawn). Returns 0,
 * -EINVAL (NULL loop), -ESHUTDOWN (loop closing) or -ENOMEM. */
CIO_API int cio_call_threadsafe(cio_loop *loop, void (*fn)(void *), void *arg);

/* ---- allocation -------------------------------------------------------- */

/* Replaces the allocator used by cio (before any loop runs). realloc_fn
 * with size 0 is never called. NULLs restore the libc functions. */
CIO_API void cio_set_allocator(void *(*malloc_fn)(size_t),
                               void *(*realloc_fn)(void *, size_t),
                               void (*free_fn)(void *));

/* ---- debugging --------------------------------------------------------- */

/* Prints every live task (id, name, state) of the current loop to stderr. */
CIO_API void cio_dump_tasks(void);

#ifdef __cplusplus
}
#endif
#endif
