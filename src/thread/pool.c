/* The process-wide thread pool and cio_to_thread.
 *
 * Jobs wait in one FIFO under one mutex; workers are started lazily, up to
 * the configured size, only when no worker is idle. A finished job goes
 * back to its loop through a per-loop lock-free list plus an eventfd that
 * is written only when the list goes from empty to non-empty, so a burst
 * of completions costs one wake-up of the loop, not one per job (this is
 * what keeps concurrent to_thread calls well under a microsecond each).
 * Every job out on a worker holds its loop's virtual clock.
 *
 * A burst wakes at most one worker per CPU: short jobs are done sooner by
 * fewer threads, which also leave the loop thread its CPU. Jobs beyond
 * those are watched by a monitor (an otherwise idle worker) that adds a
 * worker whenever the running ones took no job for MONITOR_NS: jobs that
 * block (sleep, wait for I/O) still all run at once, a few hundred
 * microseconds later at most. */
#define _GNU_SOURCE
#include "thread/pool.h"

#include "cio/thread.h"

#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 256
#define SPIN_NS 50000L
#define MONITOR_NS 100000L

/* A queued job is either still in its loop's pending list (its batch is
 * the loop's open one) or in the pool's queue (an earlier batch): a flush
 * moves a whole batch by closing it, without visiting its jobs. */
enum { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/* Per-loop side: completed jobs come back here. Lives in the loop's FS
 * slot: files are the pool's main client and need no slot of their own. */
struct cio__tloop {
    cio_loop *loop;
    int efd;
    cio__watch watch;
    size_t outstanding;       /* submitted, not yet back (loop thread only) */
    cio__job *pending, *pending_tail; /* submitted this iteration */
    size_t npending;
    uint64_t batch;           /* number of the batch now pending */
    bool flush_posted;
    cio__job *free_jobs;      /* recycled to_thread records */
    /* Written by workers: kept off the lines the loop writes per call
     * (the record is only 16-byte aligned, hence a full line each side). */
    char pad_[64];
    _Atomic(cio__job *) done; /* LIFO pushed by workers */
    atomic_int completing;    /* workers between their push and their write */
    char pad2_[64];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cio__job *head, *tail;
    int nthreads, idle, signalled;
    pthread_cond_t monitor_cond; /* the monitor's timed waits (and stop) */
    bool monitoring;          /* a worker watches the queue for progress */
    bool monitor_wanted;      /* an idle worker was woken to be the monitor */
    unsigned long dequeued;   /* jobs taken by workers: the monitor's gauge */
    bool spinning;            /* a worker is polling nqueued before sleeping */
    bool spin_claimed;        /* a flush already counted on that worker */
    atomic_bool spin_free;    /* spinning && !spin_claimed, readable unlocked */
    atomic_long nqueued;      /* jobs in the queue, readable without the lock */
    int size;                 /* configured; 0 = default */
    bool stop;
    int loops;                /* loops with live per-loop state */
    pthread_t threads[POOL_MAX];
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .monitor_cond = PTHREAD_COND_INITIALIZER,
};

/* ---- configuration ---- */

/* Read once: sysconf reads /sys on every call, and every flush of jobs
 * needs the figure. */
static int online_cpus(void) {
    static atomic_int cached;
    int n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c < 1 ? 1 : c > POOL_MAX ? POOL_MAX : (int)c;
        atomic_store_explicit(&cached, n, memory_order_relaxed);
    }
    return n;
}

static int default_size(void) {
    const char *env = getenv("CIO_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env) < POOL_MAX ? atoi(env) : POOL_MAX;
    int n = online_cpus();
    return n + 4 < 32 ? n + 4 : 32;
}

int cio_thread_pool_set_size(int n) {
    if (n < 0 || n > POOL_MAX)
        return cio_seterr(-EINVAL, "cio_thread_pool_set_size: %d is not in 0..%d", n, POOL_MAX);
    pthread_mutex_lock(&pool.lock);
    pool.size = n;
    pthread_mutex_unlock(&pool.lock);
    return 0;
}

int cio_thread_pool_size(void) {
    pthread_mutex_lock(&pool.lock);
    int n = pool.size ? pool.size : default_size();
    pthread_mutex_unlock(&pool.lock);
    return n;
}

int cio_thread_pool_threads(void) {
    pthread_mutex_lock(&pool.lock);
    int n = pool.nthreads;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

/* ---- workers ---- */

static void complete(cio__job *j) {
    cio__tloop *tl = j->tl;
    /* Once pushed, j may be drained and the loop may close: tl must stay
     * until the eventfd write below is done (tloop_close waits for it). */
    atomic_fetch_add_explicit(&tl->completing, 1, memory_order_relaxed);
    cio__job *old = atomic_load_explicit(&tl->done, memory_order_relaxed);
    do
        j->next = old;
    while (!atomic_compare_exchange_weak_explicit(&tl->done, &old, j, memory_order_release,
                                                  memory_order_relaxed));
    if (old == NULL) {
        uint64_t one = 1;
        if (write(tl->efd, &one, sizeof one) < 0) {
            /* Only EAGAIN (counter saturated) is possible: a wake is due. */
        }
    }
    atomic_fetch_sub_explicit(&tl->completing, 1, memory_order_release);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* A worker that runs out of jobs first polls for new ones a little while
 * (one worker at a time), because a futex wake-up of a sleeping thread
 * costs more than a typical to_thread round trip. become_spinner (with
 * the lock) makes this worker the spinner if there is none; spin (without
 * the lock) polls, then retakes the lock and stands down. */
static bool become_spinner(void) {
    if (pool.spinning || pool.stop || pool.head)
        return false;
    pool.spinning = true;
    atomic_store_explicit(&pool.spin_free, true, memory_order_relaxed);
    return true;
}

static void spin(void) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1;; i++) {
        if (atomic_load_explicit(&pool.nqueued, memory_order_relaxed) > 0)
            break;
        /* Yield rather than burn: on a busy machine the loop thread that
         * is about to hand us a job may need this very CPU. */
        if (i % 16 == 0)
            sched_yield();
        else
            cpu_relax();
        if (i % 16 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec > SPIN_NS)
                break;
        }
    }
    pthread_mutex_lock(&pool.lock);
    pool.spinning = pool.spin_claimed = false;
    atomic_store_explicit(&pool.spin_free, false, memory_order_relaxed);
}

static void *worker(void *arg);

/* Lock held, below the size: adds a worker; false if no thread starts. */
static bool start_worker(void) {
    if (pthread_create(&pool.threads[pool.nthreads], NULL, worker, NULL) != 0)
        return false;
    pool.nthreads++;
    return true;
}

static int max_threads(void) { return pool.size ? pool.size : default_size(); }

/* Workers running a job, between jobs, spinning, or signalled to wake. */
static int workers_awake(void) {
    return pool.nthreads - pool.idle - (pool.monitoring ? 1 : 0) + pool.signalled;
}

/* The monitor waits on a monotonic clock; the condition variable for that
 * needs an attribute, hence a run-time initialisation. */
static pthread_once_t monitor_once = PTHREAD_ONCE_INIT;
static void monitor_cond_init(void) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_destroy(&pool.monitor_cond);
    pthread_cond_init(&pool.monitor_cond, &a);
    pthread_condattr_destroy(&a);
}

/* Lock held: makes an idle worker, or a new one, the monitor of the jobs
 * that no awake worker is free for. */
static void want_monitor(void) {
    if (pool.monitoring || pool.monitor_wanted || pool.stop)
        return;
    if (pool.idle > pool.signalled) {
        pool.monitor_wanted = true;
        pool.signalled++;
        pthread_cond_signal(&pool.cond);
    } else if (pool.nthreads < max_threads() && start_worker()) {
        pool.monitor_wanted = true;
    }
}

/* Lock held: while jobs wait, checks every MONITOR_NS that the awake
 * workers took one. If none did, they are all stuck in their jobs: the
 * monitor stops watching and goes to take a job itself (true), and another
 * worker watches the rest. False once the queue is empty or on stop. */
static bool monitor(void) {
    pool.monitoring = true;
    unsigned long seen = pool.dequeued;
    bool stalled = false;
    while (pool.head && !pool.stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += MONITOR_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (rc != ETIMEDOUT && pool.head && !pool.stop)
            rc = pthread_cond_timedwait(&pool.monitor_cond, &pool.lock, &until);
        if (pool.head && !pool.stop && pool.dequeued == seen) {
            stalled = true;
            break;
        }
        seen = pool.dequeued;
    }
    pool.monitoring = false;
    if (stalled && atomic_load_explicit(&pool.nqueued, memory_order_relaxed) > 1)
        want_monitor(); /* for the jobs after the one this worker takes */
    return stalled;
}

/* Lock held: this worker was woken (or started) to be the monitor. */
static bool monitor_due(void) { return pool.monitor_wanted && !pool.monitoring && !pool.stop; }

static void *worker(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "cio-worker");
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        if (monitor_due()) {
            pool.monitor_wanted = false;
            if (!monitor())
                continue;
        } else {
            if (become_spinner()) {
                pthread_mutex_unlock(&pool.lock);
                spin();
            }
            while (!pool.head && !pool.stop && !pool.monitor_wanted) {
                pool.idle++;
                pthread_cond_wait(&pool.cond, &pool.lock);
                pool.idle--;
                if (pool.signalled > 0)
                    pool.signalled--;
            }
            if (monitor_due())
                continue; /* be the monitor */
        }
        cio__job *j = pool.head;
        if (!j)
            break; /* stopping, and nothing left to run */
        pool.head = j->next;
        if (pool.head)
            pool.head->prev = NULL;
        else
            pool.tail = NULL;
        j->state = JOB_RUNNING;
        pool.dequeued++;
        atomic_fetch_sub_explicit(&pool.nqueued, 1, memory_order_relaxed);
        pthread_mutex_unlock(&pool.lock);
        j->work(j);
        /* Become the spinner before the caller hears of the result, so
         * that its next call (a sequential caller makes one at once) finds
         * a worker waiting for it. Skipped in a burst (jobs queued). */
        bool spinner = false;
        if (atomic_load_explicit(&pool.nqueued, memory_order_relaxed) == 0 &&
            !atomic_load_explicit(&pool.spin_free, memory_order_relaxed)) {
            pthread_mutex_lock(&pool.lock);
            spinner = become_spinner();
            pthread_mutex_unlock(&pool.lock);
        }
        complete(j);
        if (spinner)
            spin(); /* returns with the lock held */
        else
            pthread_mutex_lock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* Called with the lock held, after n jobs were queued: wakes idle workers
 * and starts new ones so that the jobs get served, up to one awake worker
 * per CPU (and the size); a monitor sees to the rest. */
static void kick(size_t n) {
    pthread_once(&monitor_once, monitor_cond_init);
    if (pool.spinning && !pool.spin_claimed && n > 0) {
        pool.spin_claimed = true; /* the spinning worker takes one job */
        atomic_store_explicit(&pool.spin_free, false, memory_order_relaxed);
        n--;
    }
    int max = max_threads(), cpus = online_cpus();
    int cap = cpus < max ? cpus : max;
    while (n > 0 && workers_awake() < cap && pool.idle > pool.signalled) {
        pool.signalled++;
        pthread_cond_signal(&pool.cond);
        n--;
    }
    while (n > 0 && workers_awake() < cap && pool.nthreads < max && !pool.stop) {
        if (!start_worker())
            break; /* the running workers will get to the jobs */
        n--;
    }
    if (n > 0)
        want_monitor();
}

/* Posted once per loop iteration that submitted jobs: moves them all to
 * the pool under one lock, so a burst of calls costs one lock and at most
 * one wake-up per worker. */
static void flush(void *arg) {
    cio__tloop *tl = *cio__loop_slot(arg, CIO__SLOT_FS);
    if (!tl) /* the loop closed meanwhile (its jobs were taken back) */
        return;
    tl->flush_posted = false;
    cio__job *first = tl->pending;
    if (!first)
        return;
    cio__job *last = tl->pending_tail;
    size_t n = tl->npending;
    tl->pending = tl->pending_tail = NULL;
    tl->npending = 0;
    tl->batch++;
    pthread_mutex_lock(&pool.lock);
    first->prev = pool.tail;
    if (pool.tail)
        pool.tail->next = first;
    else
        pool.head = first;
    pool.tail = last;
    atomic_fetch_add_explicit(&pool.nqueued, (long)n, memory_order_relaxed);
    kick(n);
    if (pool.nthreads == 0) {
        /* No worker could be started at all: run the jobs here rather than
         * leave their tasks waiting forever. */
        cio__job *j;
        while ((j = pool.head)) {
            pool.head = j->next;
            j->state = JOB_RUNNING;
            atomic_fetch_sub_explicit(&pool.nqueued, 1, memory_order_relaxed);
            pthread_mutex_unlock(&pool.lock);
            j->work(j);
            complete(j);
            pthread_mutex_lock(&pool.lock);
        }
        pool.tail = NULL;
    }
    pthread_mutex_unlock(&pool.lock);
}

/* The fast path of a lone call: a worker is spinning for work and nothing
 * waits, so hand the job over now (no futex wake, no extra loop turn). */
static bool submit_direct(cio__tloop *tl, cio__job *j) {
    if (!atomic_load_explicit(&pool.spin_free, memory_order_relaxed))
        return false;
    pthread_mutex_lock(&pool.lock);
    bool ok = pool.spinning && !pool.spin_claimed && !pool.head;
    if (ok) {
        j->next = j->prev = NULL;
        pool.head = pool.tail = j;
        j->state = JOB_QUEUED;
        j->batch = tl->batch - 1; /* not pending: already in the queue */
        pool.spin_claimed = true;
        atomic_store_explicit(&pool.spin_free, false, memory_order_relaxed);
        atomic_fetch_add_explicit(&pool.nqueued, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool.lock);
    return ok;
}

static int submit(cio__tloop *tl, cio__job *j) {
    if (tl->npending == 0 && submit_direct(tl, j))
        return 0;
    if (!tl->flush_posted) {
        int rc = cio__loop_post(tl->loop, flush, tl->loop);
        if (rc < 0)
            return rc;
        tl->flush_posted = true;
    }
    j->next = NULL;
    j->prev = tl->pending_tail;
    if (tl->pending_tail)
        tl->pending_tail->next = j;
    else
        tl->pending = j;
    tl->pending_tail = j;
    tl->npending++;
    j->state = JOB_QUEUED;
    j->batch = tl->batch;
    return 0;
}

/* Takes j back if no worker has started it. The state is read under the
 * lock because workers write it there. */
static bool unqueue(cio__tloop *tl, cio__job *j) {
    pthread_mutex_lock(&pool.lock);
    bool back = true;
    if (j->state == JOB_QUEUED && j->batch == tl->batch) { /* pending */
        if (j->prev)
            j->prev->next = j->next;
        else
            tl->pending = j->next;
        if (j->next)
            j->next->prev = j->prev;
        else
            tl->pending_tail = j->prev;
        tl->npending--;
    } else if (j->state == JOB_QUEUED) {
        if (j->prev)
            j->prev->next = j->next;
        else
            pool.head = j->next;
        if (j->next)
            j->next->prev = j->prev;
        else
            pool.tail = j->prev;
        atomic_fetch_sub_explicit(&pool.nqueued, 1, memory_order_relaxed);
    } else {
        back = false;
    }
    if (back)
        j->state = JOB_IDLE;
    pthread_mutex_unlock(&pool.lock);
    return back;
}

/* Run exit: stops the workers once no loop uses the pool any more. Every
 * loop has waited for its own jobs when it closed, so the queue is empty
 * unless a new loop has just started, in which case the pool stays. */
static void pool_shutdown(void) {
    pthread_mutex_lock(&pool.lock);
    if (pool.loops > 0 || pool.nthreads == 0 || pool.head) {
        pthread_mutex_unlock(&pool.lock);
        return;
    }
    pool.stop = true;
    pthread_cond_broadcast(&pool.cond);
    pthread_cond_broadcast(&pool.monitor_cond);
    int n = pool.nthreads;
    pthread_t threads[POOL_MAX];
    for (int i = 0; i < n; i++)
        threads[i] = pool.threads[i];
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.stop = false;
    pool.nthreads -= n;
    for (int i = 0; i < pool.nthreads; i++)
        pool.threads[i] = pool.threads[i + n];
    pool.idle = pool.signalled = 0;
    pool.monitoring = pool.monitor_wanted = false;
    if (pool.head) /* a loop started meanwhile and queued work */
        kick(1);
    pthread_mutex_unlock(&pool.lock);
}

/* ---- the loop side ---- */

/* The loop's virtual clock is held while any of its jobs is out: one hold
 * for all of them (an atomic operation per call saved). */
static inline void job_out(cio__tloop *tl) {
    if (tl->outstanding++ == 0)
        cio__loop_hold(tl->loop, +1);
}
static inline void job_back(cio__tloop *tl) {
    if (--tl->outstanding == 0)
        cio__loop_hold(tl->loop, -1);
}

/* Loop thread: hands every finished job to its waiter, or frees it. */
static void drain(cio__tloop *tl) {
    cio__job *j = atomic_exchange_explicit(&tl->done, NULL, memory_order_acquire);
    cio__job *fifo = NULL;
    while (j) {
        cio__job *n = j->next;
        j->next = fifo;
        fifo = j;
        j = n;
    }
    while (fifo) {
        j = fifo;
        fifo = j->next;
        j->state = JOB_DONE;
        j->finished = true;
        job_back(tl);
        if (j->task)
            cio__wake_parked(j->task);
        else if (j->release)
            j->release(j);
    }
}

/* The eventfd is watched edge-triggered: every write is a new edge, so the
 * loop never needs to read it back (one system call less per wake-up). */
static void on_wake(cio__watch *w, uint32_t revents) {
    (void)revents;
    drain((cio__tloop *)((char *)w - offsetof(cio__tloop, watch)));
}

/* Loop close: every task has ended, but abandoned jobs may still run on
 * workers; wait for them (asyncio's shutdown_default_executor) so nothing
 * outlives the loop. */
static void tloop_close(void *arg) {
    cio__tloop *tl = arg;
    while (tl->outstanding > 0) {
        struct pollfd p = {.fd = tl->efd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        uint64_t v;
        if (read(tl->efd, &v, sizeof v) < 0) {
            /* EAGAIN: nothing since the last read; drain anyway. */
        }
        drain(tl);
    }
    while (atomic_load_explicit(&tl->completing, memory_order_acquire) > 0)
        sched_yield(); /* a worker is a few instructions from done */
    while (tl->free_jobs) {
        cio__job *j = tl->free_jobs;
        tl->free_jobs = j->next;
        cio__free(j);
    }
    cio__watch_stop(&tl->watch);
    close(tl->efd);
    *cio__loop_slot(tl->loop, CIO__SLOT_FS) = NULL;
    cio__free(tl);
    pthread_mutex_lock(&pool.lock);
    pool.loops--;
    pthread_mutex_unlock(&pool.lock);
}

static cio__tloop *tloop_get(void) {
    cio_loop *L = cio__loop();
    void **slot = cio__loop_slot(L, CIO__SLOT_FS);
    if (cio__likely(*slot != NULL))
        return *slot;
    cio__tloop *tl = cio__calloc(1, sizeof *tl);
    if (!tl)
        return NULL;
    tl->loop = L;
    tl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (tl->efd < 0)
        goto fail;
    if (cio__watch_start(&tl->watch, tl->efd, EPOLLIN | EPOLLET, on_wake) < 0)
        goto fail;
    if (cio__loop_on_close(L, tloop_close, tl) < 0) {
        cio__watch_stop(&tl->watch);
        goto fail;
    }
    pthread_mutex_lock(&pool.lock);
    pool.loops++;
    pthread_mutex_unlock(&pool.lock);
    cio__at_run_exit(pool_shutdown);
    *slot = tl;
    return tl;
fail:
    if (tl->efd >= 0)
        close(tl->efd);
    cio__free(tl);
    return NULL;
}

int cio__job_run(cio__job *j) {
    int rc = cio__check_in_task("cio_to_thread");
    if (rc < 0)
        return rc;
    if ((rc = cio__interrupted()) < 0)
        return rc;
    cio__tloop *tl = tloop_get();
    if (!tl)
        return cio_seterr(-ENOMEM, "thread pool: cannot set up the loop's completion channel");
    j->tl = tl;
    j->task = cio__task();
    j->abandoned = false;
    j->finished = false;
    j->state = JOB_IDLE;
    job_out(tl);
    if ((rc = submit(tl, j)) < 0) {
        job_back(tl);
        return cio_seterr(rc, "thread pool: cannot submit: %s", cio_strerror(rc));
    }
    rc = cio__park(CIO_FOREVER);
    if (j->finished) /* loop-thread field: j->state is the workers' */
        return 0;
    /* Interrupted: take the job back if it never started, else leave it. */
    j->task = NULL;
    if (unqueue(tl, j)) {
        job_back(tl);
    } else {
        j->abandoned = true;
    }
    return rc < 0 ? rc : -ECANCELED;
}

/* ---- cio_to_thread ---- */

/* Kept small: a burst of calls has thousands of these in flight, and the
 * loop touches each one several times, so their size is cache misses. */
typedef struct {
    cio__job job;
    cio_fn fn;
    void *arg;
    char *msg; /* fn's error message (heap), only after a failure */
} call_job;

static void call_work(cio__job *j) {
    call_job *c = (call_job *)j;
    /* fn runs outside any task, so its message is this thread's: start it
     * empty, so that a message an earlier job left behind is not taken
     * for this one's. */
    cio__errmsg_clear();
    j->result = c->fn(c->arg);
    if (j->result < 0 && cio_errmsg()[0]) /* if the copy fails: a generic message */
        c->msg = cio__strdup(cio_errmsg());
}

static void recycle(cio__tloop *tl, call_job *c) {
    cio__free(c->msg);
    c->msg = NULL;
    c->job.next = tl->free_jobs;
    tl->free_jobs = &c->job;
}

/* An abandoned call's record, back from its worker. */
static void call_release(cio__job *j) { recycle(j->tl, (call_job *)j); }

CIO__JUMP_RETURN(int, cio_to_thread)(cio_fn fn, void *arg) {
    if (!fn)
        return cio_seterr(-EINVAL, "cio_to_thread: function is NULL");
    int rc = cio__check_in_task("cio_to_thread");
    if (rc < 0)
        return rc;
    cio__tloop *tl = tloop_get();
    if (!tl)
        return cio_seterr(-ENOMEM, "cio_to_thread: out of memory");
    call_job *c;
    if (tl->free_jobs) {
        c = (call_job *)tl->free_jobs;
        tl->free_jobs = c->job.next;
    } else if (!(c = cio__malloc(sizeof *c))) {
        return cio_seterr(-ENOMEM, "cio_to_thread: out of memory");
    }
    c->job.work = call_work;
    c->job.release = call_release;
    c->job.abandoned = false;
    c->fn = fn;
    c->arg = arg;
    c->msg = NULL;
    rc = cio__job_run(&c->job);
    if (c->job.abandoned)
        return rc; /* the worker still runs fn; the record is recycled later */
    if (rc == 0 && (rc = c->job.result) < 0) {
        if (c->msg)
            cio_seterr(rc, "%s", c->msg);
        else
            cio_seterr(rc, "cio_to_thread: the function failed: %s", cio_strerror(rc));
    }
    recycle(tl, c);
    return rc;
}
