/* Private interface between the net modules (addr, tcp, stream, tls, serve,
 * udp). A stream is a buffered byte pipe over a transport: the plain one
 * (recv/send on the socket) or TLS (SSL_read/SSL_write over it). */
#ifndef CIO_NET_INT_H
#define CIO_NET_INT_H

#include "cio/net.h"
#include "core/internal.h"

/* Transport results beyond negative errno: "would block, wait for the
 * other direction" (TLS reads that must write and writes that must read). */
#define CIO__WANT_WRITE (-5001)
#define CIO__WANT_READ (-5002)

typedef struct cio__transport {
    /* > 0 bytes, 0 at EOF, -EAGAIN (wait readable), CIO__WANT_WRITE, -errno */
    ssize_t (*recv)(cio_stream *s, void *buf, size_t n);
    /* >= 0 bytes, -EAGAIN (wait writable), CIO__WANT_READ, -errno */
    ssize_t (*send)(cio_stream *s, const struct iovec *iov, int iovcnt);
    /* ends the sending side: 0, -EAGAIN, CIO__WANT_READ, -errno */
    int (*shutdown)(cio_stream *s);
    /* releases transport state (not the fd) */
    void (*release)(cio_stream *s);
} cio__transport;

/* A stream's fd on the poller. Like the core's cio__fd (edge-triggered,
 * both directions, one reader and one writer task), but through a watch so
 * that it also sees EPOLLRDHUP: after a short read the socket is empty and
 * the next read may wait without trying, unless the peer's FIN (or an
 * error) is already pending, which a short read does not reveal. */
typedef struct cio__nfd {
    cio__watch w;
    int fd;
    uint8_t ready;   /* CIO__READ/CIO__WRITE edges seen since the last wait */
    bool hup;        /* FIN, hang-up or error seen: always try the syscall */
    bool registered;
    cio_task *reader, *writer;
} cio__nfd;

int cio__nfd_open(cio__nfd *f, int fd);
/* Parks until an edge in direction dir (or hang-up/error). 0, -ECANCELED,
 * -ETIMEDOUT, -EBADF (closed meanwhile), -EBUSY (another waiter). */
int cio__nfd_wait(cio__nfd *f, int dir);
void cio__nfd_close(cio__nfd *f);

struct cio_stream {
    cio__nfd f; /* registered with the loop; must not move: epoll holds &f */
    const cio__transport *tp;
    void *tls;              /* SSL * for the TLS transport */
    cio_tls_ctx *tls_ctx;   /* held while the stream uses it */

    /* read buffer: bytes [rpos, rlen) of rbuf are unread */
    char *rbuf;
    size_t rcap, rpos, rlen;
    size_t limit;
    bool rdeof;      /* the transport reported end of stream */
    bool rd_drained; /* plain: last recv was short, so wait before the next */
    uint8_t streak;  /* reads/drains in a row that did not suspend */
    int rerr;        /* sticky read error */

    /* write buffer: bytes [wpos, wlen) of wbuf are queued */
    char *wbuf;
    size_t wcap, wpos, wlen;
    size_t whigh, wlow;
    int werr;        /* sticky send error */
    bool wshut;      /* write_eof done (or under way) */
    cio_task *flusher;      /* background task sending wbuf, or NULL */
    cio__watcher flusher_watch; /* its end, even if it never ran (stream.c) */
    cio__waitq drainq;      /* drain()/flush() callers waiting for the flusher */
    int refs;               /* the owner + a running flusher */
    bool closing;
    cio_addr peer;          /* for messages (len 0: ask getpeername) */
};

/* Sets SIGPIPE to ignored if it is at its default (once per process). */
void cio__net_init(void);
/* cio_stream_open_fd for an fd already non-blocking and close-on-exec
 * (from accept4 or socket with SOCK_NONBLOCK). */
int cio__stream_new(cio_stream **out, int fd, const cio_stream_opts *opts);
/* Makes fd non-blocking and close-on-exec. 0 or -errno. */
int cio__sock_nonblock(int fd);
/* Waits on s's fd for a transport result (-EAGAIN in direction dir, or a
 * CIO__WANT_* code). 0 to retry, or the wait's error. Suspends. */
int cio__stream_wait(cio_stream *s, int code, int dir);
/* The plain transport. */
extern const cio__transport cio__plain_transport;
/* TLS errors: formats OpenSSL's error queue into the task message. */
int cio__tls_handshake(cio_stream *s, cio_tls_ctx *ctx, const char *name);
/* A default client context (system store), created on first use. */
cio_tls_ctx *cio__tls_default_client(void);

#endif
