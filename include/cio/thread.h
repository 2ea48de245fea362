/* cio threads: blocking work on a thread pool (asyncio.to_thread) and
 * calls into a loop from other threads (call_soon_threadsafe is in core.h;
 * run_coroutine_threadsafe is cio_run_threadsafe below).
 *
 * The pool is process-wide and shared by every loop in every thread. It
 * starts lazily (the first cio_to_thread), grows one worker at a time up to
 * its size (default min(32, ncpu + 4), or CIO_THREADS), queues jobs beyond
 * that (it never blocks the loop), and is shut down by cio_run when the
 * last loop using it ends, after every job has finished. See docs/threads.md. */
#ifndef CIO_THREAD_H
#define CIO_THREAD_H
#include "cio/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* asyncio.to_thread: runs fn(arg) on a pool thread and suspends the
 * calling task until it returns; returns fn's result (and its cio_errmsg,
 * if it failed). fn runs outside any task: it must not call suspending cio
 * functions. If the caller is cancelled or times out it gets -ECANCELED or
 * -ETIMEDOUT at once; a job not yet started then never runs, a running
 * one runs to its end (a thread cannot be interrupted) and its result is
 * dropped, so arg must stay valid until fn returns. -EINVAL for NULL fn,
 * -EPERM outside a task, -ENOMEM. Suspends. */
CIO_API int cio_to_thread(cio_fn fn, void *arg);

/* asyncio.run_coroutine_threadsafe(...).result(): from a thread that is
 * not loop's, spawns fn(arg) as a task on loop and blocks this thread until
 * it returns; returns its result, with its error message in this thread's
 * cio_errmsg(). -EINVAL (NULL loop or fn), -EDEADLK (called on loop's own
 * thread), -ESHUTDOWN (loop closing), -ENOMEM. Blocks the thread. */
CIO_API int cio_run_threadsafe(cio_loop *loop, cio_fn fn, void *arg);

/* Sets the pool's size (maximum number of worker threads, 1..256; 0
 * restores the default). Applies as the pool grows; running workers are
 * kept. Returns 0 or -EINVAL. Does not suspend. */
CIO_API int cio_thread_pool_set_size(int n);
/* The configured maximum number of workers. */
CIO_API int cio_thread_pool_size(void);
/* The number of worker threads alive right now (0 before first use and
 * after shutdown). */
CIO_API int cio_thread_pool_threads(void);

#ifdef __cplusplus
}
#endif
#endif
