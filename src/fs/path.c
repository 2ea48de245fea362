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

int cio_fs_read_file(const char *path, char **out, size_t *len) {
    if (!out)
        return cio_seterr(-EINVAL, "read_file: result pointer is NULL");
    *out = NULL;
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

int cio_fs_write_file(const char *path, const void *buf, size_t n) {
    if (!buf && n)
        return cio_seterr(-EINVAL, "write_file %s: buffer is NULL", path ? path : "(null)");
    cio_file *f = cio_file_open(path, "w", 0);
    if (!f)
        return -errno;
    ssize_t w = n ? cio_file_write(f, buf, n) : 0;
    int crc = cio_file_close(f);
    if (w < 0)
        return (int)w;
    return crc;
}
