#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* The loop: one per thread. An iteration runs ready tasks (up to a budget),
 * polls the kernel (without blocking when tasks are ready), runs callbacks
 * posted from other threads, and fires expired timers. */
#include "core/runtime.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Task runs between two polls of the kernel: enough to amortise the poll
 * syscall over many cheap hand-offs, few enough that I/O and timers are
 * never starved for long (tokio polls every 61 ticks; docs/decisions.md). */
#define BUDGET 1024

int64_t cio__clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CIO_SEC + ts.tv_nsec;
}

int64_t cio_now(void) {
    cio_loop *L = cio__tls_loop;
    if (!L)
        return cio__clock();
    if (!L->virtual_clock)
        L->now_stale = true; /* asked for: read the clock now */
    return cio__loop_now(L);
}

cio_loop *cio_loop_current(void) { return cio__tls_loop; }
cio_loop *cio__loop(void) { return cio__tls_loop; }
cio_task *cio__task(void) { return cio__tls_loop ? cio__tls_loop->cur : NULL; }

void **cio__loop_slot(cio_loop *L, int slot) {
    return (slot >= 0 && slot < CIO__NSLOTS && L) ? &L->slots[slot] : NULL;
}

int cio__loop_on_close(cio_loop *L, void (*fn)(void *), void *arg) {
    cio__hook *h = cio__malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    h->fn = fn;
    h->arg = arg;
    h->next = L->on_close;
    L->on_close = h;
    return 0;
}

void cio__loop_hold(cio_loop *L, int delta) { atomic_fetch_add(&L->holds, delta); }

/* ---- process-wide exit hooks (thread pool shutdown, log flush) ---- */

static pthread_mutex_t exit_hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*exit_hooks[16])(void);
static int n_exit_hooks;

void cio__at_run_exit(void (*fn)(void)) {
    pthread_mutex_lock(&exit_hooks_lock);
    bool known = false;
    for (int i = 0; i < n_exit_hooks; i++)
        known |= exit_hooks[i] == fn;
    if (!known && n_exit_hooks < 16)
        exit_hooks[n_exit_hooks++] = fn;
    pthread_mutex_unlock(&exit_hooks_lock);
}

static void run_exit_hooks(void) {
    pthread_mutex_lock(&exit_hooks_lock);
    int n = n_exit_hooks;
    void (*hooks[16])(void);
    memcpy(hooks, exit_hooks, sizeof hooks);
    pthread_mutex_unlock(&exit_hooks_lock);
    for (int i = n - 1; i >= 0; i--)
        hooks[i]();
}

/* ---- cross-thread posts ---- */

bool cio__loop_closing(const cio_loop *L) { return L->closing; }

int cio__loop_post(cio_loop *L, void (*fn)(void *), void *arg) {
    if (!L || !fn)
        return -EINVAL;
    cio__post *p = cio__malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&L->post_lock);
    if (L->closing && L->wake_fd < 0) {
        pthread_mutex_unlock(&L->post_lock);
        cio__free(p);
        return -ESHUTDOWN;
    }
    p->next = L->posted;
    L->posted = p;
    pthread_mutex_unlock(&L->post_lock);
    if (atomic_exchange(&L->wake_pending, 1) == 0) {
        uint64_t one = 1;
        if (write(L->wake_fd, &one, sizeof one) < 0) {
            /* The counter is saturated: the loop is already due to wake. */
        }
    }
    return 0;
}

int cio_call_threadsafe(cio_loop *L, void (*fn)(void *), void *arg) {
    int rc = cio__loop_post(L, fn, arg);
    if (rc < 0)
        return cio_seterr(rc, "cio_call_threadsafe: %s", cio_strerror(rc));
    return 0;
}

static void run_posted(cio_loop *L) {
    atomic_store(&L->wake_pending, 0);
    pthread_mutex_lock(&L->post_lock);
    cio__post *p = L->posted;
    L->posted = NULL;
    pthread_mutex_unlock(&L->post_lock);
    cio__post *fifo = NULL; /* posted is LIFO: reverse it */
    while (p) {
        cio__post *n = p->next;
        p->next = fifo;
        fifo = p;
        p = n;
    }
    while (fifo) {
        cio__post *n = fifo->next;
        fifo->fn(fifo->arg);
        cio__free(fifo);
        fifo = n;
    }
}

/* ---- SIGINT: cancels the main task of the loop that installed it ---- */

/* Lock-free atomics: safe in a signal handler and between loop threads. */
static atomic_int sigint_count;
static atomic_int sigint_fd = -1;
static cio_loop *_Atomic sigint_loop;
static struct sigaction sigint_old;

static void on_sigint(int sig) {
    if (atomic_fetch_add(&sigint_count, 1) > 0) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    uint64_t one = 1;
    int fd = atomic_load(&sigint_fd);
    if (fd >= 0 && write(fd, &one, sizeof one) < 0) {
    }
}

static void sigint_install(cio_loop *L) {
    struct sigaction cur;
    if (sigaction(SIGINT, NULL, &cur) != 0 || cur.sa_handler != SIG_DFL)
        return;
    cio_loop *expected = NULL;
    if (!atomic_compare_exchange_strong(&sigint_loop, &expected, L))
        return;
    atomic_store(&sigint_count, 0);
    atomic_store(&sigint_fd, L->wake_fd);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &sigint_old);
}

static void sigint_remove(cio_loop *L) {
    if (atomic_load(&sigint_loop) != L)
        return;
    sigaction(SIGINT, &sigint_old, NULL);
    atomic_store(&sigint_fd, -1);
    atomic_store(&sigint_loop, NULL);
}

static void sigint_check(cio_loop *L) {
    if (atomic_load(&sigint_loop) == L && atomic_load(&sigint_count) == 1 && L->main &&
        L->main->state != CIO__DONE && !(L->main->flags & CIO__CANCELLED)) {
        cio__report(1, "interrupted (SIGINT): cancelling the main task");
        cio_cancel(L->main);
    }
}

/* ---- fds and watches ---- */

void cio__poll_dispatch(cio_loop *L, uintptr_t tag, uint32_t ev) {
    if (tag == CIO__TAG_WAKE) {
        uint64_t v;
        if (read(L->wake_fd, &v, sizeof v) < 0) {
        }
        return; /* posts and SIGINT are looked at after every poll */
    }
    if (tag & 1) {
        cio__watch *w = (cio__watch *)(tag & ~(uintptr_t)1);
        w->cb(w, ev);
        return;
    }
    cio__fd *f = (cio__fd *)tag;
    uint8_t bits = 0;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        bits |= CIO__READ;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        bits |= CIO__WRITE;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        bits |= CIO__HUP;
    f->ready |= bits;
    if ((bits & CIO__READ) && f->reader)
        cio__wake(f->reader, 0);
    if ((bits & CIO__WRITE) && f->writer)
        cio__wake(f->writer, 0);
}

int cio__fd_open(cio__fd *f, int fd) {
    cio_loop *L = cio__tls_loop;
    memset(f, 0, sizeof *f);
    f->fd = fd;
    if (!L)
        return cio_seterr(-EPERM, "fd %d: no loop on this thread", fd);
    int rc = cio__poll_add(L, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, (uintptr_t)f);
    if (rc < 0)
        return cio_seterr(rc, "registering fd %d with the poller: %s", fd, cio_strerror(rc));
    f->registered = 1;
    f->loop = L;
    return 0;
}

int cio__fd_wait_until(cio__fd *f, int dir, int64_t deadline) {
    if (cio__likely(f->ready & dir)) {
        /* An edge arrived since the last wait: let the caller retry. */
        f->ready &= (uint8_t)~dir;
        return 0;
    }
    if (!f->registered)
        return cio_seterr(-EBADF, "fd %d is not registered with the loop", f->fd);
    cio_task **slot = dir == CIO__READ ? &f->reader : &f->writer;
    if (*slot)
        return cio_seterr(-EBUSY, "fd %d: another task is already waiting to %s", f->fd,
                          dir == CIO__READ ? "read" : "write");
    int rc = cio__check_in_task("fd wait");
    if (rc < 0)
        return rc;
    *slot = cio__tls_loop->cur;
    rc = cio__park(deadline);
    *slot = NULL;
    if (rc == 0)
        f->ready &= (uint8_t)~dir;
    return rc;
}

int cio__fd_wait(cio__fd *f, int dir) { return cio__fd_wait_until(f, dir, CIO_FOREVER); }

void cio__fd_close(cio__fd *f) {
    if (f->registered && f->loop) {
        cio__poll_del(f->loop, f->fd);
        f->registered = 0;
    }
    if (f->reader)
        cio__wake(f->reader, -EBADF);
    if (f->writer)
        cio__wake(f->writer, -EBADF);
}

int cio__watch_start(cio__watch *w, int fd, uint32_t events,
                     void (*cb)(cio__watch *w, uint32_t revents)) {
    cio_loop *L = cio__tls_loop;
    if (!L)
        return -EPERM;
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    w->loop = L;
    return cio__poll_add(L, fd, events, (uintptr_t)w | 1);
}

void cio__watch_stop(cio__watch *w) {
    if (w->loop)
        cio__poll_del(w->loop, w->fd);
    w->loop = NULL;
}

/* ---- timers ---- */

static void fire_timers(cio_loop *L) {
    cio__body *b;
    while ((b = cio__timer_min(&L->timers)) && L->timers.a[0].deadline <= cio__loop_now(L)) {
        cio__timer_pop(L);
        cio_task *t = b->task;
        if (t->state != CIO__PARKED)
            continue;
        int code = cio__interrupt_code(L, t);
        if (!code && b->own_deadline <= L->now)
            code = CIO__DEADLINE;
        if (code)
            cio__unpark(L, t, code);
        else /* a scope deadline moved later: wait for the new one */
            cio__park_retime(L, t);
    }
}

/* ---- one iteration and the run ---- */

static void iterate(cio_loop *L) {
    bool idle = L->rq_head == NULL && atomic_load(&L->wake_pending) == 0;
    cio__body *t = cio__timer_min(&L->timers);
    if (!idle) {
        cio__poll_wait(L, 0);
    } else if (!L->virtual_clock) {
        /* Idle: a good moment to return surplus stack pages. */
        bool more = cio__stacks_trim(L, 256) > 0;
        int64_t wait = -1;
        if (t) {
            int64_t now = cio__loop_now(L);
            wait = t->deadline > now ? t->deadline - now : 0;
        }
        cio__poll_wait(L, more && wait != 0 ? 0 : wait);
    } else if (t && t->deadline <= L->now) {
        cio__poll_wait(L, 0);
    } else if (atomic_load(&L->holds) > 0 || !t) {
        /* Virtual time stands still while work is out on another thread,
         * and with no timer only I/O or another thread can wake a task. */
        cio__poll_wait(L, -1);
    } else if (cio__poll_wait(L, 0) == 0 && L->rq_head == NULL &&
               atomic_load(&L->wake_pending) == 0) {
        L->now = t->deadline; /* every task waits on a timer: jump */
    }
    if (!L->virtual_clock)
        L->now_stale = true;
    if (atomic_load(&L->wake_pending) || L->posted)
        run_posted(L);
    if (cio__unlikely(atomic_load_explicit(&sigint_count, memory_order_relaxed)))
        sigint_check(L);
    fire_timers(L);
    L->budget = BUDGET;
    cio__run_ready(L);
}

static cio_loop *loop_new(const cio_run_opts *o) {
    errno = 0;
    cio_loop *L = cio__calloc(1, sizeof *L);
    if (!L) {
        errno = ENOMEM;
        return NULL;
    }
    L->epfd = L->wake_fd = -1;
    L->page = (size_t)sysconf(_SC_PAGESIZE);
    size_t ss = o && o->stack_size ? o->stack_size : CIO_STACK_DEFAULT;
    const char *env = getenv("CIO_STACK_SIZE");
    if (env && atol(env) > 0 && !(o && o->stack_size))
        ss = (size_t)atol(env);
    L->default_stack = (ss + L->page - 1) & ~(L->page - 1);
    if (L->default_stack < 16384)
        L->default_stack = 16384;
    L->guard_budget = cio__stack_guard_budget();
    /* CIO_VIRTUAL_CLOCK=1 runs any program on the virtual clock: the tests
     * use it to check the examples' output without waiting for real time. */
    const char *vc = getenv("CIO_VIRTUAL_CLOCK");
    L->virtual_clock = (o && o->virtual_clock) || (vc && vc[0] == '1');
    const char *dbg = getenv("CIO_DEBUG");
    L->debug = (o && o->debug) || (dbg && dbg[0] == '1');
    L->slow_task_ns = o && o->slow_task_ns ? o->slow_task_ns : 100 * CIO_MS;
    L->now = cio__clock();
    pthread_mutex_init(&L->post_lock, NULL);
    if (cio__poll_init(L) < 0)
        goto fail;
    L->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (L->wake_fd < 0 || cio__poll_add(L, L->wake_fd, EPOLLIN, CIO__TAG_WAKE) < 0)
        goto fail;
    return L;
fail:;
    int saved = errno;
    if (L->wake_fd >= 0)
        close(L->wake_fd);
    cio__poll_close(L);
    pthread_mutex_destroy(&L->post_lock);
    cio__free(L);
    errno = saved;
    return NULL;
}

static void loop_free(cio_loop *L) {
    while (L->on_close) {
        cio__hook *h = L->on_close;
        L->on_close = h->next;
        h->fn(h->arg);
        cio__free(h);
    }
    pthread_mutex_lock(&L->post_lock);
    L->closing = true;
    int wfd = L->wake_fd;
    L->wake_fd = -1;
    pthread_mutex_unlock(&L->post_lock);
    run_posted(L); /* posts that raced with the end: run, don't leak */
    close(wfd);
    cio__poll_close(L);
    cio__heap_free(&L->timers);
    cio__stacks_free_all(L);
    for (cio__task_chunk *c = L->chunks, *n; c; c = n) {
        n = c->next;
        cio__task_chunk_free(c);
    }
    pthread_mutex_destroy(&L->post_lock);
    cio__free(L);
}

/* Counts what the last cio_run on this thread left behind (for tests). */
__thread size_t cio__last_run_leaked;
CIO_API size_t cio__last_run_leaked_handles(void) { return cio__last_run_leaked; }


int cio_run_with(cio_fn main, void *arg, const cio_run_opts *opts) {
    if (!main)
        return cio_seterr(-EINVAL, "cio_run: main function is NULL");
    if (cio__tls_loop)
        return cio_seterr(-EBUSY, "cio_run: a loop is already running on this thread");
    cio_loop *L = loop_new(opts);
    if (!L) {
        int code = errno ? -errno : -ENOMEM;
        return cio_seterr(code, "cio_run: cannot create the loop: %s", cio_strerror(code));
    }
    cio__tls_loop = L;
#ifdef CIO__ASAN
    pthread_attr_t attr;
    void *lo;
    size_t size;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
    L->main_stack_lo = lo;
    L->main_stack_size = size;
#endif
#ifdef CIO__TSAN
    extern void *__tsan_get_current_fiber(void);
    L->fiber = __tsan_get_current_fiber();
#endif
    if (!(opts && opts->no_sigint))
        sigint_install(L);
    cio__guard_handler_install(L);

    int result;
    cio_task *m = cio_spawn_with(main, arg, &(cio_spawn_opts){.name = "main"});
    if (!m) {
        result = cio_seterr(-ENOMEM, "cio_run: cannot create the main task");
    } else {
        L->main = m;
        while (m->state != CIO__DONE)
            iterate(L);
        result = m->result;
        if (result < 0)
            cio__errmsg_propagate(m);
        L->main = NULL;
        cio__task_release(L, m);
    }
    cio__loop_cancel_all(L); /* asyncio.run: cancel leftovers, wait for them */
    while (L->alive > 0)
        iterate(L);
    cio__last_run_leaked = cio__loop_reap(L);
    sigint_remove(L);
    cio__guard_handler_remove(L);
    loop_free(L); /* sets closing, under the post lock */
    cio__tls_loop = NULL;
    run_exit_hooks();
    return result;
}

int cio_run(cio_fn main, void *arg) { return cio_run_with(main, arg, NULL); }
