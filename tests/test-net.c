/* Tests of sockets and servers: TCP connect/serve round trips, refused
 * connections, DNS failures, connect timeouts, Unix sockets, UDP, the
 * connection limit, graceful shutdown, EMFILE shedding and fd accounting.
 * Every server listens on 127.0.0.1 (or a Unix path in the test's tmpdir). */
#define _GNU_SOURCE
#include <cio/net.h>
#include <cio/test.h>

#include "core/runtime.h"
#include "stack_fill.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net_test_util.h"

/* ---- helpers ---- */

static char portstr[16];
static const char *port_of(cio_server *srv) {
    snprintf(portstr, sizeof portstr, "%d", cio_server_port(srv));
    return portstr;
}

/* A port nobody listens on: bind one, note it, close it. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int echo_once(cio_stream *s, const char *msg) {
    char line[256];
    int rc = cio_stream_write(s, msg, strlen(msg));
    if (rc < 0)
        return rc;
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n < 0)
        return (int)n;
    return strcmp(line, msg) == 0 ? 0 : -EPROTO;
}

/* ---- TCP ---- */

CIO_TEST(tcp_echo_roundtrip) {
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    CIO_ASSERT_GT(cio_server_port(srv), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port_of(srv), NULL), 0);
    CIO_ASSERT_EQ(echo_once(s, "hello\n"), 0);
    CIO_ASSERT_EQ(echo_once(s, "second line\n"), 0);
    cio_addr peer, local;
    char a[CIO_ADDRSTRLEN];
    CIO_ASSERT_EQ(cio_stream_peer(s, &peer), 0);
    CIO_ASSERT_EQ(cio_addr_port(&peer), cio_server_port(srv));
    CIO_ASSERT_EQ(cio_stream_local(s, &local), 0);
    CIO_ASSERT(strncmp(cio_addr_str(&peer, a, sizeof a), "127.0.0.1:", 10) == 0);
    CIO_ASSERT_EQ(cio_stream_close(s), 0);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
}

CIO_TEST(tcp_echo_ipv6_and_localhost) {
    cio_server *srv;
    int rc = cio_tcp_serve(&srv, "::1", "0", echo_handler, NULL, NULL);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        fprintf(stderr, "no IPv6 loopback here: %s\n", cio_errmsg());
        return;
    }
    CIO_ASSERT_EQ(rc, 0);
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "::1", port_of(srv), NULL), 0);
    CIO_ASSERT_EQ(echo_once(s, "v6\n"), 0);
    cio_stream_close(s);
    cio_server_close(srv, CIO_SEC);
    /* "localhost" resolves off the loop (to 127.0.0.1 and maybe ::1); the
     * connect tries each address in turn until one answers. */
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "localhost", port_of(srv), NULL), 0);
    CIO_ASSERT_EQ(echo_once(s, "by name\n"), 0);
    cio_stream_close(s);
    cio_server_close(srv, CIO_SEC);
}

CIO_TEST(tcp_connect_refused) {
    int port = free_port();
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    cio_stream *s = (cio_stream *)1;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", p, NULL), -ECONNREFUSED);
    CIO_ASSERT(s == NULL);
    char want[64];
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection refused", port);
    CIO_ASSERT_STREQ(cio_errmsg(), want);
}

CIO_TEST(dns_failure) {
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "no-such-host.invalid", "80", NULL), CIO_EDNS);
    CIO_ASSERT(strstr(cio_errmsg(), "no-such-host.invalid") != NULL);
    cio_addr a[4];
    CIO_ASSERT_EQ(cio_resolve("x.invalid", "80", AF_UNSPEC, SOCK_STREAM, a, 4), CIO_EDNS);
}

CIO_TEST(dns_resolve) {
    cio_addr a[8];
    char buf[CIO_ADDRSTRLEN];
    /* Numeric: parsed in place, never the resolver. */
    CIO_ASSERT_EQ(cio_resolve("::1", "443", AF_UNSPEC, SOCK_STREAM, a, 8), 1);
    CIO_ASSERT_STREQ(cio_addr_str(&a[0], buf, sizeof buf), "[::1]:443");
    CIO_ASSERT_EQ(cio_resolve("10.1.2.3", "http", AF_INET, SOCK_STREAM, a, 8), 1);
    CIO_ASSERT_STREQ(cio_addr_str(&a[0], buf, sizeof buf), "10.1.2.3:80");
    int n = cio_resolve("localhost", "8080", AF_INET, SOCK_STREAM, a, 8);
    CIO_ASSERT_GE(n, 1);
    CIO_ASSERT_STREQ(cio_addr_str(&a[0], buf, sizeof buf), "127.0.0.1:8080");
    CIO_ASSERT_EQ(cio_addr_parse(&a[0], "1.2.3.4", "99999"), -EINVAL);
    CIO_ASSERT_EQ(cio_addr_parse(&a[0], "not-an-ip", "1"), -EINVAL);
    CIO_ASSERT_EQ(cio_addr_parse(&a[0], "[fe80::1]", "1"), 0);
}

CIO_TEST_VCLOCK(dns_cancelled_lookup_leaks_nothing) {
    /* The lookup runs on the pool; the asking task gives up at once and the
     * helper finishes and frees it later (the leak check verifies). */
    cio_addr a[2];
    CIO_TIMEOUT(1) {
        int rc = cio_resolve("localhost", "80", AF_UNSPEC, SOCK_STREAM, a, 2);
        CIO_ASSERT(rc == -ETIMEDOUT || rc >= 1);
    }
    CIO_ASSERT_EQ(cio_sleep(10 * CIO_MS), 0);
}

static int resolve_task(void *arg) {
    cio_addr a[2];
    int rc = cio_resolve("localhost", "80", AF_UNSPEC, SOCK_STREAM, a, 2);
    snprintf(arg, 160, "%s", rc < 0 ? cio_errmsg() : "");
    return rc;
}

/* A lookup the asking task gives up on (cancelled while the resolver works
 * on the pool) returns at once; the helper frees the job later (the leak
 * check verifies). */
CIO_TEST(dns_lookup_cancelled_while_waiting) {
    static char msg[160];
    cio_task *t = cio_spawn(resolve_task, msg);
    CIO_ASSERT_EQ(cio_yield(), 0); /* t has handed the lookup out and waits */
    CIO_ASSERT(!cio_task_done(t));
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT(strstr(msg, "resolve localhost") != NULL);
    cio_addr a[1];
    CIO_ASSERT_EQ(cio_resolve("localhost", "80", AF_UNSPEC, SOCK_STREAM, a, 0), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "no room") != NULL);
}

/* A lookup that cannot allocate its job, or the copies of host and port
 * it hands to the resolver: -ENOMEM naming the host, nothing leaked, and
 * the same lookup works once memory is back. */
CIO_TEST(dns_resolve_out_of_memory_leaks_nothing) {
    cio_addr a[4];
    char buf[CIO_ADDRSTRLEN];
    for (long n = 1; n <= 3; n++) { /* the job, the host, the port */
        memset(a, 0, sizeof a);
        cio_test_fail_alloc(n);
        int rc = cio_resolve("localhost", "8080", AF_INET, SOCK_STREAM, a, 4);
        cio_test_fail_alloc(0);
        CIO_ASSERT_EQ(rc, -ENOMEM);
        CIO_ASSERT_STREQ(cio_errmsg(), "resolve localhost: out of memory");
        CIO_ASSERT_EQ(a[0].len, 0); /* nothing written */
    }
    int n = cio_resolve("localhost", "8080", AF_INET, SOCK_STREAM, a, 4);
    CIO_ASSERT_GE(n, 1);
    CIO_ASSERT_STREQ(cio_addr_str(&a[0], buf, sizeof buf), "127.0.0.1:8080");
    /* Numeric hosts need no memory at all. */
    cio_test_fail_alloc(1);
    n = cio_resolve("127.0.0.1", "8080", AF_INET, SOCK_STREAM, a, 4);
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(n, 1);
}

/* Every allocation of a lookup failing in turn, past the job and its
 * copies too (the helper task, the thread pool's job): always -ENOMEM
 * naming the host, never a name-resolution failure, until one succeeds. */
CIO_TEST(dns_resolve_any_allocation_failing_is_enomem) {
    cio_addr a[4];
    int rc = -1;
    long n;
    for (n = 1; n < 40 && rc < 0; n++) {
        memset(a, 0, sizeof a);
        cio_test_fail_alloc(n);
        rc = cio_resolve("localhost", "80", AF_INET, SOCK_STREAM, a, 4);
        cio_test_fail_alloc(0);
        if (rc < 0) {
            CIO_ASSERT_EQ(rc, -ENOMEM);
            CIO_ASSERT(strncmp(cio_errmsg(), "resolve localhost", 17) == 0);
            CIO_ASSERT_EQ(a[0].len, 0);
        }
    }
    CIO_ASSERT_GE(rc, 1);
    CIO_ASSERT_GT(n, 4); /* the failures reached past the job's own copies */
    /* No host (a passive lookup): the message has no "(null)". */
    cio_test_fail_alloc(2); /* the copy of the port */
    rc = cio_resolve(NULL, "80", AF_INET, SOCK_STREAM, a, 4);
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(rc, -ENOMEM);
    CIO_ASSERT(strstr(cio_errmsg(), "(null)") == NULL);
}

/* A listener whose accept queue is full drops further SYNs, so a connect
 * to it hangs: the connect timeout must end it. */
CIO_TEST(tcp_connect_timeout_and_cancel) {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CIO_ASSERT_EQ(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    CIO_ASSERT_EQ(listen(lfd, 0), 0);
    getsockname(lfd, (struct sockaddr *)&a, &len);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    char p[16];
    snprintf(p, sizeof p, "%d", ntohs(a.sin_port));
    cio_connect_opts o = {.timeout = 150 * CIO_MS};
    cio_stream *s = NULL;
    int64_t t0 = cio_now();
    int rc = cio_tcp_connect(&s, "127.0.0.1", p, &o);
    int64_t took = cio_now() - t0;
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    CIO_ASSERT(strstr(cio_errmsg(), "timed out") != NULL);
    CIO_ASSERT_GE(took, 140 * CIO_MS);
    CIO_ASSERT_LT(took, 5 * CIO_SEC);
    /* A timeout scope of the caller works the same way. */
    CIO_TIMEOUT(50 * CIO_MS) {
        CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", p, NULL), -ETIMEDOUT);
    }
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

typedef struct {
    const char *port;
    int rc;
} connect_job;

static int connect_task(void *arg) {
    connect_job *j = arg;
    cio_stream *s = NULL;
    j->rc = cio_tcp_connect(&s, "127.0.0.1", j->port, NULL);
    if (s)
        cio_stream_close(s);
    return j->rc;
}

CIO_TEST(tcp_connect_cancelled) {
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 0);
    getsockname(lfd, (struct sockaddr *)&a, &len);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    char p[16];
    snprintf(p, sizeof p, "%d", ntohs(a.sin_port));
    connect_job j = {p, 1};
    cio_task *t = cio_spawn(connect_task, &j);
    CIO_ASSERT_EQ(cio_sleep(20 * CIO_MS), 0);
    CIO_ASSERT_EQ(j.rc, 1); /* still connecting */
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

CIO_TEST(bind_in_use_is_reported) {
    cio_server *a, *b;
    CIO_ASSERT_EQ(cio_tcp_serve(&a, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    CIO_ASSERT_EQ(cio_tcp_serve(&b, "127.0.0.1", port_of(a), echo_handler, NULL, NULL),
                  -EADDRINUSE);
    CIO_ASSERT(strstr(cio_errmsg(), "bind 127.0.0.1:") != NULL);
    cio_server_close(a, 0);
}

CIO_TEST(reuseport_shares_a_port) {
    cio_serve_opts o = {.reuseport = true};
    cio_server *a, *b;
    CIO_ASSERT_EQ(cio_tcp_serve(&a, "127.0.0.1", "0", echo_handler, NULL, &o), 0);
    CIO_ASSERT_EQ(cio_tcp_serve(&b, "127.0.0.1", port_of(a), echo_handler, NULL, &o), 0);
    for (int i = 0; i < 8; i++) {
        cio_stream *s;
        CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port_of(a), NULL), 0);
        CIO_ASSERT_EQ(echo_once(s, "shared\n"), 0);
        cio_stream_close(s);
    }
    cio_server_close(a, CIO_SEC);
    cio_server_close(b, CIO_SEC);
}

/* ---- many connections and fd accounting ---- */

typedef struct {
    const char *port;
    int n;
    int ok;
} client_job;

static int client_task(void *arg) {
    client_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        cio_stream *s;
        int rc = cio_tcp_connect(&s, "127.0.0.1", j->port, NULL);
        if (rc < 0)
            return rc;
        char msg[64];
        snprintf(msg, sizeof msg, "message %d\n", i);
        rc = echo_once(s, msg);
        int crc = cio_stream_close(s);
        if (rc < 0 || crc < 0)
            return rc < 0 ? rc : crc;
        j->ok++;
    }
    return 0;
}

CIO_TEST(many_clients_and_fd_counts) {
    int fds0 = cio_test_fd_count();
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    enum { NC = 50 };
    client_job jobs[NC];
    cio_task *ts[NC];
    long per = cio_test_scale(10);
    for (int i = 0; i < NC; i++) {
        jobs[i] = (client_job){port_of(srv), (int)per, 0};
        ts[i] = cio_spawn(client_task, &jobs[i]);
    }
    int st[NC];
    CIO_ASSERT_EQ(cio_gather(ts, NC, st), 0);
    for (int i = 0; i < NC; i++)
        CIO_ASSERT_EQ(jobs[i].ok, per);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds0);
}

/* ---- connection limit ---- */

typedef struct {
    int active, peak, served;
} limit_state;

static int greet_handler(cio_stream *s, void *arg) {
    limit_state *st = arg;
    st->served++;
    if (++st->active > st->peak)
        st->peak = st->active;
    cio_stream_write(s, "hi\n", 3);
    char buf[64];
    while (cio_stream_read(s, buf, sizeof buf) > 0) {
    }
    st->active--;
    return 0;
}

CIO_TEST(connection_limit) {
    limit_state st = {0};
    cio_serve_opts o = {.max_conns = 2};
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", greet_handler, &st, &o), 0);
    cio_stream *c[3];
    char line[16];
    for (int i = 0; i < 3; i++)
        CIO_ASSERT_EQ(cio_tcp_connect(&c[i], "127.0.0.1", port_of(srv), NULL), 0);
    CIO_ASSERT_EQ(cio_stream_readline(c[0], line, sizeof line), 3);
    CIO_ASSERT_EQ(cio_stream_readline(c[1], line, sizeof line), 3);
    /* The third waits in the backlog while two handlers run. */
    CIO_TIMEOUT(100 * CIO_MS) {
        CIO_ASSERT_EQ(cio_stream_readline(c[2], line, sizeof line), -ETIMEDOUT);
    }
    CIO_ASSERT_EQ(cio_server_conns(srv), 2);
    CIO_ASSERT_EQ(st.served, 2);
    cio_stream_close(c[0]);
    CIO_ASSERT_EQ(cio_stream_readline(c[2], line, sizeof line), 3);
    CIO_ASSERT_STREQ(line, "hi\n");
    CIO_ASSERT_EQ(st.peak, 2);
    cio_stream_close(c[1]);
    cio_stream_close(c[2]);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
    CIO_ASSERT_EQ(st.served, 3);
}

/* ---- graceful shutdown ---- */

static int slow_handler(cio_stream *s, void *arg) {
    int *finished = arg;
    cio_stream_write(s, "working\n", 8);
    int rc = cio_sleep(30 * CIO_MS);
    if (rc < 0)
        return rc;
    cio_stream_write(s, "done\n", 5);
    (*finished)++;
    return 0;
}

CIO_TEST(graceful_shutdown_waits_for_handlers) {
    int finished = 0;
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", slow_handler, &finished, NULL), 0);
    char port[16];
    snprintf(port, sizeof port, "%s", port_of(srv));
    cio_stream *c[3];
    char line[32];
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_EQ(cio_tcp_connect(&c[i], "127.0.0.1", port, NULL), 0);
        CIO_ASSERT_EQ(cio_stream_readline(c[i], line, sizeof line), 8);
    }
    /* Handlers finish within the grace: none cancelled; new connections
     * are refused at once. */
    CIO_ASSERT_EQ(cio_server_close(srv, 5 * CIO_SEC), 0);
    CIO_ASSERT_EQ(finished, 3);
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_EQ(cio_stream_readline(c[i], line, sizeof line), 5);
        CIO_ASSERT_EQ(cio_stream_readline(c[i], line, sizeof line), 0); /* closed */
        cio_stream_close(c[i]);
    }
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port, NULL), -ECONNREFUSED);
}

CIO_TEST(shutdown_cancels_after_grace) {
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    cio_stream *c[2];
    for (int i = 0; i < 2; i++) {
        CIO_ASSERT_EQ(cio_tcp_connect(&c[i], "127.0.0.1", port_of(srv), NULL), 0);
        CIO_ASSERT_EQ(echo_once(c[i], "x\n"), 0);
    }
    /* Echo handlers wait for input forever: the grace runs out. */
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_server_close(srv, 20 * CIO_MS), 2);
    CIO_ASSERT_GE(cio_now() - t0, 19 * CIO_MS);
    char line[8];
    for (int i = 0; i < 2; i++) {
        CIO_ASSERT_EQ(cio_stream_readline(c[i], line, sizeof line), 0);
        cio_stream_close(c[i]);
    }
}

typedef struct {
    cio_server *srv;
    int rc;
} wait_job;

static int server_wait_task(void *arg) {
    wait_job *j = arg;
    j->rc = cio_server_wait(j->srv);
    return 0;
}

CIO_TEST(server_wait_cancel_and_close) {
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    wait_job j = {srv, 1};
    cio_task *t = cio_spawn(server_wait_task, &j);
    cio_yield();
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    /* The server still serves. */
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port_of(srv), NULL), 0);
    CIO_ASSERT_EQ(echo_once(s, "still here\n"), 0);
    cio_stream_close(s);
    /* A second waiter is released by close. */
    j.rc = 1;
    t = cio_spawn(server_wait_task, &j);
    cio_yield();
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, 0);
}

/* ---- EMFILE ---- */

CIO_TEST(accept_emfile_sheds_without_spinning) {
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)cio_server_port(srv))};
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    /* Clients connect with blocking connects (the kernel completes them
     * into the backlog) before the server accepts; then the fd limit
     * leaves the server no room at all. */
    enum { NC = 4 };
    int cl[NC];
    for (int i = 0; i < NC; i++) {
        cl[i] = socket(AF_INET, SOCK_STREAM, 0);
        CIO_ASSERT_EQ(connect(cl[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    int highest = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            highest = fd;
    /* Plug the holes below the highest fd so that not one is free. */
    static int plugs[4096];
    int nplugs = 0;
    for (int fd = 0; fd < highest && nplugs < 4096; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            plugs[nplugs++] = open("/dev/null", O_RDONLY);
    struct rlimit low = {(rlim_t)highest + 1, old.rlim_max};
    CIO_ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    CIO_ASSERT_EQ(cio_sleep(200 * CIO_MS), 0);
    getrusage(RUSAGE_SELF, &r1);
    long cpu_us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000L +
                  (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
                  (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000L +
                  (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    /* The shed clients see their connection closed rather than hanging. */
    int closed = 0;
    for (int i = 0; i < NC; i++) {
        struct pollfd p = {cl[i], POLLIN, 0};
        char c;
        if (poll(&p, 1, 0) == 1 && recv(cl[i], &c, 1, MSG_DONTWAIT) <= 0)
            closed++;
    }
    CIO_ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    for (int i = 0; i < nplugs; i++)
        close(plugs[i]);
    CIO_ASSERT_GE(closed, 1);
    CIO_ASSERT_LT(cpu_us, 100000); /* paused, not spinning */
    for (int i = 0; i < NC; i++)
        close(cl[i]);
    /* With fds back, the server serves as before. */
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port_of(srv), NULL), 0);
    CIO_ASSERT_EQ(echo_once(s, "after EMFILE\n"), 0);
    cio_stream_close(s);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
}

/* ---- Unix sockets ---- */

CIO_TEST(unix_echo_roundtrip) {
    char path[256];
    snprintf(path, sizeof path, "%s/echo.sock", cio_test_tmpdir());
    cio_server *srv;
    cio_serve_opts o = {.unix_mode = 0600};
    CIO_ASSERT_EQ(cio_unix_serve(&srv, path, echo_handler, NULL, &o), 0);
    struct stat st;
    CIO_ASSERT_EQ(stat(path, &st), 0);
    CIO_ASSERT(S_ISSOCK(st.st_mode));
    CIO_ASSERT_EQ(st.st_mode & 0777, 0600);
    cio_stream *s;
    CIO_ASSERT_EQ(cio_unix_connect(&s, path, NULL), 0);
    CIO_ASSERT_EQ(echo_once(s, "over unix\n"), 0);
    cio_addr a;
    char buf[CIO_ADDRSTRLEN];
    CIO_ASSERT_EQ(cio_stream_peer(s, &a), 0);
    CIO_ASSERT_STREQ(cio_addr_str(&a, buf, sizeof buf), path);
    cio_stream_close(s);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
    CIO_ASSERT_EQ(stat(path, &st), -1); /* unlinked */
    CIO_ASSERT_EQ(cio_unix_connect(&s, path, NULL), -ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), path) != NULL);
}

CIO_TEST(unix_serve_replaces_stale_socket) {
    char path[256];
    snprintf(path, sizeof path, "%s/stale.sock", cio_test_tmpdir());
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cio_addr a;
    cio_addr_unix(&a, path);
    CIO_ASSERT_EQ(bind(fd, &a.u.sa, a.len), 0);
    close(fd); /* leaves the socket file behind, like a crashed server */
    cio_server *srv;
    CIO_ASSERT_EQ(cio_unix_serve(&srv, path, echo_handler, NULL, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(cio_unix_connect(&s, path, NULL), 0);
    CIO_ASSERT_EQ(echo_once(s, "fresh\n"), 0);
    cio_stream_close(s);
    cio_server_close(srv, CIO_SEC);
}

CIO_TEST(serve_argument_errors_and_server_addr) {
    cio_server *srv = (cio_server *)1;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT(srv == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_tcp_serve: no handler") != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/x.sock", cio_test_tmpdir());
    CIO_ASSERT_EQ(cio_unix_serve(&srv, path, NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "cio_unix_serve: no handler") != NULL);
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    CIO_ASSERT_EQ(cio_unix_serve(&srv, longpath, echo_handler, NULL, NULL), -ENAMETOOLONG);
    CIO_ASSERT(strstr(cio_errmsg(), "too long") != NULL);
    CIO_ASSERT_EQ(cio_unix_serve(&srv, "", echo_handler, NULL, NULL), -ENAMETOOLONG);
    CIO_ASSERT(strstr(cio_errmsg(), "empty") != NULL);

    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    cio_addr a;
    CIO_ASSERT_EQ(cio_server_addr(srv, &a), 0);
    CIO_ASSERT_EQ(cio_addr_port(&a), cio_server_port(srv));
    char buf[CIO_ADDRSTRLEN], want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", cio_server_port(srv));
    CIO_ASSERT_STREQ(cio_addr_str(&a, buf, sizeof buf), want);
    cio_stream *s;
    CIO_ASSERT_EQ(cio_connect_addr(&s, &a, NULL), 0); /* the address is usable */
    CIO_ASSERT_EQ(echo_once(s, "via addr\n"), 0);
    cio_stream_close(s);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
}

/* Only a socket file is replaced: any other file at the path stays, and
 * serving fails naming the path. */
CIO_TEST(unix_serve_leaves_a_non_socket_file_alone) {
    char path[256];
    snprintf(path, sizeof path, "%s/not-a-socket", cio_test_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CIO_ASSERT_GE(fd, 0);
    CIO_ASSERT_EQ(write(fd, "data", 4), 4);
    close(fd);
    cio_server *srv;
    CIO_ASSERT_EQ(cio_unix_serve(&srv, path, echo_handler, NULL, NULL), -EADDRINUSE);
    CIO_ASSERT(srv == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), path) != NULL);
    struct stat st;
    CIO_ASSERT_EQ(stat(path, &st), 0);
    CIO_ASSERT(S_ISREG(st.st_mode));
    CIO_ASSERT_EQ(st.st_size, 4);
}

/* ---- UDP ---- */

CIO_TEST(udp_roundtrip) {
    cio_udp *a, *b;
    CIO_ASSERT_EQ(cio_udp_open(&a, "127.0.0.1", "0"), 0);
    CIO_ASSERT_EQ(cio_udp_open(&b, "127.0.0.1", "0"), 0);
    cio_addr to, from;
    CIO_ASSERT_EQ(cio_udp_local(a, &to), 0);
    CIO_ASSERT_EQ(cio_udp_sendto(b, "ping", 4, &to), 4);
    char buf[16];
    CIO_ASSERT_EQ(cio_udp_recvfrom(a, buf, sizeof buf, &from), 4);
    CIO_ASSERT(memcmp(buf, "ping", 4) == 0);
    CIO_ASSERT_EQ(cio_addr_port(&from), cio_udp_port(b));
    CIO_ASSERT_EQ(cio_udp_sendto(a, "pong!", 5, &from), 5);
    CIO_ASSERT_EQ(cio_udp_recvfrom(b, buf, 3, NULL), 3); /* truncated */
    CIO_ASSERT(memcmp(buf, "pon", 3) == 0);
    /* Connected: send without an address. */
    CIO_ASSERT_EQ(cio_udp_connect(b, &to), 0);
    CIO_ASSERT_EQ(cio_udp_sendto(b, "again", 5, NULL), 5);
    CIO_ASSERT_EQ(cio_udp_recvfrom(a, buf, sizeof buf, NULL), 5);
    cio_udp_close(a);
    cio_udp_close(b);
}

CIO_TEST_VCLOCK(udp_recv_timeout) {
    cio_udp *u;
    CIO_ASSERT_EQ(cio_udp_open(&u, "127.0.0.1", "0"), 0);
    char buf[8];
    int64_t t0 = cio_now();
    CIO_TIMEOUT(3 * CIO_SEC) {
        CIO_ASSERT_EQ(cio_udp_recvfrom(u, buf, sizeof buf, NULL), -ETIMEDOUT);
    }
    CIO_ASSERT_EQ(cio_now() - t0, 3 * CIO_SEC);
    cio_udp_close(u);
}

static int udp_recv_task(void *arg) {
    char buf[8];
    return (int)cio_udp_recvfrom(arg, buf, sizeof buf, NULL);
}

CIO_TEST(udp_recv_cancelled_and_errors) {
    cio_udp *u;
    CIO_ASSERT_EQ(cio_udp_open(&u, "127.0.0.1", "0"), 0);
    int fd = cio_udp_fd(u);
    CIO_ASSERT_GE(fd, 0);
    cio_addr local;
    socklen_t len = sizeof local.u;
    CIO_ASSERT_EQ(getsockname(fd, &local.u.sa, &len), 0); /* the socket's own fd */
    CIO_ASSERT_EQ(ntohs(local.u.in.sin_port), cio_udp_port(u));
    cio_task *t = cio_spawn(udp_recv_task, u);
    CIO_ASSERT_EQ(cio_yield(), 0); /* t waits for a datagram */
    CIO_ASSERT(!cio_task_done(t));
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT(strstr(cio_errmsg(), "recvfrom") != NULL);
    t = cio_spawn(udp_recv_task, u);
    cio_cancel(t); /* before it first runs */
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);

    /* A second socket on the same port is refused, naming the address. */
    char port[16];
    snprintf(port, sizeof port, "%d", cio_udp_port(u));
    cio_udp *v = (cio_udp *)1;
    CIO_ASSERT_EQ(cio_udp_open(&v, "127.0.0.1", port), -EADDRINUSE);
    CIO_ASSERT(v == NULL);
    char want[64];
    snprintf(want, sizeof want, "bind 127.0.0.1:%s", port);
    CIO_ASSERT(strstr(cio_errmsg(), want) != NULL);

    /* A datagram over 64 KiB cannot be sent. */
    size_t big = 70000;
    char *buf = malloc(big);
    CIO_ASSERT(buf != NULL);
    memset(buf, 'x', big);
    CIO_ASSERT_EQ(cio_udp_local(u, &local), 0);
    CIO_ASSERT_EQ(cio_udp_sendto(u, buf, big, &local), -EMSGSIZE);
    free(buf);
    CIO_ASSERT(strstr(cio_errmsg(), "sendto 127.0.0.1:") != NULL);
    cio_udp_close(u);
    cio_udp_close(NULL);
}

/* connect(2) on a UDP socket: sends without an address go to the peer,
 * only the peer's datagrams arrive, an ICMP refusal comes back as
 * -ECONNREFUSED, AF_UNSPEC dissolves the association, and an address the
 * socket cannot use is refused with that address named. */
/* NULL sockets, buffers and addresses are -EINVAL with a message, never a
 * crash. */
CIO_TEST(udp_null_arguments_are_einval) {
    cio_udp *u;
    CIO_ASSERT_EQ(cio_udp_open(&u, "127.0.0.1", "0"), 0);
    cio_addr a;
    char buf[4];
    CIO_ASSERT_EQ(cio_udp_open(NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "udp open") != NULL);
    CIO_ASSERT_EQ(cio_udp_connect(NULL, &a), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "udp connect: the socket is NULL") != NULL);
    CIO_ASSERT_EQ(cio_udp_connect(u, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "udp connect: the address is NULL") != NULL);
    CIO_ASSERT_EQ(cio_udp_sendto(NULL, "x", 1, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_udp_sendto(u, NULL, 1, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "udp sendto: the buffer is NULL") != NULL);
    CIO_ASSERT_EQ(cio_udp_recvfrom(NULL, buf, sizeof buf, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_udp_recvfrom(u, NULL, 4, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "udp recvfrom: the buffer is NULL") != NULL);
    CIO_ASSERT_EQ(cio_udp_local(NULL, &a), -EINVAL);
    CIO_ASSERT_EQ(cio_udp_local(u, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_udp_port(NULL), -1);
    CIO_ASSERT_EQ(cio_udp_fd(NULL), -1);
    cio_udp_close(NULL);
    CIO_ASSERT_GT(cio_udp_port(u), 0); /* the socket still works */
    cio_udp_close(u);
}

CIO_TEST(udp_connect_filters_peers_and_names_bad_addresses) {
    cio_udp *a, *b, *c;
    CIO_ASSERT_EQ(cio_udp_open(&a, "127.0.0.1", "0"), 0);
    CIO_ASSERT_EQ(cio_udp_open(&b, "127.0.0.1", "0"), 0);
    CIO_ASSERT_EQ(cio_udp_open(&c, "127.0.0.1", "0"), 0);
    cio_addr aa, ba;
    CIO_ASSERT_EQ(cio_udp_local(a, &aa), 0);
    CIO_ASSERT_EQ(cio_udp_local(b, &ba), 0);
    char buf[16], want[600];

    /* Unconnected, a send needs an address. */
    CIO_ASSERT_EQ(cio_udp_sendto(a, "x", 1, NULL), -EDESTADDRREQ);
    snprintf(want, sizeof want, "sendto udp fd %d: ", cio_udp_fd(a));
    CIO_ASSERT(strncmp(cio_errmsg(), want, strlen(want)) == 0);

    /* Connected to b: c's datagram is dropped, b's arrives. */
    CIO_ASSERT_EQ(cio_udp_connect(a, &ba), 0);
    CIO_ASSERT_EQ(cio_udp_sendto(c, "from-c", 6, &aa), 6);
    CIO_ASSERT_EQ(cio_udp_sendto(b, "from-b", 6, &aa), 6);
    cio_addr from;
    CIO_ASSERT_EQ(cio_udp_recvfrom(a, buf, sizeof buf, &from), 6);
    CIO_ASSERT(memcmp(buf, "from-b", 6) == 0);
    CIO_ASSERT_EQ(cio_addr_port(&from), cio_udp_port(b));
    CIO_ASSERT_EQ(cio_udp_sendto(a, "to-b", 4, NULL), 4);
    CIO_ASSERT_EQ(cio_udp_recvfrom(b, buf, sizeof buf, &from), 4);
    CIO_ASSERT_EQ(cio_addr_port(&from), cio_udp_port(a));
    CIO_TIMEOUT(50 * CIO_MS) { /* c's datagram never shows up later either */
        CIO_ASSERT_EQ(cio_udp_recvfrom(a, buf, sizeof buf, NULL), -ETIMEDOUT);
    }

    /* Connected to a port nobody has: the kernel's refusal reaches the
     * waiting recvfrom as -ECONNREFUSED. */
    cio_addr nobody;
    char port[16];
    snprintf(port, sizeof port, "%d", free_port());
    CIO_ASSERT_EQ(cio_addr_parse(&nobody, "127.0.0.1", port), 0);
    CIO_ASSERT_EQ(cio_udp_connect(c, &nobody), 0);
    CIO_ASSERT_EQ(cio_udp_sendto(c, "hello?", 6, NULL), 6);
    ssize_t rc = 0;
    CIO_TIMEOUT(5 * CIO_SEC) { rc = cio_udp_recvfrom(c, buf, sizeof buf, NULL); }
    CIO_ASSERT_EQ(rc, -ECONNREFUSED);
    snprintf(want, sizeof want, "recvfrom udp fd %d: ", cio_udp_fd(c));
    CIO_ASSERT(strncmp(cio_errmsg(), want, strlen(want)) == 0);
    CIO_ASSERT(strstr(cio_errmsg(), "refused") != NULL);

    /* AF_UNSPEC dissolves the association: no default peer any more. */
    cio_addr unspec = {.len = sizeof(struct sockaddr)};
    unspec.u.sa.sa_family = AF_UNSPEC;
    CIO_ASSERT_EQ(cio_udp_connect(a, &unspec), 0);
    CIO_ASSERT_EQ(cio_udp_sendto(a, "x", 1, NULL), -EDESTADDRREQ);

    /* Addresses an IPv4 socket cannot connect to, each named. */
    cio_addr unset = {0};
    CIO_ASSERT_EQ(cio_udp_connect(a, &unset), -EINVAL);
    CIO_ASSERT_STREQ(cio_errmsg(), "udp connect (no address): Invalid argument");
    cio_addr v6;
    CIO_ASSERT_EQ(cio_addr_parse(&v6, "::1", "9"), 0);
    CIO_ASSERT_EQ(cio_udp_connect(a, &v6), -EAFNOSUPPORT);
    CIO_ASSERT(strncmp(cio_errmsg(), "udp connect [::1]:9: ", 21) == 0);
    cio_addr un;
    char path[512];
    snprintf(path, sizeof path, "%s/udp.sock", cio_test_tmpdir());
    CIO_ASSERT_EQ(cio_addr_unix(&un, path), 0);
    CIO_ASSERT_EQ(cio_udp_connect(a, &un), -EAFNOSUPPORT);
    snprintf(want, sizeof want, "udp connect %s: ", path);
    CIO_ASSERT(strncmp(cio_errmsg(), want, strlen(want)) == 0);
    /* A failed connect leaves the socket as it was: still usable. */
    CIO_ASSERT_EQ(cio_udp_sendto(a, "ok", 2, &ba), 2);
    CIO_ASSERT_EQ(cio_udp_recvfrom(b, buf, sizeof buf, NULL), 2);

    /* A host the resolver cannot find: CIO_EDNS naming it, nothing opened. */
    cio_udp *u = (cio_udp *)1;
    CIO_ASSERT_EQ(cio_udp_open(&u, "no-such-host.invalid", "0"), CIO_EDNS);
    CIO_ASSERT(u == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "resolve no-such-host.invalid") != NULL);
    cio_udp_close(a);
    cio_udp_close(b);
    cio_udp_close(c);
}

/* ---- UDP with a full send buffer ----
 * Loopback UDP never reports a full send buffer (the kernel hands every
 * datagram to the receiver at once), so this program defines sendto(2) and
 * send(2) itself: the statically linked library calls these, which report
 * EAGAIN for one chosen socket while udp_full_left > 0 and pass every other
 * call to the kernel. */
static _Atomic int udp_full_fd = -1;
static long udp_full_left, udp_full_calls;

static bool udp_fake_full(int fd) {
    if (fd != udp_full_fd || udp_full_left == 0)
        return false;
    udp_full_left--;
    udp_full_calls++;
    errno = EAGAIN;
    return true;
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
               socklen_t len) {
    if (udp_fake_full(fd))
        return -1;
    return syscall(SYS_sendto, fd, buf, n, flags, a, len);
}

ssize_t send(int fd, const void *buf, size_t n, int flags) {
    if (udp_fake_full(fd))
        return -1;
    return syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

/* Nothing waits in a's receive queue (loopback delivery is synchronous). */
static bool udp_queue_empty(cio_udp *a) {
    char c;
    return recv(cio_udp_fd(a), &c, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
}

static cio_addr udp_send_to;
static int udp_send_task(void *arg) { return (int)cio_udp_sendto(arg, "late", 4, &udp_send_to); }
static int udp_send_connected_task(void *arg) { return (int)cio_udp_sendto(arg, "late", 4, NULL); }

/* Runs a send from b that finds the buffer full three times. Whenever the
 * sender waits after a refusal, a datagram from a to b makes "room": it
 * wakes b's poller entry, which then reports b writable, as the kernel does
 * when a full buffer drains. *rooms: how many times that was needed. */
static void udp_send_through_full_buffer(cio_udp *a, cio_udp *b, int (*fn)(void *), int *rooms) {
    cio_addr bto;
    CIO_ASSERT_EQ(cio_udp_local(b, &bto), 0);
    udp_full_fd = cio_udp_fd(b);
    udp_full_left = 3;
    udp_full_calls = 0;
    cio_task *t = cio_spawn(fn, b);
    long seen = 0;
    *rooms = 0;
    for (long i = 0; i < 1000000 && !cio_task_done(t); i++) {
        if (cio__task_parked(t) && udp_full_calls != seen) {
            seen = udp_full_calls;
            CIO_ASSERT_EQ(cio_udp_sendto(a, "room", 4, &bto), 4);
            (*rooms)++;
        }
        CIO_ASSERT_EQ(cio_yield(), 0);
    }
    CIO_ASSERT_EQ(cio_join(t), 4);
    CIO_ASSERT_EQ(udp_full_calls, 3);
    udp_full_fd = -1;
    char buf[16];
    CIO_ASSERT_EQ(cio_udp_recvfrom(a, buf, sizeof buf, NULL), 4);
    CIO_ASSERT(memcmp(buf, "late", 4) == 0);
    CIO_ASSERT(udp_queue_empty(a)); /* sent once */
    for (int i = 0; i < *rooms; i++)
        CIO_ASSERT_EQ(cio_udp_recvfrom(b, buf, sizeof buf, NULL), 4);
    CIO_ASSERT(udp_queue_empty(b));
}

/* A send that finds the buffer full waits (it does not spin) until the
 * socket is writable again and tries again: the datagram goes out whole,
 * once; connected too. */
CIO_TEST(udp_send_waits_while_the_buffer_is_full) {
    cio_udp *a, *b;
    CIO_ASSERT_EQ(cio_udp_open(&a, "127.0.0.1", "0"), 0);
    CIO_ASSERT_EQ(cio_udp_open(&b, "127.0.0.1", "0"), 0);
    CIO_ASSERT_EQ(cio_udp_local(a, &udp_send_to), 0);
    /* At least two of the three refusals waited for room (the first may
     * find a writable edge the poller reported before). */
    int rooms = 0;
    udp_send_through_full_buffer(a, b, udp_send_task, &rooms);
    CIO_ASSERT_GE(rooms, 2);
    CIO_ASSERT_EQ(cio_udp_connect(b, &udp_send_to), 0);
    rooms = 0;
    udp_send_through_full_buffer(a, b, udp_send_connected_task, &rooms);
    CIO_ASSERT_GE(rooms, 2);
    cio_udp_close(a);
    cio_udp_close(b);
}

/* Waiting for room is a suspension point: cancellation and a timeout end
 * the send with the operation named, nothing half sent, and the socket
 * keeps working. */
CIO_TEST(udp_send_cancelled_or_timed_out_while_the_buffer_is_full) {
    cio_udp *a, *b;
    CIO_ASSERT_EQ(cio_udp_open(&a, "127.0.0.1", "0"), 0);
    CIO_ASSERT_EQ(cio_udp_open(&b, "127.0.0.1", "0"), 0);
    CIO_ASSERT_EQ(cio_udp_local(a, &udp_send_to), 0);
    udp_full_fd = cio_udp_fd(b);
    udp_full_left = LONG_MAX;
    udp_full_calls = 0;

    cio_task *t = cio_spawn(udp_send_task, b);
    CIO_ASSERT_EQ(cio_yield(), 0); /* t found the buffer full and waits */
    CIO_ASSERT_EQ(udp_full_calls, 1);
    CIO_ASSERT(!cio_task_done(t));
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    CIO_ASSERT(strstr(cio_errmsg(), "sendto 127.0.0.1:") != NULL);

    long before = udp_full_calls;
    CIO_TIMEOUT(5 * CIO_MS) {
        CIO_ASSERT_EQ(cio_udp_sendto(b, "late", 4, &udp_send_to), -ETIMEDOUT);
    }
    CIO_ASSERT_GT(udp_full_calls, before);
    CIO_ASSERT(strstr(cio_errmsg(), "sendto 127.0.0.1:") != NULL);
    CIO_ASSERT(udp_queue_empty(a));

    udp_full_fd = -1;
    char buf[8];
    CIO_ASSERT_EQ(cio_udp_sendto(b, "room", 4, &udp_send_to), 4);
    CIO_ASSERT_EQ(cio_udp_recvfrom(a, buf, sizeof buf, NULL), 4);
    CIO_ASSERT(memcmp(buf, "room", 4) == 0);
    cio_udp_close(a);
    cio_udp_close(b);
}

/* A family filter the host cannot match: the numeric shortcut does not
 * apply, and the resolver's refusal is CIO_EDNS naming host and port, with
 * nothing written. (The "no usable address" return after a successful
 * getaddrinfo cannot be reached: getaddrinfo never succeeds with an empty
 * list, and every address it gives fits a cio_addr.) */
CIO_TEST(dns_family_filter_that_matches_nothing_is_edns) {
    cio_addr a[2];
    memset(a, 0, sizeof a);
    CIO_ASSERT_EQ(cio_resolve("::1", "80", AF_INET, SOCK_DGRAM, a, 2), CIO_EDNS);
    CIO_ASSERT(strncmp(cio_errmsg(), "resolve ::1:80: ", 16) == 0);
    CIO_ASSERT_EQ(a[0].len, 0);
    CIO_ASSERT_EQ(cio_resolve("127.0.0.1", "53", AF_INET6, SOCK_DGRAM, a, 2), CIO_EDNS);
    CIO_ASSERT(strncmp(cio_errmsg(), "resolve 127.0.0.1:53: ", 22) == 0);
    CIO_ASSERT_EQ(a[0].len, 0);
    /* The same hosts with a matching family are parsed in place. */
    CIO_ASSERT_EQ(cio_resolve("::1", "80", AF_INET6, SOCK_DGRAM, a, 2), 1);
    CIO_ASSERT_EQ(a[0].u.sa.sa_family, AF_INET6);
}

static int never_runs(void *arg) {
    (void)arg;
    return 0;
}

/* The helper task that hands a lookup to the pool cannot be spawned (no
 * free task handle, and no memory for a new block of them): -ENOMEM naming
 * the host, the job freed, and the next lookup works. The handles of the
 * loop's first block are taken by tasks that never run, until a spawn has
 * to allocate; that allocation is then the lookup's fourth (after its job
 * and the copies of host and port). */
CIO_TEST(dns_helper_spawn_failure_is_enomem_naming_the_host) {
    enum { MAX = 1024 };
    static cio_task *held[MAX];
    int n = 0;
    for (;;) {
        CIO_ASSERT(n < MAX);
        cio_test_fail_alloc(1);
        cio_task *t = cio_spawn(never_runs, NULL);
        cio_test_fail_alloc(0);
        if (!t)
            break; /* the block is full: the next spawn must allocate */
        held[n++] = t;
    }
    CIO_ASSERT_EQ(errno, ENOMEM);
    CIO_ASSERT_GT(n, 0);
    cio_addr a[2];
    memset(a, 0, sizeof a);
    cio_test_fail_alloc(4);
    int rc = cio_resolve("localhost", "80", AF_INET, SOCK_STREAM, a, 2);
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(rc, -ENOMEM);
    CIO_ASSERT_STREQ(cio_errmsg(), "resolve localhost: out of memory");
    CIO_ASSERT_EQ(a[0].len, 0);
    for (int i = 0; i < n; i++) /* all before any join lets them run */
        cio_cancel(held[i]);
    for (int i = 0; i < n; i++)
        CIO_ASSERT_EQ(cio_join(held[i]), -ECANCELED);
    rc = cio_resolve("localhost", "80", AF_INET, SOCK_STREAM, a, 2);
    CIO_ASSERT_GE(rc, 1);
    CIO_ASSERT_EQ(cio_addr_port(&a[0]), 80);
}

/* ---- a peer that never reads ---- */

static int flood_handler(cio_stream *s, void *arg) {
    (void)arg;
    static char big[8 << 20];
    /* Queue far more than the socket buffers hold, then return: the
     * server's close must give up on the flush after close_timeout. */
    return cio_stream_write(s, big, sizeof big);
}

CIO_TEST(close_timeout_frees_handler_of_non_reading_peer) {
    cio_serve_opts o = {.close_timeout = 50 * CIO_MS};
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", flood_handler, NULL, &o), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port_of(srv), NULL), 0);
    CIO_ASSERT_GT(cio_stream_fill(s, 1), 0); /* the flood has begun */
    int64_t t0 = cio_now();
    while (cio_server_conns(srv) > 0 && cio_now() - t0 < 5 * CIO_SEC)
        cio_sleep(5 * CIO_MS);
    CIO_ASSERT_EQ(cio_server_conns(srv), 0);
    CIO_ASSERT_GE(cio_now() - t0, 30 * CIO_MS);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
}

/* ---- SO_REUSEPORT across loops in threads ---- */

static atomic_int stop_thread_server;
static _Atomic int served_by[2];

typedef struct {
    int idx;
    int port;
    int rc;
    atomic_int ready;
} thread_server;

static int tagged_echo(cio_stream *s, void *arg) {
    thread_server *ts = arg;
    atomic_fetch_add(&served_by[ts->idx], 1);
    return echo_handler(s, NULL);
}

static int thread_server_main(void *arg) {
    thread_server *ts = arg;
    char p[16];
    snprintf(p, sizeof p, "%d", ts->port);
    cio_serve_opts o = {.reuseport = true};
    cio_server *srv;
    ts->rc = cio_tcp_serve(&srv, "127.0.0.1", p, tagged_echo, ts, &o);
    atomic_store(&ts->ready, 1);
    if (ts->rc < 0)
        return ts->rc;
    while (!atomic_load(&stop_thread_server))
        cio_sleep(2 * CIO_MS);
    cio_server_close(srv, CIO_SEC);
    return 0;
}

static void *thread_server_thread(void *arg) {
    cio_run_opts ro = {.no_sigint = true};
    cio_run_with(thread_server_main, arg, &ro);
    return NULL;
}

CIO_TEST(reuseport_loops_in_two_threads) {
    atomic_store(&stop_thread_server, 0);
    thread_server main_srv = {.idx = 0}, other = {.idx = 1};
    cio_serve_opts o = {.reuseport = true};
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", tagged_echo, &main_srv, &o), 0);
    other.port = cio_server_port(srv);
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, thread_server_thread, &other), 0);
    while (!atomic_load(&other.ready))
        cio_sleep(CIO_MS);
    CIO_ASSERT_EQ(other.rc, 0);
    /* The kernel spreads connections by their addresses: with 40 of them
     * both loops get some (the chance of not is 2^-39). */
    for (int i = 0; i < 40; i++) {
        cio_stream *s;
        CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port_of(srv), NULL), 0);
        CIO_ASSERT_EQ(echo_once(s, "which loop?\n"), 0);
        cio_stream_close(s);
    }
    atomic_store(&stop_thread_server, 1);
    pthread_join(th, NULL);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
    CIO_ASSERT_EQ(atomic_load(&served_by[0]) + atomic_load(&served_by[1]), 40);
    CIO_ASSERT_GT(atomic_load(&served_by[0]), 0);
    CIO_ASSERT_GT(atomic_load(&served_by[1]), 0);
}

/* ---- many concurrent connections ---- */

typedef struct {
    const char *port;
    cio_stream *s;
    int rc;
} hold_job;

static int hold_task(void *arg) {
    hold_job *j = arg;
    j->rc = cio_tcp_connect(&j->s, "127.0.0.1", j->port, NULL);
    if (j->rc == 0)
        j->rc = echo_once(j->s, "held\n");
    return j->rc;
}

CIO_TEST(many_concurrent_connections) {
    int n = (int)cio_test_scale(500);
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    hold_job *jobs = calloc((size_t)n, sizeof *jobs);
    cio_task **ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) {
        jobs[i].port = port_of(srv);
        ts[i] = cio_spawn(hold_task, &jobs[i]);
    }
    CIO_ASSERT_EQ(cio_gather(ts, (size_t)n, NULL), 0);
    CIO_ASSERT_EQ(cio_server_conns(srv), n); /* all open at once */
    for (int i = 0; i < n; i++)
        cio_stream_close(jobs[i].s);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
    free(jobs);
    free(ts);
}

/* ---- allocation failures ---- */

/* Fails the n-th allocation from the start of a connect + echo + close, for
 * every n until a run succeeds: each failure must come back as a clean
 * error on one side or the other (and the leak check at the end of the
 * test sees everything freed, every fd closed). */
CIO_TEST(allocation_failures_are_clean) {
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    int fds0 = cio_test_fd_count();
    bool succeeded = false;
    for (long n = 1; n < 200 && !succeeded; n++) {
        cio_stream *s = NULL;
        cio_test_fail_alloc(n);
        int rc = cio_tcp_connect(&s, "127.0.0.1", port_of(srv), NULL);
        if (rc == 0) {
            CIO_TIMEOUT(200 * CIO_MS) {
                rc = echo_once(s, "survive\n");
            }
            int crc = cio_stream_close(s);
            succeeded = rc == 0 && crc == 0;
        } else {
            CIO_ASSERT_EQ(rc, -ENOMEM);
            CIO_ASSERT(s == NULL);
        }
        cio_test_fail_alloc(0);
        /* Let the server side finish with this connection. */
        for (int i = 0; i < 100 && cio_server_conns(srv) > 0; i++)
            cio_sleep(CIO_MS);
    }
    CIO_ASSERT(succeeded);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds0);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
}

/* A NULL address, output pointer or server is -EINVAL naming the call;
 * the getters give -1, 0 or "(no address)". */
#define EXPECT_EINVAL(call, text)                                            \
    do {                                                                     \
        CIO_ASSERT_EQ((long)(call), -EINVAL);                                \
        CIO_ASSERT(strstr(cio_errmsg(), text) != NULL);                      \
    } while (0)
static int null_handler(cio_stream *s, void *arg) {
    (void)s, (void)arg;
    return 0;
}
CIO_TEST(net_calls_with_null_are_einval) {
    cio_addr a;
    char buf[CIO_ADDRSTRLEN];
    EXPECT_EINVAL(cio_addr_parse(NULL, "1.2.3.4", "80"), "cio_addr_parse: the address is NULL");
    EXPECT_EINVAL(cio_addr_unix(NULL, "/x"), "cio_addr_unix: the address is NULL");
    CIO_ASSERT_STREQ(cio_addr_str(NULL, buf, sizeof buf), "(no address)");
    CIO_ASSERT(cio_addr_str(&a, NULL, 10) == NULL);
    CIO_ASSERT_EQ(cio_addr_port(NULL), -1);
    EXPECT_EINVAL(cio_resolve("127.0.0.1", "80", 0, 0, NULL, 1), "cio_resolve: the output");
    EXPECT_EINVAL(cio_tcp_connect(NULL, "127.0.0.1", "1", NULL), "cio_tcp_connect: the output");
    EXPECT_EINVAL(cio_unix_connect(NULL, "/nonexistent", NULL), "cio_unix_connect: the output");
    EXPECT_EINVAL(cio_connect_addr(NULL, &a, NULL), "cio_connect_addr: the output pointer");
    cio_stream *s = (cio_stream *)&a;
    EXPECT_EINVAL(cio_connect_addr(&s, NULL, NULL), "cio_connect_addr: the address is NULL");
    CIO_ASSERT(s == NULL);
    EXPECT_EINVAL(cio_tcp_serve(NULL, "127.0.0.1", "0", null_handler, NULL, NULL),
                  "cio_tcp_serve: the output pointer is NULL");
    EXPECT_EINVAL(cio_unix_serve(NULL, "/nonexistent", null_handler, NULL, NULL),
                  "cio_unix_serve: the output pointer is NULL");
    CIO_ASSERT_EQ(cio_server_port(NULL), -1);
    CIO_ASSERT_EQ(cio_server_conns(NULL), 0);
    EXPECT_EINVAL(cio_server_addr(NULL, &a), "cio_server_addr: the server is NULL");
    EXPECT_EINVAL(cio_server_wait(NULL), "cio_server_wait: the server is NULL");
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", null_handler, NULL, NULL), 0);
    EXPECT_EINVAL(cio_server_addr(srv, NULL), "cio_server_addr: the address is NULL");
    CIO_ASSERT_EQ(cio_server_close(srv, 0), 0);
}

/* The lookup's helper task cannot get a stack: the asking task hears of
 * it at once, -ENOMEM, instead of waiting for a lookup that never starts. */
CIO_TEST(dns_helper_without_a_stack_answers_at_once) {
    static cio_task *ts[600];
    int n_parked = stack_fill(ts, 600);
    CIO_ASSERT_GE(n_parked, 0);
    cio_addr a[4];
    int could_not_run = 0, rc = -1;
    for (long n = 1; n < 12 && rc < 0; n++) {
        int64_t t0 = cio_now();
        cio_test_fail_alloc(n);
        rc = cio_resolve("localhost", "80", AF_INET, SOCK_STREAM, a, 4);
        cio_test_fail_alloc(0);
        if (rc < 0) {
            CIO_ASSERT_EQ(rc, -ENOMEM);
            CIO_ASSERT_LT(cio_now() - t0, CIO_SEC); /* at once, not at a timeout */
            CIO_ASSERT(strstr(cio_errmsg(), "resolve localhost") != NULL);
            could_not_run += strstr(cio_errmsg(), "could not run: spawn: cannot map a task "
                                                  "stack") != NULL;
        }
    }
    CIO_ASSERT_GE(rc, 1);
    CIO_ASSERT_EQ(could_not_run, 1);
    CIO_ASSERT_EQ(stack_fill_release(ts, n_parked), n_parked ? -ECANCELED : 0);
}

/* A connection's handler task cannot get a stack: the server reports it,
 * closes that connection (nothing leaks: the harness counts fds) and
 * serves the next one. */
static int conn_could_not_start;
static void capture_conn_report(int level, const char *msg) {
    (void)level;
    conn_could_not_start += strstr(msg, "a connection handler could not start (spawn: cannot "
                                        "map a task stack)") != NULL;
}

/* Sends a byte and waits up to a second: 1 if it came back, 0 if the
 * server closed the connection, -1 if neither. */
static int poke(int fd) {
    if (write(fd, "x", 1) != 1)
        return 0;
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            char c;
            return read(fd, &c, 1) == 1 && c == 'x' ? 1 : 0;
        }
        cio_sleep(CIO_MS);
    }
    return -1;
}

CIO_TEST(serve_handler_without_a_stack_closes_that_connection) {
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, NULL), 0);
    CIO_ASSERT_EQ(cio_sleep(CIO_MS), 0); /* the acceptor waits; the timer heap exists */
    static cio_task *ts[600];
    int n_parked = stack_fill(ts, 600);
    CIO_ASSERT_GE(n_parked, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)cio_server_port(srv)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    conn_could_not_start = 0;
    cio__set_report_hook(capture_conn_report);
    int closed = 0, echoed = 0;
    for (long n = 1; n < 10 && !echoed; n++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CIO_ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        cio_test_fail_alloc(n);
        for (int k = 0; k < 5; k++)
            cio_sleep(CIO_MS); /* accept, spawn, first run */
        cio_test_fail_alloc(0);
        int r = poke(fd);
        CIO_ASSERT_GE(r, 0);
        closed += r == 0;
        echoed += r == 1;
        close(fd);
    }
    cio__set_report_hook(NULL);
    CIO_ASSERT_EQ(echoed, 1);
    CIO_ASSERT_GE(closed, 1);
    CIO_ASSERT_EQ(conn_could_not_start, 1);
    CIO_ASSERT_EQ(cio_server_close(srv, CIO_SEC), 0);
    CIO_ASSERT_EQ(stack_fill_release(ts, n_parked), n_parked ? -ECANCELED : 0);
}
