/* Connecting: TCP (every resolved address in turn), Unix stream sockets,
 * and an optional TLS handshake on top, all under one optional timeout. */
#include "net/net_int.h"

#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_ADDRS 16

static int connect_wait(cio_stream *s, const char *who) {
    for (;;) {
        int rc = cio__nfd_wait(&s->f, CIO__WRITE);
        if (rc < 0)
            return cio_seterr(rc, "connect %s: %s", who, cio_strerror(rc));
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->f.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err)
            return cio_seterr(-err, "connect %s: %s", who, strerror(err));
        cio_addr peer;
        if (cio_stream_peer(s, &peer) == 0)
            return 0;
        /* Woken by an edge from before the connection settled: wait on. */
    }
}

/* Connects one socket to a; on success *out is a plain stream. */
static int connect_one(cio_stream **out, const cio_addr *a, const cio_connect_opts *o) {
    char who[CIO_ADDRSTRLEN];
    cio_addr_str(a, who, sizeof who);
    int fam = a->u.sa.sa_family;
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cio_seterr(-errno, "socket for %s: %s", who, strerror(errno));
    if (fam != AF_UNIX && !(o && o->nagle)) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int r;
    do
        r = connect(fd, &a->u.sa, a->len);
    while (r < 0 && errno == EINTR);
    int err = r < 0 ? errno : 0;
    if (err && err != EINPROGRESS && !(fam == AF_UNIX && err == EAGAIN)) {
        close(fd);
        return cio_seterr(-err, "connect %s: %s", who, strerror(err));
    }
    cio_stream *s;
    int rc = cio__stream_new(&s, fd, o ? &o->stream : NULL);
    if (rc < 0)
        return rc;
    if (err == EINPROGRESS) {
        rc = connect_wait(s, who);
    } else {
        /* A Unix listener with a full backlog: retry until it has room. */
        while (err == EAGAIN) {
            if ((rc = cio_sleep(CIO_MS)) < 0) {
                cio_seterr(rc, "connect %s: %s", who, cio_strerror(rc));
                break;
            }
            err = connect(fd, &a->u.sa, a->len) < 0 ? errno : 0;
            if (err && err != EAGAIN && err != EINTR)
                rc = cio_seterr(-err, "connect %s: %s", who, strerror(err));
            else if (err == EINTR)
                err = EAGAIN;
        }
    }
    if (rc < 0) {
        cio_stream_abort(s);
        return rc;
    }
    s->peer = *a;
    *out = s;
    return 0;
}

/* TLS on top of a fresh connection, when asked for. */
static int maybe_tls(cio_stream *s, const char *host, const cio_connect_opts *o) {
    if (!o || (!o->tls && !o->tls_ctx))
        return 0;
    cio_tls_ctx *ctx = o->tls_ctx ? o->tls_ctx : cio__tls_default_client();
    if (!ctx)
        return CIO_ETLS;
    return cio_stream_starttls(s, ctx, o->server_name ? o->server_name : host);
}

static int tcp_connect(cio_stream **out, const char *host, const char *port,
                       const cio_connect_opts *o) {
    cio_addr addrs[MAX_ADDRS];
    int n = cio_resolve(host, port, o ? o->family : AF_UNSPEC, SOCK_STREAM, addrs, MAX_ADDRS);
    if (n < 0)
        return n;
    /* Collect each address's failure so the message tells the whole story. */
    char msg[512] = "";
    size_t used = 0;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        rc = connect_one(out, &addrs[i], o);
        if (rc == 0)
            break;
        if (rc == -ECANCELED || rc == -ETIMEDOUT || rc == -ENOMEM)
            return rc;
        if (n > 1 && used < sizeof msg)
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", used ? "; " : "",
                                     cio_errmsg());
    }
    if (rc < 0) {
        if (n > 1)
            cio_seterr(rc, "connect %s:%s: %s", host, port, msg);
        return rc;
    }
    rc = maybe_tls(*out, host, o);
    if (rc < 0) {
        cio_stream_abort(*out);
        *out = NULL;
    }
    return rc;
}

/* Runs a connect under opts->timeout (if any), naming the target when the
 * deadline is what stopped it. */
static int with_timeout(int rc_fn(cio_stream **, const void *, const void *,
                                  const cio_connect_opts *),
                        cio_stream **out, const void *a, const void *b,
                        const cio_connect_opts *o, const char *what) {
    *out = NULL;
    int rc = cio__check_in_task("connect");
    if (rc < 0)
        return rc;
    cio__net_init();
    if (!o || o->timeout <= 0)
        return rc_fn(out, a, b, o);
    cio_scope sc;
    cio_timeout_begin(&sc, o->timeout);
    rc = rc_fn(out, a, b, o);
    bool expired = cio_timeout_end(&sc) < 0;
    if (rc < 0 && expired) {
        rc = -ETIMEDOUT;
        cio_seterr(rc, "connect %s: timed out after %lld ms", what,
                   (long long)(o->timeout / CIO_MS));
    }
    return rc;
}

static int tcp_thunk(cio_stream **out, const void *a, const void *b, const cio_connect_opts *o) {
    return tcp_connect(out, a, b, o);
}

int cio_tcp_connect(cio_stream **out, const char *host, const char *port,
                    const cio_connect_opts *opts) {
    if (!out)
        return cio_seterr(-EINVAL, "cio_tcp_connect: the output pointer is NULL");
    char what[300];
    snprintf(what, sizeof what, "%s:%s", host ? host : "", port ? port : "");
    return with_timeout(tcp_thunk, out, host, port, opts, what);
}

static int addr_thunk(cio_stream **out, const void *a, const void *b, const cio_connect_opts *o) {
    int rc = connect_one(out, a, o);
    if (rc == 0 && (rc = maybe_tls(*out, b, o)) < 0) {
        cio_stream_abort(*out);
        *out = NULL;
    }
    return rc;
}

int cio_connect_addr(cio_stream **out, const cio_addr *a, const cio_connect_opts *opts) {
    if (!out || !a) {
        if (out)
            *out = NULL;
        return cio_seterr(-EINVAL, "cio_connect_addr: the %s is NULL",
                          out ? "address" : "output pointer");
    }
    char what[CIO_ADDRSTRLEN];
    cio_addr_str(a, what, sizeof what);
    return with_timeout(addr_thunk, out, a, NULL, opts, what);
}

int cio_unix_connect(cio_stream **out, const char *path, const cio_connect_opts *opts) {
    if (!out)
        return cio_seterr(-EINVAL, "cio_unix_connect: the output pointer is NULL");
    cio_addr a;
    *out = NULL;
    int rc = cio_addr_unix(&a, path);
    if (rc < 0)
        return rc;
    return with_timeout(addr_thunk, out, &a, NULL, opts, path);
}
