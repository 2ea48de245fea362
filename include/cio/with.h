/* cio with: async context managers (`async with`), generator-style managers
 * (`@asynccontextmanager`) and exit stacks (`AsyncExitStack`).
 *
 * A manager is a pair of functions over a `self` pointer:
 *     enter(self, &as)     setup; may suspend; 0 or a negative error. It may
 *                          store the `as` value (`async with m as x`).
 *     exit(self, status)   teardown; sees the body's status (0 or an error,
 *                          -ECANCELED included) and returns the final one:
 *                          `status` to pass it on, 0 to suppress it (as a
 *                          true __aexit__ does), or a new error.
 * If enter fails, exit is not called. Exits and teardowns run shielded from
 * the task's cancellation and outer timeouts, so they may still await, but
 * bounded by CIO_CLEANUP_GRACE: after it, their suspension points return
 * -ETIMEDOUT. */
#ifndef CIO_WITH_H
#define CIO_WITH_H
#include "cio/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_cm {
    int (*enter)(void *self, void **as); /* as is never NULL */
    int (*exit)(void *self, int status);
    void *self;
} cio_cm;

/* async with cm: enter, run body(arg), exit (shielded) with the body's
 * result. Returns enter's error, or exit's result. Returns -EINVAL for a
 * NULL cm, function or body. Suspends if the manager or body does. */
CIO_API int cio_with(const cio_cm *cm, cio_fn body, void *arg);
/* The two halves of cio_with, for code that cannot be a body function:
 * enter stores the `as` value in *as (as may be NULL); exit runs the exit
 * shielded with the grace deadline and returns its result. */
CIO_API int cio_with_enter(const cio_cm *cm, void **as);
CIO_API int cio_with_exit(const cio_cm *cm, int status);

/* ---- generator-style managers (@asynccontextmanager) -------------------- *
 *
 *   static int timer(cio_gencm *g, void *arg) {
 *       int64_t start = cio_now();                // setup
 *       int status = cio_gencm_yield(g, NULL);    // the body runs here
 *       printf("%.2f s\n", (cio_now() - start) / 1e9);   // teardown
 *       return status;                            // pass the body's status on
 *   }
 *   cio_gencm g;
 *   cio_gencm_init(&g, timer, NULL);
 *   rc = cio_with(&g.cm, body, arg);
 *
 * The function runs in a task of its own (spawned by enter, inheriting the
 * caller's context variables; what it sets there does not reach the body).
 * It must call cio_gencm_yield exactly once; yield returns the body's
 * status, or -ECANCELED if the manager task itself was cancelled. The
 * function's return value is the with's result (status: pass on, 0:
 * suppress). Returning before yield makes enter fail with that error (or
 * -EINVAL "did not yield" for 0). Teardown runs while the caller waits
 * shielded with the grace deadline; when that passes the manager task is
 * cancelled. A cio_gencm serves one with at a time; after its exit it may
 * be entered again (the function runs afresh). */
typedef struct cio_gencm cio_gencm;
typedef int (*cio_gencm_fn)(cio_gencm *g, void *arg);
struct cio_gencm {
    cio_cm cm;          /* pass &g.cm to cio_with / CIO_WITH / exit stacks */
    cio_gencm_fn fn;
    void *arg;
    void *value;        /* what the function yielded (the `as` value) */
    cio_task *task;     /* private */
    cio_task *caller;   /* private */
    int state;          /* private */
    int status;         /* private */
    int caller_waiting; /* private */
};
/* Prepares g to run fn(g, arg) as a manager. Returns 0 or -EINVAL. */
CIO_API int cio_gencm_init(cio_gencm *g, cio_gencm_fn fn, void *arg);
/* Called by the manager function: hands value to the with (the `as`
 * value) and waits until the body is over; returns the body's status.
 * -EINVAL if not called from g's own task or called twice. Suspends. */
CIO_API int cio_gencm_yield(cio_gencm *g, void *value);

/* ---- CIO_WITH block ----------------------------------------------------- */

typedef struct cio__with {
    const cio_cm *cm;
    int *rc;
    int entered;
} cio__with;
static inline void cio__with_end(cio__with *w) {
    if (w->entered) {
        w->entered = 0;
        *w->rc = cio_with_exit(w->cm, *w->rc);
    }
}
#define CIO__WITH CIO__CAT(cio__with_, __LINE__)
/* CIO_WITH(&cm, rc) { ... } — `async with cm:` as a block. rc (an int
 * lvalue) receives enter's result; the block runs only if it is 0. Set rc
 * inside the block to the body's status; when the block is left (normally,
 * or by break/goto/return) exit runs with rc and its result is stored back
 * in rc. (After a return the result is lost: prefer break.) */
#define CIO_WITH(cm_, rc_)                                                    \
    for (cio__with CIO__WITH __attribute__((cleanup(cio__with_end))) =         \
             {(cm_), &(rc_), 0},                                               \
         *CIO__ONCE = (CIO__WITH.entered =                                     \
                           ((rc_) = cio_with_enter(CIO__WITH.cm, NULL)) == 0) \
                          ? &CIO__WITH : NULL;                                 \
         CIO__ONCE; CIO__ONCE = NULL)

/* ---- exit stacks (AsyncExitStack) --------------------------------------- */

typedef struct cio__exit_entry cio__exit_entry;
typedef struct cio_exitstack {
    cio__exit_entry *top;
} cio_exitstack;
#define CIO_EXITSTACK_INIT {NULL}

/* Initialises an empty stack (same as CIO_EXITSTACK_INIT). */
CIO_API void cio_exitstack_init(cio_exitstack *s);
/* enter_async_context: enters cm (its struct is copied) and, if that
 * succeeded, pushes its exit. *as (may be NULL) receives the `as` value.
 * Returns enter's result, -EINVAL or -ENOMEM (then cm was not entered).
 * Suspends if enter does. */
CIO_API int cio_exitstack_enter(cio_exitstack *s, const cio_cm *cm, void **as);
/* push_async_callback: pushes fn(arg, status), which returns the status
 * to pass on (like an exit). Returns 0, -EINVAL or -ENOMEM. */
CIO_API int cio_exitstack_push(cio_exitstack *s, int (*fn)(void *arg, int status), void *arg);
/* Unwinds LIFO: each exit/callback runs shielded (grace deadline each)
 * and gets the status left by the one before (starting with status). An
 * error from one does not skip the others; an error that a later one
 * replaces is reported (cio's report hook), never silently lost. Returns
 * the final status; the stack is empty afterwards. Suspends if the
 * cleanups do. */
CIO_API int cio_exitstack_close(cio_exitstack *s, int status);
/* Number of pending cleanups. */
CIO_API size_t cio_exitstack_size(const cio_exitstack *s);
/* pop_all(): moves every pending cleanup of from onto to (in order, on top
 * of to's own), leaving from empty, so that resources gathered under one
 * stack can outlive it: on success, move them to the caller's stack; on
 * error, close from. Returns 0 or -EINVAL. Does not suspend. */
CIO_API int cio_exitstack_pop_all(cio_exitstack *from, cio_exitstack *to);

#ifdef __cplusplus
}
#endif
#endif
