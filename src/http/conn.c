/* One HTTP/1.1 connection: a task that reads request heads from the
 * stream's buffer (zero-copy parse, then one memcpy of the head so that it
 * outlives body reads), runs the route's handler, and loops for keep-alive
 * and pipelining. Pipelined responses are batched into one write. Every
 * wait has a deadline (idle, header, body), enforced with timeout scopes. */
#include "http/server.h"

#include <string.h>

/* Bytes of an unread body we read and drop to keep the connection. */
#define DISCARD_MAX (64 * 1024)
/* How long a connection lingers reading after an error response, so that
 * closing with unread input does not reset the response away. */
#define LINGER_NS (2 * CIO_SEC)

static cio__http_conn *conn_new(cio_http_server *srv, cio_stream *s) {
    size_t nh = srv->o.max_headers, hb = srv->o.max_header_bytes;
    size_t sz = sizeof(cio__http_conn) + nh * sizeof(cio__http_hdr);
    cio__http_conn *c = cio__malloc(sz + 2 * hb + 2);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->srv = srv;
    c->s = s;
    c->task = cio_current();
    c->head = (char *)c + sz;
    c->scratch = c->head + hb + 1;
    c->req.c = c;
    c->resp.c = c;
    c->req.head.hdrs = c->hdrs;
    c->req.head.max_hdrs = nh;
    return c;
}

static void conn_free(cio__http_conn *c) {
    cio__free(c->req.body_buf);
    cio__free(c->obuf);
    cio__free(c->uhdr);
    cio__free(c);
}

/* cio_stream_fill with an absolute deadline. */
static ssize_t fill_until(cio_stream *s, size_t min, int64_t deadline) {
    cio_scope sc;
    cio_timeout_begin_at(&sc, deadline);
    ssize_t r = cio_stream_fill(s, min);
    cio_timeout_end(&sc);
    return r;
}

/* After an error response: stop sending, and read (and drop) what the
 * peer still sends for a moment before the close, which would otherwise
 * reset the connection and could destroy the response in flight. */
static void linger(cio__http_conn *c) {
    if (cio__http_flush(c) < 0 || cio_stream_write_eof(c->s) < 0)
        return;
    int64_t deadline = cio_now() + LINGER_NS;
    size_t dropped = 0;
    while (dropped < DISCARD_MAX) {
        size_t have = cio_stream_buffered(c->s);
        cio_stream_consume(c->s, have);
        dropped += have;
        ssize_t r = fill_until(c->s, 1, deadline);
        if (r <= 0)
            break;
    }
}

/* Sends an error response for a request we could not take, then closes. */
static int fail(cio__http_conn *c, int status) {
    /* The request may be half-parsed: nothing of it is to be read. */
    c->req.body_done = true;
    c->req.expect_pending = false;
    c->req.head.minor = 1;
    cio__http_resp_reset(c);
    if (cio__http_send_simple(c, status, true) == 0)
        linger(c);
    return -1;
}

/* Reads until a complete request head is buffered. Returns its length,
 * 0 when the connection should just close (peer gone, idle timeout,
 * shutdown), -1 after an error response was sent. */
static ssize_t read_head(cio__http_conn *c) {
    cio_http_server *srv = c->srv;
    size_t max = srv->o.max_header_bytes;
    size_t have = cio_stream_buffered(c->s);
    int64_t deadline = 0;
    for (;;) {
        if (have > 0) {
            const char *p = cio_stream_peek(c->s, &have);
            ssize_t r = cio__http_parse_head(p, have < max ? have : max, &c->req.head);
            if (r > 0)
                return r;
            if (r == CIO__HP_BAD)
                return fail(c, 400);
            if (r == CIO__HP_TOO_MANY || have >= max)
                return fail(c, 431);
            if (r == CIO__HP_VERSION)
                return fail(c, 505);
        }
        /* About to wait: this is the moment to send the batch of pipelined
         * responses (the client may wait for them before sending more). */
        if (c->olen && cio__http_flush(c) < 0)
            return 0;
        if (have == 0) {
            if (srv->shutting)
                return 0;
            c->idle = true;
            deadline = cio_now() + srv->o.idle_timeout;
        } else if (!deadline) {
            deadline = cio_now() + srv->o.header_timeout;
        }
        ssize_t r = fill_until(c->s, have + 1, deadline);
        c->idle = false;
        if (r == -ETIMEDOUT && have > 0)
            return fail(c, 408);
        if (r <= (ssize_t)have)
            return 0; /* end of stream, error, cancelled, idle timeout */
        if (have == 0)
            deadline = cio_now() + srv->o.header_timeout;
        have = (size_t)r;
    }
}

/* Splits the target into path and query. Returns 0 or 400. */
static int split_target(cio__http_conn *c) {
    cio_http_request *r = &c->req;
    const char *t = r->head.target;
    if (t[0] != '/') {
        if (strcmp(t, "*") == 0) {
            r->path = t;
            r->query = "";
            return 0;
        }
        /* absolute-form (RFC 9112 3.2.2): keep the path part. */
        const char *sep = strstr(t, "://");
        if (!sep || !(cio__http_ieq(t, (size_t)(sep - t), "http") ||
                      cio__http_ieq(t, (size_t)(sep - t), "https")))
            return 400;
        t = strchr(sep + 3, '/');
        if (!t) {
            const char *q = strchr(sep + 3, '?');
            r->path = "/";
            r->query = q ? q + 1 : "";
            return 0;
        }
    }
    const char *q = strchr(t, '?');
    if (!q && t == r->head.target) {
        r->path = t;
        r->query = "";
        return 0;
    }
    size_t n = q ? (size_t)(q - t) : strlen(t);
    memcpy(c->scratch, t, n);
    c->scratch[n] = 0;
    r->path = c->scratch;
    r->query = q ? q + 1 : "";
    return 0;
}

/* Takes the head out of the stream and sets the request up. Returns 0 or
 * the status to refuse it with. */
static int start_request(cio__http_conn *c, size_t hl) {
    cio_http_request *r = &c->req;
    size_t have;
    const char *p = cio_stream_peek(c->s, &have);
    memcpy(c->head, p, hl);
    cio__http_head_rebase(&r->head, p, c->head);
    cio_stream_consume(c->s, hl);
    int st = cio__http_frame_analyse(&r->head, &r->fr);
    if (st)
        return st;
    if (r->fr.content_length > c->srv->o.max_body_bytes)
        return 413;
    if ((st = split_target(c)))
        return st;
    r->body_total = 0;
    r->body_left = r->fr.chunked ? 0 : (r->fr.content_length > 0 ? r->fr.content_length : 0);
    r->body_done = !r->fr.chunked && r->body_left == 0;
    r->body_broken = false;
    memset(&r->ch, 0, sizeof r->ch);
    r->expect_pending = r->fr.expect_continue && !r->body_done;
    c->close = !r->fr.keep_alive || c->srv->shutting;
    cio__http_resp_reset(c);
    c->resp.head_only = r->head.method_len == 4 && memcmp(r->head.method, "HEAD", 4) == 0;
    return 0;
}

/* Reads and drops what is left of a body the handler did not read, if it
 * is small; false if the connection must close instead. */
static bool discard_body(cio__http_conn *c) {
    cio_http_request *r = &c->req;
    if (r->body_broken || r->expect_pending)
        return false;
    char buf[4096];
    int64_t dropped = 0;
    while (!r->body_done) {
        ssize_t n = cio_http_req_read(r, buf, sizeof buf);
        if (n < 0 || (dropped += n) > DISCARD_MAX)
            return false;
    }
    return true;
}

static int error_status(int rc) {
    switch (rc) {
    case CIO_ELIMIT:
        return 413;
    case CIO_EPARSE:
        return 400;
    case -ETIMEDOUT:
        return 408;
    default:
        return 500;
    }
}

/* Completes the response after the handler returned rc. Returns false if
 * the connection must close. */
static bool finish(cio__http_conn *c, int rc) {
    cio_http_response *w = &c->resp;
    if (cio__interrupted())
        return false; /* cancelled (shutdown): no time for anything else */
    if (!w->started) {
        if (rc < 0) {
            int st = error_status(rc);
            if (st != 500)
                c->close = true;
            if (cio__http_send_simple(c, st, c->close) < 0)
                return false;
        } else {
            cio_http_resp_status(w, 204);
            if (cio_http_resp_end(w) < 0)
                return false;
        }
    } else if (!w->ended) {
        if (rc < 0 || cio_http_resp_end(w) < 0)
            return false; /* a cut body: only a close tells the client */
    }
    if (!c->req.body_done && !discard_body(c))
        c->close = true;
    if (c->srv->log_fn)
        c->srv->log_fn(&c->req, w->status, w->head_only ? 0 : w->sent, c->srv->log_arg);
    cio__free(c->req.body_buf);
    c->req.body_buf = NULL;
    c->srv->nreq++;
    if (c->close) {
        if (cio__http_flush(c) == 0 && !c->req.body_done)
            linger(c);
        return false;
    }
    /* Pipelined requests waiting: batch their responses into one write. */
    if (cio_stream_buffered(c->s) == 0 || c->olen >= CIO__HTTP_BATCH)
        return cio__http_flush(c) == 0;
    return true;
}

static void serve_conn(cio__http_conn *c) {
    for (;;) {
        ssize_t hl = read_head(c);
        if (hl <= 0)
            return;
        int st = start_request(c, (size_t)hl);
        if (st) {
            fail(c, st);
            return;
        }
        int rc = cio__http_dispatch(c);
        if (!finish(c, rc))
            return;
    }
}

int cio__http_conn_main(cio_stream *s, void *arg) {
    cio_http_server *srv = arg;
    cio__http_conn *c = conn_new(srv, s);
    if (!c)
        return 0; /* the server closes the stream */
    CIO__DLIST_PUSH(srv->conns, c);
    srv->nconns++;
    serve_conn(c);
    CIO__DLIST_UNLINK(srv->conns, c);
    srv->nconns--;
    conn_free(c);
    return 0;
}

/* ---- the request -------------------------------------------------------- */

/* The getters give "" (strings), 0 (numbers) or NULL (header) for a NULL
 * request; the calls that can fail give -EINVAL. */
static int req_null(const char *fn, const cio_http_request *r, const char *what) {
    return cio_seterr(-EINVAL, "%s: the %s is NULL", fn, r ? what : "request");
}

const char *cio_http_req_method(const cio_http_request *r) { return r ? r->head.method : ""; }
const char *cio_http_req_target(const cio_http_request *r) { return r ? r->head.target : ""; }
const char *cio_http_req_path(const cio_http_request *r) { return r ? r->path : ""; }
const char *cio_http_req_query(const cio_http_request *r) { return r ? r->query : ""; }
int cio_http_req_version(const cio_http_request *r) { return r ? 10 + r->head.minor : 0; }
size_t cio_http_req_header_count(const cio_http_request *r) { return r ? r->head.nhdrs : 0; }

const char *cio_http_req_header(const cio_http_request *r, const char *name) {
    if (!r || !name)
        return NULL;
    size_t n = strlen(name);
    for (size_t i = 0; i < r->head.nhdrs; i++) {
        const cio__http_hdr *h = &r->head.hdrs[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0)
            return h->value;
    }
    return NULL;
}

int cio_http_req_header_at(const cio_http_request *r, size_t i, const char **name,
                           const char **value) {
    if (!r || !name || !value)
        return req_null("cio_http_req_header_at", r, "output pointer");
    if (i >= r->head.nhdrs)
        return -EINVAL;
    *name = r->head.hdrs[i].name;
    *value = r->head.hdrs[i].value;
    return 0;
}

int cio_http_req_peer(const cio_http_request *r, cio_addr *a) {
    if (!r || !a)
        return req_null("cio_http_req_peer", r, "address");
    return cio_stream_peer(r->c->s, a);
}

int64_t cio_http_req_content_length(const cio_http_request *r) {
    if (!r)
        return 0;
    if (r->fr.chunked)
        return -1;
    return r->fr.content_length > 0 ? r->fr.content_length : 0;
}

/* Sends "100 Continue" before the first body read (RFC 9110 10.1.1),
 * after any response still queued for an earlier pipelined request. */
static int send_continue(cio__http_conn *c) {
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->req.expect_pending = false;
    int rc = cio__http_flush(c);
    if (rc == 0)
        rc = cio_stream_write(c->s, msg, sizeof msg - 1);
    return rc;
}

/* Waits for more body bytes than the `have` buffered. */
static ssize_t body_fill(cio__http_conn *c, size_t have) {
    ssize_t r = fill_until(c->s, have + 1, cio_now() + c->srv->o.body_timeout);
    if (r > (ssize_t)have)
        return r;
    c->req.body_broken = true;
    if (r >= 0)
        return cio_seterr(CIO_EPARTIAL, "http request body: the client closed the connection");
    if (r == -ETIMEDOUT)
        return cio_seterr(r, "http request body: no data for %lld ms",
                          (long long)(c->srv->o.body_timeout / CIO_MS));
    return r;
}

static ssize_t read_chunked(cio__http_conn *c, char *buf, size_t n) {
    cio_http_request *r = &c->req;
    for (;;) {
        size_t have;
        const char *p = cio_stream_peek(c->s, &have);
        if (have) {
            size_t used = 0, dlen = 0;
            const char *data = NULL;
            int st = cio__http_chunked_step(&r->ch, p, have, &used, &data, &dlen);
            if (st == CIO__CH_BAD) {
                r->body_broken = true;
                return cio_seterr(CIO_EPARSE, "http request body: bad chunked framing");
            }
            if (st == CIO__CH_DATA) {
                size_t take = dlen < n ? dlen : n;
                if ((int64_t)take > c->srv->o.max_body_bytes - r->body_total) {
                    r->body_broken = true;
                    return cio_seterr(CIO_ELIMIT, "http request body over %lld bytes",
                                      (long long)c->srv->o.max_body_bytes);
                }
                memcpy(buf, data, take);
                cio__http_chunked_unread(&r->ch, dlen - take);
                cio_stream_consume(c->s, used - (dlen - take));
                r->body_total += (int64_t)take;
                return (ssize_t)take;
            }
            cio_stream_consume(c->s, used);
            if (st == CIO__CH_DONE) {
                r->body_done = true;
                return 0;
            }
            have -= used;
        }
        ssize_t f = body_fill(c, have);
        if (f < 0)
            return f;
    }
}

ssize_t cio_http_req_read(cio_http_request *r, void *buf, size_t n) {
    if (!r || (!buf && n))
        return req_null("cio_http_req_read", r, "buffer");
    cio__http_conn *c = r->c;
    if (r->body_done || n == 0)
        return 0;
    if (r->body_broken)
        return cio_seterr(CIO_EPARSE, "http request body: unusable after an earlier error");
    int rc = cio__check_in_task("cio_http_req_read");
    if (rc < 0)
        return rc;
    if (r->expect_pending && (rc = send_continue(c)) < 0)
        return rc;
    if (r->fr.chunked)
        return read_chunked(c, buf, n);
    size_t have = cio_stream_buffered(c->s);
    if (have == 0) {
        ssize_t f = body_fill(c, 0);
        if (f < 0)
            return f;
        have = (size_t)f;
    }
    size_t take = have < n ? have : n;
    if ((int64_t)take > r->body_left)
        take = (size_t)r->body_left;
    const void *p = cio_stream_peek(c->s, &have);
    memcpy(buf, p, take);
    cio_stream_consume(c->s, take);
    r->body_left -= (int64_t)take;
    r->body_total += (int64_t)take;
    r->body_done = r->body_left == 0;
    return (ssize_t)take;
}

int cio_http_req_body(cio_http_request *r, const char **data, size_t *len) {
    if (!r || !data || !len)
        return req_null("cio_http_req_body", r, "output pointer");
    size_t cap = r->fr.chunked ? 4096 : (size_t)r->body_left + 1, n = 0;
    if (r->body_buf || r->body_total)
        return cio_seterr(-EALREADY, "http request body: already being read");
    char *b = cio__malloc(cap);
    if (!b)
        return cio_seterr(-ENOMEM, "http request body: out of memory");
    r->body_buf = b;
    for (;;) {
        if (n + 1 == cap) {
            char *nb = cio__realloc(b, cap * 2);
            if (!nb)
                return cio_seterr(-ENOMEM, "http request body: out of memory");
            r->body_buf = b = nb;
            cap *= 2;
        }
        ssize_t k = cio_http_req_read(r, b + n, cap - 1 - n);
        if (k < 0)
            return (int)k;
        if (k == 0)
            break;
        n += (size_t)k;
    }
    b[n] = 0;
    *data = b;
    *len = n;
    return 0;
}
