/* cio net: TCP, Unix and UDP sockets, buffered streams, DNS and TLS
 * (asyncio's open_connection / start_server / StreamReader / StreamWriter).
 *
 *   cio_stream *s;
 *   if (cio_tcp_connect(&s, "example.org", "80", NULL) < 0)
 *       return fprintf(stderr, "%s\n", cio_errmsg()), 1;
 *   cio_stream_write(s, "GET / HTTP/1.0\r\n\r\n", 18);
 *   char line[1024];
 *   ssize_t n = cio_stream_readline(s, line, sizeof line);
 *   cio_stream_close(s);
 *
 * Every call marked "Suspends" is a suspension point: it returns
 * -ECANCELED once the task is cancelled and -ETIMEDOUT once an enclosing
 * timeout scope (CIO_TIMEOUT) expires, and a cancelled read or drain loses
 * nothing: bytes already received stay in the stream's buffer. Errors are
 * negative errno values (or CIO_EDNS, CIO_ETLS, CIO_ELIMIT, CIO_EPARTIAL)
 * with a sentence in cio_errmsg() naming the address or operation.
 * SIGPIPE never kills the process: sends use MSG_NOSIGNAL and the first use
 * of the module sets SIGPIPE to ignored if it was at its default. */
#ifndef CIO_NET_H
#define CIO_NET_H

#include "cio/core.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- addresses and DNS ------------------------------------------------- */

/* A socket address of any family (IPv4, IPv6, Unix). len == 0: unset. */
typedef struct cio_addr {
    socklen_t len;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
} cio_addr;

/* Room for any address formatted by cio_addr_str ("[v6%scope]:port", path). */
#define CIO_ADDRSTRLEN 128

/* Parses a numeric host ("127.0.0.1", "::1", NULL/"" = 0.0.0.0) and a
 * numeric port into a. Never resolves, never suspends. 0 or -EINVAL. */
CIO_API int cio_addr_parse(cio_addr *a, const char *host, const char *port);
/* Makes a Unix socket address from path. 0 or -ENAMETOOLONG. */
CIO_API int cio_addr_unix(cio_addr *a, const char *path);
/* Formats a as "1.2.3.4:80", "[::1]:80" or the Unix path into buf (at least
 * CIO_ADDRSTRLEN bytes is always enough); returns buf. */
CIO_API const char *cio_addr_str(const cio_addr *a, char *buf, size_t n);
/* The port of an IPv4/IPv6 address (host order), or -1. */
CIO_API int cio_addr_port(const cio_addr *a);

/* Resolves host and port (a number or a service name like "http") into at
 * most max addresses, in the resolver's order; family is AF_UNSPEC, AF_INET
 * or AF_INET6, socktype SOCK_STREAM or SOCK_DGRAM. Numeric hosts skip the
 * resolver; others run getaddrinfo on the thread pool. Returns the count
 * (> 0) or CIO_EDNS ("resolve example.invalid: Name or service not known").
 * Suspends (for non-numeric hosts). */
CIO_API int cio_resolve(const char *host, const char *port, int family, int socktype,
                        cio_addr *out, size_t max);

/* ---- TLS contexts (OpenSSL) --------------------------------------------- */

/* Settings of a TLS context. Zero-initialised = a client that verifies the
 * peer against the system trust store and checks the host name. */
typedef struct cio_tls_opts {
    bool server;           /* a server context (cert_file and key_file needed) */
    const char *cert_file; /* PEM certificate chain (server; optional client) */
    const char *key_file;  /* PEM private key matching cert_file */
    const char *ca_file;   /* PEM CA bundle to trust instead of the system store */
    const char *ca_path;   /* hashed CA directory to trust (with or instead of ca_file) */
    bool insecure;         /* client: skip certificate and name checks (tests only) */
    bool verify_client;    /* server: require a client certificate signed by ca_file */
    const char *alpn;      /* comma-separated protocols, e.g. "h2,http/1.1"; NULL = none */
} cio_tls_opts;

typedef struct cio_tls_ctx cio_tls_ctx;

/* Creates a TLS context (an SSL_CTX: load certificates once, share between
 * connections and loops of one process). NULL with errno and cio_errmsg()
 * (errno EINVAL for a bad file or key, ENOTSUP without OpenSSL). */
CIO_API cio_tls_ctx *cio_tls_ctx_new(const cio_tls_opts *opts);
/* Releases ctx; streams still using it keep it alive until they close. */
CIO_API void cio_tls_ctx_free(cio_tls_ctx *ctx);

/* ---- streams ----------------------------------------------------------- */

typedef struct cio_stream cio_stream;

/* Buffering of one stream; zero fields take the defaults. */
typedef struct cio_stream_opts {
    size_t limit;      /* read buffer limit, also readuntil's; 0 = 64 KiB */
    size_t write_high; /* drain waits while more is buffered; 0 = 64 KiB */
    size_t write_low;  /* drain resumes at or below this; 0 = write_high / 4 */
} cio_stream_opts;

/* Wraps a connected stream socket fd (made non-blocking here); the stream
 * owns fd from then on, even on failure. opts may be NULL. 0 and *out, or
 * -ENOMEM / the poller's error. Does not suspend. */
CIO_API int cio_stream_open_fd(cio_stream **out, int fd, const cio_stream_opts *opts);

/* Reads up to n bytes: what is buffered, else waits for some. Returns the
 * count (> 0), 0 at end of stream, or an error. Suspends. */
CIO_API ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n);
/* Reads exactly n bytes into buf and returns n. If the stream ends first,
 * returns CIO_EPARTIAL, the bytes that did arrive are in buf and consumed,
 * and *got (may be NULL) says how many. If n <= the read limit, a
 * cancelled or timed-out call consumes nothing; above the limit, bytes are
 * copied as they come and *got counts them whatever the outcome. Suspends. */
CIO_API ssize_t cio_stream_readexactly(cio_stream *s, void *buf, size_t n, size_t *got);
/* Reads up to and including the separator sep (seplen bytes) into buf and
 * returns the length. CIO_ELIMIT if no separator within min(n, limit)
 * bytes; CIO_EPARTIAL if the stream ends first. On every error the data
 * stays in the buffer, readable with cio_stream_read. Suspends. */
CIO_API ssize_t cio_stream_readuntil(cio_stream *s, const void *sep, size_t seplen,
                                     void *buf, size_t n);
/* readuntil "\n", except that at end of stream it returns the last,
 * unterminated line (and 0 once nothing is left). NUL-terminates buf when
 * there is room. Suspends. */
CIO_API ssize_t cio_stream_readline(cio_stream *s, char *buf, size_t n);

/* Zero-copy access to the read buffer. Waits until at least min bytes are
 * buffered and returns how many are (>= min), or fewer at end of stream
 * (then cio_stream_eof is true). min above the limit is CIO_ELIMIT; min 0
 * returns at once. To wait for more than is buffered, pass buffered + 1.
 * Suspends. */
CIO_API ssize_t cio_stream_fill(cio_stream *s, size_t min);
/* The buffered bytes (valid until the next call on s) and their count. Does
 * not suspend. */
CIO_API const void *cio_stream_peek(cio_stream *s, size_t *len);
/* Drops the first n buffered bytes (n <= buffered). Does not suspend. */
CIO_API void cio_stream_consume(cio_stream *s, size_t n);
/* Waits until sep is buffered (as readuntil) and returns the length up to
 * and including it, without consuming: read it via peek, then consume.
 * Errors as readuntil. Suspends. */
CIO_API ssize_t cio_stream_find(cio_stream *s, const void *sep, size_t seplen, size_t max);
/* Bytes buffered for reading, and whether the peer ended its side. */
CIO_API size_t cio_stream_buffered(const cio_stream *s);
CIO_API bool cio_stream_eof(const cio_stream *s);

/* Queues n bytes for sending, trying to send at once when nothing is
 * queued; what the kernel does not take is sent in the background. 0, or
 * the error that broke the stream (-EPIPE, -ECONNRESET, -ENOMEM …), or
 * -EPIPE after write_eof. Does not suspend: follow with drain. */
CIO_API int cio_stream_write(cio_stream *s, const void *buf, size_t n);
/* Like write, for a gather list (e.g. headers + body in one syscall). */
CIO_API int cio_stream_writev(cio_stream *s, const struct iovec *iov, int iovcnt);
/* Sends n bytes of file fd from offset off (sendfile(2) on plain sockets,
 * read-and-write over TLS) and returns the count sent (less than n if the
 * file is shorter), once the kernel took it all (over TLS, SSL_write).
 * Flushes the queue first. An error of the file (bad or unreadable fd)
 * names the file and leaves the stream usable; an error of the connection
 * stays, as for write. Suspends. */
CIO_API ssize_t cio_stream_sendfile(cio_stream *s, int fd, off_t off, size_t n);
/* Like cio_stream_sendfile, and stores in *sent (if not NULL) how many bytes
 * went out, also when it fails part-way (an error, a timeout or
 * cancellation); 0 on an argument error, the return value on success. On a
 * plain socket, the bytes sendfile(2) handed to the kernel; over TLS, the
 * plaintext bytes SSL_write took (encrypted and handed to the kernel).
 * Bytes still queued are not counted: a broken connection drops them;
 * after a timeout, cancellation or file error the stream still sends them
 * (over TLS the file goes through the queue in 16 KiB pieces, and a piece
 * SSL_write began cannot be taken back). So a transfer on the same stream
 * resumes at off + *sent + cio_stream_write_buffered(s); over a plain
 * socket that queue is empty. Suspends. */
CIO_API ssize_t cio_stream_sendfile_ex(cio_stream *s, int fd, off_t off, size_t n,
                                       size_t *sent);
/* Waits while more than write_high bytes are queued (until write_low).
 * 0 or the send error (-EPIPE, -ECONNRESET). Suspends. */
CIO_API int cio_stream_drain(cio_stream *s);
/* Waits until every queued byte is handed to the kernel. Suspends. */
CIO_API int cio_stream_flush(cio_stream *s);
/* Bytes queued for sending. */
CIO_API size_t cio_stream_write_buffered(const cio_stream *s);
/* Flushes, then ends the sending side (shutdown(SHUT_WR), or TLS
 * close_notify); reading goes on. 0 or an error. Suspends. */
CIO_API int cio_stream_write_eof(cio_stream *s);
/* Flushes what is queued, closes and frees s (always, even when it fails).
 * 0 or the first send error (-ECONNRESET/-EPIPE from a reset peer). If the
 * caller is cancelled or times out, the flush stops there and s is closed
 * anyway. No other task may be waiting on s (cancel and join it first).
 * Suspends. */
CIO_API int cio_stream_close(cio_stream *s);
/* Closes and frees s at once, dropping anything queued. Does not suspend. */
CIO_API void cio_stream_abort(cio_stream *s);

/* The socket fd (for setsockopt; do not read, write or close it). */
CIO_API int cio_stream_fd(const cio_stream *s);
/* Peer and local addresses. 0 or -errno. */
CIO_API int cio_stream_peer(const cio_stream *s, cio_addr *a);
CIO_API int cio_stream_local(const cio_stream *s, cio_addr *a);
/* Changes the read limit (>= 1) and the write marks (0 = unchanged). */
CIO_API void cio_stream_set_limits(cio_stream *s, size_t limit, size_t write_high,
                                   size_t write_low);

/* Starts TLS on an open stream (STARTTLS; a server handshake when ctx is a
 * server context). name: the host name for SNI and verification (client;
 * NULL = no SNI, and verification then accepts any name only if the
 * context is insecure). 0 or CIO_ETLS with the reason ("certificate verify
 * failed: Hostname mismatch"). Nothing may be buffered. Suspends. */
CIO_API int cio_stream_starttls(cio_stream *s, cio_tls_ctx *ctx, const char *name);
/* True for a TLS stream; the negotiated protocol version ("TLSv1.3") and
 * ALPN protocol ("" when none), NULL for plain streams. */
CIO_API bool cio_stream_is_tls(const cio_stream *s);
CIO_API const char *cio_stream_tls_version(const cio_stream *s);
CIO_API const char *cio_stream_tls_alpn(const cio_stream *s);

/* ---- connecting -------------------------------------------------------- */

typedef struct cio_connect_opts {
    int family;              /* AF_UNSPEC (default), AF_INET or AF_INET6 */
    int64_t timeout;         /* whole connect incl. DNS and TLS; 0 = none
                              * beyond the caller's scopes */
    bool nagle;              /* keep Nagle's algorithm (default: TCP_NODELAY) */
    bool tls;                /* TLS with a default client context (system store) */
    cio_tls_ctx *tls_ctx;    /* TLS with this context (implies tls) */
    const char *server_name; /* SNI / name to verify; NULL = host */
    cio_stream_opts stream;  /* buffering of the new stream */
} cio_connect_opts;

/* asyncio.open_connection: resolves host (off the loop unless numeric),
 * tries each address in turn (IPv4 and IPv6) until one connects, and
 * optionally starts TLS. port is a number or a service name. 0 and *out;
 * or -ECONNREFUSED / -ETIMEDOUT / -ENETUNREACH … (the last address's
 * error, "connect 127.0.0.1:8080: Connection refused"), CIO_EDNS,
 * CIO_ETLS. opts may be NULL. Suspends. */
CIO_API int cio_tcp_connect(cio_stream **out, const char *host, const char *port,
                            const cio_connect_opts *opts);
/* Connects to a Unix stream socket at path (opts->stream and tls used). */
CIO_API int cio_unix_connect(cio_stream **out, const char *path,
                             const cio_connect_opts *opts);
/* Connects to one known address (any family). */
CIO_API int cio_connect_addr(cio_stream **out, const cio_addr *a,
                             const cio_connect_opts *opts);

/* ---- serving ----------------------------------------------------------- */

typedef struct cio_server cio_server;

/* A connection handler: runs as its own task for each accepted connection.
 * The stream belongs to the server: do not close it; when the handler
 * returns, the server flushes (within close_timeout) and closes it. Do not
 * call cio_server_close from a handler (it waits for every handler): spawn
 * a task for that. A negative result other than
 * -ECANCELED and the usual peer errors (-ECONNRESET, -EPIPE) is reported
 * as a warning with the task's message. */
typedef int (*cio_conn_fn)(cio_stream *s, void *arg);

typedef struct cio_serve_opts {
    int backlog;              /* listen backlog; 0 = 511 */
    bool reuseport;           /* SO_REUSEPORT: several loops share the port */
    bool nagle;               /* keep Nagle's algorithm on accepted sockets */
    size_t max_conns;         /* beyond this, accepting pauses; 0 = no limit */
    cio_tls_ctx *tls_ctx;     /* serve TLS (a server context) */
    int64_t handshake_timeout;/* TLS handshake limit; 0 = 10 s */
    size_t stack_size;        /* handler task stacks; 0 = the loop's default */
    int unix_mode;            /* Unix sockets: chmod the path (0 = leave) */
    cio_stream_opts stream;   /* buffering of accepted streams */
    int64_t close_timeout;    /* limit on flushing a stream after its handler
                               * returns (a peer that never reads); 0 = 10 s */
} cio_serve_opts;

/* asyncio.start_server: binds and listens on host:port (NULL or "" host =
 * every interface; port "0" = pick one, see cio_server_port) with
 * SO_REUSEADDR, then accepts in background tasks, running handler(stream,
 * arg) in a new task per connection. Bind errors are returned here
 * ("bind 127.0.0.1:80: Permission denied"). EMFILE/ENFILE while accepting
 * shed the pending connection and pause briefly; they never spin or stop
 * the server. 0 and *out, or an error. Suspends (for DNS only). */
CIO_API int cio_tcp_serve(cio_server **out, const char *host, const char *port,
                          cio_conn_fn handler, void *arg, const cio_serve_opts *opts);
/* The same on a Unix stream socket at path (an existing socket file is
 * replaced; it is unlinked on close). */
CIO_API int cio_unix_serve(cio_server **out, const char *path, cio_conn_fn handler,
                           void *arg, const cio_serve_opts *opts);
/* The bound port of the first listener (useful with port "0"), or -1. */
CIO_API int cio_server_port(const cio_server *srv);
/* The address of the first listener. */
CIO_API int cio_server_addr(const cio_server *srv, cio_addr *a);
/* Connections being handled now. */
CIO_API size_t cio_server_conns(const cio_server *srv);
/* serve_forever: suspends until another task closes srv (returns 0) or
 * the caller is cancelled or times out (-ECANCELED / -ETIMEDOUT; the server
 * keeps running). Suspends. */
CIO_API int cio_server_wait(cio_server *srv);
/* Graceful shutdown: stops accepting and closes the listeners at once,
 * waits up to grace ns for the handlers to finish (CIO_FOREVER: no limit),
 * then cancels the rest, waits for them and frees srv. Returns the number
 * of handlers that had to be cancelled (0 = all finished on their own).
 * Runs to completion even when the caller is cancelled. Suspends. */
CIO_API int cio_server_close(cio_server *srv, int64_t grace);

/* ---- UDP --------------------------------------------------------------- */

typedef struct cio_udp cio_udp;

/* Opens a UDP socket bound to host:port (numeric or resolved; NULL host =
 * any IPv4 address; port "0" = pick one; NULL port = unbound, family from
 * host or IPv4). 0 and *out, or an error. Suspends (for DNS only). */
CIO_API int cio_udp_open(cio_udp **out, const char *host, const char *port);
/* Sets the default destination (connect(2)); recvfrom then only sees it. */
CIO_API int cio_udp_connect(cio_udp *u, const cio_addr *peer);
/* Sends one datagram to `to` (NULL = the connected peer); returns n or an
 * error (-EMSGSIZE, -ECONNREFUSED from an earlier ICMP). Suspends only
 * while the socket buffer is full. */
CIO_API ssize_t cio_udp_sendto(cio_udp *u, const void *buf, size_t n, const cio_addr *to);
/* Receives one datagram (truncated to n) and its sender (from may be
 * NULL); returns its length. Suspends. */
CIO_API ssize_t cio_udp_recvfrom(cio_udp *u, void *buf, size_t n, cio_addr *from);
/* The bound address (0 or an error) / port (-1 on error) / descriptor
 * (-1 for NULL). A NULL socket, buffer or address is -EINVAL everywhere. */
CIO_API int cio_udp_local(const cio_udp *u, cio_addr *a);
CIO_API int cio_udp_port(const cio_udp *u);
CIO_API int cio_udp_fd(const cio_udp *u);
/* Closes and frees u. Does not suspend. */
CIO_API void cio_udp_close(cio_udp *u);

#ifdef __cplusplus
}
#endif
#endif
