/* Servers (asyncio.start_server): listeners, an accept task per listener,
 * a handler task per connection, a connection limit, EMFILE shedding and a
 * graceful shutdown that stops accepting and waits for the handlers. */
#define _GNU_SOURCE
#include "net/net_int.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LISTENERS 4
#define DEFAULT_BACKLOG 511
/* Accepts in a row before letting the handlers run (fairness under floods). */
#define ACCEPT_BATCH 64

typedef struct listener {
    cio__fd f;
    cio_server *srv;
    cio_task *task;
    cio_addr addr;
} listener;

/* A connection's handler task is watched, not detached: when it ends, even
 * without having run (no memory for its stack), conn_ended closes what it
 * did not and takes the connection off the server's books. */
typedef struct conn {
    struct conn *next, *prev;
    cio_server *srv;
    cio_task *task;
    int fd;
    bool ran;
    cio__watcher watch;
    cio_addr peer; /* from accept4, for messages */
} conn;

struct cio_server {
    cio_conn_fn handler;
    void *arg;
    cio_serve_opts opts;
    listener ls[MAX_LISTENERS];
    int nls;
    conn *conns;
    size_t nconns;
    cio__waitq slotq; /* accept tasks waiting under the connection limit */
    cio__waitq idleq; /* close() waiting for the handlers */
    cio__waitq stopq; /* cio_server_wait callers */
    bool closing;
    int reserve_fd;   /* spare fd given up to shed a connection on EMFILE */
    int64_t emfile_reported;
    char *unix_path;
};

/* ---- connections ------------------------------------------------------- */

static bool peer_error(int rc) {
    return rc == -ECONNRESET || rc == -EPIPE || rc == -ECANCELED || rc == -ETIMEDOUT ||
           rc == -ENOTCONN || rc == CIO_EPARTIAL || rc == CIO_ETLS;
}

static int conn_handshake(cio_server *srv, cio_stream *s) {
    int64_t limit = srv->opts.handshake_timeout > 0 ? srv->opts.handshake_timeout : 10 * CIO_SEC;
    cio_scope sc;
    cio_timeout_begin(&sc, limit);
    int rc = cio_stream_starttls(s, srv->opts.tls_ctx, NULL);
    cio_timeout_end(&sc);
    return rc;
}

static int conn_main(void *arg) {
    conn *c = arg;
    c->ran = true;
    cio_server *srv = c->srv;
    cio_stream *s = NULL;
    int rc = cio__stream_new(&s, c->fd, &srv->opts.stream);
    if (rc == 0)
        s->peer = c->peer;
    if (rc == 0 && srv->opts.tls_ctx)
        rc = conn_handshake(srv, s);
    if (rc == 0)
        rc = srv->handler(s, srv->arg);
    /* Peers that reset or vanish and cancellation at shutdown are the
     * normal life of a server; anything else is worth a warning. */
    if (rc < 0 && !peer_error(rc))
        cio__report(2, "connection handler '%s' failed: %s%s%s",
                    cio_task_name(NULL), cio_strerror(rc), cio_errmsg()[0] ? ": " : "",
                    cio_errmsg());
    if (s) {
        /* A peer that never reads must not keep the handler alive. */
        cio_scope sc;
        cio_timeout_begin(&sc, srv->opts.close_timeout > 0 ? srv->opts.close_timeout
                                                           : 10 * CIO_SEC);
        cio_stream_close(s);
        cio_timeout_end(&sc);
    }
    return 0; /* conn_ended does the books */
}

static void conn_ended(cio__watcher *w, cio_task *t, int index) {
    (void)index;
    conn *c = (conn *)((char *)w - offsetof(conn, watch));
    cio_server *srv = c->srv;
    if (!c->ran) {
        cio__report(2, "server: a connection handler could not start (%s); closing the "
                       "connection", cio__task_reason(t));
        close(c->fd);
    }
    cio__task_free(t);
    CIO__DLIST_UNLINK(srv->conns, c);
    srv->nconns--;
    cio__waitq_wake_all(&srv->slotq, 0);
    if (srv->nconns == 0)
        cio__waitq_wake_all(&srv->idleq, 0);
    cio__free(c);
}

static void start_conn(cio_server *srv, int fd, const cio_addr *peer) {
    if (!srv->opts.nagle && srv->unix_path == NULL) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    conn *c = cio__malloc(sizeof *c);
    cio_spawn_opts o = {.stack_size = srv->opts.stack_size};
    cio_task *t = c ? cio_spawn_with(conn_main, c, &o) : NULL;
    if (!t) {
        cio__report(2, "server: cannot start a connection handler (out of memory); "
                       "closing the connection");
        cio__free(c);
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->peer = *peer;
    c->task = t;
    c->ran = false;
    c->watch.done = conn_ended;
    cio__task_watch(t, &c->watch);
    CIO__DLIST_PUSH(srv->conns, c);
    srv->nconns++;
}

/* ---- accepting ----------------------------------------------------------- */

/* Out of fds: give up the spare one to accept and close the oldest pending
 * connection (so its client sees a close rather than a hang), then pause
 * briefly so a storm cannot make the loop spin. */
static int shed(cio_server *srv, listener *l, int err) {
    int64_t now = cio_now();
    if (srv->emfile_reported == 0 || now - srv->emfile_reported > 10 * CIO_SEC) {
        srv->emfile_reported = now ? now : 1;
        cio__report(2, "server: accept: %s; shedding connections until fds free up",
                    strerror(err));
    }
    if (srv->reserve_fd >= 0) {
        close(srv->reserve_fd);
        srv->reserve_fd = -1;
        int fd = accept4(l->f.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    return cio_sleep(10 * CIO_MS);
}

static int accept_main(void *arg) {
    listener *l = arg;
    cio_server *srv = l->srv;
    int batch = 0;
    while (!srv->closing) {
        if (srv->opts.max_conns && srv->nconns >= srv->opts.max_conns) {
            cio__waiter w = {0};
            if (cio__waitq_wait(&srv->slotq, &w) < 0)
                break;
            continue;
        }
        cio_addr peer;
        peer.len = sizeof peer.u;
        int fd = accept4(l->f.fd, &peer.u.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            start_conn(srv, fd, &peer);
            if (++batch >= ACCEPT_BATCH) {
                batch = 0;
                if (cio_yield() < 0)
                    break;
            }
            continue;
        }
        int err = errno, rc = 0;
        batch = 0;
        if (err == EAGAIN)
            rc = cio__fd_wait(&l->f, CIO__READ);
        else if (err == EMFILE || err == ENFILE)
            rc = shed(srv, l, err);
        else if (err == ENOBUFS || err == ENOMEM)
            rc = cio_sleep(10 * CIO_MS);
        else if (err == EBADF || err == EINVAL || err == ENOTSOCK)
            break; /* the listener was closed */
        /* others (ECONNABORTED, EPROTO, EPERM from a firewall …): the
         * pending connection is gone; accept the next one. */
        if (rc < 0)
            break;
    }
    return 0;
}

/* ---- listening ----------------------------------------------------------- */

static int open_listener(cio_server *srv, const cio_addr *a) {
    listener *l = &srv->ls[srv->nls];
    char who[CIO_ADDRSTRLEN];
    cio_addr_str(a, who, sizeof who);
    int fam = a->u.sa.sa_family, one = 1;
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cio_seterr(-errno, "socket for %s: %s", who, strerror(errno));
    if (fam != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (fam == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (srv->opts.reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int err = errno;
        close(fd);
        return cio_seterr(-err, "SO_REUSEPORT on %s: %s", who, strerror(err));
    }
    if (bind(fd, &a->u.sa, a->len) < 0) {
        int err = errno;
        close(fd);
        return cio_seterr(-err, "bind %s: %s", who, strerror(err));
    }
    if (fam == AF_UNIX && srv->opts.unix_mode)
        chmod(a->u.un.sun_path, (mode_t)srv->opts.unix_mode);
    if (listen(fd, srv->opts.backlog > 0 ? srv->opts.backlog : DEFAULT_BACKLOG) < 0) {
        int err = errno;
        close(fd);
        return cio_seterr(-err, "listen %s: %s", who, strerror(err));
    }
    int rc = cio__fd_open(&l->f, fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    l->srv = srv;
    l->addr.len = sizeof l->addr.u;
    if (getsockname(fd, &l->addr.u.sa, &l->addr.len) < 0)
        l->addr = *a;
    srv->nls++;
    return 0;
}

static void free_server(cio_server *srv) {
    for (int i = 0; i < srv->nls; i++) {
        listener *l = &srv->ls[i];
        if (l->f.fd >= 0) {
            cio__fd_close(&l->f);
            close(l->f.fd);
            l->f.fd = -1;
        }
    }
    if (srv->unix_path) {
        unlink(srv->unix_path);
        cio__free(srv->unix_path);
    }
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    cio__free(srv);
}

static cio_server *new_server(cio_conn_fn handler, void *arg, const cio_serve_opts *opts) {
    cio_server *srv = cio__calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->handler = handler;
    srv->arg = arg;
    if (opts)
        srv->opts = *opts;
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return srv;
}

/* Starts one accept task per listener. */
static int start_accepting(cio_server *srv) {
    for (int i = 0; i < srv->nls; i++) {
        char a[CIO_ADDRSTRLEN], name[CIO_ADDRSTRLEN + 8];
        snprintf(name, sizeof name, "accept %s", cio_addr_str(&srv->ls[i].addr, a, sizeof a));
        cio_spawn_opts o = {.name = name};
        srv->ls[i].task = cio_spawn_with(accept_main, &srv->ls[i], &o);
        if (!srv->ls[i].task)
            return cio_seterr(-ENOMEM, "server: cannot start the accept task");
    }
    return 0;
}

static int serve_common(cio_server **out, cio_server *srv) {
    int rc = start_accepting(srv);
    if (rc < 0) {
        for (int i = 0; i < srv->nls; i++)
            if (srv->ls[i].task) {
                cio_cancel(srv->ls[i].task);
                cio_detach(srv->ls[i].task);
            }
        srv->closing = true;
        free_server(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int cio_tcp_serve(cio_server **out, const char *host, const char *port, cio_conn_fn handler,
                  void *arg, const cio_serve_opts *opts) {
    if (!out)
        return cio_seterr(-EINVAL, "cio_tcp_serve: the output pointer is NULL");
    *out = NULL;
    cio__net_init();
    if (!handler)
        return cio_seterr(-EINVAL, "cio_tcp_serve: no handler");
    cio_addr addrs[MAX_LISTENERS];
    int n;
    if (host && *host) {
        n = cio_resolve(host, port, AF_UNSPEC, SOCK_STREAM, addrs, MAX_LISTENERS);
    } else {
        /* Every interface: IPv4 and, where the kernel has it, IPv6. */
        n = cio_addr_parse(&addrs[0], "0.0.0.0", port) == 0 ? 1 : -EINVAL;
        if (n == 1 && cio_addr_parse(&addrs[1], "::", port) == 0)
            n = 2;
    }
    if (n < 0)
        return n;
    cio_server *srv = new_server(handler, arg, opts);
    if (!srv)
        return cio_seterr(-ENOMEM, "cio_tcp_serve: out of memory");
    for (int i = 0; i < n; i++) {
        /* With port 0, the later listeners take the port the first got. */
        if (srv->nls && cio_addr_port(&addrs[i]) == 0) {
            int p = cio_addr_port(&srv->ls[0].addr);
            if (addrs[i].u.sa.sa_family == AF_INET)
                addrs[i].u.in.sin_port = htons((uint16_t)p);
            else
                addrs[i].u.in6.sin6_port = htons((uint16_t)p);
        }
        int rc = open_listener(srv, &addrs[i]);
        /* No IPv6 on this machine is not a failure when IPv4 listens. */
        if (rc < 0 && !(srv->nls && addrs[i].u.sa.sa_family == AF_INET6 &&
                        (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL) && !(host && *host))) {
            free_server(srv);
            return rc;
        }
    }
    return serve_common(out, srv);
}

int cio_unix_serve(cio_server **out, const char *path, cio_conn_fn handler, void *arg,
                   const cio_serve_opts *opts) {
    if (!out)
        return cio_seterr(-EINVAL, "cio_unix_serve: the output pointer is NULL");
    *out = NULL;
    cio__net_init();
    if (!handler)
        return cio_seterr(-EINVAL, "cio_unix_serve: no handler");
    cio_addr a;
    int rc = cio_addr_unix(&a, path);
    if (rc < 0)
        return rc;
    struct stat st;
    /* A socket file left by an earlier run would make bind fail. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    cio_server *srv = new_server(handler, arg, opts);
    if (!srv || !(srv->unix_path = cio__strdup(path))) {
        if (srv)
            free_server(srv);
        return cio_seterr(-ENOMEM, "cio_unix_serve: out of memory");
    }
    if ((rc = open_listener(srv, &a)) < 0) {
        cio__free(srv->unix_path);
        srv->unix_path = NULL; /* not ours: do not unlink someone else's file */
        free_server(srv);
        return rc;
    }
    return serve_common(out, srv);
}

/* ---- queries and shutdown ------------------------------------------------ */

int cio_server_port(const cio_server *srv) {
    return srv && srv->nls ? cio_addr_port(&srv->ls[0].addr) : -1;
}

int cio_server_addr(const cio_server *srv, cio_addr *a) {
    if (!srv || !a)
        return cio_seterr(-EINVAL, "cio_server_addr: the %s is NULL", srv ? "address" : "server");
    if (!srv->nls)
        return -ENOTCONN;
    *a = srv->ls[0].addr;
    return 0;
}

size_t cio_server_conns(const cio_server *srv) { return srv ? srv->nconns : 0; }

int cio_server_wait(cio_server *srv) {
    if (!srv)
        return cio_seterr(-EINVAL, "cio_server_wait: the server is NULL");
    if (srv->closing)
        return 0;
    cio__waiter w = {0};
    return cio__waitq_wait(&srv->stopq, &w);
}

/* Waits until no handler runs, or the deadline passes. */
static void wait_idle(cio_server *srv, int64_t deadline) {
    while (srv->nconns) {
        cio__waiter w = {0};
        if (cio__waitq_wait_until(&srv->idleq, &w, deadline) < 0)
            return;
    }
}

int cio_server_close(cio_server *srv, int64_t grace) {
    if (!srv)
        return 0;
    if (cio__interrupted())
        grace = 0; /* a cancelled caller still closes, but does not linger */
    srv->closing = true;
    cio__waitq_wake_all(&srv->stopq, 0);
    cio_scope sh;
    cio_shield_begin(&sh, CIO_FOREVER);
    for (int i = 0; i < srv->nls; i++) {
        listener *l = &srv->ls[i];
        cio__fd_close(&l->f);
        close(l->f.fd);
        l->f.fd = -1;
        if (l->task) {
            cio_cancel(l->task);
            cio_join(l->task);
            l->task = NULL;
        }
    }
    if (grace > 0 && srv->nconns)
        wait_idle(srv, grace == CIO_FOREVER ? CIO_FOREVER : cio_now() + grace);
    int cancelled = (int)srv->nconns;
    for (conn *c = srv->conns; c; c = c->next)
        cio_cancel(c->task);
    wait_idle(srv, CIO_FOREVER);
    cio_shield_end(&sh);
    free_server(srv);
    return cancelled;
}
