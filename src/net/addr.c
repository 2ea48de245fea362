/* Addresses and name resolution. Numeric hosts are parsed in place; names
 * go to getaddrinfo on the thread pool, because the resolver blocks (files,
 * DNS over the network, NSS modules) and must never stall the loop. */
#include "net/net_int.h"
#include "cio/thread.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void cio__net_init(void) {
    static atomic_int done;
    if (atomic_load_explicit(&done, memory_order_relaxed))
        return;
    struct sigaction cur;
    /* A peer that resets must show up as -EPIPE, not kill the process. */
    if (sigaction(SIGPIPE, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
        !(cur.sa_flags & SA_SIGINFO))
        signal(SIGPIPE, SIG_IGN);
    atomic_store(&done, 1);
}

int cio_addr_unix(cio_addr *a, const char *path) {
    if (!a)
        return cio_seterr(-EINVAL, "cio_addr_unix: the address is NULL");
    memset(a, 0, sizeof *a);
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n >= sizeof a->u.un.sun_path)
        return cio_seterr(-ENAMETOOLONG, "unix socket path %s: %s", path ? path : "(null)",
                          n ? "too long" : "empty");
    a->u.un.sun_family = AF_UNIX;
    memcpy(a->u.un.sun_path, path, n + 1);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

static int parse_port(const char *port, uint16_t *out) {
    if (!port || !*port) {
        *out = 0;
        return 0;
    }
    char *end;
    unsigned long v = strtoul(port, &end, 10);
    if (*end || v > 65535 || port[0] == '-' || port[0] == '+')
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* cio_addr_parse without the message: -EINVAL for a bad port, -ENOENT for a
 * host that is not numeric. */
static int parse_quiet(cio_addr *a, const char *host, const char *port) {
    memset(a, 0, sizeof *a);
    uint16_t p;
    if (parse_port(port, &p) < 0)
        return -EINVAL;
    if (!host || !*host)
        host = "0.0.0.0";
    /* Accept "[::1]" as well as "::1". */
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && hl < sizeof tmp && host[hl - 1] == ']') {
        memcpy(tmp, host + 1, hl - 2);
        tmp[hl - 2] = 0;
        host = tmp;
    }
    if (inet_pton(AF_INET, host, &a->u.in.sin_addr) == 1) {
        a->u.in.sin_family = AF_INET;
        a->u.in.sin_port = htons(p);
        a->len = sizeof a->u.in;
        return 0;
    }
    /* IPv6, with an optional %scope: let getaddrinfo handle scopes, which
     * with AI_NUMERICHOST never touches the network. */
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_family = AF_INET6}, *res;
    if (strchr(host, ':') && getaddrinfo(host, NULL, &hints, &res) == 0) {
        memcpy(&a->u.in6, res->ai_addr, sizeof a->u.in6);
        freeaddrinfo(res);
        a->u.in6.sin6_port = htons(p);
        a->len = sizeof a->u.in6;
        return 0;
    }
    return -ENOENT;
}

int cio_addr_parse(cio_addr *a, const char *host, const char *port) {
    if (!a)
        return cio_seterr(-EINVAL, "cio_addr_parse: the address is NULL");
    int rc = parse_quiet(a, host, port);
    if (rc == -EINVAL)
        return cio_seterr(-EINVAL, "bad port \"%s\"", port);
    if (rc < 0)
        return cio_seterr(-EINVAL, "\"%s\" is not a numeric address", host);
    return 0;
}

const char *cio_addr_str(const cio_addr *a, char *buf, size_t n) {
    char h[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (!n || !buf)
        return buf;
    switch (a && a->len ? a->u.sa.sa_family : AF_UNSPEC) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in.sin_addr, h, sizeof h);
        snprintf(buf, n, "%s:%u", h, ntohs(a->u.in.sin_port));
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, h, sizeof h);
        if (a->u.in6.sin6_scope_id)
            snprintf(buf, n, "[%s%%%u]:%u", h, a->u.in6.sin6_scope_id,
                     ntohs(a->u.in6.sin6_port));
        else
            snprintf(buf, n, "[%s]:%u", h, ntohs(a->u.in6.sin6_port));
        break;
    case AF_UNIX:
        if (a->len <= offsetof(struct sockaddr_un, sun_path))
            snprintf(buf, n, "(unnamed unix socket)");
        else if (a->u.un.sun_path[0] == 0) /* abstract namespace */
            snprintf(buf, n, "@%.*s", (int)(a->len - offsetof(struct sockaddr_un, sun_path) - 1),
                     a->u.un.sun_path + 1);
        else
            snprintf(buf, n, "%s", a->u.un.sun_path);
        break;
    default:
        snprintf(buf, n, "(no address)");
    }
    return buf;
}

int cio_addr_port(const cio_addr *a) {
    if (!a)
        return -1;
    if (a->len && a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in.sin_port);
    if (a->len && a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return -1;
}

/* One getaddrinfo call. A helper task runs it on the thread pool, shielded,
 * so the job always completes. The helper is watched, not detached: when
 * it ends (even without having run, for want of a stack) the watch marks
 * the job done, or frees it if the asking task gave up (cancelled, timed
 * out) meanwhile: a cancelled lookup returns at once and leaks nothing,
 * though the thread finishes its getaddrinfo. */
typedef struct dns_job {
    char *host, *port;
    struct addrinfo hints;
    struct addrinfo *res;
    int rc, syserr;
    int pool_err;  /* the lookup could not run (e.g. -ENOMEM) */
    char why[96]; /* why the helper never ran, if it did not */
    bool ran, done, abandoned;
    cio__waitq q;
    cio__watcher watch;
} dns_job;

static void dns_job_free(dns_job *j) {
    if (j->res)
        freeaddrinfo(j->res);
    cio__free(j->host);
    cio__free(j->port);
    cio__free(j);
}

static int dns_run(void *arg) {
    dns_job *j = arg;
    j->rc = getaddrinfo(j->host, j->port, &j->hints, &j->res);
    j->syserr = errno;
    return 0;
}

static int dns_helper(void *arg) {
    dns_job *j = arg;
    j->ran = true;
    cio_scope sh;
    cio_shield_begin(&sh, CIO_FOREVER);
    int rc = cio_to_thread(dns_run, j);
    cio_shield_end(&sh);
    if (rc < 0)
        j->pool_err = rc;
    return 0;
}

static void dns_helper_ended(cio__watcher *w, cio_task *t, int index) {
    (void)index;
    dns_job *j = (dns_job *)((char *)w - offsetof(dns_job, watch));
    if (!j->ran) {
        j->pool_err = cio__task_result(t) < 0 ? cio__task_result(t) : -ECANCELED;
        snprintf(j->why, sizeof j->why, "%s", cio__task_reason(t));
    }
    cio__task_free(t);
    if (j->abandoned) {
        dns_job_free(j);
        return;
    }
    j->done = true;
    cio__waitq_wake_all(&j->q, 0);
}

static int gai_error(int rc, int syserr, const char *host, const char *port) {
    const char *why = rc == EAI_SYSTEM ? strerror(syserr) : gai_strerror(rc);
    return cio_seterr(CIO_EDNS, "resolve %s%s%s: %s", host ? host : "", port ? ":" : "",
                      port ? port : "", why);
}

static int numeric(const char *host, const char *port, int family, cio_addr *out) {
    /* A numeric port is required too: service names need the resolver. */
    uint16_t p;
    if (parse_port(port, &p) < 0)
        return -1;
    cio_addr a;
    if (parse_quiet(&a, host, port) < 0)
        return -1;
    if (family != AF_UNSPEC && a.u.sa.sa_family != family)
        return -1;
    *out = a;
    return 1;
}

int cio_resolve(const char *host, const char *port, int family, int socktype,
                cio_addr *out, size_t max) {
    if (!max)
        return cio_seterr(-EINVAL, "resolve: no room for addresses");
    if (!out)
        return cio_seterr(-EINVAL, "cio_resolve: the output array is NULL");
    if (host && *host && numeric(host, port, family, out) == 1)
        return 1;
    int rc = cio__check_in_task("cio_resolve");
    if (rc < 0)
        return rc;
    const char *name = host ? host : "";
    dns_job *j = cio__calloc(1, sizeof *j);
    if (!j)
        return cio_seterr(-ENOMEM, "resolve %s: out of memory", name);
    j->host = host && *host ? cio__strdup(host) : NULL;
    j->port = port && *port ? cio__strdup(port) : NULL;
    if ((host && *host && !j->host) || (port && *port && !j->port)) {
        dns_job_free(j);
        return cio_seterr(-ENOMEM, "resolve %s: out of memory", name);
    }
    j->hints.ai_family = family;
    j->hints.ai_socktype = socktype;
    j->hints.ai_flags = AI_ADDRCONFIG | (host && *host ? 0 : AI_PASSIVE);
    cio_task *t = cio_spawn(dns_helper, j);
    if (!t) {
        dns_job_free(j);
        return cio_seterr(-ENOMEM, "resolve %s: out of memory", name);
    }
    j->watch.done = dns_helper_ended;
    cio__task_watch(t, &j->watch);
    while (!j->done) {
        cio__waiter w = {0};
        rc = cio__waitq_wait(&j->q, &w);
        if (rc < 0) {
            if (j->done) /* it ended as we were interrupted: the job is ours */
                dns_job_free(j);
            else
                j->abandoned = true; /* the watch frees it */
            return cio_seterr(rc, "resolve %s: %s", name, cio_strerror(rc));
        }
    }
    if (j->pool_err || j->rc == EAI_MEMORY || (j->rc == EAI_SYSTEM && j->syserr == ENOMEM)) {
        /* ours, not the name's */
        rc = j->pool_err ? j->pool_err : -ENOMEM;
        char why[96];
        snprintf(why, sizeof why, "%s", j->why[0] ? j->why : cio_strerror(rc));
        dns_job_free(j);
        return cio_seterr(rc, "resolve %s: the lookup could not run: %s", name, why);
    }
    if (j->rc != 0) {
        rc = gai_error(j->rc, j->syserr, host, port);
        dns_job_free(j);
        return rc;
    }
    size_t n = 0;
    for (struct addrinfo *ai = j->res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out[n].u)
            continue;
        memset(&out[n], 0, sizeof out[n]);
        memcpy(&out[n].u, ai->ai_addr, ai->ai_addrlen);
        out[n].len = ai->ai_addrlen;
        n++;
    }
    dns_job_free(j);
    if (n == 0)
        return cio_seterr(CIO_EDNS, "resolve %s: no usable address", name);
    return (int)n;
}
