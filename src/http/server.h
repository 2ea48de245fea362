/* The HTTP server's internal structures, shared by the modules of
 * src/http (server.c: routes and lifecycle; conn.c: one connection's
 * request loop and the body reader; response.c: the response writer;
 * static.c: static files). */
#ifndef CIO_HTTP_SERVER_INT_H
#define CIO_HTTP_SERVER_INT_H

#include "cio/http.h"
#include "cio/net.h"
#include "core/internal.h"
#include "http/parse.h"

typedef struct cio__http_conn cio__http_conn;

typedef struct cio__http_route {
    char *method;  /* NULL = any */
    char *pattern; /* without the trailing '*' of a prefix */
    size_t plen;
    bool prefix;
    cio_http_handler h;
    void *arg;
} cio__http_route;

typedef struct cio__http_mount {
    struct cio__http_mount *next;
    char *prefix;
    char *root;
    int rootfd;
} cio__http_mount;

struct cio_http_server {
    cio_http_server_opts o;
    cio_server *net;
    cio__http_route *routes;
    size_t nroutes, caproutes;
    cio__http_mount *mounts;
    cio__http_conn *conns; /* live connections (for shutdown) */
    size_t nconns;
    uint64_t nreq;
    bool shutting;
    int64_t grace_deadline;
    cio__waitq stop_wq; /* cio_http_server_serve waits here */
    cio_http_log_fn log_fn;
    void *log_arg;
};

struct cio_http_request {
    cio__http_conn *c;
    cio__http_head head;
    cio__http_frame fr;
    const char *path, *query;
    int64_t body_left;  /* Content-Length bytes still to read */
    int64_t body_total; /* body bytes read so far */
    cio__http_chunked ch;
    bool body_done;      /* the whole body was read */
    bool body_broken;    /* framing error or peer gone: close after */
    bool expect_pending; /* 100 Continue not sent yet */
    char *body_buf;      /* cio_http_req_body's copy */
};

struct cio_http_response {
    cio__http_conn *c;
    int status;
    bool started, ended, chunked, head_only;
    int64_t length; /* declared body length, -1 = none */
    int64_t sent;
};

struct cio__http_conn {
    cio_http_server *srv;
    cio_stream *s;
    cio_task *task;
    cio__http_conn *next, *prev;
    bool idle;  /* waiting for the first byte of a request */
    bool close; /* close once this response is out */
    char *head; /* copy of the current request head */
    char *scratch;
    char *obuf; /* responses not yet handed to the stream */
    size_t olen, ocap;
    char *uhdr; /* the handler's extra header fields, as text */
    size_t ulen, ucap;
    cio_http_request req;
    cio_http_response resp;
    cio__http_hdr hdrs[];
};

/* Default limits (cio_http_server_opts zero fields). */
#define CIO__HTTP_MAX_HEADER (8 * 1024)
#define CIO__HTTP_MAX_HEADERS 100
#define CIO__HTTP_MAX_BODY (1024 * 1024)
#define CIO__HTTP_MAX_RESP_HEAD (16 * 1024)
/* Pending output above which pipelined responses are flushed early. */
#define CIO__HTTP_BATCH (64 * 1024)

/* conn.c: the per-connection task (a cio_conn_fn). */
int cio__http_conn_main(cio_stream *s, void *arg);
/* server.c: the handler for a request (route match, 404, 405). */
int cio__http_dispatch(cio__http_conn *c);

/* response.c */
/* Hands the pending output to the stream and waits (write_timeout) while
 * the stream holds too much. 0 or a write error. Suspends. */
int cio__http_flush(cio__http_conn *c);
/* Queues a complete response with a short text body and, if close, the
 * Connection: close field. 0 or -ENOMEM. Does not suspend. */
int cio__http_send_simple(cio__http_conn *c, int status, bool close);
/* Writes the head with Content-Length len, then len bytes of file fd from
 * off (none for HEAD). 0 or a write error. Suspends. */
int cio__http_resp_sendfile(cio_http_response *w, const char *ctype, int fd, off_t off,
                            int64_t len);
/* Resets the response for a new request. */
void cio__http_resp_reset(cio__http_conn *c);

/* static.c: a mount's handler. */
int cio__http_static_handler(cio_http_request *req, cio_http_response *resp, void *arg);

#endif
