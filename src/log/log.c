/* The logger: named loggers with levels, a bounded lock-free queue of
 * records (Vyukov's bounded MPMC ring: a producer claims a slot with one
 * CAS and formats straight into it), and one writer thread that turns
 * records into lines for the handlers. Producers make no system call
 * while the writer is awake; the writer sleeps on a condition variable
 * only when the queue is empty, and a producer wakes it only then. */
#define _GNU_SOURCE
#include "core/internal.h"

#include "cio/log.h"
#include "cio/thread.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSG_INLINE 400
#define MAX_HANDLERS 8
#define OUTBUF 65536
#define DEFAULT_CAP 8192

typedef struct slot {
    _Atomic size_t seq;
    int level;
    uint32_t len;
    int64_t ts;                 /* CLOCK_REALTIME ns */
    const cio_logger *lg;
    char *heap;                 /* the message, when longer than msg[] */
    char task[40];
    char msg[MSG_INLINE];
} slot;

struct cio_logger {
    cio_logger *next;           /* the registry */
    cio_logger *parent;
    atomic_int level;
    const char *name;
};

typedef struct handler {
    int fd;
    int level;
    bool used, owned;
    char *buf;
    size_t len;
} handler;

/* Per-loop: the tasks parked on a full queue. */
typedef struct log_loop {
    struct log_loop *next;
    cio_loop *loop;
    cio__waitq waiters;
    atomic_int want_wake;
} log_loop;

static cio_logger root = {.level = CIO_LOG_WARNING, .name = "root"};

static struct {
    pthread_mutex_t lock;       /* registry, life cycle, loops, sleeping */
    pthread_mutex_t hlock;      /* the handlers (held while writing) */
    pthread_cond_t wake;        /* the writer sleeps here */
    pthread_cond_t space;       /* threads blocked on a full queue */
    pthread_cond_t flushed;     /* cio_log_flush waiters */
    cio_logger *loggers;
    handler h[MAX_HANDLERS];
    log_loop *loops;
    slot *ring;
    size_t cap, mask, want_cap;
    _Atomic size_t tail;        /* next position to claim */
    size_t head;                /* writer only: next position to consume */
    _Atomic size_t written;     /* every position below is on the handlers */
    atomic_int sleeping;        /* the writer waits on wake */
    atomic_int blocked;         /* producers waiting for room */
    atomic_int flush_waiters;
    atomic_int policy;
    atomic_ullong dropped;
    atomic_bool running;
    bool stop, atexit_done;
    pthread_t thread;
} Q = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .hlock = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .space = PTHREAD_COND_INITIALIZER,
       .flushed = PTHREAD_COND_INITIALIZER,
       .want_cap = DEFAULT_CAP};

/* ---- loggers ---- */

static cio_logger *find(const char *name, size_t len) {
    for (cio_logger *l = Q.loggers; l; l = l->next)
        if (strlen(l->name) == len && memcmp(l->name, name, len) == 0)
            return l;
    return NULL;
}

/* With the lock held: the logger for name[0..len), creating its parents. */
static cio_logger *get_locked(const char *name, size_t len) {
    if (len == 0)
        return &root;
    cio_logger *l = find(name, len);
    if (l)
        return l;
    size_t plen = len;
    while (plen > 0 && name[plen - 1] != '.')
        plen--;
    cio_logger *parent = get_locked(name, plen > 0 ? plen - 1 : 0);
    if (!parent || !(l = cio__malloc(sizeof *l + len + 1)))
        return NULL;
    char *n = (char *)(l + 1);
    memcpy(n, name, len);
    n[len] = 0;
    l->name = n;
    l->parent = parent;
    atomic_init(&l->level, CIO_LOG_NOTSET);
    l->next = Q.loggers;
    Q.loggers = l;
    return l;
}

cio_logger *cio_log_get(const char *name) {
    pthread_mutex_lock(&Q.lock);
    cio_logger *l = get_locked(name ? name : "", name ? strlen(name) : 0);
    pthread_mutex_unlock(&Q.lock);
    if (!l)
        errno = ENOMEM;
    return l;
}

int cio_log_set_level(cio_logger *lg, int level) {
    if (level < 0 || level > 100)
        return cio_seterr(-EINVAL, "cio_log_set_level: bad level %d", level);
    if (!lg)
        lg = &root;
    if (lg == &root && level == CIO_LOG_NOTSET)
        level = CIO_LOG_DEBUG; /* the root has no parent to defer to */
    atomic_store_explicit(&lg->level, level, memory_order_relaxed);
    return 0;
}

int cio_log_effective_level(const cio_logger *lg) {
    for (lg = lg ? lg : &root; lg; lg = lg->parent) {
        int l = atomic_load_explicit(&lg->level, memory_order_relaxed);
        if (l != CIO_LOG_NOTSET)
            return l;
    }
    return CIO_LOG_WARNING;
}

bool cio_log_enabled(const cio_logger *lg, int level) {
    return level >= cio_log_effective_level(lg);
}

const char *cio_log_name(const cio_logger *lg) { return lg ? lg->name : root.name; }

/* ---- the writer ---- */

static const char *level_name(int level, char *tmp) {
    switch (level) {
    case CIO_LOG_DEBUG: return "DEBUG";
    case CIO_LOG_INFO: return "INFO";
    case CIO_LOG_WARNING: return "WARNING";
    case CIO_LOG_ERROR: return "ERROR";
    case CIO_LOG_CRITICAL: return "CRITICAL";
    }
    snprintf(tmp, 16, "Level %d", level);
    return tmp;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report a failing log file */
        p += w;
        n -= (size_t)w;
    }
}

static void flush_handler(handler *h) {
    if (h->len) {
        write_all(h->fd, h->buf, h->len);
        h->len = 0;
    }
}

/* Where lines go while no handler is configured (Python's lastResort). */
static handler last_resort = {.fd = 2, .used = true};

/* With hlock held (handlers may change otherwise). */
static void emit(const slot *s) {
    static __thread time_t last_sec = -1;
    static __thread char stamp[32];
    time_t sec = (time_t)(s->ts / CIO_SEC);
    if (sec != last_sec) {
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        last_sec = sec;
    }
    char tmp[16], head[256];
    int hl = snprintf(head, sizeof head, "%s.%03d %-8s %s [%s] ", stamp,
                      (int)(s->ts % CIO_SEC / CIO_MS), level_name(s->level, tmp), s->lg->name,
                      s->task);
    if (hl >= (int)sizeof head)
        hl = sizeof head - 1;
    const char *msg = s->heap ? s->heap : s->msg;
    size_t line = (size_t)hl + s->len + 1;
    bool any = false;
    for (int i = 0; i <= MAX_HANDLERS; i++) {
        handler *h = i < MAX_HANDLERS ? &Q.h[i] : &last_resort;
        if (i == MAX_HANDLERS && any)
            break;
        if (!h->used)
            continue;
        any = true;
        if (s->level < h->level)
            continue;
        if (!h->buf && !(h->buf = cio__malloc(OUTBUF)))
            continue;
        if (h->len + line > OUTBUF)
            flush_handler(h);
        if (line > OUTBUF) { /* a huge message: straight through */
            write_all(h->fd, head, (size_t)hl);
            write_all(h->fd, msg, s->len);
            write_all(h->fd, "\n", 1);
            continue;
        }
        memcpy(h->buf + h->len, head, (size_t)hl);
        memcpy(h->buf + h->len + hl, msg, s->len);
        h->buf[h->len + line - 1] = '\n';
        h->len += line;
    }
}

static bool published(size_t pos) {
    return atomic_load_explicit(&Q.ring[pos & Q.mask].seq, memory_order_acquire) == pos + 1;
}

static void wake_loop_waiters(void *loop) {
    log_loop *st = *cio__loop_slot(loop, CIO__SLOT_LOG);
    if (st)
        cio__waitq_wake_all(&st->waiters, 0);
}

/* After slots were freed: wakes the producers waiting for room. */
static void signal_room(void) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&Q.blocked) == 0)
        return;
    pthread_mutex_lock(&Q.lock);
    pthread_cond_broadcast(&Q.space);
    for (log_loop *st = Q.loops; st; st = st->next)
        if (atomic_exchange(&st->want_wake, 0))
            cio__loop_post(st->loop, wake_loop_waiters, st->loop);
    pthread_mutex_unlock(&Q.lock);
}

/* The writer holds hlock (the handlers) while it formats and writes, and
 * Q.lock only to sleep: a handler stuck in write() never blocks a loop
 * thread that merely needs Q.lock. */
static void *writer_main(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "cio-log");
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&Q.hlock);
        while (n < 1024 && published(Q.head)) {
            slot *s = &Q.ring[Q.head & Q.mask];
            emit(s);
            if (s->heap) {
                cio__free(s->heap);
                s->heap = NULL;
            }
            atomic_store_explicit(&s->seq, Q.head + Q.cap, memory_order_release);
            Q.head++;
            n++;
        }
        for (int i = 0; i < MAX_HANDLERS; i++)
            if (Q.h[i].used)
                flush_handler(&Q.h[i]);
        flush_handler(&last_resort);
        pthread_mutex_unlock(&Q.hlock);
        if (n > 0)
            signal_room();
        atomic_store(&Q.written, Q.head);
        if (atomic_load(&Q.flush_waiters) > 0) {
            pthread_mutex_lock(&Q.lock);
            pthread_cond_broadcast(&Q.flushed);
            pthread_mutex_unlock(&Q.lock);
        }
        if (n > 0 && published(Q.head))
            continue;
        pthread_mutex_lock(&Q.lock);
        if (Q.stop && Q.head == atomic_load(&Q.tail)) {
            pthread_mutex_unlock(&Q.lock);
            break;
        }
        atomic_store(&Q.sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst); /* pairs with cio_vlog's */
        if (!published(Q.head) && !Q.stop)
            pthread_cond_wait(&Q.wake, &Q.lock);
        atomic_store(&Q.sleeping, 0);
        pthread_mutex_unlock(&Q.lock);
    }
    return NULL;
}

static void at_exit_flush(void);
static void run_exit_flush(void);

static bool start_writer_locked(void) {
    if (atomic_load(&Q.running))
        return true;
    size_t cap = 16;
    while (cap < Q.want_cap)
        cap *= 2;
    Q.ring = cio__calloc(cap, sizeof *Q.ring);
    if (!Q.ring)
        return false;
    for (size_t i = 0; i < cap; i++)
        atomic_init(&Q.ring[i].seq, i);
    Q.cap = cap;
    Q.mask = cap - 1;
    atomic_store(&Q.tail, 0);
    Q.head = 0;
    atomic_store(&Q.written, 0);
    Q.stop = false;
    if (pthread_create(&Q.thread, NULL, writer_main, NULL) != 0) {
        cio__free(Q.ring);
        Q.ring = NULL;
        return false;
    }
    if (!Q.atexit_done) {
        atexit(at_exit_flush);
        Q.atexit_done = true;
    }
    cio__at_run_exit(run_exit_flush);
    atomic_store_explicit(&Q.running, true, memory_order_release);
    return true;
}

static bool ensure_writer(void) {
    if (cio__likely(atomic_load_explicit(&Q.running, memory_order_acquire)))
        return true;
    pthread_mutex_lock(&Q.lock);
    bool ok = start_writer_locked();
    pthread_mutex_unlock(&Q.lock);
    return ok;
}

/* ---- producers ---- */

static slot *claim(size_t *out) {
    size_t pos = atomic_load_explicit(&Q.tail, memory_order_relaxed);
    for (;;) {
        slot *s = &Q.ring[pos & Q.mask];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&Q.tail, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *out = pos;
                return s;
            }
        } else if (dif < 0) {
            return NULL; /* full */
        } else {
            pos = atomic_load_explicit(&Q.tail, memory_order_relaxed);
        }
    }
}

static bool has_room(void) {
    size_t pos = atomic_load(&Q.tail);
    return atomic_load(&Q.ring[pos & Q.mask].seq) == pos;
}

static void loop_state_close(void *arg) {
    log_loop *st = arg;
    pthread_mutex_lock(&Q.lock);
    for (log_loop **p = &Q.loops; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            break;
        }
    pthread_mutex_unlock(&Q.lock);
    *cio__loop_slot(st->loop, CIO__SLOT_LOG) = NULL;
    cio__free(st);
}

static log_loop *loop_state(void) {
    cio_loop *L = cio__loop();
    void **slot = cio__loop_slot(L, CIO__SLOT_LOG);
    if (*slot)
        return *slot;
    log_loop *st = cio__calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->loop = L;
    if (cio__loop_on_close(L, loop_state_close, st) < 0) {
        cio__free(st);
        return NULL;
    }
    pthread_mutex_lock(&Q.lock);
    st->next = Q.loops;
    Q.loops = st;
    pthread_mutex_unlock(&Q.lock);
    *slot = st;
    return st;
}

/* The queue is full and the policy is BLOCK: wait for the writer to make
 * room. A task parks (other tasks run on); a thread waits. */
static int wait_for_room(void) {
    log_loop *st = cio__task() ? loop_state() : NULL;
    atomic_fetch_add(&Q.blocked, 1);
    int rc = 0;
    if (st) {
        atomic_store(&st->want_wake, 1);
        if (!has_room()) {
            /* The writer thread will wake us: virtual time must wait too. */
            cio__loop_hold(st->loop, +1);
            cio__waiter w;
            rc = cio__waitq_wait(&st->waiters, &w);
            cio__loop_hold(st->loop, -1);
        }
    } else {
        pthread_mutex_lock(&Q.lock);
        while (!has_room() && atomic_load(&Q.running)) {
            if (atomic_exchange(&Q.sleeping, 0))
                pthread_cond_signal(&Q.wake);
            pthread_cond_wait(&Q.space, &Q.lock);
        }
        pthread_mutex_unlock(&Q.lock);
    }
    atomic_fetch_sub(&Q.blocked, 1);
    return rc;
}

static const char *thread_label(void) {
    static __thread char name[24];
    if (!name[0] && pthread_getname_np(pthread_self(), name, sizeof name) != 0)
        snprintf(name, sizeof name, "thread");
    return name;
}

int cio_vlog(cio_logger *lg, int level, const char *fmt, va_list ap) {
    if (!lg)
        lg = &root;
    if (level < cio_log_effective_level(lg))
        return 0;
    if (!fmt)
        return cio_seterr(-EINVAL, "cio_log: format is NULL");
    if (cio__unlikely(!ensure_writer()))
        return cio_seterr(-ENOMEM, "cio_log: cannot start the writer");
    size_t pos;
    slot *s;
    while (!(s = claim(&pos))) {
        if (atomic_load_explicit(&Q.policy, memory_order_relaxed) == CIO_LOG_DROP) {
            atomic_fetch_add_explicit(&Q.dropped, 1, memory_order_relaxed);
            /* No message: a caller that logs a failure and then returns it
             * must not find its own message replaced. */
            return -EAGAIN;
        }
        int rc = wait_for_room();
        if (rc < 0)
            return rc;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->ts = (int64_t)ts.tv_sec * CIO_SEC + ts.tv_nsec;
    s->level = level;
    s->lg = lg;
    s->heap = NULL;
    const char *who = cio__task() ? cio_task_name(NULL) : thread_label();
    size_t wl = strlen(who);
    if (wl >= sizeof s->task)
        wl = sizeof s->task - 1;
    memcpy(s->task, who, wl);
    s->task[wl] = 0;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof s->msg) {
        s->heap = cio__malloc((size_t)n + 1);
        if (s->heap)
            vsnprintf(s->heap, (size_t)n + 1, fmt, ap2);
        else
            n = sizeof s->msg - 1;
    }
    va_end(ap2);
    s->len = (uint32_t)n;
    atomic_store_explicit(&s->seq, pos + 1, memory_order_seq_cst);
    if (atomic_load(&Q.sleeping) && atomic_exchange(&Q.sleeping, 0)) {
        pthread_mutex_lock(&Q.lock);
        pthread_cond_signal(&Q.wake);
        pthread_mutex_unlock(&Q.lock);
    }
    return 0;
}

int cio_log(cio_logger *lg, int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cio_vlog(lg, level, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- flushing, handlers, configuration ---- */

static void flush_blocking(void) {
    if (!atomic_load_explicit(&Q.running, memory_order_acquire))
        return;
    size_t target = atomic_load(&Q.tail);
    atomic_fetch_add(&Q.flush_waiters, 1);
    pthread_mutex_lock(&Q.lock);
    while (atomic_load(&Q.written) < target) {
        pthread_cond_signal(&Q.wake); /* in case it sleeps */
        pthread_cond_wait(&Q.flushed, &Q.lock);
    }
    pthread_mutex_unlock(&Q.lock);
    atomic_fetch_sub(&Q.flush_waiters, 1);
}

static int flush_job(void *arg) {
    (void)arg;
    flush_blocking();
    return 0;
}

int cio_log_flush(void) {
    if (cio__task())
        return cio_to_thread(flush_job, NULL);
    flush_blocking();
    return 0;
}

static void run_exit_flush(void) { flush_blocking(); }

static void report_hook(int level, const char *msg) {
    static const int map[] = {CIO_LOG_DEBUG, CIO_LOG_INFO, CIO_LOG_WARNING, CIO_LOG_ERROR};
    cio_log(cio_log_get("cio"), map[level & 3], "%s", msg);
}

static int add_handler(int fd, int level, bool owned) {
    pthread_mutex_lock(&Q.hlock);
    int id = -1;
    for (int i = 0; i < MAX_HANDLERS && id < 0; i++)
        if (!Q.h[i].used)
            id = i;
    if (id >= 0)
        Q.h[id] = (handler){.fd = fd, .level = level, .used = true, .owned = owned};
    pthread_mutex_unlock(&Q.hlock);
    if (id < 0)
        return cio_seterr(-ENOSPC, "cio_log: at most %d handlers", MAX_HANDLERS);
    cio__set_report_hook(report_hook);
    return id;
}

int cio_log_add_stderr(int level) { return add_handler(2, level, false); }

int cio_log_add_file(const char *path, int level) {
    if (!path)
        return cio_seterr(-EINVAL, "cio_log_add_file: path is NULL");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        return cio_seterr(-errno, "log file %s: %s", path, strerror(errno));
    int id = add_handler(fd, level, true);
    if (id < 0)
        close(fd);
    return id;
}

int cio_log_remove_handler(int id) {
    if (id < 0 || id >= MAX_HANDLERS)
        return cio_seterr(-EINVAL, "cio_log_remove_handler: bad id %d", id);
    flush_blocking();
    pthread_mutex_lock(&Q.hlock);
    handler h = Q.h[id];
    Q.h[id] = (handler){0};
    pthread_mutex_unlock(&Q.hlock);
    if (!h.used)
        return cio_seterr(-EINVAL, "cio_log_remove_handler: no handler %d", id);
    flush_handler(&h);
    cio__free(h.buf);
    if (h.owned)
        close(h.fd);
    return 0;
}

int cio_log_configure(size_t queue_size, cio_log_policy policy) {
    if (policy != CIO_LOG_BLOCK && policy != CIO_LOG_DROP)
        return cio_seterr(-EINVAL, "cio_log_configure: bad policy %d", (int)policy);
    if (queue_size > ((size_t)1 << 24))
        return cio_seterr(-EINVAL, "cio_log_configure: queue of %zu records is too big",
                          queue_size);
    pthread_mutex_lock(&Q.lock);
    if (queue_size)
        Q.want_cap = queue_size;
    pthread_mutex_unlock(&Q.lock);
    atomic_store(&Q.policy, (int)policy);
    return 0;
}

uint64_t cio_log_dropped(void) { return atomic_load(&Q.dropped); }

static void stop_writer(void) {
    flush_blocking();
    pthread_mutex_lock(&Q.lock);
    if (!atomic_load(&Q.running)) {
        pthread_mutex_unlock(&Q.lock);
        return;
    }
    Q.stop = true;
    pthread_cond_signal(&Q.wake);
    pthread_mutex_unlock(&Q.lock);
    pthread_join(Q.thread, NULL);
    pthread_mutex_lock(&Q.lock);
    atomic_store(&Q.running, false);
    pthread_cond_broadcast(&Q.space);
    cio__free(Q.ring);
    Q.ring = NULL;
    pthread_mutex_unlock(&Q.lock);
}

static void at_exit_flush(void) { stop_writer(); }

void cio_log_shutdown(void) {
    stop_writer();
    cio__set_report_hook(NULL);
    pthread_mutex_lock(&Q.hlock);
    for (int i = 0; i < MAX_HANDLERS; i++) {
        handler *h = &Q.h[i];
        if (h->used) {
            flush_handler(h);
            if (h->owned)
                close(h->fd);
        }
        cio__free(h->buf);
        *h = (handler){0};
    }
    cio__free(last_resort.buf);
    last_resort.buf = NULL;
    pthread_mutex_unlock(&Q.hlock);
    pthread_mutex_lock(&Q.lock);
    while (Q.loggers) {
        cio_logger *l = Q.loggers;
        Q.loggers = l->next;
        cio__free(l);
    }
    atomic_store(&root.level, CIO_LOG_WARNING);
    atomic_store(&Q.dropped, 0);
    Q.want_cap = DEFAULT_CAP;
    atomic_store(&Q.policy, CIO_LOG_BLOCK);
    pthread_mutex_unlock(&Q.lock);
}
