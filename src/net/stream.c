/* Buffered streams (asyncio's StreamReader + StreamWriter in one object).
 *
 * Speed comes from doing as few syscalls and copies as a hand-written epoll
 * loop: the fd is registered once, edge-triggered, so a read first tries the
 * syscall and only waits on EAGAIN; a short read means the socket is empty,
 * so the next read waits first instead of paying for an EAGAIN; a read into
 * a large enough user buffer skips the stream buffer; a write goes straight
 * to the socket when nothing is queued. Only what the kernel refuses is
 * queued, and a small background task (the flusher) sends it, so a writer
 * never has to drain for the bytes to leave. */
#define _GNU_SOURCE
#include "net/net_int.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define DEFAULT_LIMIT ((size_t)64 * 1024)
#define DEFAULT_HIGH ((size_t)64 * 1024)
#define INITIAL_RBUF ((size_t)16 * 1024)
/* A read of at least this many bytes into an empty stream goes straight
 * into the caller's buffer. */
#define DIRECT_READ_MIN ((size_t)1024)

/* ---- the plain transport ---------------------------------------------- */

static ssize_t plain_recv(cio_stream *s, void *buf, size_t n) {
    ssize_t r = recv(s->f.fd, buf, n, 0);
    return r >= 0 ? r : -errno;
}

static ssize_t plain_send(cio_stream *s, const struct iovec *iov, int iovcnt) {
    ssize_t r;
    if (iovcnt == 1) {
        r = send(s->f.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        r = sendmsg(s->f.fd, &m, MSG_NOSIGNAL);
    }
    return r >= 0 ? r : -errno;
}

static int plain_shutdown(cio_stream *s) {
    return shutdown(s->f.fd, SHUT_WR) == 0 ? 0 : -errno;
}

static void plain_release(cio_stream *s) { (void)s; }

const cio__transport cio__plain_transport = {plain_recv, plain_send, plain_shutdown,
                                             plain_release};

/* The transport calls on the per-message path: plain sockets call straight
 * into the syscall wrappers rather than through the table. */
static inline ssize_t tp_recv(cio_stream *s, void *buf, size_t n) {
    if (cio__likely(s->tp == &cio__plain_transport))
        return plain_recv(s, buf, n);
    return s->tp->recv(s, buf, n);
}

static inline ssize_t tp_send(cio_stream *s, const struct iovec *iov, int iovcnt) {
    if (cio__likely(s->tp == &cio__plain_transport))
        return plain_send(s, iov, iovcnt);
    return s->tp->send(s, iov, iovcnt);
}

/* ---- the fd on the poller ---------------------------------------------- */

static void nfd_event(cio__watch *w, uint32_t ev) {
    cio__nfd *f = (cio__nfd *)((char *)w - offsetof(cio__nfd, w));
    uint8_t bits = 0;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        bits |= CIO__READ;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        bits |= CIO__WRITE;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        f->hup = true;
    f->ready |= bits;
    if ((bits & CIO__READ) && f->reader)
        cio__wake(f->reader, 0);
    if ((bits & CIO__WRITE) && f->writer)
        cio__wake(f->writer, 0);
}

int cio__nfd_open(cio__nfd *f, int fd) {
    memset(f, 0, sizeof *f);
    f->fd = fd;
    int rc = cio__watch_start(&f->w, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, nfd_event);
    if (rc < 0)
        return cio_seterr(rc, "registering fd %d with the poller: %s", fd, cio_strerror(rc));
    f->registered = true;
    return 0;
}

int cio__nfd_wait(cio__nfd *f, int dir) {
    if (cio__likely(f->ready & dir)) {
        /* An edge arrived since the last wait: let the caller retry. */
        f->ready &= (uint8_t)~dir;
        return 0;
    }
    if (!f->registered)
        return -EBADF;
    cio_task **slot = dir == CIO__READ ? &f->reader : &f->writer;
    if (*slot)
        return -EBUSY;
    cio_task *me = cio__task();
    if (!me)
        return cio__check_in_task("stream wait");
    *slot = me;
    int rc = cio__park(CIO_FOREVER);
    *slot = NULL;
    if (rc == 0)
        f->ready &= (uint8_t)~dir;
    return rc > 0 ? -ETIMEDOUT : rc;
}

void cio__nfd_close(cio__nfd *f) {
    if (f->registered) {
        cio__watch_stop(&f->w);
        f->registered = false;
    }
    if (f->reader)
        cio__wake(f->reader, -EBADF);
    if (f->writer)
        cio__wake(f->writer, -EBADF);
}

/* ---- helpers ------------------------------------------------------------ */

int cio__sock_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl >= 0 && !(fdfl & FD_CLOEXEC))
        fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
    return 0;
}

/* A NULL stream, or a NULL buffer (or other required pointer) `what`. */
__attribute__((cold, noinline)) static int snull(const char *fn, const cio_stream *s,
                                                 const char *what) {
    return cio_seterr(-EINVAL, "%s: the %s is NULL", fn, s ? what : "stream");
}

/* Sets "<op> <peer>: <reason>" unless the transport already explained a
 * TLS failure, and returns code. */
static int sfail(const cio_stream *s, int code, const char *op) {
    if (code == CIO_ETLS || code == CIO_ELIMIT || code == CIO_EPARTIAL || code == -EBUSY)
        return code;
    cio_addr a;
    char who[CIO_ADDRSTRLEN];
    if (s->peer.len)
        cio_addr_str(&s->peer, who, sizeof who);
    else if (cio_stream_peer(s, &a) == 0)
        cio_addr_str(&a, who, sizeof who);
    else
        snprintf(who, sizeof who, "fd %d", s->f.fd);
    return cio_seterr(code, "%s %s: %s", op, who, cio_strerror(code));
}

static bool would_block(ssize_t r) {
    return r == -EAGAIN || r == CIO__WANT_READ || r == CIO__WANT_WRITE;
}

int cio__stream_wait(cio_stream *s, int code, int dir) {
    bool cross = code == CIO__WANT_WRITE || code == CIO__WANT_READ;
    if (cio__unlikely(cross))
        dir = code == CIO__WANT_WRITE ? CIO__WRITE : CIO__READ;
    int rc = cio__nfd_wait(&s->f, dir);
    if (cio__likely(rc != -EBUSY))
        return rc;
    if (cross) {
        /* The other side of this stream waits in that direction (a TLS
         * read that must write while the flusher waits to write): let it
         * go on and retry shortly; this only happens around TLS key
         * updates and renegotiation. */
        return cio_sleep(CIO_MS);
    }
    return cio_seterr(-EBUSY, "another task is already %s this stream",
                      dir == CIO__READ ? "reading" : "writing");
}

static void apply_opts(cio_stream *s, const cio_stream_opts *o) {
    s->limit = o && o->limit ? o->limit : DEFAULT_LIMIT;
    s->whigh = o && o->write_high ? o->write_high : DEFAULT_HIGH;
    s->wlow = o && o->write_low ? o->write_low : s->whigh / 4;
    if (s->wlow > s->whigh)
        s->wlow = s->whigh;
}

int cio__stream_new(cio_stream **out, int fd, const cio_stream_opts *opts) {
    *out = NULL;
    cio_stream *s = cio__calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return cio_seterr(-ENOMEM, "stream: out of memory");
    }
    int rc = cio__nfd_open(&s->f, fd);
    if (rc < 0) {
        close(fd);
        cio__free(s);
        return rc;
    }
    s->tp = &cio__plain_transport;
    s->refs = 1;
    apply_opts(s, opts);
    *out = s;
    return 0;
}

int cio_stream_open_fd(cio_stream **out, int fd, const cio_stream_opts *opts) {
    if (!out) {
        if (fd >= 0)
            close(fd); /* the stream owns fd, even on failure */
        return cio_seterr(-EINVAL, "cio_stream_open_fd: the output pointer is NULL");
    }
    *out = NULL;
    cio__net_init();
    int rc = cio__sock_nonblock(fd);
    if (rc < 0) {
        close(fd);
        return cio__seterr_code(rc, "stream: making the socket non-blocking");
    }
    return cio__stream_new(out, fd, opts);
}

static void stream_free(cio_stream *s) {
    cio__free(s->rbuf);
    cio__free(s->wbuf);
    cio__free(s);
}

static void stream_unref(cio_stream *s) {
    if (--s->refs == 0)
        stream_free(s);
}

/* ---- reading -------------------------------------------------------------- */

/* One transport read into buf (n > 0), waiting as needed: > 0 bytes, 0 at
 * end of stream, or an error (sticky unless the wait was interrupted). */
/* Fairness: a task that reads (or drains) a fast peer without ever having
 * to wait would keep the loop to itself; every so often it yields. */
#define STREAK_MAX 64

static int fair_yield(cio_stream *s) {
    if (cio__likely(++s->streak < STREAK_MAX))
        return 0;
    s->streak = 0;
    return cio_yield();
}

static ssize_t recv_some(cio_stream *s, void *buf, size_t n) {
    int yrc = fair_yield(s);
    if (cio__unlikely(yrc < 0))
        return sfail(s, yrc, "read");
    for (;;) {
        if (s->rd_drained) {
            s->streak = 0;
            int rc = cio__stream_wait(s, -EAGAIN, CIO__READ);
            if (rc < 0)
                return sfail(s, rc, "read");
            s->rd_drained = false;
        }
        ssize_t r = tp_recv(s, buf, n);
        if (cio__likely(r > 0)) {
            /* Edge-triggered: a short read emptied the socket, and any new
             * data brings a new edge, so the next read waits first. */
            if ((size_t)r < n && s->tp == &cio__plain_transport && !s->f.hup)
                s->rd_drained = true;
            return r;
        }
        if (r == 0) {
            s->rdeof = true;
            return 0;
        }
        if (r == -EINTR)
            continue;
        if (would_block(r)) {
            if (r == -EAGAIN)
                s->rd_drained = false;
            s->streak = 0;
            int rc = cio__stream_wait(s, (int)r, CIO__READ);
            if (rc < 0)
                return sfail(s, rc, "read");
            continue;
        }
        s->rerr = (int)r;
        return sfail(s, (int)r, "read");
    }
}

/* Makes room for at least `want` more bytes after rlen (want <= limit),
 * compacting or growing the buffer. 0 or -ENOMEM. */
static int rbuf_room(cio_stream *s, size_t want) {
    size_t have = s->rlen - s->rpos;
    if (s->rcap - s->rlen >= want && s->rcap - s->rlen >= 512)
        return 0;
    if (s->rpos) {
        memmove(s->rbuf, s->rbuf + s->rpos, have);
        s->rpos = 0;
        s->rlen = have;
        if (s->rcap - s->rlen >= want && s->rcap - s->rlen >= 512)
            return 0;
    }
    size_t cap = s->rcap ? s->rcap : INITIAL_RBUF;
    while (cap < have + want)
        cap *= 2;
    if (cap < INITIAL_RBUF)
        cap = INITIAL_RBUF;
    if (cap == s->rcap)
        return 0;
    char *nb = cio__realloc(s->rbuf, cap);
    if (!nb)
        return cio_seterr(-ENOMEM, "stream: out of memory for a %zu-byte read buffer", cap);
    s->rbuf = nb;
    s->rcap = cap;
    return 0;
}

/* Reads once more into the buffer, never past the limit. > 0, 0 at EOF, < 0. */
static ssize_t fill_once(cio_stream *s) {
    size_t have = s->rlen - s->rpos;
    size_t room = s->limit > have ? s->limit - have : 0;
    if (!room)
        return CIO_ELIMIT;
    int rc = rbuf_room(s, 1);
    if (rc < 0)
        return rc;
    size_t n = s->rcap - s->rlen;
    if (n > room)
        n = room;
    ssize_t r = recv_some(s, s->rbuf + s->rlen, n);
    if (r > 0)
        s->rlen += (size_t)r;
    return r;
}

ssize_t cio_stream_fill(cio_stream *s, size_t min) {
    if (cio__unlikely(!s))
        return snull("cio_stream_fill", s, "stream");
    if (min > s->limit)
        return cio_seterr(CIO_ELIMIT, "stream: %zu bytes wanted, the read limit is %zu", min,
                          s->limit);
    while (s->rlen - s->rpos < min) {
        if (s->rerr)
            return sfail(s, s->rerr, "read");
        if (s->rdeof)
            break;
        int rc = cio__interrupted();
        if (rc)
            return sfail(s, rc, "read");
        ssize_t r = fill_once(s);
        if (r < 0)
            return r;
    }
    return (ssize_t)(s->rlen - s->rpos);
}

const void *cio_stream_peek(cio_stream *s, size_t *len) {
    if (!s || !len) {
        if (len)
            *len = 0;
        snull("cio_stream_peek", s, "length pointer");
        errno = EINVAL;
        return NULL;
    }
    *len = s->rlen - s->rpos;
    return s->rbuf ? s->rbuf + s->rpos : "";
}

void cio_stream_consume(cio_stream *s, size_t n) {
    if (cio__unlikely(!s))
        return;
    size_t have = s->rlen - s->rpos;
    if (n > have)
        n = have;
    s->rpos += n;
    if (s->rpos == s->rlen)
        s->rpos = s->rlen = 0;
}

size_t cio_stream_buffered(const cio_stream *s) { return s ? s->rlen - s->rpos : 0; }

bool cio_stream_eof(const cio_stream *s) { return s && s->rdeof && s->rlen == s->rpos; }

ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n) {
    if (cio__unlikely(n == 0 || !s || !buf))
        return s && n == 0 ? 0 : snull("cio_stream_read", s, "buffer");
    /* Level-triggered cancellation: a cancelled task's read fails even
     * when bytes are buffered (they stay there). */
    int rc = cio__interrupted();
    if (cio__unlikely(rc))
        return sfail(s, rc, "read");
    size_t have = s->rlen - s->rpos;
    if (have) {
        if (n > have)
            n = have;
        memcpy(buf, s->rbuf + s->rpos, n);
        cio_stream_consume(s, n);
        return (ssize_t)n;
    }
    if (s->rerr)
        return sfail(s, s->rerr, "read");
    if (s->rdeof)
        return 0;
    if (n >= DIRECT_READ_MIN)
        return recv_some(s, buf, n);
    ssize_t r = fill_once(s);
    if (r <= 0)
        return r;
    return cio_stream_read(s, buf, n);
}

ssize_t cio_stream_readexactly(cio_stream *s, void *buf, size_t n, size_t *got) {
    size_t dummy;
    if (!got)
        got = &dummy;
    *got = 0;
    if (cio__unlikely(!s || (!buf && n)))
        return snull("cio_stream_readexactly", s, "buffer");
    if (n <= s->limit) {
        /* Gather everything in the stream buffer first, so an interrupted
         * call consumes nothing. */
        ssize_t r = cio_stream_fill(s, n);
        if (r < 0)
            return r;
        size_t take = (size_t)r < n ? (size_t)r : n;
        memcpy(buf, s->rbuf + s->rpos, take);
        cio_stream_consume(s, take);
        *got = take;
        if (take < n)
            return cio_seterr(CIO_EPARTIAL, "readexactly: stream ended after %zu of %zu bytes",
                              take, n);
        return (ssize_t)n;
    }
    /* Larger than the buffer may hold: copy as it comes. */
    char *p = buf;
    while (*got < n) {
        ssize_t r = cio_stream_read(s, p + *got, n - *got);
        if (r < 0)
            return r;
        if (r == 0)
            return cio_seterr(CIO_EPARTIAL, "readexactly: stream ended after %zu of %zu bytes",
                              *got, n);
        *got += (size_t)r;
    }
    return (ssize_t)n;
}

ssize_t cio_stream_find(cio_stream *s, const void *sep, size_t seplen, size_t max) {
    if (cio__unlikely(!s || (!sep && seplen)))
        return snull("cio_stream_find", s, "separator");
    if (seplen == 0)
        return cio_seterr(-EINVAL, "readuntil: empty separator");
    if (max > s->limit)
        max = s->limit;
    size_t scanned = 0; /* bytes already searched without a match */
    for (;;) {
        size_t have = s->rlen - s->rpos;
        if (have >= seplen) {
            size_t from = scanned > seplen - 1 ? scanned - (seplen - 1) : 0;
            const char *hit = memmem(s->rbuf + s->rpos + from, have - from, sep, seplen);
            if (hit) {
                size_t len = (size_t)(hit - (s->rbuf + s->rpos)) + seplen;
                if (len > max)
                    break;
                return (ssize_t)len;
            }
            scanned = have;
        }
        /* Over the limit is an error even at the end (as asyncio's
         * readuntil). Exactly at it, one more byte tells: the end makes a
         * last partial piece that fits, more data an overrun. The read
         * buffer's own limit leaves no room to look, though. */
        if (have > max)
            break;
        if (s->rerr)
            return sfail(s, s->rerr, "read");
        if (s->rdeof)
            return cio_seterr(CIO_EPARTIAL,
                              "readuntil: stream ended before the separator (%zu bytes buffered)",
                              have);
        if (have == max && have >= s->limit)
            break;
        ssize_t r = cio_stream_fill(s, have + 1);
        if (r < 0)
            return r;
    }
    return cio_seterr(CIO_ELIMIT, "readuntil: no separator within %zu bytes", max);
}

ssize_t cio_stream_readuntil(cio_stream *s, const void *sep, size_t seplen, void *buf,
                             size_t n) {
    if (cio__unlikely(!s || (!sep && seplen) || (!buf && n)))
        return snull("cio_stream_readuntil", s, buf || !n ? "separator" : "buffer");
    ssize_t len = cio_stream_find(s, sep, seplen, n);
    if (len < 0)
        return len;
    memcpy(buf, s->rbuf + s->rpos, (size_t)len);
    cio_stream_consume(s, (size_t)len);
    return len;
}

ssize_t cio_stream_readline(cio_stream *s, char *buf, size_t n) {
    if (cio__unlikely(!s || (!buf && n)))
        return snull("cio_stream_readline", s, "buffer");
    if (n == 0)
        return cio_seterr(CIO_ELIMIT, "readline: no room");
    ssize_t len = cio_stream_find(s, "\n", 1, n > 1 ? n - 1 : n);
    if (len == CIO_EPARTIAL) /* the last line, unterminated: it fits */
        len = (ssize_t)(s->rlen - s->rpos);
    if (len < 0)
        return len;
    if (len)
        memcpy(buf, s->rbuf + s->rpos, (size_t)len);
    cio_stream_consume(s, (size_t)len);
    if ((size_t)len < n)
        buf[len] = 0;
    return len;
}

/* ---- writing -------------------------------------------------------------- */

static size_t queued(const cio_stream *s) { return s->wlen - s->wpos; }

/* Wakes the drain/flush waiters whose mark the queue has come down to. */
static void wake_writers(cio_stream *s, int result) {
    cio__waiter *w = cio__waitq_first(&s->drainq);
    while (w) {
        cio__waiter *next = w->next;
        if (result < 0 || queued(s) <= w->data)
            cio__wake_waiter(w, result);
        w = next;
    }
}

static int flusher_main(void *arg) {
    cio_stream *s = arg;
    int rc = 0;
    while (queued(s) && !s->closing) {
        struct iovec v = {s->wbuf + s->wpos, queued(s)};
        ssize_t r = tp_send(s, &v, 1);
        if (r > 0) {
            s->wpos += (size_t)r;
            wake_writers(s, 0);
        } else if (r == -EINTR || r == 0) {
            continue;
        } else if (would_block(r)) {
            rc = cio__stream_wait(s, (int)r, CIO__WRITE);
            if (rc < 0)
                break;
        } else {
            s->werr = (int)r;
            rc = sfail(s, (int)r, "write");
            break;
        }
    }
    if (!queued(s))
        s->wpos = s->wlen = 0;
    s->flusher = NULL;
    if (!s->closing)
        wake_writers(s, s->werr ? s->werr : (queued(s) ? rc : 0));
    return 0; /* flusher_ended drops its reference */
}

/* The flusher is watched, not detached: it holds a reference to the
 * stream until it has ended, and if it ended without running (no memory
 * for its stack) the writers waiting for it hear so. A flusher that ran
 * cleared s->flusher itself; close clears it for one it cancels. */
static void flusher_ended(cio__watcher *w, cio_task *t, int index) {
    (void)index;
    cio_stream *s = (cio_stream *)((char *)w - offsetof(cio_stream, flusher_watch));
    if (s->flusher == t) { /* it never ran */
        s->flusher = NULL;
        if (!s->closing)
            wake_writers(s, -ENOMEM); /* their drain or flush fails, named */
    }
    cio__task_free(t);
    stream_unref(s);
}

static int start_flusher(cio_stream *s) {
    cio_task *t = cio_spawn(flusher_main, s);
    if (!t)
        return cio_seterr(-ENOMEM, "stream: cannot start the background writer");
    s->refs++;
    s->flusher = t;
    s->flusher_watch.done = flusher_ended;
    cio__task_watch(t, &s->flusher_watch);
    return 0;
}

/* Appends the iov tail starting `skip` bytes in to the write queue. */
static int enqueue(cio_stream *s, const struct iovec *iov, int iovcnt, size_t skip, size_t total) {
    size_t add = total - skip;
    if (s->wcap - s->wlen < add) {
        size_t q = queued(s);
        if (s->wpos && s->wcap - q >= add) {
            memmove(s->wbuf, s->wbuf + s->wpos, q);
        } else {
            size_t cap = s->wcap ? s->wcap : 16 * 1024;
            while (cap < q + add)
                cap *= 2;
            char *nb = cio__malloc(cap);
            if (!nb)
                return cio_seterr(-ENOMEM, "stream: out of memory queueing %zu bytes", add);
            if (q)
                memcpy(nb, s->wbuf + s->wpos, q);
            cio__free(s->wbuf);
            s->wbuf = nb;
            s->wcap = cap;
        }
        s->wpos = 0;
        s->wlen = q;
    }
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(s->wbuf + s->wlen, (const char *)iov[i].iov_base + skip, len - skip);
        s->wlen += len - skip;
        skip = 0;
    }
    if (!s->flusher)
        return start_flusher(s);
    return 0;
}

static inline int stream_writev(cio_stream *s, const struct iovec *iov, int iovcnt) {
    if (cio__unlikely(s->werr))
        return sfail(s, s->werr, "write");
    if (cio__unlikely(s->wshut))
        return cio_seterr(-EPIPE, "write after write_eof");
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (!total)
        return 0;
    size_t sent = 0;
    if (!queued(s) && !s->flusher) {
        for (;;) {
            ssize_t r = tp_send(s, iov, iovcnt);
            if (cio__likely(r >= 0)) {
                sent = (size_t)r;
                break;
            }
            if (r == -EINTR)
                continue;
            if (would_block(r))
                break;
            s->werr = (int)r;
            return sfail(s, (int)r, "write");
        }
        if (cio__likely(sent == total))
            return 0;
    }
    return enqueue(s, iov, iovcnt, sent, total);
}

int cio_stream_writev(cio_stream *s, const struct iovec *iov, int iovcnt) {
    if (cio__unlikely(!s || (!iov && iovcnt > 0)))
        return snull("cio_stream_writev", s, "iovec array");
    return stream_writev(s, iov, iovcnt);
}

int cio_stream_write(cio_stream *s, const void *buf, size_t n) {
    if (cio__unlikely(!s || (!buf && n)))
        return snull("cio_stream_write", s, "buffer");
    struct iovec v = {(void *)buf, n};
    return stream_writev(s, &v, 1);
}

size_t cio_stream_write_buffered(const cio_stream *s) { return s ? queued(s) : 0; }

/* Waits until at most `mark` bytes are queued. */
static int wait_queued(cio_stream *s, size_t mark, const char *op) {
    while (queued(s) > mark || (mark == 0 && s->flusher)) {
        if (s->werr)
            return sfail(s, s->werr, op);
        if (!s->flusher) {
            int rc = start_flusher(s);
            if (rc < 0)
                return rc;
        }
        cio__waiter w = {.data = mark};
        int rc = cio__waitq_wait(&s->drainq, &w);
        if (rc < 0)
            return sfail(s, rc, op);
    }
    return s->werr ? sfail(s, s->werr, op) : 0;
}

int cio_stream_drain(cio_stream *s) {
    if (cio__unlikely(!s))
        return snull("cio_stream_drain", s, "stream");
    if (cio__likely(queued(s) <= s->whigh)) {
        if (s->werr)
            return sfail(s, s->werr, "drain");
        int rc = fair_yield(s);
        if (!rc)
            rc = cio__interrupted();
        return rc ? sfail(s, rc, "drain") : 0;
    }
    return wait_queued(s, s->wlow, "drain");
}

int cio_stream_flush(cio_stream *s) {
    if (cio__unlikely(!s))
        return snull("cio_stream_flush", s, "stream");
    int rc = cio__interrupted();
    if (rc)
        return sfail(s, rc, "flush");
    return wait_queued(s, 0, "flush");
}

/* sendfile(2) errors that come from the file side (the socket is ours and
 * valid): a bad or unreadable descriptor, one that cannot be read like a
 * file (a directory, a pipe with an offset), an I/O error, an offset
 * beyond what the file allows. */
static bool file_error(int err) {
    return err == -EBADF || err == -EINVAL || err == -EIO || err == -EOVERFLOW ||
           err == -ESPIPE || err == -EISDIR || err == -ENXIO;
}

/* Over TLS the file goes through the write queue in pieces, and *sent
 * counts what SSL_write took: what was handed to the stream minus what is
 * still queued (the queue was empty at the start: sendfile flushes first).
 * A piece that SSL_write began must stay queued, or its record would be
 * cut: after a timeout or cancellation the flusher still sends it. */
static ssize_t tls_sendfile(cio_stream *s, int fd, off_t off, size_t n, size_t *sent) {
    char buf[16 * 1024];
    size_t handed = 0;
    int rc = 0, ferr = 0;
    while (handed < n) {
        size_t want = n - handed < sizeof buf ? n - handed : sizeof buf;
        ssize_t r = pread(fd, buf, want, off + (off_t)handed);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ferr = -errno;
            break;
        }
        if (r == 0)
            break;
        if ((rc = cio_stream_write(s, buf, (size_t)r)) < 0)
            break;
        handed += (size_t)r;
        if ((rc = cio_stream_drain(s)) < 0)
            break;
    }
    /* Done once SSL_write took it all, as sendfile(2) is once the kernel
     * took it all; a file error leaves the queue to the flusher. */
    if (rc == 0 && ferr == 0)
        rc = cio_stream_flush(s);
    /* Queued bytes of a broken connection never go out: not counted. */
    size_t q = queued(s);
    *sent = handed - (q < handed ? q : handed);
    if (ferr)
        return cio__seterr_code(ferr, "sendfile: reading the file");
    if (rc < 0)
        return cio__seterr_wrap(rc, "sendfile (after %zu bytes)", *sent);
    return (ssize_t)handed;
}

ssize_t cio_stream_sendfile_ex(cio_stream *s, int fd, off_t off, size_t n, size_t *sent) {
    size_t dummy;
    if (!sent)
        sent = &dummy;
    *sent = 0;
    if (!s)
        return snull("cio_stream_sendfile_ex", s, "stream");
    int rc = cio_stream_flush(s);
    if (rc < 0)
        return rc;
    if (s->wshut)
        return cio_seterr(-EPIPE, "sendfile after write_eof");
    if (s->tp != &cio__plain_transport)
        return tls_sendfile(s, fd, off, n, sent);
    size_t done = 0;
    while (done < n) {
        off_t o = off + (off_t)done;
        ssize_t r = sendfile(s->f.fd, fd, &o, n - done);
        if (r > 0) {
            done += (size_t)r;
            *sent = done;
        } else if (r == 0) {
            break; /* the file is shorter than asked */
        } else if (errno == EAGAIN) {
            if ((rc = cio__nfd_wait(&s->f, CIO__WRITE)) < 0)
                return sfail(s, rc, "sendfile");
        } else if (errno != EINTR) {
            int err = -errno;
            if (file_error(err)) /* the socket is fine: the stream stays usable */
                return cio_seterr(err, "sendfile: reading the file (after %zu bytes): %s", done,
                                  cio_strerror(err));
            s->werr = err;
            return sfail(s, err, "sendfile");
        }
    }
    return (ssize_t)done;
}

ssize_t cio_stream_sendfile(cio_stream *s, int fd, off_t off, size_t n) {
    if (!s) /* named for the caller's call */
        return snull("cio_stream_sendfile", s, "stream");
    return cio_stream_sendfile_ex(s, fd, off, n, NULL);
}

int cio_stream_write_eof(cio_stream *s) {
    if (!s)
        return snull("cio_stream_write_eof", s, "stream");
    if (s->wshut)
        return 0;
    int rc = cio_stream_flush(s);
    if (rc < 0)
        return rc;
    for (;;) {
        rc = s->tp->shutdown(s);
        if (rc == 0 || rc == -ENOTCONN) {
            s->wshut = true;
            return 0;
        }
        if (rc == -EINTR)
            continue;
        if (!would_block(rc))
            return sfail(s, rc, "write_eof");
        if ((rc = cio__stream_wait(s, rc, CIO__WRITE)) < 0)
            return sfail(s, rc, "write_eof");
    }
}

/* ---- closing -------------------------------------------------------------- */

static void stream_teardown(cio_stream *s) {
    s->closing = true;
    cio__nfd_close(&s->f);
    s->tp->release(s);
    close(s->f.fd);
    s->f.fd = -1;
    if (s->flusher) {
        cio_cancel(s->flusher); /* it wakes with -EBADF and drops its ref */
        s->flusher = NULL;
    }
    stream_unref(s);
}

int cio_stream_close(cio_stream *s) {
    if (!s)
        return 0;
    int rc = s->werr ? sfail(s, s->werr, "close") : 0;
    if (!rc && (queued(s) || s->flusher))
        rc = wait_queued(s, 0, "close");
    if (!rc && s->tls && !s->wshut)
        s->tp->shutdown(s); /* one try at close_notify; never waits */
    stream_teardown(s);
    return rc;
}

void cio_stream_abort(cio_stream *s) {
    if (s)
        stream_teardown(s);
}

/* ---- accessors -------------------------------------------------------------- */

int cio_stream_fd(const cio_stream *s) { return s ? s->f.fd : -1; }

int cio_stream_peer(const cio_stream *s, cio_addr *a) {
    if (!s || !a)
        return snull("cio_stream_peer", s, "address");
    if (s->peer.len) {
        *a = s->peer;
        return 0;
    }
    memset(a, 0, sizeof *a);
    a->len = sizeof a->u;
    if (getpeername(s->f.fd, &a->u.sa, &a->len) < 0) {
        a->len = 0;
        return -errno;
    }
    return 0;
}

int cio_stream_local(const cio_stream *s, cio_addr *a) {
    if (!s || !a)
        return snull("cio_stream_local", s, "address");
    memset(a, 0, sizeof *a);
    a->len = sizeof a->u;
    if (getsockname(s->f.fd, &a->u.sa, &a->len) < 0) {
        a->len = 0;
        return -errno;
    }
    return 0;
}

void cio_stream_set_limits(cio_stream *s, size_t limit, size_t write_high, size_t write_low) {
    if (!s)
        return;
    if (limit)
        s->limit = limit;
    if (write_high)
        s->whigh = write_high;
    if (write_low)
        s->wlow = write_low;
    if (s->wlow > s->whigh)
        s->wlow = s->whigh;
}
