/* One file-system operation, as both backends see it. The record is heap
 * allocated and owns everything the kernel or a worker may touch (paths,
 * data buffer, statx result), so a task that is cancelled mid-operation
 * can return at once: the backend frees the record when the operation
 * really ends. */
#ifndef CIO_FS_FSOP_H
#define CIO_FS_FSOP_H

#include "thread/pool.h"

#include <fcntl.h>
#include <sys/stat.h>

enum {
    FSOP_OPEN, FSOP_READ, FSOP_WRITE, FSOP_FSYNC, FSOP_CLOSE, FSOP_STATX,
    FSOP_UNLINK, FSOP_RMDIR, FSOP_RENAME, FSOP_MKDIR, FSOP_LISTDIR,
    /* Whole-file operations: open + write or read + close as one backend
     * operation (one pool job, or one linked chain on io_uring). The data
     * goes to or comes from buf[off, len); done counts the bytes from 0. */
    FSOP_WRITE_FILE, FSOP_READ_FILE,
    FSOP_NKINDS
};

typedef struct cio__fsop {
    cio__job job;        /* the thread backend's job (first: cast-friendly) */
    int kind;
    int fd;
    int flags;           /* open flags */
    unsigned mode;
    char *path, *path2;  /* owned copies */
    int64_t off;         /* -1: the fd's own position */
    size_t len;
    char *buf;           /* owned; points into data[] for small buffers */
    struct statx stx;
    char **names;        /* listdir result (one block) */
    size_t nnames;
    int res;             /* >= 0 or -errno */
    /* whole-file operations */
    int stage;           /* the step res is from when it failed: FSOP_OPEN... */
    size_t done;         /* bytes written or read, counted from offset 0 */
    bool eof_known;      /* READ_FILE: done is the whole file (not just full) */
    /* io_uring side */
    cio_task *task;      /* waiting task, NULL once it left */
    bool finished;
    int slot;            /* whole-file chains: the fixed-file slot */
    int cqes;            /* whole-file chains: completions still to come */
    int step_res[4];     /* whole-file chains: statx, open, read/write, close */
    char data[];
} cio__fsop;

static inline bool cio__fsop_whole(int kind) {
    return kind == FSOP_WRITE_FILE || kind == FSOP_READ_FILE;
}

/* Allocates an op with room for len bytes of data (0 for none). Whole-file
 * kinds always get a separate buffer (read_file hands it to its caller). */
cio__fsop *cio__fsop_new(int kind, size_t len);
void cio__fsop_free(cio__fsop *op);
/* Frees an op whose task gave up, undoing what nobody will see (an fd
 * opened after its task was cancelled is closed). */
void cio__fsop_orphan_done(cio__fsop *op);
/* Runs op on the current backend and parks until it ends. Returns op->res
 * (>= 0 or -errno) with *opp still the caller's to read and free, or an
 * interruption code (-ECANCELED, -ETIMEDOUT) with *opp set to NULL (the
 * backend frees it later), or -EPERM/-ENOMEM (op still the caller's).
 * Suspends. */
int cio__fsop_exec(cio__fsop **opp);
/* Performs op synchronously on this thread (the thread backend's work). */
void cio__fsop_run_sync(cio__fsop *op);

/* io_uring backend (uring.c). Returns true if op can go to the ring of
 * the current loop (creating it on first use), false to use threads. */
bool cio__uring_usable(int kind);
int cio__uring_exec(cio__fsop **opp);
/* True if a ring can be created on this kernel (probed once). */
bool cio__uring_available(void);

#endif
