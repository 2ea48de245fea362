/* cio_file: open, read, write, lines, seek, sync, close. The file keeps
 * its own position (reads and writes go at explicit offsets, so a
 * cancelled operation cannot leave the kernel's position half-moved) and
 * a read buffer for line reading. Writes are not buffered: a write that
 * returned has reached the kernel. */
#define _GNU_SOURCE
#include "fs/fsop.h"

#include "cio/fs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20) /* largest single read/write handed down */
#define RBUF ((size_t)65536)     /* line-reading buffer */

struct cio_file {
    int fd;
    bool append, seekable, readable, writable;
    int64_t pos;          /* the logical position the caller sees */
    char *path;
    char *rbuf;           /* bytes at pos .. pos + rlen live at rbuf + rstart */
    size_t rstart, rlen;
    int64_t known_end;    /* read_all: the size fstat gave, else -1 */
    char *line;           /* cio_file_next_line's result */
    size_t line_cap;
};

static int fail(int code, const char *what, const char *path) {
    return cio_seterr(code, "%s %s: %s", what, path, cio_strerror(code));
}

static int parse_mode(const char *m, int *flags, bool *rd, bool *wr, bool *app) {
    int f;
    switch (*m++) {
    case 'r': f = O_RDONLY; *rd = true; break;
    case 'w': f = O_WRONLY | O_CREAT | O_TRUNC; *wr = true; break;
    case 'a': f = O_WRONLY | O_CREAT | O_APPEND; *wr = *app = true; break;
    default: return -EINVAL;
    }
    for (; *m; m++) {
        if (*m == '+') {
            f = (f & ~(O_RDONLY | O_WRONLY)) | O_RDWR;
            *rd = *wr = true;
        } else if (*m == 'x') {
            f |= O_EXCL;
        } else if (*m != 'b' && *m != 'e' && *m != 't') {
            return -EINVAL;
        }
    }
    *flags = f | O_CLOEXEC;
    return 0;
}

cio_file *cio_file_open(const char *path, const char *mode, int flags) {
    int oflags;
    bool rd = false, wr = false, app = false;
    if (!path || !mode || parse_mode(mode, &oflags, &rd, &wr, &app) < 0) {
        errno = EINVAL;
        cio_seterr(-EINVAL, "open %s: invalid mode \"%s\"", path ? path : "(null)",
                   mode ? mode : "(null)");
        return NULL;
    }
    cio_file *f = cio__calloc(1, sizeof *f);
    cio__fsop *op = cio__fsop_new(FSOP_OPEN, 0);
    char *pcopy = cio__strdup(path);
    if (!f || !op || !pcopy || !(op->path = cio__strdup(path))) {
        cio__free(f), cio__free(pcopy), cio__fsop_free(op);
        errno = ENOMEM;
        fail(-ENOMEM, "open", path);
        return NULL;
    }
    op->flags = oflags | flags;
    op->mode = 0666;
    int rc = cio__fsop_exec(&op);
    cio__fsop_free(op);
    if (rc < 0) {
        cio__free(f), cio__free(pcopy);
        errno = -rc;
        fail(rc, "open", path);
        return NULL;
    }
    f->fd = rc;
    f->path = pcopy;
    f->known_end = -1;
    f->readable = rd;
    f->writable = wr;
    f->append = app;
    /* Pipes and terminals have no offsets: read and write at the fd's own
     * position there. Append mode starts at the end, as in Python. */
    off_t end = lseek(f->fd, 0, app ? SEEK_END : SEEK_CUR);
    f->seekable = end >= 0;
    f->pos = end > 0 ? end : 0;
    return f;
}

/* One operation of at most CHUNK bytes; data travels through the op's own
 * buffer. Returns the count or a negative errno. */
static ssize_t io_once(cio_file *f, int kind, void *buf, size_t n, int64_t off) {
    if (n > CHUNK)
        n = CHUNK;
    cio__fsop *op = cio__fsop_new(kind, n);
    if (!op)
        return -ENOMEM;
    op->fd = f->fd;
    op->off = off;
    if (kind == FSOP_WRITE)
        memcpy(op->buf, buf, n);
    int rc = cio__fsop_exec(&op);
    if (op && rc > 0 && kind == FSOP_READ)
        memcpy(buf, op->buf, (size_t)rc);
    cio__fsop_free(op);
    return rc;
}

static int check(cio_file *f, const void *buf, bool writing, const char *what) {
    if (!f)
        return cio_seterr(-EINVAL, "%s: file is NULL", what);
    if (!buf)
        return cio_seterr(-EINVAL, "%s %s: buffer is NULL", what, f->path);
    if (writing ? !f->writable : !f->readable)
        return cio_seterr(-EBADF, "%s %s: file not open for %s", what, f->path,
                          writing ? "writing" : "reading");
    return 0;
}

/* Reads into buf at off (or the fd position when off < 0) until n bytes
 * or EOF; on a pipe, returns after the first read that gets anything. */
static ssize_t read_full(cio_file *f, char *buf, size_t n, int64_t off) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done;
        ssize_t r = io_once(f, FSOP_READ, buf + done, want, off < 0 ? -1 : off + (int64_t)done);
        if (r < 0)
            return done > 0 && r != -ECANCELED && r != -ETIMEDOUT ? (ssize_t)done : r;
        if (r == 0)
            break;
        done += (size_t)r;
        if (off < 0)
            break;
        /* Short at the size fstat reported: the end, no need to read a 0. */
        if ((size_t)r < want && f->known_end >= 0 && off + (int64_t)done >= f->known_end)
            break;
    }
    return (ssize_t)done;
}

static ssize_t write_full(cio_file *f, const char *buf, size_t n, int64_t off) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = io_once(f, FSOP_WRITE, (void *)(buf + done), n - done,
                            off < 0 ? -1 : off + (int64_t)done);
        if (r < 0)
            return r;
        if (r == 0)
            return -EIO;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

ssize_t cio_file_read(cio_file *f, void *buf, size_t n) {
    int rc = check(f, buf, false, "read");
    if (rc < 0)
        return rc;
    size_t got = 0;
    if (f->rlen > 0) { /* bytes already buffered by line reading */
        got = n < f->rlen ? n : f->rlen;
        memcpy(buf, f->rbuf + f->rstart, got);
        f->rstart += got;
        f->rlen -= got;
        f->pos += (int64_t)got;
        if (got == n || !f->seekable)
            return (ssize_t)got;
    }
    ssize_t r = read_full(f, (char *)buf + got, n - got, f->seekable ? f->pos : -1);
    if (r < 0)
        return fail((int)r, "read", f->path);
    f->pos += r;
    return (ssize_t)got + r;
}

ssize_t cio_file_pread(cio_file *f, void *buf, size_t n, int64_t off) {
    int rc = check(f, buf, false, "pread");
    if (rc < 0)
        return rc;
    if (off < 0)
        return cio_seterr(-EINVAL, "pread %s: negative offset", f->path);
    ssize_t r = read_full(f, buf, n, off);
    return r < 0 ? fail((int)r, "pread", f->path) : r;
}

ssize_t cio_file_write(cio_file *f, const void *buf, size_t n) {
    int rc = check(f, buf, true, "write");
    if (rc < 0)
        return rc;
    f->rlen = f->rstart = 0; /* the buffered bytes may be overwritten */
    int64_t off = f->append || !f->seekable ? -1 : f->pos;
    ssize_t r = write_full(f, buf, n, off);
    if (r < 0)
        return fail((int)r, "write", f->path);
    if (f->append) {
        off_t end = lseek(f->fd, 0, SEEK_CUR);
        f->pos = end >= 0 ? end : f->pos + r;
    } else {
        f->pos += r;
    }
    return r;
}

ssize_t cio_file_puts(cio_file *f, const char *s) {
    if (!s)
        return cio_seterr(-EINVAL, "puts: string is NULL");
    return cio_file_write(f, s, strlen(s));
}

ssize_t cio_file_pwrite(cio_file *f, const void *buf, size_t n, int64_t off) {
    int rc = check(f, buf, true, "pwrite");
    if (rc < 0)
        return rc;
    if (off < 0)
        return cio_seterr(-EINVAL, "pwrite %s: negative offset", f->path);
    f->rlen = f->rstart = 0;
    ssize_t r = write_full(f, buf, n, off);
    return r < 0 ? fail((int)r, "pwrite", f->path) : r;
}

/* Appends more of the file to the line buffer. Returns the count read
 * (0 at EOF) or a negative errno. */
static ssize_t fill(cio_file *f) {
    if (!f->rbuf && !(f->rbuf = cio__malloc(RBUF)))
        return -ENOMEM;
    if (f->rstart > 0) {
        memmove(f->rbuf, f->rbuf + f->rstart, f->rlen);
        f->rstart = 0;
    }
    int64_t off = f->seekable ? f->pos + (int64_t)f->rlen : -1;
    ssize_t r = io_once(f, FSOP_READ, f->rbuf + f->rlen, RBUF - f->rlen, off);
    if (r > 0)
        f->rlen += (size_t)r;
    return r;
}

/* Moves up to max bytes of the buffer, through the first '\n', to dst.
 * Returns the count; *eol tells whether a '\n' ended it. */
static size_t take_line(cio_file *f, char *dst, size_t max, bool *eol) {
    size_t k = f->rlen < max ? f->rlen : max;
    char *start = f->rbuf + f->rstart;
    char *nl = memchr(start, '\n', k);
    if (nl)
        k = (size_t)(nl - start) + 1;
    memcpy(dst, start, k);
    f->rstart += k;
    f->rlen -= k;
    f->pos += (int64_t)k;
    *eol = nl != NULL;
    return k;
}

ssize_t cio_file_readline(cio_file *f, char *buf, size_t cap) {
    int rc = check(f, buf, false, "readline");
    if (rc < 0)
        return rc;
    if (cap < 2)
        return cio_seterr(-EINVAL, "readline %s: buffer too small", f->path);
    size_t out = 0;
    bool eol = false;
    while (!eol && out < cap - 1) {
        if (f->rlen == 0) {
            ssize_t r = fill(f);
            if (r < 0)
                return fail((int)r, "readline", f->path);
            if (r == 0)
                break;
        }
        out += take_line(f, buf + out, cap - 1 - out, &eol);
    }
    buf[out] = 0;
    return (ssize_t)out;
}

int cio_file_next_line(cio_file *f, char **line, size_t *len) {
    int rc = check(f, line, false, "next_line");
    if (rc < 0)
        return rc;
    size_t out = 0;
    bool eol = false;
    while (!eol) {
        if (f->rlen == 0) {
            ssize_t r = fill(f);
            if (r < 0)
                return fail((int)r, "next_line", f->path);
            if (r == 0)
                break;
        }
        if (f->line_cap < out + f->rlen + 1) {
            size_t cap = f->line_cap ? f->line_cap : 256;
            while (cap < out + f->rlen + 1)
                cap *= 2;
            char *p = cio__realloc(f->line, cap);
            if (!p)
                return fail(-ENOMEM, "next_line", f->path);
            f->line = p;
            f->line_cap = cap;
        }
        out += take_line(f, f->line + out, f->rlen, &eol);
    }
    if (out == 0)
        return CIO_EEND;
    f->line[out] = 0;
    *line = f->line;
    if (len)
        *len = out;
    return 0;
}

int cio_file_read_all(cio_file *f, char **out, size_t *len) {
    int rc = check(f, out, false, "read_all");
    if (rc < 0)
        return rc;
    *out = NULL;
    struct stat st;
    size_t cap = 65536;
    bool regular = f->seekable && fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular && st.st_size > f->pos)
        cap = (size_t)(st.st_size - f->pos) + 1;
    /* A short read at the reported size is the end, one read saved; but
     * /proc and similar files report 0 for content made as it is read. */
    bool sized = regular && st.st_size > 0;
    f->known_end = sized ? st.st_size : -1;
    char *buf = cio__malloc(cap + 1);
    if (!buf)
        return fail(-ENOMEM, "read_all", f->path);
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) { /* the file grew, or a pipe: grow */
            char *p = cio__realloc(buf, cap * 2 + 1);
            if (!p) {
                f->known_end = -1;
                cio__free(buf);
                return fail(-ENOMEM, "read_all", f->path);
            }
            buf = p;
            cap *= 2;
        }
        size_t want = cap - n;
        ssize_t r = cio_file_read(f, buf + n, want);
        if (r < 0) {
            f->known_end = -1;
            cio__free(buf);
            return (int)r;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (sized && (size_t)r < want && f->pos >= st.st_size)
            break; /* at the end fstat reported: read_full checked it */
    }
    f->known_end = -1;
    buf[n] = 0;
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int64_t cio_file_seek(cio_file *f, int64_t off, int whence) {
    if (!f)
        return cio_seterr(-EINVAL, "seek: file is NULL");
    if (!f->seekable)
        return fail(-ESPIPE, "seek", f->path);
    int64_t base;
    struct stat st;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = f->pos; break;
    case SEEK_END:
        if (fstat(f->fd, &st) < 0)
            return fail(-errno, "seek", f->path);
        base = st.st_size;
        break;
    default: return cio_seterr(-EINVAL, "seek %s: bad whence %d", f->path, whence);
    }
    if (base + off < 0)
        return cio_seterr(-EINVAL, "seek %s: negative position", f->path);
    f->rlen = f->rstart = 0;
    f->pos = base + off;
    return f->pos;
}

int64_t cio_file_tell(const cio_file *f) { return f ? f->pos : -EINVAL; }
int cio_file_fd(const cio_file *f) { return f ? f->fd : -1; }
const char *cio_file_path(const cio_file *f) { return f ? f->path : ""; }

static int simple_op(cio_file *f, int kind, const char *what) {
    cio__fsop *op = cio__fsop_new(kind, 0);
    if (!op)
        return fail(-ENOMEM, what, f->path);
    op->fd = f->fd;
    int rc = cio__fsop_exec(&op);
    cio__fsop_free(op);
    return rc < 0 ? fail(rc, what, f->path) : 0;
}

int cio_file_sync(cio_file *f) {
    if (!f)
        return cio_seterr(-EINVAL, "sync: file is NULL");
    return simple_op(f, FSOP_FSYNC, "fsync");
}

int cio_file_close(cio_file *f) {
    if (!f)
        return 0;
    int rc;
    if (cio__check_in_task("cio_file_close") < 0) {
        rc = close(f->fd) < 0 ? fail(-errno, "close", f->path) : 0;
    } else {
        /* Shielded: a cancelled task must still release its fd. */
        rc = 0;
        CIO_SHIELDED(CIO_CLEANUP_GRACE) { rc = simple_op(f, FSOP_CLOSE, "close"); }
    }
    cio__free(f->rbuf);
    cio__free(f->line);
    cio__free(f->path);
    cio__free(f);
    return rc;
}
