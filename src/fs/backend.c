/* Backend choice and the thread-pool backend: each operation is a pool job
 * that makes the plain system call on a worker. */
#define _GNU_SOURCE
#include "fs/fsop.h"

#include "cio/fs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int chosen = -1; /* -1: not decided yet (read CIO_IO) */

int cio_fs_set_backend(cio_fs_backend_kind kind) {
    if (kind != CIO_FS_AUTO && kind != CIO_FS_URING && kind != CIO_FS_THREADS)
        return cio_seterr(-EINVAL, "cio_fs_set_backend: unknown backend %d", (int)kind);
    atomic_store(&chosen, (int)kind);
    return 0;
}

static int wanted(void) {
    int k = atomic_load(&chosen);
    if (k >= 0)
        return k;
    const char *env = getenv("CIO_IO");
    k = CIO_FS_AUTO;
    if (env && strcmp(env, "uring") == 0)
        k = CIO_FS_URING;
    else if (env && strcmp(env, "threads") == 0)
        k = CIO_FS_THREADS;
    atomic_store(&chosen, k);
    return k;
}

static bool use_uring(int kind) {
    int k = wanted();
    if (k == CIO_FS_THREADS)
        return false;
    /* A whole-file helper is one pool job unless io_uring is asked for by
     * name: the worker does open, I/O and close while the loop runs on,
     * where the ring's chain does its cached steps inline on the loop's
     * own thread (measured: 64 in flight, 4 KiB files, 1.2-1.4x more
     * files per second each way on the pool; docs/decisions.md). */
    if (cio__fsop_whole(kind) && k == CIO_FS_AUTO)
        return false;
    if (cio__uring_usable(kind))
        return true;
    static atomic_bool warned;
    if (k == CIO_FS_URING && !cio__uring_available() && !atomic_exchange(&warned, true))
        cio__report(2, "io_uring was asked for (CIO_IO=uring) but this kernel refuses it: "
                       "files use the thread pool");
    return false;
}

cio_fs_backend_kind cio_fs_backend(void) {
    if (wanted() == CIO_FS_THREADS)
        return CIO_FS_THREADS;
    return cio__uring_available() ? CIO_FS_URING : CIO_FS_THREADS;
}

cio__fsop *cio__fsop_new(int kind, size_t len) {
    /* Small buffers live in the record; large ones get their own block so
     * the record stays cheap to allocate. */
    bool whole = cio__fsop_whole(kind);
    size_t inline_len = len <= 16384 && !whole ? len : 0;
    cio__fsop *op = cio__malloc(sizeof *op + inline_len);
    if (!op)
        return NULL;
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->stage = -1;
    op->fd = -1;
    op->off = -1;
    op->len = len;
    if ((len || whole) && !inline_len) {
        op->buf = cio__malloc(len + whole); /* read_file's terminating NUL */
        if (!op->buf) {
            cio__free(op);
            return NULL;
        }
    } else {
        op->buf = op->data;
    }
    return op;
}

void cio__fsop_free(cio__fsop *op) {
    if (!op)
        return;
    if (op->buf != op->data)
        cio__free(op->buf);
    cio__free(op->path);
    cio__free(op->path2);
    cio__free(op->names);
    cio__free(op);
}

void cio__fsop_orphan_done(cio__fsop *op) {
    if (op->kind == FSOP_OPEN && op->res >= 0)
        close(op->res);
    cio__fsop_free(op);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a directory into one block: the pointer array, then the strings. */
static int listdir_sync(cio__fsop *op) {
    DIR *d = opendir(op->path);
    if (!d)
        return -errno;
    size_t n = 0, bytes = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        bytes += strlen(e->d_name) + 1;
    }
    /* The directory may grow between the passes: size for some slack. */
    size_t cap = n + 16, cap_bytes = bytes + 16 * 256;
    char **names = cio__malloc((cap + 1) * sizeof *names + cap_bytes);
    if (!names) {
        closedir(d);
        return -ENOMEM;
    }
    rewinddir(d);
    char *p = (char *)(names + cap + 1), *end = p + cap_bytes;
    size_t i = 0;
    while ((e = readdir(d)) && i < cap) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t l = strlen(e->d_name) + 1;
        if (p + l > end)
            break;
        memcpy(p, e->d_name, l);
        names[i++] = p;
        p += l;
    }
    names[i] = NULL;
    closedir(d);
    qsort(names, i, sizeof *names, cmp_names);
    op->names = names;
    op->nnames = i;
    return 0;
}

/* WRITE_FILE on a worker: open, write it all, close. */
static void write_file_sync(cio__fsop *op) {
    int fd = open(op->path, op->flags, op->mode);
    if (fd < 0) {
        op->res = -errno, op->stage = FSOP_OPEN;
        return;
    }
    size_t off = (size_t)op->off;
    op->res = 0;
    while (off < op->len) {
        ssize_t w = pwrite(fd, op->buf + off, op->len - off, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            op->res = w < 0 ? -errno : -EIO, op->stage = FSOP_WRITE;
            break;
        }
        off += (size_t)w;
    }
    op->done = off;
    if (close(fd) < 0 && op->res == 0)
        op->res = -errno, op->stage = FSOP_CLOSE;
}

/* Makes room for len bytes (and a NUL) in a whole-file op's buffer. */
static bool grow(cio__fsop *op, size_t len) {
    char *p = cio__realloc(op->buf, len + 1);
    if (!p)
        return false;
    op->buf = p;
    op->len = len;
    return true;
}

/* READ_FILE on a worker: open, read to the end (growing buf), close. */
static void read_file_sync(cio__fsop *op) {
    int fd = open(op->path, op->flags);
    if (fd < 0) {
        op->res = -errno, op->stage = FSOP_OPEN;
        return;
    }
    struct stat st;
    size_t n = (size_t)op->off;
    op->res = 0;
    /* Room to read a regular file and see its end in one more read. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= op->len &&
        !grow(op, (size_t)st.st_size + 1))
        op->res = -ENOMEM, op->stage = FSOP_READ;
    while (op->res == 0) {
        if (n == op->len && !grow(op, op->len * 2)) { /* it grew, or a pipe */
            op->res = -ENOMEM, op->stage = FSOP_READ;
            break;
        }
        ssize_t r = read(fd, op->buf + n, op->len - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            op->res = -errno, op->stage = FSOP_READ;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    op->done = n;
    op->eof_known = true;
    if (close(fd) < 0 && op->res == 0)
        op->res = -errno, op->stage = FSOP_CLOSE;
}

void cio__fsop_run_sync(cio__fsop *op) {
    ssize_t r = 0;
    switch (op->kind) {
    case FSOP_OPEN:
        r = open(op->path, op->flags, op->mode);
        break;
    case FSOP_READ:
        r = op->off >= 0 ? pread(op->fd, op->buf, op->len, op->off)
                         : read(op->fd, op->buf, op->len);
        break;
    case FSOP_WRITE:
        r = op->off >= 0 ? pwrite(op->fd, op->buf, op->len, op->off)
                         : write(op->fd, op->buf, op->len);
        break;
    case FSOP_FSYNC:
        r = fsync(op->fd);
        break;
    case FSOP_CLOSE:
        r = close(op->fd);
        break;
    case FSOP_STATX:
        r = statx(AT_FDCWD, op->path, 0, STATX_BASIC_STATS, &op->stx);
        break;
    case FSOP_UNLINK:
        r = unlink(op->path);
        break;
    case FSOP_RMDIR:
        r = rmdir(op->path);
        break;
    case FSOP_RENAME:
        r = rename(op->path, op->path2);
        break;
    case FSOP_MKDIR:
        r = mkdir(op->path, op->mode);
        break;
    case FSOP_LISTDIR:
        op->res = listdir_sync(op);
        return;
    case FSOP_WRITE_FILE:
        write_file_sync(op);
        return;
    case FSOP_READ_FILE:
        read_file_sync(op);
        return;
    }
    op->res = r < 0 ? -errno : (int)(r > INT32_MAX ? INT32_MAX : r);
}

static void job_work(cio__job *j) { cio__fsop_run_sync((cio__fsop *)j); }
static void job_release(cio__job *j) { cio__fsop_orphan_done((cio__fsop *)j); }

int cio__fsop_exec(cio__fsop **opp) {
    cio__fsop *op = *opp;
    if (use_uring(op->kind))
        return cio__uring_exec(opp);
    op->job.work = job_work;
    op->job.release = job_release;
    int rc = cio__job_run(&op->job);
    if (op->job.abandoned) {
        *opp = NULL; /* the pool frees it when the worker is done */
        return rc;
    }
    return rc < 0 ? rc : op->res;
}
