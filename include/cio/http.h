/* cio http: the HTTP/1.1 server (aiohttp.web for C).
 *
 *   static int hello(cio_http_request *req, cio_http_response *resp, void *arg) {
 *       return cio_http_resp_send(resp, 200, "text/plain", "hello\n", 6);
 *   }
 *   cio_http_server *s = cio_http_server_new(NULL);
 *   cio_http_server_route(s, "GET", "/", hello, NULL);
 *   cio_http_server_static(s, "/files/", "/var/www");
 *   cio_http_server_listen(s, "127.0.0.1", 8080);
 *   cio_http_server_serve(s);      // until cio_http_server_shutdown or cancel
 *   cio_http_server_free(s);
 *
 * Each connection runs in its own task; requests on a connection are
 * handled one after the other (keep-alive, pipelining), each by the handler
 * its route names. Handlers may suspend freely (sleep, query a database,
 * stream a body). The server API is cio_http_server_*, the request
 * cio_http_req_*, the response cio_http_resp_*; the HTTP client lives in
 * the same header under cio_http_session_* / cio_http_client_* names. */
#ifndef CIO_HTTP_H
#define CIO_HTTP_H

#include "cio/core.h"
#include "cio/net.h"

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_http_server cio_http_server;
typedef struct cio_http_request cio_http_request;
typedef struct cio_http_response cio_http_response;

/* A request handler, run in the connection's task. Returns 0 or a negative
 * code: if no response was started, an error turns into a 500 (413 for
 * CIO_ELIMIT from the body reader, 400 for CIO_EPARSE, 408 for a body
 * read that timed out); once the response has started, an error closes the
 * connection. A response never started on success is an empty 204. */
typedef int (*cio_http_handler)(cio_http_request *req, cio_http_response *resp, void *arg);

typedef struct cio_http_server_opts {
    size_t max_header_bytes; /* request line + fields; over: 431. 0 = 8 KiB */
    size_t max_headers;      /* number of fields; over: 431. 0 = 100 */
    int64_t max_body_bytes;  /* request body; over: 413. 0 = 1 MiB, < 0 = none */
    int64_t header_timeout;  /* a request head must arrive within this once
                                its first byte came: else 408. 0 = 10 s */
    int64_t idle_timeout;    /* keep-alive wait for the next request's first
                                byte: then closed quietly. 0 = 60 s */
    int64_t body_timeout;    /* longest gap between request body reads: 408.
                                0 = 30 s */
    int64_t write_timeout;   /* longest a response write may block on a peer
                                that does not read: closed. 0 = 30 s */
    size_t max_connections;  /* concurrent connections; at the limit new
                                ones wait in the backlog. 0 = 10,000 */
    int backlog;             /* listen(2) backlog; 0 = 1024 */
    bool reuseport;          /* SO_REUSEPORT: one server per thread/loop */
    size_t stack_size;       /* connection task stack; 0 = the loop default */
    const char *server_name; /* Server field; NULL = "cio", "" = none */
    cio_tls_ctx *tls_ctx;    /* serve HTTPS with this server context (see
                                cio/net.h); NULL = plain HTTP */
} cio_http_server_opts;

/* ---- the server -------------------------------------------------------- */

/* Creates a server (opts may be NULL for the defaults; it is copied).
 * NULL with errno ENOMEM. Does not suspend. */
CIO_API cio_http_server *cio_http_server_new(const cio_http_server_opts *opts);
/* Routes method + path to h(req, resp, arg). method NULL or "*" = any;
 * "GET" routes also answer HEAD (the body is dropped). pattern is an exact
 * path ("/api/items") or a prefix ending in '*' ("/api/" + "*"). Exact routes
 * win, then the longest prefix. No path match: 404; a path match with no
 * method match: 405 with Allow. Returns 0, -EINVAL or -ENOMEM. */
CIO_API int cio_http_server_route(cio_http_server *s, const char *method, const char *pattern,
                                  cio_http_handler h, void *arg);
/* Serves files under directory root at URL prefix (e.g. "/static/"):
 * GET and HEAD, Content-Type by extension, index.html for directories,
 * Last-Modified, single byte ranges (206/416), no escape from root
 * ("..", symlinks out of it: 404). Returns 0, -EINVAL or -ENOMEM. */
CIO_API int cio_http_server_static(cio_http_server *s, const char *prefix, const char *root);
/* Binds and listens on host:port (host NULL = "127.0.0.1"; port 0 picks
 * a free port) and starts accepting at once, in background tasks of the
 * calling loop (through cio_tcp_serve). Returns 0 or a negative errno with
 * a message naming the address; -EALREADY if already listening. Suspends
 * (only to resolve a host name). */
CIO_API int cio_http_server_listen(cio_http_server *s, const char *host, int port);
/* The bound port (after listen), or -1. */
CIO_API int cio_http_server_port(const cio_http_server *s);
/* Waits while the server serves, until cio_http_server_shutdown; returns
 * 0 once every connection has ended. If the calling task is cancelled it
 * stops accepting, cancels every connection, waits for them and returns
 * -ECANCELED. Accept errors (EMFILE ...) pause accepting briefly, never
 * stop it. -EINVAL if not listening. Suspends. */
CIO_API int cio_http_server_serve(cio_http_server *s);
/* Graceful shutdown, from any task on the server's loop: stops accepting,
 * closes idle keep-alive connections, lets requests in progress finish
 * (their responses carry Connection: close), and after grace_ns cancels
 * whatever is left. cio_http_server_serve then returns 0. Does not suspend. */
CIO_API void cio_http_server_shutdown(cio_http_server *s, int64_t grace_ns);
/* An access log: fn(req, status, body_bytes, arg) runs in the connection's
 * task after each answered request (not for requests refused before
 * parsing completed). fn must not suspend. NULL removes it. */
typedef void (*cio_http_log_fn)(const cio_http_request *req, int status, int64_t body_bytes,
                                void *arg);
CIO_API void cio_http_server_access_log(cio_http_server *s, cio_http_log_fn fn, void *arg);
/* Connections open now, and requests answered since the start. */
CIO_API size_t cio_http_server_connections(const cio_http_server *s);
CIO_API uint64_t cio_http_server_requests(const cio_http_server *s);
/* Frees the server. One still listening (serve never ran) is closed first
 * with no grace: its connections are cancelled and waited for, so free
 * then suspends and must run in a task. */
CIO_API void cio_http_server_free(cio_http_server *s);

/* ---- the request (valid until the handler returns) ---------------------- */

/* Method ("GET"), target as sent ("/a/b?x=1"), path ("/a/b", not decoded)
 * and query ("x=1", or "" when absent). Never NULL. */
CIO_API const char *cio_http_req_method(const cio_http_request *r);
CIO_API const char *cio_http_req_target(const cio_http_request *r);
CIO_API const char *cio_http_req_path(const cio_http_request *r);
CIO_API const char *cio_http_req_query(const cio_http_request *r);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
CIO_API int cio_http_req_version(const cio_http_request *r);
/* First field named name (case-insensitive), or NULL. Values have their
 * surrounding whitespace removed. */
CIO_API const char *cio_http_req_header(const cio_http_request *r, const char *name);
/* Number of fields, and the i-th (in the order sent). Returns 0 or -EINVAL. */
CIO_API size_t cio_http_req_header_count(const cio_http_request *r);
CIO_API int cio_http_req_header_at(const cio_http_request *r, size_t i, const char **name,
                                   const char **value);
/* The client's address (format it with cio_addr_str). 0 or -errno. */
CIO_API int cio_http_req_peer(const cio_http_request *r, cio_addr *a);
/* Declared body length; -1 for a chunked body; 0 when there is none. */
CIO_API int64_t cio_http_req_content_length(const cio_http_request *r);
/* Streaming body: reads up to n body bytes (chunked framing removed).
 * Returns the count, 0 at the end of the body, or CIO_ELIMIT (body over
 * max_body_bytes), CIO_EPARSE (bad chunked framing), CIO_EPARTIAL (peer
 * closed early), -ETIMEDOUT (body_timeout), -ECANCELED. The first read
 * answers "Expect: 100-continue". Suspends. */
CIO_API ssize_t cio_http_req_read(cio_http_request *r, void *buf, size_t n);
/* Reads the whole body (at most max_body_bytes) into memory owned by the
 * request; *data is NUL-terminated, *len its length. Errors as
 * cio_http_req_read, plus -EALREADY once cio_http_req_read has taken part
 * of the body, and -ENOMEM. Suspends. */
CIO_API int cio_http_req_body(cio_http_request *r, const char **data, size_t *len);

/* ---- the response ------------------------------------------------------- */

/* Sets the status (default 200). No effect once the head was sent. */
CIO_API void cio_http_resp_status(cio_http_response *w, int status);
/* Adds a header field. Returns 0, -EINVAL (CR, LF or NUL in it, or an
 * empty name), -EALREADY (head already sent), CIO_ELIMIT (head over
 * 16 KiB). Date, Server, Content-Length, Transfer-Encoding and Connection
 * are written by the server. */
CIO_API int cio_http_resp_header(cio_http_response *w, const char *name, const char *value);
/* A complete response: status, Content-Type (NULL for none) and body with
 * Content-Length. Written when the handler returns, batched with other
 * pipelined responses; a large body is written at once. Returns 0,
 * -EALREADY (already started), or a write error. May suspend. */
CIO_API int cio_http_resp_send(cio_http_response *w, int status, const char *content_type,
                               const void *body, size_t len);
/* Declares the length of a streamed body (before the first write); without
 * it the body is sent chunked (HTTP/1.1) or until close (HTTP/1.0). */
CIO_API int cio_http_resp_length(cio_http_response *w, int64_t len);
/* Streams body bytes: the first call sends the head. Waits while the
 * peer is slow to read (write_timeout). Returns 0, -EPIPE/-ECONNRESET
 * (peer gone), -ETIMEDOUT, -ECANCELED, CIO_ELIMIT (more than declared).
 * Suspends. */
CIO_API int cio_http_resp_write(cio_http_response *w, const void *data, size_t len);
/* Ends a streamed body (the last chunk) and flushes. Called for you when
 * the handler returns. Returns 0 or a write error. Suspends. */
CIO_API int cio_http_resp_end(cio_http_response *w);
/* True once the head was sent (or queued). */
CIO_API bool cio_http_resp_started(const cio_http_response *w);
/* The standard reason phrase for status ("Not Found"), "" if unknown. */
CIO_API const char *cio_http_status_text(int status);
/* Content-Type for a file name by its extension (default
 * "application/octet-stream"). */
CIO_API const char *cio_http_mime_type(const char *path);

#ifdef __cplusplus
}
#endif
#endif
