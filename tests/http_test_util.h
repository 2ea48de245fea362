/* Helpers for the HTTP server tests: start a server on 127.0.0.1 with a
 * set of test routes, and a small raw HTTP/1.1 client on cio streams that
 * reads responses byte-exactly (Content-Length, chunked, until close). */
#ifndef CIO_HTTP_TEST_UTIL_H
#define CIO_HTTP_TEST_UTIL_H

#define _GNU_SOURCE

#include <cio.h>
#include <cio/http.h>
#include <cio/net.h>
#include <cio/sync.h>
#include <cio/test.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct tsrv {
    cio_http_server *s;
    cio_task *t;
    int port;
    /* shared with handlers */
    int64_t slow_ns;
    size_t big_bytes;
    int big_rc, read_rc, slow_done;
    cio_event big_started;
} tsrv;

static int t_hello(cio_http_request *req, cio_http_response *w, void *arg) {
    return cio_http_resp_send(w, 200, "text/plain", "hello\n", 6);
}

static int t_info(cio_http_request *req, cio_http_response *w, void *arg) {
    char buf[1024];
    const char *host = cio_http_req_header(req, "HOST"), *n0, *v0;
    if (cio_http_req_header_at(req, 0, &n0, &v0) < 0)
        n0 = v0 = "-";
    cio_addr peer;
    char who[CIO_ADDRSTRLEN] = "?";
    if (cio_http_req_peer(req, &peer) == 0)
        cio_addr_str(&peer, who, sizeof who);
    if (strncmp(who, "127.0.0.1:", 10) != 0)
        return cio_http_resp_send(w, 500, "text/plain", who, strlen(who));
    int n = snprintf(buf, sizeof buf, "%s|%s|%s|%s|%s|%d|%zu|%s=%s", cio_http_req_method(req),
                     cio_http_req_target(req), cio_http_req_path(req), cio_http_req_query(req),
                     host ? host : "-", cio_http_req_version(req),
                     cio_http_req_header_count(req), n0, v0);
    return cio_http_resp_send(w, 200, "text/plain", buf, (size_t)n);
}

static int t_echo(cio_http_request *req, cio_http_response *w, void *arg) {
    const char *d;
    size_t n;
    int rc = cio_http_req_body(req, &d, &n);
    if (rc < 0)
        return rc;
    return cio_http_resp_send(w, 200, "application/octet-stream", d, n);
}

/* Echoes the body read 7 bytes at a time, streamed back chunked. */
static int t_echo_stream(cio_http_request *req, cio_http_response *w, void *arg) {
    tsrv *t = arg;
    char buf[7];
    ssize_t n;
    while ((n = cio_http_req_read(req, buf, sizeof buf)) > 0) {
        int rc = cio_http_resp_write(w, buf, (size_t)n);
        if (rc < 0)
            return rc;
    }
    t->read_rc = (int)n;
    return (int)n;
}

static int t_chunks(cio_http_request *req, cio_http_response *w, void *arg) {
    int rc = cio_http_resp_header(w, "X-Test", "yes");
    if (rc == 0)
        rc = cio_http_resp_write(w, "one,", 4);
    if (rc == 0)
        rc = cio_http_resp_write(w, "two,", 4);
    if (rc == 0)
        rc = cio_http_resp_write(w, "three", 5);
    return rc;
}

static int t_noread(cio_http_request *req, cio_http_response *w, void *arg) {
    return cio_http_resp_send(w, 200, "text/plain", "ignored\n", 8);
}

static int t_big(cio_http_request *req, cio_http_response *w, void *arg) {
    tsrv *t = arg;
    static char block[65536];
    memset(block, 'x', sizeof block);
    cio_event_set(&t->big_started);
    int rc = 0;
    for (size_t sent = 0; sent < t->big_bytes && rc == 0; sent += sizeof block)
        rc = cio_http_resp_write(w, block, sizeof block);
    t->big_rc = rc;
    return rc;
}

static int t_slow(cio_http_request *req, cio_http_response *w, void *arg) {
    tsrv *t = arg;
    int rc = cio_sleep(t->slow_ns);
    if (rc < 0)
        return rc;
    t->slow_done++;
    return cio_http_resp_send(w, 200, "text/plain", "slow\n", 5);
}

static int t_fail(cio_http_request *req, cio_http_response *w, void *arg) {
    return cio_seterr(-EIO, "handler failed on purpose");
}

static int t_empty(cio_http_request *req, cio_http_response *w, void *arg) { return 0; }

static int t_inject(cio_http_request *req, cio_http_response *w, void *arg) {
    int a = cio_http_resp_header(w, "X-Bad", "a\r\nSet-Cookie: x=1");
    int b = cio_http_resp_header(w, "Bad Name", "v");
    int c = cio_http_resp_header(w, "X-Good", "fine");
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%d %d %d", a, b, c);
    return cio_http_resp_send(w, 200, "text/plain", buf, (size_t)n);
}

static int t_prefix(cio_http_request *req, cio_http_response *w, void *arg) {
    const char *p = cio_http_req_path(req);
    return cio_http_resp_send(w, 200, "text/plain", p, strlen(p));
}

/* A handler that reads the body and reports the read's result. */
static int t_readall(cio_http_request *req, cio_http_response *w, void *arg) {
    tsrv *t = arg;
    const char *d;
    size_t n;
    t->read_rc = cio_http_req_body(req, &d, &n);
    return t->read_rc < 0 ? t->read_rc : cio_http_resp_send(w, 200, "text/plain", d, n);
}

/* Reads the body in 64 KiB pieces; answers "<bytes> <sum of bytes>". */
static int t_sum(cio_http_request *req, cio_http_response *w, void *arg) {
    static char buf[65536];
    ssize_t n;
    uint64_t total = 0, sum = 0;
    while ((n = cio_http_req_read(req, buf, sizeof buf)) > 0) {
        total += (uint64_t)n;
        for (ssize_t i = 0; i < n; i++)
            sum += (unsigned char)buf[i];
    }
    if (n < 0)
        return (int)n;
    char out[64];
    int k = snprintf(out, sizeof out, "%llu %llu", (unsigned long long)total, (unsigned long long)sum);
    return cio_http_resp_send(w, 200, "text/plain", out, (size_t)k);
}

static int tsrv_serve(void *a) { return cio_http_server_serve(a); }

/* Starts a server with the test routes on 127.0.0.1 and a free port. */
static int tsrv_start(tsrv *t, const cio_http_server_opts *o) {
    memset(t, 0, sizeof *t);
    cio_event_init(&t->big_started);
    t->slow_ns = CIO_SEC;
    t->big_bytes = 64u << 20;
    t->s = cio_http_server_new(o);
    if (!t->s)
        return -ENOMEM;
    cio_http_server *s = t->s;
    int rc = 0;
    rc |= cio_http_server_route(s, "GET", "/", t_hello, t);
    rc |= cio_http_server_route(s, NULL, "/info", t_info, t);
    rc |= cio_http_server_route(s, "POST", "/echo", t_echo, t);
    rc |= cio_http_server_route(s, "POST", "/echo-stream", t_echo_stream, t);
    rc |= cio_http_server_route(s, "GET", "/chunks", t_chunks, t);
    rc |= cio_http_server_route(s, "POST", "/noread", t_noread, t);
    rc |= cio_http_server_route(s, "GET", "/big", t_big, t);
    rc |= cio_http_server_route(s, "GET", "/slow", t_slow, t);
    rc |= cio_http_server_route(s, "GET", "/fail", t_fail, t);
    rc |= cio_http_server_route(s, "GET", "/empty", t_empty, t);
    rc |= cio_http_server_route(s, "GET", "/inject", t_inject, t);
    rc |= cio_http_server_route(s, "GET", "/prefix/*", t_prefix, t);
    rc |= cio_http_server_route(s, "DELETE", "/prefix/x", t_prefix, t);
    rc |= cio_http_server_route(s, "POST", "/readall", t_readall, t);
    rc |= cio_http_server_route(s, "PUT", "/sum", t_sum, t);
    if (rc)
        return -EINVAL;
    if ((rc = cio_http_server_listen(s, "127.0.0.1", 0)) < 0)
        return rc;
    t->port = cio_http_server_port(s);
    t->t = cio_spawn(tsrv_serve, s);
    return t->t ? 0 : -ENOMEM;
}

/* Graceful stop; returns serve's result. */
static int tsrv_stop(tsrv *t, int64_t grace) {
    cio_http_server_shutdown(t->s, grace);
    int rc = cio_join(t->t);
    cio_http_server_free(t->s);
    return rc;
}

static int tconnect(tsrv *t, cio_stream **out) {
    char p[16];
    snprintf(p, sizeof p, "%d", t->port);
    return cio_tcp_connect(out, "127.0.0.1", p, NULL);
}

static int tsend(cio_stream *s, const char *data, size_t n) {
    int rc = cio_stream_write(s, data, n);
    return rc < 0 ? rc : cio_stream_flush(s);
}
#define TSEND(s, lit) tsend(s, lit, strlen(lit))

typedef struct tresp {
    int status;
    char head[4096];
    char body[8192];
    size_t blen;
} tresp;

static const char *thead(const tresp *r, const char *name) {
    static char v[256];
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strcasestr(r->head, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    if (n >= sizeof v)
        n = sizeof v - 1;
    memcpy(v, p, n);
    v[n] = 0;
    return v;
}

/* cio_stream_read bounded by 30 s, so a missing close fails the test
 * instead of hanging it. */
static ssize_t tread_some(cio_stream *s, void *buf, size_t n) {
    ssize_t r = -ETIMEDOUT;
    CIO_TIMEOUT(30 * CIO_SEC) { r = cio_stream_read(s, buf, n); }
    return r;
}

/* Reads one response (head_req: a response to HEAD, with no body). Returns
 * the status, or a negative error (CIO_EPARTIAL/0-read: closed). */
static int tread(cio_stream *s, tresp *r, bool head_req) {
    memset(r, 0, sizeof *r);
    ssize_t n = cio_stream_readuntil(s, "\r\n\r\n", 4, r->head, sizeof r->head - 1);
    if (n < 0)
        return (int)n;
    r->head[n] = 0;
    if (strncmp(r->head, "HTTP/1.1 ", 9) != 0)
        return CIO_EPARSE;
    r->status = atoi(r->head + 9);
    if (head_req || r->status == 204 || r->status == 304 || r->status < 200)
        return r->status;
    const char *cl = thead(r, "Content-Length"), *te = thead(r, "Transfer-Encoding");
    if (cl) {
        size_t len = strtoul(cl, NULL, 10);
        if (len >= sizeof r->body)
            return -EMSGSIZE;
        if (len && (n = cio_stream_readexactly(s, r->body, len, NULL)) < 0)
            return (int)n;
        r->blen = len;
    } else if (te && strcasecmp(te, "chunked") == 0) {
        for (;;) {
            char line[64];
            n = cio_stream_readline(s, line, sizeof line);
            if (n <= 0)
                return n < 0 ? (int)n : CIO_EPARTIAL;
            size_t len = strtoul(line, NULL, 16);
            if (len == 0) {
                n = cio_stream_readline(s, line, sizeof line); /* the final CRLF */
                break;
            }
            if (r->blen + len + 2 >= sizeof r->body)
                return -EMSGSIZE;
            if ((n = cio_stream_readexactly(s, r->body + r->blen, len + 2, NULL)) < 0)
                return (int)n;
            r->blen += len;
        }
    } else {
        while ((n = tread_some(s, r->body + r->blen, sizeof r->body - 1 - r->blen)) > 0)
            r->blen += (size_t)n;
        if (n < 0)
            return (int)n;
    }
    r->body[r->blen] = 0;
    return r->status;
}

/* True when the server has closed the connection (reads EOF). */
static bool tclosed(cio_stream *s) {
    char c;
    ssize_t n;
    n = tread_some(s, &c, 1);
    return n == 0 || n == -ECONNRESET;
}

/* One request on a fresh connection; returns the status and closes. */
static int texchange(tsrv *t, const char *req, size_t n, tresp *r, bool *closed) {
    cio_stream *s;
    int rc = tconnect(t, &s);
    if (rc < 0)
        return rc;
    if ((rc = tsend(s, req, n)) == 0)
        rc = tread(s, r, strncmp(req, "HEAD ", 5) == 0);
    if (closed)
        *closed = rc > 0 && tclosed(s);
    cio_stream_abort(s);
    return rc;
}

#endif
