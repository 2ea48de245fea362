/* The process-wide thread pool, as seen by the rest of libcio (to_thread,
 * the file system's thread backend, DNS). A job is a struct the caller
 * embeds in its own heap record; a worker runs job->work, then the job
 * travels back to its loop, where the waiting task is woken or, if that
 * task has given up (cancelled, timed out), job->release frees it. */
#ifndef CIO_THREAD_POOL_H
#define CIO_THREAD_POOL_H

#include "core/internal.h"

typedef struct cio__job cio__job;
typedef struct cio__tloop cio__tloop;

struct cio__job {
    cio__job *next, *prev;        /* pool queue; then the loop's done list */
    void (*work)(cio__job *j);    /* on a worker thread */
    void (*release)(cio__job *j); /* frees j after its waiter left */
    cio_task *task;               /* the waiting task; NULL once it left */
    cio__tloop *tl;
    uint64_t batch;               /* private to the pool */
    int result;                   /* set by work (read after completion) */
    uint8_t state;                /* private to the pool */
    bool abandoned;               /* the waiter left; the pool frees j */
    bool finished;                /* back on the loop (loop thread only) */
};

/* Runs j->work on the pool and parks the current task until it is done.
 * Returns 0 once the work has run (its outcome is in the job), or
 * -ECANCELED/-ETIMEDOUT/-EPERM/-ENOMEM. On an interruption the job, if
 * already running, is left to the pool (j->abandoned is set and
 * j->release will free it later); if it had not started it never runs
 * and stays the caller's (abandoned false). Suspends. */
int cio__job_run(cio__job *j);

#endif
