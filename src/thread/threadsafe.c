/* cio_run_threadsafe: run a task on another thread's loop and wait for it
 * from here (asyncio.run_coroutine_threadsafe(...).result()). */
#include "core/internal.h"

#include "cio/thread.h"

#include <pthread.h>
#include <stdio.h>

typedef struct request request;
struct request {
    request *next, *prev;  /* started requests whose task has not ended */
    pthread_t loop_thread;
    cio_fn fn;
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool listed; /* on the started list (under started_lock) */
    bool done;
    int result;
    char msg[256];
};

/* A task cancelled before it first runs never runs (the loop cancels its
 * leftovers when it closes): requests are listed from their start to their
 * end so that the run-exit hook can answer the ones that never ran. */
static pthread_mutex_t started_lock = PTHREAD_MUTEX_INITIALIZER;
static request *started;

static void unlist(request *r) {
    if (r->prev)
        r->prev->next = r->next;
    else
        started = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
}

/* Lives on the blocked caller's stack: touched only until done is set. */
static void finish(request *r, int result, const char *msg) {
    pthread_mutex_lock(&r->lock);
    r->result = result;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Takes r off the started list if it is still there: whoever does answers
 * it (once answered, r may be gone with its caller's stack). */
static bool claim(request *r) {
    pthread_mutex_lock(&started_lock);
    bool listed = r->listed;
    if (listed) {
        unlist(r);
        r->listed = false;
    }
    pthread_mutex_unlock(&started_lock);
    return listed;
}

/* The request's task is watched, not detached, so that a task that ends
 * without running (its stack could not be mapped, or the loop cancelled
 * it first) still answers its caller at once. Lives on the heap: it
 * outlives the request. */
typedef struct {
    cio__watcher base;
    request *r;
    bool ran;
} task_watch;

static int request_task(void *arg) {
    task_watch *tw = arg;
    request *r = tw->r;
    tw->ran = true;
    int rc = r->fn(r->arg);
    if (claim(r))
        finish(r, rc, rc < 0 ? cio_errmsg() : "");
    return 0;
}

static void task_ended(cio__watcher *w, cio_task *t, int index) {
    (void)index;
    task_watch *tw = (task_watch *)w;
    if (!tw->ran && claim(tw->r)) {
        int result = cio__task_result(t);
        char msg[256];
        snprintf(msg, sizeof msg, "cio_run_threadsafe: the task ended before it ran: %s",
                 result == -ECANCELED ? "cancelled (the loop is closing)" : cio__task_reason(t));
        finish(tw->r, result < 0 ? result : -ECANCELED, msg);
    }
    cio__task_free(t);
    cio__free(tw);
}

/* Run exit, on the thread whose loop just ended: a safety net, since every
 * task ends before the loop does. */
static void answer_leftovers(void) {
    pthread_mutex_lock(&started_lock);
    for (request *r = started, *n; r; r = n) {
        n = r->next;
        if (pthread_equal(r->loop_thread, pthread_self())) {
            unlist(r);
            r->listed = false;
            finish(r, -ECANCELED, "cio_run_threadsafe: the loop closed before the task ran");
        }
    }
    pthread_mutex_unlock(&started_lock);
}

/* On the loop's thread, outside any task. */
static void start(void *arg) {
    request *r = arg;
    /* Posts run one last time while the loop is being freed, when no task
     * can run any more. */
    if (cio__loop_closing(cio__loop())) {
        finish(r, -ESHUTDOWN, "cio_run_threadsafe: the loop closed before the task started");
        return;
    }
    task_watch *tw = cio__calloc(1, sizeof *tw);
    cio_task *t = tw ? cio_spawn_with(request_task, tw, &(cio_spawn_opts){.name = "threadsafe"})
                     : NULL;
    if (!t) {
        cio__free(tw);
        finish(r, -ENOMEM, "cio_run_threadsafe: cannot spawn the task");
        return;
    }
    tw->base.done = task_ended;
    tw->r = r;
    cio__task_watch(t, &tw->base); /* before it first runs: it ends through task_ended */
    r->loop_thread = pthread_self();
    pthread_mutex_lock(&started_lock);
    r->next = started;
    if (started)
        started->prev = r;
    started = r;
    r->listed = true;
    pthread_mutex_unlock(&started_lock);
    cio__at_run_exit(answer_leftovers);
}

int cio_run_threadsafe(cio_loop *loop, cio_fn fn, void *arg) {
    if (!loop || !fn)
        return cio_seterr(-EINVAL, "cio_run_threadsafe: %s is NULL", loop ? "fn" : "loop");
    if (loop == cio__loop())
        return cio_seterr(-EDEADLK, "cio_run_threadsafe: called on the loop's own thread "
                                    "(spawn and join the task instead)");
    request r = {.fn = fn, .arg = arg};
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    int rc = cio__loop_post(loop, start, &r);
    if (rc == 0) {
        pthread_mutex_lock(&r.lock);
        while (!r.done)
            pthread_cond_wait(&r.cond, &r.lock);
        pthread_mutex_unlock(&r.lock);
        rc = r.result;
        if (rc < 0)
            cio_seterr(rc, "%s", r.msg);
    } else {
        cio_seterr(rc, "cio_run_threadsafe: cannot post to the loop: %s", cio_strerror(rc));
    }
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
