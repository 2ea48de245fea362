/* UDP: one datagram per call, waiting only when the socket has nothing to
 * give (recv) or no room (send). */
#include "net/net_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct cio_udp {
    cio__fd f; /* registered with the loop; epoll holds &f */
};

static int ufail(const cio_udp *u, int code, const char *op, const cio_addr *to) {
    char who[CIO_ADDRSTRLEN];
    if (to)
        cio_addr_str(to, who, sizeof who);
    else
        snprintf(who, sizeof who, "udp fd %d", u->f.fd);
    return cio_seterr(code, "%s %s: %s", op, who, cio_strerror(code));
}

int cio_udp_open(cio_udp **out, const char *host, const char *port) {
    if (!out)
        return cio_seterr(-EINVAL, "udp open: the output pointer is NULL");
    *out = NULL;
    cio__net_init();
    cio_addr a = {0};
    int fam = AF_INET;
    if (host || port) {
        int n = cio_resolve(host && *host ? host : "0.0.0.0", port ? port : "0", AF_UNSPEC,
                            SOCK_DGRAM, &a, 1);
        if (n < 0)
            return n;
        fam = a.u.sa.sa_family;
    }
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cio_seterr(-errno, "udp socket: %s", strerror(errno));
    if (port && bind(fd, &a.u.sa, a.len) < 0) {
        int err = errno;
        close(fd);
        return ufail(&(cio_udp){.f.fd = -1}, -err, "bind", &a);
    }
    cio_udp *u = cio__calloc(1, sizeof *u);
    if (!u) {
        close(fd);
        return cio_seterr(-ENOMEM, "udp: out of memory");
    }
    int rc = cio__fd_open(&u->f, fd);
    if (rc < 0) {
        close(fd);
        cio__free(u);
        return rc;
    }
    *out = u;
    return 0;
}

int cio_udp_connect(cio_udp *u, const cio_addr *peer) {
    if (!u || !peer)
        return cio_seterr(-EINVAL, "udp connect: %s is NULL", u ? "the address" : "the socket");
    if (connect(u->f.fd, &peer->u.sa, peer->len) < 0)
        return ufail(u, -errno, "udp connect", peer);
    return 0;
}

ssize_t cio_udp_sendto(cio_udp *u, const void *buf, size_t n, const cio_addr *to) {
    if (!u || (!buf && n))
        return cio_seterr(-EINVAL, "udp sendto: %s is NULL", u ? "the buffer" : "the socket");
    for (;;) {
        ssize_t r = to ? sendto(u->f.fd, buf, n, MSG_NOSIGNAL, &to->u.sa, to->len)
                       : send(u->f.fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        int err = errno;
        if (err == EINTR)
            continue;
        if (err != EAGAIN)
            return ufail(u, -err, "sendto", to);
        int rc = cio__fd_wait(&u->f, CIO__WRITE);
        if (rc < 0)
            return ufail(u, rc, "sendto", to);
    }
}

ssize_t cio_udp_recvfrom(cio_udp *u, void *buf, size_t n, cio_addr *from) {
    if (!u || (!buf && n))
        return cio_seterr(-EINVAL, "udp recvfrom: %s is NULL", u ? "the buffer" : "the socket");
    int rc = cio__interrupted();
    if (rc)
        return ufail(u, rc, "recvfrom", NULL);
    for (;;) {
        cio_addr tmp;
        cio_addr *a = from ? from : &tmp;
        memset(a, 0, sizeof *a);
        a->len = sizeof a->u;
        ssize_t r = recvfrom(u->f.fd, buf, n, MSG_TRUNC, &a->u.sa, &a->len);
        if (r >= 0)
            return r > (ssize_t)n ? (ssize_t)n : r;
        int err = errno;
        if (err == EINTR)
            continue;
        if (err != EAGAIN)
            return ufail(u, -err, "recvfrom", NULL);
        if ((rc = cio__fd_wait(&u->f, CIO__READ)) < 0)
            return ufail(u, rc, "recvfrom", NULL);
    }
}

int cio_udp_local(const cio_udp *u, cio_addr *a) {
    if (!u || !a)
        return cio_seterr(-EINVAL, "udp local: %s is NULL", u ? "the address" : "the socket");
    memset(a, 0, sizeof *a);
    a->len = sizeof a->u;
    if (getsockname(u->f.fd, &a->u.sa, &a->len) < 0) {
        int err = errno;
        a->len = 0;
        return cio_seterr(-err, "udp local (fd %d): %s", u->f.fd, strerror(err));
    }
    return 0;
}

int cio_udp_port(const cio_udp *u) {
    cio_addr a;
    return cio_udp_local(u, &a) == 0 ? cio_addr_port(&a) : -1;
}

int cio_udp_fd(const cio_udp *u) { return u ? u->f.fd : -1; }

void cio_udp_close(cio_udp *u) {
    if (!u)
        return;
    cio__fd_close(&u->f);
    close(u->f.fd);
    cio__free(u);
}
