/* The HTTP server object: options, routes, listening (through
 * cio_tcp_serve, which runs one task per connection) and graceful
 * shutdown. The request loop itself is in conn.c. */
#include "http/server.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

cio_http_server *cio_http_server_new(const cio_http_server_opts *opts) {
    cio_http_server *s = cio__calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    if (opts)
        s->o = *opts;
    cio_http_server_opts *o = &s->o;
    if (!o->max_header_bytes)
        o->max_header_bytes = CIO__HTTP_MAX_HEADER;
    if (o->max_header_bytes < 256)
        o->max_header_bytes = 256;
    if (!o->max_headers)
        o->max_headers = CIO__HTTP_MAX_HEADERS;
    if (!o->max_body_bytes)
        o->max_body_bytes = CIO__HTTP_MAX_BODY;
    if (o->max_body_bytes < 0)
        o->max_body_bytes = INT64_MAX;
    if (o->header_timeout <= 0)
        o->header_timeout = 10 * CIO_SEC;
    if (o->idle_timeout <= 0)
        o->idle_timeout = 60 * CIO_SEC;
    if (o->body_timeout <= 0)
        o->body_timeout = 30 * CIO_SEC;
    if (o->write_timeout <= 0)
        o->write_timeout = 30 * CIO_SEC;
    if (!o->max_connections)
        o->max_connections = 10000;
    if (!o->backlog)
        o->backlog = 1024;
    if (!o->server_name)
        o->server_name = "cio";
    if (!(o->server_name = cio__strdup(o->server_name))) {
        cio__free(s);
        errno = ENOMEM;
        return NULL;
    }
    return s;
}

static bool valid_method(const char *m) {
    if (!*m)
        return false;
    for (; *m; m++)
        if (*m <= ' ' || *m >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *m))
            return false;
    return true;
}

int cio_http_server_route(cio_http_server *s, const char *method, const char *pattern,
                          cio_http_handler h, void *arg) {
    if (!s)
        return cio_seterr(-EINVAL, "http route: the server is NULL");
    if (!pattern || !h || (pattern[0] != '/' && strcmp(pattern, "*") != 0))
        return cio_seterr(-EINVAL, "http route: bad pattern %s", pattern ? pattern : "(null)");
    if (method && strcmp(method, "*") == 0)
        method = NULL;
    if (method && !valid_method(method))
        return cio_seterr(-EINVAL, "http route %s: bad method %s", pattern, method);
    if (s->nroutes == s->caproutes) {
        size_t cap = s->caproutes ? s->caproutes * 2 : 8;
        cio__http_route *r = cio__realloc(s->routes, cap * sizeof *r);
        if (!r)
            return cio_seterr(-ENOMEM, "http route %s: out of memory", pattern);
        s->routes = r;
        s->caproutes = cap;
    }
    cio__http_route *r = &s->routes[s->nroutes];
    size_t n = strlen(pattern);
    r->prefix = n > 0 && pattern[n - 1] == '*' && strcmp(pattern, "*") != 0;
    r->pattern = cio__strdup(pattern);
    r->method = method ? cio__strdup(method) : NULL;
    if (!r->pattern || (method && !r->method)) {
        cio__free(r->pattern);
        cio__free(r->method);
        return cio_seterr(-ENOMEM, "http route %s: out of memory", pattern);
    }
    if (r->prefix)
        r->pattern[--n] = 0;
    r->plen = n;
    r->h = h;
    r->arg = arg;
    s->nroutes++;
    return 0;
}

static bool method_ok(const cio__http_route *r, const char *m) {
    if (!r->method || strcmp(r->method, m) == 0)
        return true;
    /* A GET route answers HEAD too; the writer drops the body. */
    return m[0] == 'H' && strcmp(m, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}

/* Answers 405 listing the methods the path has routes for. */
static int not_allowed(cio__http_conn *c, bool *seen, size_t n) {
    char allow[256];
    size_t len = 0;
    allow[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const cio__http_route *r = &c->srv->routes[i];
        if (!seen[i] || !r->method || strstr(allow, r->method))
            continue;
        int k = snprintf(allow + len, sizeof allow - len, "%s%s%s", len ? ", " : "",
                         r->method, strcmp(r->method, "GET") == 0 ? ", HEAD" : "");
        if (k < 0 || (size_t)k >= sizeof allow - len)
            break;
        len += (size_t)k;
    }
    cio_http_resp_header(&c->resp, "Allow", allow);
    return cio_http_resp_send(&c->resp, 405, "text/plain", "Method Not Allowed\n", 19);
}

int cio__http_dispatch(cio__http_conn *c) {
    cio_http_server *s = c->srv;
    const char *m = c->req.head.method, *path = c->req.path;
    const cio__http_route *best = NULL;
    bool any_path = false;
    /* Route tables are short: a linear scan beats any index here. */
    for (size_t i = 0; i < s->nroutes; i++) {
        const cio__http_route *r = &s->routes[i];
        if (r->prefix || strcmp(r->pattern, path) != 0)
            continue;
        any_path = true;
        if (method_ok(r, m))
            return r->h(&c->req, &c->resp, r->arg);
    }
    for (size_t i = 0; i < s->nroutes; i++) {
        const cio__http_route *r = &s->routes[i];
        if (!r->prefix || strncmp(r->pattern, path, r->plen) != 0)
            continue;
        any_path = true;
        if (method_ok(r, m) && (!best || r->plen > best->plen))
            best = r;
    }
    if (best)
        return best->h(&c->req, &c->resp, best->arg);
    if (!any_path)
        return cio_http_resp_send(&c->resp, 404, "text/plain", "Not Found\n", 10);
    bool seen[s->nroutes];
    for (size_t i = 0; i < s->nroutes; i++) {
        const cio__http_route *r = &s->routes[i];
        seen[i] = r->prefix ? strncmp(r->pattern, path, r->plen) == 0
                            : strcmp(r->pattern, path) == 0;
    }
    return not_allowed(c, seen, s->nroutes);
}

int cio_http_server_listen(cio_http_server *s, const char *host, int port) {
    if (!s)
        return cio_seterr(-EINVAL, "http listen: the server is NULL");
    if (port < 0 || port > 65535)
        return cio_seterr(-EINVAL, "http listen: bad port %d", port);
    if (s->net)
        return cio_seterr(-EALREADY, "http listen: already listening");
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    cio_serve_opts so = {
        .backlog = s->o.backlog,
        .reuseport = s->o.reuseport,
        .max_conns = s->o.max_connections,
        .stack_size = s->o.stack_size,
        .tls_ctx = s->o.tls_ctx,
        /* The head must fit in the stream buffer with room to spare. */
        .stream = {.limit = s->o.max_header_bytes + 16384},
    };
    s->shutting = false;
    return cio_tcp_serve(&s->net, host ? host : "127.0.0.1", ps, cio__http_conn_main, s, &so);
}

int cio_http_server_port(const cio_http_server *s) {
    return s && s->net ? cio_server_port(s->net) : -1;
}

/* Closes every connection waiting for a request; the busy ones close
 * after their response (conn.c looks at s->shutting). */
static void close_idle(cio_http_server *s) {
    for (cio__http_conn *c = s->conns; c; c = c->next)
        if (c->idle)
            cio_cancel(c->task);
}

void cio_http_server_shutdown(cio_http_server *s, int64_t grace_ns) {
    if (!s || s->shutting)
        return;
    s->shutting = true;
    s->grace_deadline = grace_ns >= CIO_FOREVER - cio_now() ? CIO_FOREVER : cio_now() + grace_ns;
    close_idle(s);
    cio__waitq_wake_all(&s->stop_wq, 0);
}

int cio_http_server_serve(cio_http_server *s) {
    if (!s || !s->net)
        return cio_seterr(-EINVAL, "http serve: %s", s ? "not listening" : "the server is NULL");
    int rc = 0;
    while (!s->shutting) {
        cio__waiter w = {0};
        if ((rc = cio__waitq_wait(&s->stop_wq, &w)) < 0)
            break;
    }
    int64_t grace = 0;
    if (rc < 0) {
        s->shutting = true;
        close_idle(s);
    } else if (s->grace_deadline > cio_now()) {
        grace = s->grace_deadline == CIO_FOREVER ? CIO_FOREVER : s->grace_deadline - cio_now();
    }
    cio_server_close(s->net, grace);
    s->net = NULL;
    return rc < 0 ? rc : 0;
}

void cio_http_server_access_log(cio_http_server *s, cio_http_log_fn fn, void *arg) {
    if (!s)
        return;
    s->log_fn = fn;
    s->log_arg = arg;
}

size_t cio_http_server_connections(const cio_http_server *s) { return s ? s->nconns : 0; }

uint64_t cio_http_server_requests(const cio_http_server *s) { return s ? s->nreq : 0; }

void cio_http_server_free(cio_http_server *s) {
    if (!s)
        return;
    if (s->net) {
        s->shutting = true;
        close_idle(s);
        cio_server_close(s->net, 0);
    }
    for (size_t i = 0; i < s->nroutes; i++) {
        cio__free(s->routes[i].method);
        cio__free(s->routes[i].pattern);
    }
    cio__free(s->routes);
    for (cio__http_mount *m = s->mounts, *n; m; m = n) {
        n = m->next;
        if (m->rootfd >= 0)
            close(m->rootfd);
        cio__free(m->prefix);
        cio__free(m->root);
        cio__free(m);
    }
    cio__free((char *)s->o.server_name);
    cio__free(s);
}
