/* The io_uring backend: one ring per loop (in the loop's URING slot),
 * its completions signalled on an eventfd that the loop watches. SQEs
 * filled during one loop iteration are submitted together by a callback
 * posted for the next iteration, so 64 tasks reading 64 files cost one
 * io_uring_enter. Every SQE points at a heap cio__fsop that owns all the
 * memory the kernel may touch; a cancelled task leaves its op behind and
 * the op is freed when its CQE arrives. */
#define _GNU_SOURCE
#include "fs/fsop.h"

#include "cio/thread.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifdef CIO_HAVE_URING
#include <liburing.h>

#define RING_ENTRIES 1024

typedef struct {
    struct io_uring ring;
    cio_loop *loop;
    int efd;
    cio__watch watch;
    size_t inflight;   /* ops whose CQE has not arrived */
    size_t cq_entries;
    bool submit_posted;
} uring;

/* Probed once per process: -1 unknown, 0 refused, 1 usable. */
static atomic_int available = -1;
static bool op_supported[FSOP_NKINDS];
static const int opcode_of[FSOP_NKINDS] = {
    [FSOP_OPEN] = IORING_OP_OPENAT,   [FSOP_READ] = IORING_OP_READ,
    [FSOP_WRITE] = IORING_OP_WRITE,   [FSOP_FSYNC] = IORING_OP_FSYNC,
    [FSOP_CLOSE] = IORING_OP_CLOSE,   [FSOP_STATX] = IORING_OP_STATX,
    [FSOP_UNLINK] = IORING_OP_UNLINKAT, [FSOP_RMDIR] = IORING_OP_UNLINKAT,
    [FSOP_RENAME] = IORING_OP_RENAMEAT, [FSOP_MKDIR] = IORING_OP_MKDIRAT,
    [FSOP_LISTDIR] = -1,
};

static void probe(void) {
    struct io_uring r;
    if (io_uring_queue_init(4, &r, 0) < 0) {
        atomic_store(&available, 0); /* seccomp, io_uring_disabled, old kernel */
        return;
    }
    struct io_uring_probe *p = io_uring_get_probe_ring(&r);
    for (int k = 0; k < FSOP_NKINDS; k++)
        op_supported[k] = p && opcode_of[k] >= 0 && io_uring_opcode_supported(p, opcode_of[k]);
    if (p)
        io_uring_free_probe(p);
    io_uring_queue_exit(&r);
    atomic_store(&available, op_supported[FSOP_READ] && op_supported[FSOP_WRITE] ? 1 : 0);
}

bool cio__uring_available(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, probe);
    return atomic_load(&available) == 1;
}

static void complete_op(uring *u, struct io_uring_cqe *cqe) {
    cio__fsop *op = io_uring_cqe_get_data(cqe);
    if (!op)
        return; /* the answer to a cancel request */
    op->res = cqe->res;
    op->done = true;
    if (--u->inflight == 0) /* one hold while anything is in flight */
        cio__loop_hold(u->loop, -1);
    if (op->task)
        cio__wake(op->task, 0);
    else
        cio__fsop_orphan_done(op); /* its task gave up */
}

static void reap(uring *u) {
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe) {
        complete_op(u, cqe);
        n++;
    }
    io_uring_cq_advance(&u->ring, n);
}

static void on_cqe(cio__watch *w, uint32_t revents) {
    (void)revents;
    uring *u = (uring *)((char *)w - offsetof(uring, watch));
    uint64_t v;
    if (read(u->efd, &v, sizeof v) < 0) {
        /* EAGAIN: nothing new since the last read; reap anyway. */
    }
    reap(u);
}

static void submit_now(void *arg) {
    void **slot = cio__loop_slot(arg, CIO__SLOT_URING);
    uring *u = slot ? *slot : NULL;
    if (!u || u == (void *)-1)
        return;
    u->submit_posted = false;
    io_uring_submit(&u->ring);
}

/* Loop close: every task is gone, but ops they abandoned may be in the
 * kernel. Cancel them and wait for their CQEs before the memory and the
 * ring go away. */
static void ring_close(void *arg) {
    uring *u = arg;
    if (u->inflight > 0) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
        if (sqe) {
            io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data(sqe, NULL);
        }
        io_uring_submit(&u->ring);
    }
    while (u->inflight > 0) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&u->ring, &cqe) < 0)
            break;
        reap(u);
    }
    cio__watch_stop(&u->watch);
    io_uring_queue_exit(&u->ring);
    close(u->efd);
    *cio__loop_slot(u->loop, CIO__SLOT_URING) = NULL;
    cio__free(u);
}

/* The current loop's ring, created on first use; NULL if it cannot be. */
static uring *ring_get(void) {
    cio_loop *L = cio__loop();
    void **slot = cio__loop_slot(L, CIO__SLOT_URING);
    if (!slot)
        return NULL;
    if (cio__likely(*slot != NULL))
        return *slot == (void *)-1 ? NULL : *slot;
    uring *u = cio__calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->loop = L;
    u->efd = -1;
    if (io_uring_queue_init(RING_ENTRIES, &u->ring, 0) < 0) {
        cio__free(u);
        *slot = (void *)-1; /* this loop uses threads from now on */
        return NULL;
    }
    u->cq_entries = *u->ring.cq.kring_entries;
    /* Operations that cannot complete inline (creating files, cold reads)
     * go to the kernel's io-wq threads, by default up to one per request:
     * 64 creates in one directory then spin on its lock. Bound them like
     * the thread pool. */
    unsigned workers[2] = {(unsigned)cio_thread_pool_size(), (unsigned)cio_thread_pool_size()};
    io_uring_register_iowq_max_workers(&u->ring, workers);
    u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (u->efd < 0 || io_uring_register_eventfd(&u->ring, u->efd) < 0 ||
        cio__watch_start(&u->watch, u->efd, EPOLLIN, on_cqe) < 0)
        goto fail;
    if (cio__loop_on_close(L, ring_close, u) < 0) {
        cio__watch_stop(&u->watch);
        goto fail;
    }
    *slot = u;
    return u;
fail:
    if (u->efd >= 0)
        close(u->efd);
    io_uring_queue_exit(&u->ring);
    cio__free(u);
    return NULL;
}

bool cio__uring_usable(int kind) {
    if (!cio__uring_available() || !op_supported[kind] || !cio__loop())
        return false;
    uring *u = ring_get();
    /* A full completion queue would overflow: let threads take the rest. */
    return u && u->inflight < u->cq_entries;
}

static void prep(struct io_uring_sqe *sqe, cio__fsop *op) {
    switch (op->kind) {
    case FSOP_OPEN:
        io_uring_prep_openat(sqe, AT_FDCWD, op->path, op->flags, op->mode);
        break;
    case FSOP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)op->off);
        break;
    case FSOP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)op->off);
        break;
    case FSOP_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, 0);
        break;
    case FSOP_CLOSE:
        io_uring_prep_close(sqe, op->fd);
        break;
    case FSOP_STATX:
        io_uring_prep_statx(sqe, AT_FDCWD, op->path, 0, STATX_BASIC_STATS, &op->stx);
        break;
    case FSOP_UNLINK:
        io_uring_prep_unlinkat(sqe, AT_FDCWD, op->path, 0);
        break;
    case FSOP_RMDIR:
        io_uring_prep_unlinkat(sqe, AT_FDCWD, op->path, AT_REMOVEDIR);
        break;
    case FSOP_RENAME:
        io_uring_prep_renameat(sqe, AT_FDCWD, op->path, AT_FDCWD, op->path2, 0);
        break;
    case FSOP_MKDIR:
        io_uring_prep_mkdirat(sqe, AT_FDCWD, op->path, op->mode);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
}

int cio__uring_exec(cio__fsop **opp) {
    cio__fsop *op = *opp;
    int rc = cio__check_in_task("file operation");
    if (rc < 0 || (rc = cio__interrupted()) < 0)
        return rc;
    uring *u = ring_get();
    if (!u)
        return cio_seterr(-ENOMEM, "io_uring: no ring for this loop");
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) { /* the submission queue is full: push it to the kernel */
        io_uring_submit(&u->ring);
        if (!(sqe = io_uring_get_sqe(&u->ring)))
            return cio_seterr(-EBUSY, "io_uring: submission queue full");
    }
    prep(sqe, op);
    if (!u->submit_posted) {
        if (cio__loop_post(u->loop, submit_now, u->loop) < 0)
            io_uring_submit(&u->ring); /* cannot defer: submit at once */
        else
            u->submit_posted = true;
    }
    op->task = cio__task();
    op->done = false;
    if (u->inflight++ == 0)
        cio__loop_hold(u->loop, +1);
    rc = cio__park(CIO_FOREVER);
    if (op->done)
        return op->res;
    /* Interrupted: the kernel may still use op; it is freed on its CQE. */
    op->task = NULL;
    *opp = NULL;
    struct io_uring_sqe *c = io_uring_get_sqe(&u->ring);
    if (c) {
        io_uring_prep_cancel(c, op, 0);
        io_uring_sqe_set_data(c, NULL);
        if (!u->submit_posted && cio__loop_post(u->loop, submit_now, u->loop) == 0)
            u->submit_posted = true;
    }
    return rc < 0 ? rc : -ECANCELED;
}

#else /* built without liburing */

bool cio__uring_available(void) { return false; }
bool cio__uring_usable(int kind) {
    (void)kind;
    return false;
}
int cio__uring_exec(cio__fsop **opp) {
    (void)opp;
    return -ENOSYS;
}

#endif
