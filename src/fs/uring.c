/* The io_uring backend: one ring per loop (in the loop's URING slot),
 * its completions signalled on an eventfd that the loop watches. SQEs
 * filled during one loop iteration are submitted together by a callback
 * posted for the next iteration, so 64 tasks reading 64 files cost one
 * io_uring_enter. Every SQE points at a heap cio__fsop that owns all the
 * memory the kernel may touch; a cancelled task leaves its op behind and
 * the op is freed when its CQE arrives.
 *
 * Whole-file operations (read_file, write_file) are one linked chain:
 * open into a fixed-file slot -> read or write -> close the slot, so the
 * kernel runs all the steps on one submission and the task wakes once
 * (a read asks statx first, see chain_exec). The close is hard-linked: it
 * runs even when the read or write fails. A chain is never cancelled (its
 * steps are short and it always closes what it opened); a task that gives
 * up leaves it to end. */
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

#ifdef __SANITIZE_THREAD__
#include <sanitizer/tsan_interface.h>
static char ring_lifecycle;
#endif

/* liburing maps and unmaps its rings with raw system calls, which
 * ThreadSanitizer does not see: when a loop on another thread gets a new
 * ring at the address of one just torn down, its first read of the ring
 * looks like a race with the old ring's last write. Tell it that what
 * came before an unmapping happens before whatever follows a later
 * mapping (the release goes first: the address is free after the unmap). */
static void ring_before_unmap(void) {
#ifdef __SANITIZE_THREAD__
    __tsan_release(&ring_lifecycle);
#endif
}

static void ring_after_map(void) {
#ifdef __SANITIZE_THREAD__
    __tsan_acquire(&ring_lifecycle);
#endif
}

#define RING_ENTRIES 1024
#define CHAIN_SLOTS 256 /* fixed-file slots: whole-file chains in flight */
#define CHAIN_MAX_IO ((size_t)1 << 30)

typedef struct {
    struct io_uring ring;
    cio_loop *loop;
    int efd;
    cio__watch watch;
    size_t inflight;   /* ops whose CQE has not arrived */
    size_t cq_entries;
    bool submit_posted;
    int nfree_slots;   /* 0 also when the kernel has no fixed-file table */
    int free_slots[CHAIN_SLOTS];
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
    [FSOP_WRITE_FILE] = IORING_OP_WRITE, [FSOP_READ_FILE] = IORING_OP_READ, /* chains */
};

static void probe(void) {
    struct io_uring r;
    if (io_uring_queue_init(4, &r, 0) < 0) {
        atomic_store(&available, 0); /* seccomp, io_uring_disabled, old kernel */
        return;
    }
    ring_after_map();
    struct io_uring_probe *p = io_uring_get_probe_ring(&r);
    for (int k = 0; k < FSOP_NKINDS; k++)
        op_supported[k] = p && opcode_of[k] >= 0 && io_uring_opcode_supported(p, opcode_of[k]);
    if (p)
        io_uring_free_probe(p);
    ring_before_unmap();
    io_uring_queue_exit(&r);
    atomic_store(&available, op_supported[FSOP_READ] && op_supported[FSOP_WRITE] ? 1 : 0);
}

bool cio__uring_available(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, probe);
    return atomic_load(&available) == 1;
}

/* The steps of a chain, tagged in the low bits of each SQE's user data. */
enum { STEP_STATX, STEP_OPEN, STEP_IO, STEP_CLOSE };

/* Folds the steps' results into res, stage and done (see fsop.h). */
static void chain_result(cio__fsop *op) {
    int *r = op->step_res;
    bool reading = op->kind == FSOP_READ_FILE;
    size_t want = op->len - (size_t)op->off;
    op->res = 0;
    op->stage = -1;
    if (r[STEP_OPEN] < 0)
        op->res = r[STEP_OPEN], op->stage = FSOP_OPEN;
    else if (r[STEP_IO] < 0 || (!reading && r[STEP_IO] == 0 && want > 0))
        op->res = r[STEP_IO] < 0 ? r[STEP_IO] : -EIO, op->stage = reading ? FSOP_READ : FSOP_WRITE;
    else if (r[STEP_CLOSE] < 0)
        op->res = r[STEP_CLOSE], op->stage = FSOP_CLOSE;
    if (op->res < 0)
        return;
    op->done = (size_t)op->off + (size_t)r[STEP_IO];
    /* A short read ends a regular file only at the size statx saw (a
     * /proc file, say, gives a page per read). */
    op->eof_known = reading && (size_t)r[STEP_IO] < want && S_ISREG(op->stx.stx_mode) &&
                    op->done == op->stx.stx_size;
}

static void chain_step_done(uring *u, cio__fsop *op, int step, int res) {
    op->step_res[step] = res;
    if (--op->cqes > 0)
        return;
    if (step == STEP_STATX) { /* a read's first question, asked alone */
        op->res = res < 0 ? res : 0;
        op->stage = FSOP_OPEN;
    } else {
        /* A slot whose close failed after a good open may still hold a
         * file: it is not handed out again (the ring's exit releases it). */
        if (op->step_res[STEP_OPEN] < 0 || op->step_res[STEP_CLOSE] >= 0)
            u->free_slots[u->nfree_slots++] = op->slot;
        chain_result(op);
    }
    op->finished = true;
    if (op->task)
        cio__wake(op->task, 0);
    else
        cio__fsop_orphan_done(op); /* its task gave up */
}

static void complete_op(uring *u, struct io_uring_cqe *cqe) {
    uintptr_t data = (uintptr_t)io_uring_cqe_get_data(cqe);
    cio__fsop *op = (cio__fsop *)(data & ~(uintptr_t)3);
    if (!op)
        return; /* the answer to a cancel request */
    if (--u->inflight == 0) /* one hold while anything is in flight */
        cio__loop_hold(u->loop, -1);
    if (cio__fsop_whole(op->kind)) {
        chain_step_done(u, op, (int)(data & 3), cqe->res);
        return;
    }
    op->res = cqe->res;
    op->finished = true;
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
    ring_before_unmap();
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
    ring_after_map();
    u->cq_entries = *u->ring.cq.kring_entries;
    /* Operations that cannot complete inline (creating files, cold reads)
     * go to the kernel's io-wq threads, by default up to one per request:
     * 64 creates in one directory then spin on its lock. Bound them like
     * the thread pool. */
    unsigned workers[2] = {(unsigned)cio_thread_pool_size(), (unsigned)cio_thread_pool_size()};
    io_uring_register_iowq_max_workers(&u->ring, workers);
    /* Whole-file chains need a sparse fixed-file table (Linux 5.19); without
     * one, those helpers take the thread pool. */
    if (op_supported[FSOP_OPEN] && op_supported[FSOP_CLOSE] && op_supported[FSOP_STATX] &&
        io_uring_register_files_sparse(&u->ring, CHAIN_SLOTS) == 0) {
        for (int i = 0; i < CHAIN_SLOTS; i++)
            u->free_slots[i] = CHAIN_SLOTS - 1 - i;
        u->nfree_slots = CHAIN_SLOTS;
    }
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
    ring_before_unmap();
    io_uring_queue_exit(&u->ring);
    cio__free(u);
    return NULL;
}

bool cio__uring_usable(int kind) {
    if (!cio__uring_available() || !op_supported[kind] || !cio__loop())
        return false;
    uring *u = ring_get();
    if (!u)
        return false;
    if (cio__fsop_whole(kind))
        return u->nfree_slots > 0 && u->inflight + 4 <= u->cq_entries;
    /* A full completion queue would overflow: let threads take the rest. */
    return u->inflight < u->cq_entries;
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

static inline void *tagged(cio__fsop *op, int step) {
    return (void *)((uintptr_t)op | (uintptr_t)step);
}

static void post_submit(uring *u) {
    if (u->submit_posted)
        return;
    if (cio__loop_post(u->loop, submit_now, u->loop) < 0)
        io_uring_submit(&u->ring); /* cannot defer: submit at once */
    else
        u->submit_posted = true;
}

/* Submits the nsqe SQEs just prepared for op and parks until all their
 * CQEs are in. Returns op->res, or an interruption code with *opp set to
 * NULL (the steps run to their end and free op). */
static int chain_wait(uring *u, cio__fsop **opp, int nsqe) {
    cio__fsop *op = *opp;
    post_submit(u);
    op->cqes = nsqe;
    op->task = cio__task();
    op->finished = false;
    if (u->inflight == 0)
        cio__loop_hold(u->loop, +1);
    u->inflight += (size_t)nsqe;
    int rc = cio__park(CIO_FOREVER);
    if (op->finished)
        return op->res;
    op->task = NULL;
    *opp = NULL;
    return rc < 0 ? rc : -ECANCELED;
}

static bool sq_room(uring *u, unsigned n) {
    if (io_uring_sq_space_left(&u->ring) < n)
        io_uring_submit(&u->ring);
    return io_uring_sq_space_left(&u->ring) >= n;
}

/* A whole-file operation as one chain (see the top of this file). A read
 * first asks statx alone: only a regular file's chain can tell its end from
 * a short read, and a pipe's data, once read, could not be read again by
 * parts. */
static int chain_exec(uring *u, cio__fsop **opp) {
    cio__fsop *op = *opp;
    bool reading = op->kind == FSOP_READ_FILE;
    struct io_uring_sqe *sqe;
    memset(op->step_res, 0, sizeof op->step_res);
    op->slot = -1;
    if (reading) {
        if (!sq_room(u, 1))
            return cio_seterr(-EBUSY, "io_uring: submission queue full");
        sqe = io_uring_get_sqe(&u->ring);
        io_uring_prep_statx(sqe, AT_FDCWD, op->path, 0, STATX_TYPE | STATX_SIZE, &op->stx);
        io_uring_sqe_set_data(sqe, tagged(op, STEP_STATX));
        int rc = chain_wait(u, opp, 1);
        if (rc < 0 || !S_ISREG(op->stx.stx_mode))
            return rc; /* not regular: eof_known stays false */
        if (u->nfree_slots == 0 || u->inflight + 3 > u->cq_entries)
            return 0; /* busy meanwhile: eof_known false, read by parts */
    }
    if (!sq_room(u, 3))
        return cio_seterr(-EBUSY, "io_uring: submission queue full");
    int slot = op->slot = u->free_slots[--u->nfree_slots];
    size_t want = op->len - (size_t)op->off;
    if (want > CHAIN_MAX_IO)
        want = CHAIN_MAX_IO; /* the rest follows in another chain */
    sqe = io_uring_get_sqe(&u->ring);
    /* A fixed-file slot is no descriptor: O_CLOEXEC means nothing there
     * and the kernel refuses it. */
    io_uring_prep_openat_direct(sqe, AT_FDCWD, op->path, op->flags & ~O_CLOEXEC, op->mode,
                                (unsigned)slot);
    io_uring_sqe_set_data(sqe, tagged(op, STEP_OPEN));
    sqe->flags |= IOSQE_IO_LINK;
    sqe = io_uring_get_sqe(&u->ring);
    if (reading)
        io_uring_prep_read(sqe, slot, op->buf + op->off, (unsigned)want, (uint64_t)op->off);
    else
        io_uring_prep_write(sqe, slot, op->buf + op->off, (unsigned)want, (uint64_t)op->off);
    io_uring_sqe_set_data(sqe, tagged(op, STEP_IO));
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK; /* close even if it fails */
    sqe = io_uring_get_sqe(&u->ring);
    io_uring_prep_close_direct(sqe, (unsigned)slot);
    io_uring_sqe_set_data(sqe, tagged(op, STEP_CLOSE));
    return chain_wait(u, opp, 3);
}

int cio__uring_exec(cio__fsop **opp) {
    cio__fsop *op = *opp;
    int rc = cio__check_in_task("file operation");
    if (rc < 0 || (rc = cio__interrupted()) < 0)
        return rc;
    uring *u = ring_get();
    if (!u)
        return cio_seterr(-ENOMEM, "io_uring: no ring for this loop");
    if (cio__fsop_whole(op->kind))
        return chain_exec(u, opp);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) { /* the submission queue is full: push it to the kernel */
        io_uring_submit(&u->ring);
        if (!(sqe = io_uring_get_sqe(&u->ring)))
            return cio_seterr(-EBUSY, "io_uring: submission queue full");
    }
    prep(sqe, op);
    post_submit(u);
    op->task = cio__task();
    op->finished = false;
    if (u->inflight++ == 0)
        cio__loop_hold(u->loop, +1);
    rc = cio__park(CIO_FOREVER);
    if (op->finished)
        return op->res;
    /* Interrupted: the kernel may still use op; it is freed on its CQE. */
    op->task = NULL;
    *opp = NULL;
    struct io_uring_sqe *c = io_uring_get_sqe(&u->ring);
    if (c) {
        io_uring_prep_cancel(c, op, 0);
        io_uring_sqe_set_data(c, NULL);
        post_submit(u);
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
