/* The response writer. Heads are built by hand into the connection's
 * output buffer (no printf on the hot path) and reach the stream in one
 * write per response, or per batch of pipelined responses. Bodies are
 * copied into the same buffer when small, handed over with writev when
 * large, streamed as chunks, or sent with sendfile for static files. */
#include "http/server.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Bodies up to this size are copied next to the head: one write. */
#define INLINE_BODY (16 * 1024)

const char *cio_http_status_text(int st) {
    switch (st) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* The Date field value, formatted once per second per thread. */
static const char *http_date(void) {
    static __thread time_t last = -1;
    static __thread char buf[32];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

static int ob_reserve(cio__http_conn *c, size_t n) {
    if (c->olen + n <= c->ocap)
        return 0;
    size_t cap = c->ocap ? c->ocap : 4096;
    while (cap < c->olen + n)
        cap *= 2;
    char *b = cio__realloc(c->obuf, cap);
    if (!b)
        return cio_seterr(-ENOMEM, "http response: out of memory");
    c->obuf = b;
    c->ocap = cap;
    return 0;
}

static inline char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
#define PUTS(p, lit) put(p, lit, sizeof lit - 1)

static char *put_u64(char *p, uint64_t v) {
    char tmp[24];
    int i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return put(p, tmp + i, (size_t)(24 - i));
}

static char *put_hex(char *p, uint64_t v) {
    char tmp[20];
    int i = 20;
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    return put(p, tmp + i, (size_t)(20 - i));
}

void cio__http_resp_reset(cio__http_conn *c) {
    cio_http_response *w = &c->resp;
    w->status = 200;
    w->started = w->ended = w->chunked = w->head_only = false;
    w->length = -1;
    w->sent = 0;
    c->ulen = 0;
}

static bool bodyless(int st) { return st < 200 || st == 204 || st == 304; }

/* Queues the head. length >= 0: Content-Length; -1: chunked (HTTP/1.1)
 * or until close (HTTP/1.0). */
static int write_head(cio_http_response *w, const char *ctype, int64_t length) {
    cio__http_conn *c = w->c;
    cio_http_request *r = &c->req;
    const char *name = c->srv->o.server_name, *reason = cio_http_status_text(w->status);
    size_t nl = strlen(name), rl = strlen(reason), cl = ctype ? strlen(ctype) : 0;
    /* Unread body the client may still be sending (or waiting to send
     * after 100 Continue): cheaper to close than to read it all. */
    if (r->expect_pending || (!r->body_done && (r->fr.chunked || r->body_left > 65536)))
        c->close = true;
    if (c->srv->shutting)
        c->close = true;
    int rc = ob_reserve(c, 160 + nl + rl + cl + c->ulen);
    if (rc < 0)
        return rc;
    char *p = c->obuf + c->olen;
    p = PUTS(p, "HTTP/1.1 ");
    p = put_u64(p, (uint64_t)w->status);
    *p++ = ' ';
    p = put(p, reason, rl);
    p = PUTS(p, "\r\n");
    if (nl) {
        p = PUTS(p, "Server: ");
        p = put(p, name, nl);
        p = PUTS(p, "\r\n");
    }
    p = PUTS(p, "Date: ");
    p = put(p, http_date(), 29);
    p = PUTS(p, "\r\n");
    if (cl) {
        p = PUTS(p, "Content-Type: ");
        p = put(p, ctype, cl);
        p = PUTS(p, "\r\n");
    }
    if (bodyless(w->status)) {
        w->head_only = true;
    } else if (length >= 0) {
        p = PUTS(p, "Content-Length: ");
        p = put_u64(p, (uint64_t)length);
        p = PUTS(p, "\r\n");
    } else if (r->head.minor >= 1) {
        p = PUTS(p, "Transfer-Encoding: chunked\r\n");
        w->chunked = true;
    } else {
        c->close = true; /* HTTP/1.0: the body ends with the connection */
    }
    w->length = length;
    if (c->close)
        p = PUTS(p, "Connection: close\r\n");
    else if (r->head.minor == 0)
        p = PUTS(p, "Connection: keep-alive\r\n");
    if (c->ulen)
        p = put(p, c->uhdr, c->ulen);
    p = PUTS(p, "\r\n");
    c->olen = (size_t)(p - c->obuf);
    w->started = true;
    return 0;
}

int cio__http_flush(cio__http_conn *c) {
    if (c->olen) {
        int rc = cio_stream_write(c->s, c->obuf, c->olen);
        c->olen = 0;
        if (rc < 0)
            return rc;
    }
    if (cio_stream_write_buffered(c->s) == 0)
        return 0;
    /* A peer that does not read blocks only this connection, and only
     * for write_timeout. */
    cio_scope sc;
    cio_timeout_begin(&sc, c->srv->o.write_timeout);
    int rc = cio_stream_drain(c->s);
    cio_timeout_end(&sc);
    return rc;
}

/* Hands the buffered output plus n bytes at p to the stream in one go. */
static int flush_with(cio__http_conn *c, const void *p, size_t n) {
    struct iovec iov[2] = {{c->obuf, c->olen}, {(void *)p, n}};
    int rc = cio_stream_writev(c->s, iov + (c->olen ? 0 : 1), c->olen ? 2 : 1);
    c->olen = 0;
    return rc < 0 ? rc : cio__http_flush(c);
}

/* A NULL response (or body with a length): -EINVAL naming the call. */
static int resp_null(const char *fn, const cio_http_response *w) {
    return cio_seterr(-EINVAL, "%s: the %s is NULL", fn, w ? "body" : "response");
}

void cio_http_resp_status(cio_http_response *w, int status) {
    if (w && !w->started)
        w->status = status >= 100 && status <= 999 ? status : 500;
}

static bool clean(const char *s, bool name) {
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || (name && (*s == ':' || *s <= ' ')))
            return false;
    return true;
}

int cio_http_resp_header(cio_http_response *w, const char *name, const char *value) {
    if (!w)
        return resp_null("cio_http_resp_header", w);
    cio__http_conn *c = w->c;
    if (w->started)
        return cio_seterr(-EALREADY, "http response: header %s after the head was sent", name);
    if (!name || !value || !*name || !clean(name, true) || !clean(value, false))
        return cio_seterr(-EINVAL, "http response: invalid header field");
    size_t nl = strlen(name), vl = strlen(value), need = nl + vl + 4;
    if (c->ulen + need > CIO__HTTP_MAX_RESP_HEAD)
        return cio_seterr(CIO_ELIMIT, "http response: header fields over %d bytes",
                          CIO__HTTP_MAX_RESP_HEAD);
    if (c->ulen + need > c->ucap) {
        size_t cap = c->ucap ? c->ucap * 2 : 512;
        while (cap < c->ulen + need)
            cap *= 2;
        char *b = cio__realloc(c->uhdr, cap);
        if (!b)
            return cio_seterr(-ENOMEM, "http response: out of memory");
        c->uhdr = b;
        c->ucap = cap;
    }
    char *p = c->uhdr + c->ulen;
    p = put(p, name, nl);
    p = PUTS(p, ": ");
    p = put(p, value, vl);
    p = PUTS(p, "\r\n");
    c->ulen = (size_t)(p - c->uhdr);
    return 0;
}

int cio_http_resp_send(cio_http_response *w, int status, const char *content_type,
                       const void *body, size_t len) {
    if (!w || (!body && len))
        return resp_null("cio_http_resp_send", w);
    cio__http_conn *c = w->c;
    if (w->started)
        return cio_seterr(-EALREADY, "http response: already started");
    cio_http_resp_status(w, status);
    int rc = write_head(w, content_type, (int64_t)len);
    if (rc < 0)
        return rc;
    w->ended = true;
    w->sent = (int64_t)len;
    if (w->head_only || len == 0)
        return 0;
    if (len <= INLINE_BODY) {
        if ((rc = ob_reserve(c, len)) < 0)
            return rc;
        memcpy(c->obuf + c->olen, body, len);
        c->olen += len;
        return 0;
    }
    return flush_with(c, body, len);
}

int cio_http_resp_length(cio_http_response *w, int64_t len) {
    if (!w)
        return resp_null("cio_http_resp_length", w);
    if (w->started)
        return cio_seterr(-EALREADY, "http response: length after the head was sent");
    if (len < 0)
        return cio_seterr(-EINVAL, "http response: negative length");
    w->length = len;
    return 0;
}

int cio_http_resp_write(cio_http_response *w, const void *data, size_t len) {
    if (!w || (!data && len))
        return resp_null("cio_http_resp_write", w);
    cio__http_conn *c = w->c;
    int rc;
    if (w->ended)
        return cio_seterr(-EALREADY, "http response: body already ended");
    if (!w->started && (rc = write_head(w, NULL, w->length)) < 0)
        return rc;
    if (w->length >= 0 && (int64_t)len > w->length - w->sent)
        return cio_seterr(CIO_ELIMIT, "http response: body longer than its %lld bytes",
                          (long long)w->length);
    w->sent += (int64_t)len;
    if (w->head_only || len == 0)
        return cio__http_flush(c);
    if (!w->chunked) {
        if (len > INLINE_BODY)
            return flush_with(c, data, len);
        if ((rc = ob_reserve(c, len)) < 0)
            return rc;
        memcpy(c->obuf + c->olen, data, len);
        c->olen += len;
        return cio__http_flush(c);
    }
    if ((rc = ob_reserve(c, 20 + (len <= INLINE_BODY ? len + 2 : 0))) < 0)
        return rc;
    char *p = put_hex(c->obuf + c->olen, len);
    p = PUTS(p, "\r\n");
    if (len <= INLINE_BODY) {
        p = put(p, data, len);
        p = PUTS(p, "\r\n");
        c->olen = (size_t)(p - c->obuf);
        return cio__http_flush(c);
    }
    c->olen = (size_t)(p - c->obuf);
    if ((rc = flush_with(c, data, len)) < 0)
        return rc;
    return cio_stream_write(c->s, "\r\n", 2);
}

int cio_http_resp_end(cio_http_response *w) {
    if (!w)
        return resp_null("cio_http_resp_end", w);
    cio__http_conn *c = w->c;
    int rc;
    if (w->ended)
        return 0;
    if (!w->started && (rc = write_head(w, NULL, w->length >= 0 ? w->length : 0)) < 0)
        return rc;
    w->ended = true;
    if (w->length >= 0 && w->sent < w->length && !w->head_only) {
        c->close = true; /* short body: only a close can tell the client */
        return cio_seterr(CIO_EPARTIAL, "http response: body shorter than its %lld bytes",
                          (long long)w->length);
    }
    if (w->chunked && !w->head_only) {
        if ((rc = ob_reserve(c, 5)) < 0)
            return rc;
        c->olen = (size_t)(PUTS(c->obuf + c->olen, "0\r\n\r\n") - c->obuf);
    }
    return 0;
}

bool cio_http_resp_started(const cio_http_response *w) { return w && w->started; }

int cio__http_send_simple(cio__http_conn *c, int status, bool close) {
    char body[64];
    const char *reason = cio_http_status_text(status);
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
    if (close)
        c->close = true;
    c->ulen = 0;
    return cio_http_resp_send(&c->resp, status, "text/plain", body, (size_t)n);
}

int cio__http_resp_sendfile(cio_http_response *w, const char *ctype, int fd, off_t off,
                            int64_t len) {
    cio__http_conn *c = w->c;
    int rc = write_head(w, ctype, len);
    if (rc < 0)
        return rc;
    w->ended = true;
    w->sent = len;
    if (w->head_only || len == 0)
        return 0;
    if ((rc = cio__http_flush(c)) < 0)
        return rc;
    cio_scope sc;
    int64_t left = len;
    while (left > 0) {
        /* The write timeout bounds each piece, not the whole file. */
        size_t piece = left > (1 << 20) ? (1 << 20) : (size_t)left;
        cio_timeout_begin(&sc, c->srv->o.write_timeout);
        ssize_t n = cio_stream_sendfile(c->s, fd, off, piece);
        cio_timeout_end(&sc);
        if (n <= 0) {
            c->close = true;
            return n < 0 ? (int)n : cio_seterr(CIO_EPARTIAL, "http sendfile: file shrank");
        }
        off += n;
        left -= n;
    }
    return 0;
}
