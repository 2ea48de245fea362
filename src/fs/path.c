/* cio_fs_*: stat, unlink, rmdir, rename, mkdir, listdir, and whole-file
 * helpers. Every path is copied into the op (a cancelled caller's string
 * may be gone before the kernel or the worker reads it). */
#define _GNU_SOURCE
#include "fs/fsop.h"

#include "cio/fs.h"

#include <string.h>

static int path_op(int kind, const char *what, const char *path, const char *path2,
                   unsigned mode, cio__fsop **keep) {
    if (!path || (kind == FSOP_RENAME && !path2))
        return cio_seterr(-EINVAL, "%s: path is NULL", what);
    cio__fsop *op = cio__fsop_new(kind, 0);
    if (!op || !(op->path = cio__strdup(path)) || (path2 && !(op->path2 = cio__strdup(path2)))) {
        cio__fsop_free(op);
        return cio_seterr(-ENOMEM, "%s %s: out of memory", what, path);
    }
    op->mode = mode;
    int rc = cio__fsop_exec(&op);
    if (rc < 0) {
        cio__fsop_free(op);
        if (path2)
            return cio_seterr(rc, "%s %s -> %s: %s", what, path, path2, cio_strerror(rc));
        return cio_seterr(rc, "%s %s: %s", what, path, cio_strerror(rc));
    }
    if (keep)
        *keep = op;
    else
        cio__fsop_free(op);
    return 0;
}

int cio_fs_stat(const char *path, cio_stat *st) {
    if (!st)
        return cio_seterr(-EINVAL, "stat: result pointer is NULL");
    cio__fsop *op = NULL;
    int rc = path_op(FSOP_STATX, "stat", path, NULL, 0, &op);
    if (rc < 0)
        return rc;
    const struct statx *x = &op->stx;
    *st = (cio_stat){
        .size = x->stx_size, .mode = x->stx_mode, .nlink = x->stx_nlink, .ino = x->stx_ino,
        .uid = x->stx_uid, .gid = x->stx_gid,
        .atime_ns = x->stx_atime.tv_sec * CIO_SEC + x->stx_atime.tv_nsec,
        .mtime_ns = x->stx_mtime.tv_sec * CIO_SEC + x->stx_mtime.tv_nsec,
        .ctime_ns = x->stx_ctime.tv_sec * CIO_SEC + x->stx_ctime.tv_nsec,
    };
    cio__fsop_free(op);
    return 0;
}

int cio_fs_unlink(const char *path) { return path_op(FSOP_UNLINK, "unlink", path, NULL, 0, NULL); }
int cio_fs_rmdir(const char *path) { return path_op(FSOP_RMDIR, "rmdir", path, NULL, 0, NULL); }
int cio_fs_rename(const char *from, const char *to) {
    return path_op(FSOP_RENAME, "rename", from, to, 0, NULL);
}
int cio_fs_mkdir(const char *path, unsigned mode) {
    return path_op(FSOP_MKDIR, "mkdir", path, NULL, mode, NULL);
}

int cio_fs_listdir(const char *path, char ***names, size_t *n) {
    if (!names)
        return cio_seterr(-EINVAL, "listdir: result pointer is NULL");
    *names = NULL;
    cio__fsop *op = NULL;
    int rc = path_op(FSOP_LISTDIR, "listdir", path, NULL, 0, &op);
    if (rc < 0)
        return rc;
    *names = op->names;
    if (n)
        *n = op->nnames;
    op->names = NULL;
    cio__fsop_free(op);
    return 0;
}

void cio_fs_free(void *p) { cio__free(p); }

/* ---- whole-file helpers ----
 * The common case is one backend operation: one pool job, or one linked
 * statx-open-read-close (open-write-close) chain on io_uring. A chain reads
 * into a buffer of a size fixed when it is submitted; a file that fills it,
 * or is not a regular file of the size statx saw, is read again by parts. */

#define READ_FILE_FIRST ((size_t)64 << 10)

static const char *step_name(int stage) {
    switch (stage) {
    case FSOP_OPEN: return "open";
    case FSOP_READ: return "read";
    case FSOP_WRITE: return "write";
    case FSOP_CLOSE: return "close";
    default: return NULL;
    }
}

/* Frees op (if still ours) and sets the message: "<step> <path>: <why>". */
static int whole_fail(cio__fsop *op, int rc, const char *what, const char *path) {
    const char *step = op ? step_name(op->stage) : NULL;
    cio__fsop_free(op);
    return cio_seterr(rc, "%s %s: %s", step ? step : what, path, cio_strerror(rc));
}

static cio__fsop *whole_op(int kind, const char *path, size_t len, int flags) {
    cio__fsop *op = cio__fsop_new(kind, len);
    if (op && !(op->path = cio__strdup(path))) {
        cio__fsop_free(op);
        return NULL;
    }
    if (op) {
        op->flags = flags;
        op->mode = 0666;
        op->off = 0;
    }
    return op;
}

static int read_file_by_parts(const char *path, char **out, size_t *len) {
    cio_file *f = cio_file_open(path, "r", 0);
    if (!f)
        return -errno;
    int rc = cio_file_read_all(f, out, len);
    int crc = cio_file_close(f);
    if (rc == 0 && crc < 0) {
        cio__free(*out);
        *out = NULL;
        rc = crc;
    }
    return rc;
}

int cio_fs_read_file(const char *path, char **out, size_t *len) {
    if (!out)
        return cio_seterr(-EINVAL, "read_file: result pointer is NULL");
    *out = NULL;
    if (!path)
        return cio_seterr(-EINVAL, "read_file: path is NULL");
    cio__fsop *op = whole_op(FSOP_READ_FILE, path, READ_FILE_FIRST, O_RDONLY | O_CLOEXEC);
    if (!op)
        return cio_seterr(-ENOMEM, "read_file %s: out of memory", path);
    int rc = cio__fsop_exec(&op);
    if (rc < 0)
        return whole_fail(op, rc, "read_file", path);
    if (!op->eof_known) { /* a large or special file: read it by parts */
        cio__fsop_free(op);
        return read_file_by_parts(path, out, len);
    }
    char *buf = op->buf;
    if (op->done + 1 < op->len / 2) { /* give back most of an oversized buffer */
        char *p = cio__realloc(buf, op->done + 1);
        buf = p ? p : buf;
    }
    buf[op->done] = 0;
    *out = buf;
    if (len)
        *len = op->done;
    op->buf = op->data; /* handed over */
    cio__fsop_free(op);
    return 0;
}

int cio_fs_write_file(const char *path, const void *buf, size_t n) {
    if (!path)
        return cio_seterr(-EINVAL, "write_file: path is NULL");
    if (!buf && n)
        return cio_seterr(-EINVAL, "write_file %s: buffer is NULL", path);
    /* The data is copied: a cancelled caller returns at once, and its
     * buffer may be gone before the operation ends. */
    cio__fsop *op = whole_op(FSOP_WRITE_FILE, path, n, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
    if (!op)
        return cio_seterr(-ENOMEM, "write_file %s: out of memory", path);
    if (n)
        memcpy(op->buf, buf, n);
    int rc;
    while ((rc = cio__fsop_exec(&op)) == 0 && op->done < n) {
        /* A short write (io_uring's chain stops there): go on from there. */
        op->off = (int64_t)op->done;
        op->flags = O_WRONLY | O_CLOEXEC;
    }
    if (rc < 0)
        return whole_fail(op, rc, "write_file", path);
    cio__fsop_free(op);
    return 0;
}
