/* TLS through OpenSSL: contexts, the handshake, and a stream transport over
 * SSL_read/SSL_write. The SSL object talks to the socket through a small
 * BIO of ours that uses send(MSG_NOSIGNAL), so a reset peer can never raise
 * SIGPIPE, and that keeps the errno of the last failure for the message.
 * Everything is non-blocking: WANT_READ / WANT_WRITE become fd waits. */
#include "net/net_int.h"

#include <stdio.h>
#include <string.h>

#ifndef CIO_HAVE_SSL

cio_tls_ctx *cio_tls_ctx_new(const cio_tls_opts *opts) {
    (void)opts;
    errno = ENOTSUP;
    cio_seterr(-ENOTSUP, "TLS: cio was built without OpenSSL");
    return NULL;
}
void cio_tls_ctx_free(cio_tls_ctx *ctx) { (void)ctx; }
cio_tls_ctx *cio__tls_default_client(void) { return cio_tls_ctx_new(NULL); }
int cio_stream_starttls(cio_stream *s, cio_tls_ctx *ctx, const char *name) {
    (void)s, (void)ctx, (void)name;
    return cio_seterr(-ENOTSUP, "TLS: cio was built without OpenSSL");
}
bool cio_stream_is_tls(const cio_stream *s) { return s && s->tls != NULL; }
const char *cio_stream_tls_version(const cio_stream *s) { (void)s; return NULL; }
const char *cio_stream_tls_alpn(const cio_stream *s) { (void)s; return NULL; }

#else

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>

struct cio_tls_ctx {
    SSL_CTX *ctx;
    atomic_int refs;
    bool server, insecure;
    unsigned char alpn[256]; /* wire format: length-prefixed names */
    unsigned alpn_len;
};

/* ---- errors ------------------------------------------------------------- */

/* The most specific reason OpenSSL queued, or fallback. */
static const char *ssl_reason(char *buf, size_t n, const char *fallback) {
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (!last) {
        snprintf(buf, n, "%s", fallback);
        return buf;
    }
    const char *r = ERR_reason_error_string(last);
    if (r)
        snprintf(buf, n, "%s", r);
    else
        ERR_error_string_n(last, buf, n);
    return buf;
}

static cio_tls_ctx *ctx_fail(cio_tls_ctx *c, const char *what, const char *file) {
    char why[256];
    ssl_reason(why, sizeof why, "unknown error");
    cio_seterr(CIO_ETLS, "TLS context: %s%s%s: %s", what, file ? " " : "", file ? file : "", why);
    if (c) {
        SSL_CTX_free(c->ctx);
        cio__free(c);
    }
    errno = EINVAL;
    return NULL;
}

/* ---- contexts ------------------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg) {
    cio_tls_ctx *c = arg;
    (void)ssl;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, c->alpn, c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* "h2,http/1.1" to the wire format; an empty list or an empty name
 * (",h2", "h2,,x", a trailing comma) is refused. */
static bool alpn_encode(cio_tls_ctx *c, const char *list) {
    unsigned n = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len > 255 || n + 1 + len > sizeof c->alpn)
            return false;
        c->alpn[n++] = (unsigned char)len;
        memcpy(c->alpn + n, p, len);
        n += (unsigned)len;
        if (!e)
            break;
        p = e + 1;
    }
    c->alpn_len = n;
    return true;
}

cio_tls_ctx *cio_tls_ctx_new(const cio_tls_opts *opts) {
    static const cio_tls_opts defaults;
    const cio_tls_opts *o = opts ? opts : &defaults;
    cio__net_init();
    ERR_clear_error();
    cio_tls_ctx *c = cio__calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        cio_seterr(-ENOMEM, "TLS context: out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->server = o->server;
    c->insecure = o->insecure;
    c->ctx = SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
    if (!c->ctx)
        return ctx_fail(c, "SSL_CTX_new", NULL);
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    /* Partial writes and a moving buffer: an unsent tail moves to the
     * stream's queue and is retried from there. */
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* Many peers close without close_notify: treat that as end of stream. */
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    if (o->cert_file && SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_file) != 1)
        return ctx_fail(c, "certificate", o->cert_file);
    if (o->key_file && SSL_CTX_use_PrivateKey_file(c->ctx, o->key_file, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(c, "private key", o->key_file);
    if (o->cert_file && o->key_file && SSL_CTX_check_private_key(c->ctx) != 1)
        return ctx_fail(c, "key does not match certificate", o->cert_file);
    if (o->server && (!o->cert_file || !o->key_file)) {
        SSL_CTX_free(c->ctx);
        cio__free(c);
        errno = EINVAL;
        cio_seterr(-EINVAL, "TLS server context: cert_file and key_file are required");
        return NULL;
    }
    bool verify = o->server ? o->verify_client : !o->insecure;
    if (verify) {
        if (o->ca_file || o->ca_path) {
            if (SSL_CTX_load_verify_locations(c->ctx, o->ca_file, o->ca_path) != 1)
                return ctx_fail(c, "CA", o->ca_file ? o->ca_file : o->ca_path);
        } else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
            return ctx_fail(c, "system trust store", NULL);
        }
        SSL_CTX_set_verify(c->ctx,
                           SSL_VERIFY_PEER | (o->server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    }
    if (o->alpn) {
        if (!alpn_encode(c, o->alpn)) {
            SSL_CTX_free(c->ctx);
            cio__free(c);
            errno = EINVAL;
            cio_seterr(-EINVAL, "TLS context: bad ALPN list \"%s\"", o->alpn);
            return NULL;
        }
        if (o->server)
            SSL_CTX_set_alpn_select_cb(c->ctx, alpn_select, c);
        else
            SSL_CTX_set_alpn_protos(c->ctx, c->alpn, c->alpn_len);
    }
    return c;
}

static void ctx_unref(cio_tls_ctx *c) {
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        SSL_CTX_free(c->ctx);
        cio__free(c);
    }
}

void cio_tls_ctx_free(cio_tls_ctx *ctx) { ctx_unref(ctx); }

/* The shared default client context lives from its first use to the end of
 * the run (freed then so the leak check stays exact). */
static pthread_mutex_t default_mu = PTHREAD_MUTEX_INITIALIZER;
static cio_tls_ctx *default_client;

static void default_client_free(void) {
    pthread_mutex_lock(&default_mu);
    cio_tls_ctx *c = default_client;
    default_client = NULL;
    pthread_mutex_unlock(&default_mu);
    ctx_unref(c);
}

cio_tls_ctx *cio__tls_default_client(void) {
    pthread_mutex_lock(&default_mu);
    if (!default_client) {
        default_client = cio_tls_ctx_new(NULL);
        if (default_client)
            cio__at_run_exit(default_client_free);
    }
    cio_tls_ctx *c = default_client;
    pthread_mutex_unlock(&default_mu);
    return c;
}

/* ---- the socket BIO ------------------------------------------------------- */

typedef struct bio_state {
    int fd;
    int err; /* errno of the last failed send/recv */
} bio_state;

static int bio_write(BIO *b, const char *buf, int len) {
    bio_state *st = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = send(st->fd, buf, (size_t)len, MSG_NOSIGNAL);
    if (r >= 0)
        return (int)r;
    st->err = errno;
    if (errno == EAGAIN || errno == EINTR)
        BIO_set_retry_write(b);
    return -1;
}

static int bio_read(BIO *b, char *buf, int len) {
    bio_state *st = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = recv(st->fd, buf, (size_t)len, 0);
    if (r >= 0)
        return (int)r;
    st->err = errno;
    if (errno == EAGAIN || errno == EINTR)
        BIO_set_retry_read(b);
    return -1;
}

static int bio_puts(BIO *b, const char *str) { return bio_write(b, str, (int)strlen(str)); }

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static int bio_destroy(BIO *b) {
    bio_state *st = BIO_get_data(b);
    cio__free(st);
    BIO_set_data(b, NULL);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cio socket");
    if (!m)
        return;
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_puts(m, bio_puts);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    BIO_meth_set_destroy(m, bio_destroy);
    bio_method = m;
}

static int last_errno(const cio_stream *s) {
    BIO *b = SSL_get_rbio(s->tls);
    bio_state *st = b ? BIO_get_data(b) : NULL;
    return st && st->err ? st->err : ECONNRESET;
}

/* ---- the transport ---------------------------------------------------------- */

/* Maps a failed SSL call to a transport result. */
static int ssl_result(cio_stream *s, int r, const char *op) {
    int e = SSL_get_error(s->tls, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return op[0] == 'r' ? -EAGAIN : CIO__WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return op[0] == 'w' ? -EAGAIN : CIO__WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return -last_errno(s);
    default: {
        char why[256];
        ssl_reason(why, sizeof why, "protocol error");
        return cio_seterr(CIO_ETLS, "TLS %s: %s", op, why);
    }
    }
}

static ssize_t tls_recv(cio_stream *s, void *buf, size_t n) {
    ERR_clear_error();
    int r = SSL_read(s->tls, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : ssl_result(s, r, "read");
}

static ssize_t tls_send(cio_stream *s, const struct iovec *iov, int iovcnt) {
    const void *p = iov[0].iov_base;
    size_t n = iov[0].iov_len;
    char join[16 * 1024];
    if (iovcnt > 1) {
        /* Small gather lists go out as one record. */
        size_t total = 0;
        for (int i = 0; i < iovcnt && total <= sizeof join; i++)
            total += iov[i].iov_len;
        if (total <= sizeof join) {
            total = 0;
            for (int i = 0; i < iovcnt; i++) {
                memcpy(join + total, iov[i].iov_base, iov[i].iov_len);
                total += iov[i].iov_len;
            }
            p = join;
            n = total;
        }
    }
    if (n == 0)
        return 0;
    ERR_clear_error();
    int r = SSL_write(s->tls, p, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0)
        return r;
    r = ssl_result(s, r, "write");
    return r == 0 ? -EPIPE : r;
}

static int tls_shutdown(cio_stream *s) {
    ERR_clear_error();
    int r = SSL_shutdown(s->tls);
    if (r >= 0)
        return 0;
    r = ssl_result(s, r, "write");
    return r == 0 ? 0 : r;
}

static void tls_release(cio_stream *s) {
    SSL_free(s->tls);
    s->tls = NULL;
    ctx_unref(s->tls_ctx);
    s->tls_ctx = NULL;
}

static const cio__transport tls_transport = {tls_recv, tls_send, tls_shutdown, tls_release};

/* ---- the handshake ------------------------------------------------------------- */

static int handshake_fail(cio_stream *s, SSL *ssl, int r, const char *who) {
    int e = SSL_get_error(ssl, r);
    long vr = SSL_get_verify_result(ssl);
    char why[256];
    int code = CIO_ETLS;
    if (vr != X509_V_OK && !SSL_is_server(ssl)) {
        ERR_clear_error();
        snprintf(why, sizeof why, "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
        BIO *b = SSL_get_rbio(ssl);
        bio_state *st = b ? BIO_get_data(b) : NULL;
        ERR_clear_error();
        if (st && st->err)
            snprintf(why, sizeof why, "%s", strerror(st->err));
        else
            snprintf(why, sizeof why, "the peer closed the connection");
    } else {
        ssl_reason(why, sizeof why, "protocol error");
    }
    (void)s;
    return cio_seterr(code, "TLS handshake with %s: %s", who, why);
}

static int set_name(SSL *ssl, const cio_tls_ctx *ctx, const char *name) {
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    /* SNI carries host names only (RFC 6066). */
    if (!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
        return -1;
    if (ctx->insecure)
        return 0;
    if (is_ip)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 ? 0 : -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

int cio_stream_starttls(cio_stream *s, cio_tls_ctx *ctx, const char *name) {
    if (!s)
        return cio_seterr(-EINVAL, "cio_stream_starttls: the stream is NULL");
    if (!ctx)
        return cio_seterr(-EINVAL, "starttls: no TLS context");
    if (s->tls)
        return cio_seterr(-EINVAL, "starttls: the stream already uses TLS");
    if (cio_stream_buffered(s))
        return cio_seterr(-EINVAL, "starttls: %zu unread bytes are buffered",
                          cio_stream_buffered(s));
    int rc = cio_stream_flush(s);
    if (rc < 0)
        return rc;
    char who[CIO_ADDRSTRLEN + 260];
    cio_addr peer;
    if (name)
        snprintf(who, sizeof who, "%s", name);
    else if (cio_stream_peer(s, &peer) == 0)
        cio_addr_str(&peer, who, sizeof who);
    else
        snprintf(who, sizeof who, "fd %d", s->f.fd);

    pthread_once(&bio_once, bio_method_init);
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx->ctx);
    BIO *bio = bio_method ? BIO_new(bio_method) : NULL;
    bio_state *st = cio__calloc(1, sizeof *st);
    if (!ssl || !bio || !st) {
        SSL_free(ssl);
        BIO_free(bio);
        cio__free(st);
        return cio_seterr(-ENOMEM, "starttls %s: out of memory", who);
    }
    st->fd = s->f.fd;
    BIO_set_data(bio, st);
    SSL_set_bio(ssl, bio, bio);
    if (ctx->server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (name && set_name(ssl, ctx, name) < 0) {
            SSL_free(ssl);
            return cio_seterr(CIO_ETLS, "starttls: cannot use the name \"%s\"", name);
        }
    }
    for (;;) {
        int r = SSL_do_handshake(ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            rc = cio__nfd_wait(&s->f, e == SSL_ERROR_WANT_READ ? CIO__READ : CIO__WRITE);
            if (rc < 0) {
                SSL_free(ssl);
                return cio_seterr(rc, "TLS handshake with %s: %s", who, cio_strerror(rc));
            }
            continue;
        }
        rc = handshake_fail(s, ssl, r, who);
        SSL_free(ssl);
        return rc;
    }
    atomic_fetch_add(&ctx->refs, 1);
    s->tls = ssl;
    s->tls_ctx = ctx;
    s->tp = &tls_transport;
    s->rd_drained = false;
    return 0;
}

bool cio_stream_is_tls(const cio_stream *s) { return s && s->tls != NULL; }

const char *cio_stream_tls_version(const cio_stream *s) {
    return s && s->tls ? SSL_get_version(s->tls) : NULL;
}

const char *cio_stream_tls_alpn(const cio_stream *s) {
    if (!s || !s->tls)
        return NULL;
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(s->tls, &p, &len);
    /* OpenSSL's string is not NUL-terminated; keep a copy per thread. */
    static __thread char buf[256];
    memcpy(buf, p ? (const char *)p : "", len);
    buf[len] = 0;
    return buf;
}

#endif
