/* TLS tests: a throw-away CA and server certificate are made at run time
 * with the openssl command in the test's tmpdir; a cio TLS server on
 * 127.0.0.1 is then reached with verification on (passes), with the wrong
 * expected name and with an untrusted CA (both fail with CIO_ETLS and a
 * message that says why). */
#define _GNU_SOURCE
#include <cio/net.h>
#include <cio/test.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_test_util.h"

static char ca_pem[256], srv_pem[256], srv_key[256], cli_pem[256], cli_key[256];

/* Makes ca.pem, server.pem (CN=localhost, SAN localhost and 127.0.0.1,
 * signed by the CA) and server.key. 0 or -1. */
static int make_certs(void) {
    const char *d = cio_test_tmpdir();
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", d);
    snprintf(srv_pem, sizeof srv_pem, "%s/server.pem", d);
    snprintf(srv_key, sizeof srv_key, "%s/server.key", d);
    snprintf(cli_pem, sizeof cli_pem, "%s/client.pem", d);
    snprintf(cli_key, sizeof cli_key, "%s/client.key", d);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj '/CN=cio test CA' "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout server.key -out server.csr -subj '/CN=localhost' && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile ext.cnf && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout client.key -out client.csr -subj '/CN=cio test client' && "
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out client.pem -days 2",
             d);
    char full[4200];
    snprintf(full, sizeof full, "(%s) >/dev/null 2>&1", cmd);
    return system(full) == 0 ? 0 : -1;
}

typedef struct {
    cio_tls_ctx *server_ctx;
    cio_server *srv;
    char port[16];
} tls_env;

static int env_start(tls_env *e, const char *alpn) {
    if (make_certs() < 0)
        return -1;
    cio_tls_opts so = {.server = true, .cert_file = srv_pem, .key_file = srv_key, .alpn = alpn};
    e->server_ctx = cio_tls_ctx_new(&so);
    if (!e->server_ctx)
        return -1;
    cio_serve_opts o = {.tls_ctx = e->server_ctx, .handshake_timeout = 2 * CIO_SEC};
    if (cio_tcp_serve(&e->srv, "127.0.0.1", "0", echo_handler, NULL, &o) < 0)
        return -1;
    snprintf(e->port, sizeof e->port, "%d", cio_server_port(e->srv));
    return 0;
}

static void env_stop(tls_env *e) {
    cio_server_close(e->srv, CIO_SEC);
    cio_tls_ctx_free(e->server_ctx);
}

static cio_tls_ctx *client_ctx(const char *ca) {
    cio_tls_opts co = {.ca_file = ca};
    return cio_tls_ctx_new(&co);
}

CIO_TEST(tls_verified_echo) {
    tls_env e;
    CIO_ASSERT_EQ(env_start(&e, NULL), 0);
    cio_tls_ctx *cc = client_ctx(ca_pem);
    CIO_ASSERT(cc != NULL);
    cio_connect_opts o = {.tls_ctx = cc};
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "localhost", e.port, &o), 0);
    CIO_ASSERT(cio_stream_is_tls(s));
    CIO_ASSERT_STREQ(cio_stream_tls_version(s), "TLSv1.3");
    CIO_ASSERT_EQ(cio_stream_write(s, "secret hello\n", 13), 0);
    char line[64];
    CIO_ASSERT_EQ(cio_stream_readline(s, line, sizeof line), 13);
    CIO_ASSERT_STREQ(line, "secret hello\n");
    CIO_ASSERT_EQ(cio_stream_close(s), 0);
    /* By IP address: checked against the certificate's IP SAN. */
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", e.port, &o), 0);
    CIO_ASSERT_EQ(cio_stream_write(s, "by ip\n", 6), 0);
    CIO_ASSERT_EQ(cio_stream_readline(s, line, sizeof line), 6);
    cio_stream_close(s);
    cio_tls_ctx_free(cc);
    env_stop(&e);
}

CIO_TEST(tls_wrong_name_fails) {
    tls_env e;
    CIO_ASSERT_EQ(env_start(&e, NULL), 0);
    cio_tls_ctx *cc = client_ctx(ca_pem);
    cio_connect_opts o = {.tls_ctx = cc, .server_name = "wrong.example"};
    cio_stream *s = NULL;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", e.port, &o), CIO_ETLS);
    CIO_ASSERT(s == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "wrong.example") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "certificate verify failed: hostname mismatch") != NULL);
    cio_tls_ctx_free(cc);
    env_stop(&e);
}

CIO_TEST(tls_untrusted_ca_fails) {
    tls_env e;
    CIO_ASSERT_EQ(env_start(&e, NULL), 0);
    /* The default context trusts the system store, which has never heard
     * of our CA. */
    cio_connect_opts o = {.tls = true};
    cio_stream *s = NULL;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "localhost", e.port, &o), CIO_ETLS);
    CIO_ASSERT(strstr(cio_errmsg(), "certificate verify failed") != NULL);
    /* Insecure mode connects anyway (for tests and debugging only). */
    cio_tls_opts io = {.insecure = true};
    cio_tls_ctx *ic = cio_tls_ctx_new(&io);
    o.tls_ctx = ic;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "localhost", e.port, &o), 0);
    cio_stream_close(s);
    cio_tls_ctx_free(ic);
    env_stop(&e);
}

CIO_TEST(tls_large_transfer_and_alpn) {
    tls_env e;
    CIO_ASSERT_EQ(env_start(&e, "h2,http/1.1"), 0);
    cio_tls_opts co = {.ca_file = ca_pem, .alpn = "http/1.1"};
    cio_tls_ctx *cc = cio_tls_ctx_new(&co);
    cio_connect_opts o = {.tls_ctx = cc};
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "localhost", e.port, &o), 0);
    CIO_ASSERT_STREQ(cio_stream_tls_alpn(s), "http/1.1");
    enum { N = 2 << 20 };
    char *out = malloc(N), *in = malloc(N);
    for (int i = 0; i < N; i++)
        out[i] = (char)(i * 31 + (i >> 11));
    /* Queued far beyond the socket buffers: partial SSL writes go through
     * the background writer while we read the echo. */
    CIO_ASSERT_EQ(cio_stream_write(s, out, N), 0);
    CIO_ASSERT_EQ(cio_stream_readexactly(s, in, N, NULL), N);
    CIO_ASSERT(memcmp(in, out, N) == 0);
    CIO_ASSERT_EQ(cio_stream_write_eof(s), 0);
    char c;
    CIO_ASSERT_EQ(cio_stream_read(s, &c, 1), 0); /* server saw EOF and closed */
    cio_stream_close(s);
    free(out);
    free(in);
    cio_tls_ctx_free(cc);
    env_stop(&e);
}

CIO_TEST(tls_handshake_timeout_on_server) {
    tls_env e;
    CIO_ASSERT_EQ(env_start(&e, NULL), 0);
    /* A plain TCP client that never says hello: the server gives up after
     * its handshake timeout and closes. */
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", e.port, NULL), 0);
    char c;
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_stream_read(s, &c, 1), 0);
    CIO_ASSERT_GE(cio_now() - t0, 1900 * CIO_MS);
    cio_stream_close(s);
    /* Garbage instead of a ClientHello fails the handshake at once. */
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", e.port, NULL), 0);
    cio_stream_write(s, "GET / HTTP/1.0\r\n\r\n", 18);
    ssize_t n = cio_stream_read(s, &c, 1);
    CIO_ASSERT(n == 0 || n == 1 || n == -ECONNRESET); /* an alert, or just closed */
    cio_stream_close(s);
    CIO_ASSERT_EQ(cio_server_conns(e.srv), 0);
    env_stop(&e);
}

CIO_TEST(tls_client_cancelled_during_handshake) {
    tls_env e;
    CIO_ASSERT_EQ(env_start(&e, NULL), 0);
    /* A plain server that accepts and says nothing: the TLS client waits
     * for the ServerHello until its connect timeout. */
    cio_server *mute;
    cio_serve_opts mo = {0};
    CIO_ASSERT_EQ(cio_tcp_serve(&mute, "127.0.0.1", "0", echo_handler, NULL, &mo), 0);
    (void)mute;
    char port[16];
    snprintf(port, sizeof port, "%d", cio_server_port(mute));
    cio_tls_ctx *cc = client_ctx(ca_pem);
    cio_connect_opts o = {.tls_ctx = cc, .timeout = 100 * CIO_MS};
    cio_stream *s = NULL;
    /* The echo server sends the ClientHello back, which is not a valid
     * ServerHello: that fails fast with CIO_ETLS. */
    int rc = cio_tcp_connect(&s, "localhost", port, &o);
    CIO_ASSERT(rc == CIO_ETLS || rc == -ETIMEDOUT);
    CIO_ASSERT(s == NULL);
    cio_server_close(mute, CIO_SEC);
    cio_tls_ctx_free(cc);
    env_stop(&e);
}

CIO_TEST(tls_context_errors) {
    cio_tls_opts so = {.server = true};
    CIO_ASSERT(cio_tls_ctx_new(&so) == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "cert_file") != NULL);
    cio_tls_opts bad = {.server = true, .cert_file = "/nonexistent.pem", .key_file = "/x.key"};
    CIO_ASSERT(cio_tls_ctx_new(&bad) == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "/nonexistent.pem") != NULL);
    cio_tls_opts ca = {.ca_file = "/nonexistent-ca.pem"};
    CIO_ASSERT(cio_tls_ctx_new(&ca) == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "nonexistent-ca.pem") != NULL);
}

CIO_TEST(tls_client_certificates) {
    CIO_ASSERT_EQ(make_certs(), 0);
    cio_tls_opts so = {.server = true, .cert_file = srv_pem, .key_file = srv_key,
                       .ca_file = ca_pem, .verify_client = true};
    cio_tls_ctx *sctx = cio_tls_ctx_new(&so);
    CIO_ASSERT(sctx != NULL);
    cio_serve_opts o = {.tls_ctx = sctx};
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", echo_handler, NULL, &o), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", cio_server_port(srv));
    /* With a certificate from the CA: served. */
    cio_tls_opts co = {.ca_file = ca_pem, .cert_file = cli_pem, .key_file = cli_key};
    cio_tls_ctx *cc = cio_tls_ctx_new(&co);
    CIO_ASSERT(cc != NULL);
    cio_connect_opts copts = {.tls_ctx = cc};
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "localhost", port, &copts), 0);
    CIO_ASSERT_EQ(cio_stream_write(s, "with cert\n", 10), 0);
    char line[32];
    CIO_ASSERT_EQ(cio_stream_readline(s, line, sizeof line), 10);
    cio_stream_close(s);
    /* Without one: refused (in TLS 1.3 the client learns it from the
     * server's alert, at the handshake or at the first read). */
    cio_tls_opts no = {.ca_file = ca_pem};
    cio_tls_ctx *nc = cio_tls_ctx_new(&no);
    copts.tls_ctx = nc;
    int rc = cio_tcp_connect(&s, "localhost", port, &copts);
    if (rc == 0) {
        cio_stream_write(s, "no cert\n", 8);
        ssize_t n = cio_stream_readline(s, line, sizeof line);
        CIO_ASSERT(n == CIO_ETLS || n == 0 || n == -ECONNRESET);
        if (n == CIO_ETLS)
            CIO_ASSERT(strstr(cio_errmsg(), "certificate") != NULL);
        cio_stream_close(s);
    } else {
        CIO_ASSERT_EQ(rc, CIO_ETLS);
    }
    cio_server_close(srv, CIO_SEC);
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(nc);
    cio_tls_ctx_free(sctx);
}

static cio_tls_ctx *starttls_server_ctx;

static int starttls_handler(cio_stream *s, void *arg) {
    (void)arg;
    char line[64];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n <= 0 || strcmp(line, "STARTTLS\n") != 0)
        return -EPROTO;
    cio_stream_write(s, "OK\n", 3);
    int rc = cio_stream_starttls(s, starttls_server_ctx, NULL);
    if (rc < 0)
        return rc;
    return echo_handler(s, NULL);
}

CIO_TEST(tls_starttls_upgrade) {
    CIO_ASSERT_EQ(make_certs(), 0);
    cio_tls_opts so = {.server = true, .cert_file = srv_pem, .key_file = srv_key};
    starttls_server_ctx = cio_tls_ctx_new(&so);
    cio_server *srv;
    CIO_ASSERT_EQ(cio_tcp_serve(&srv, "127.0.0.1", "0", starttls_handler, NULL, NULL), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", cio_server_port(srv));
    cio_stream *s;
    CIO_ASSERT_EQ(cio_tcp_connect(&s, "127.0.0.1", port, NULL), 0);
    CIO_ASSERT(!cio_stream_is_tls(s));
    CIO_ASSERT(cio_stream_tls_version(s) == NULL);
    CIO_ASSERT_EQ(cio_stream_write(s, "STARTTLS\n", 9), 0);
    char line[64];
    CIO_ASSERT_EQ(cio_stream_readline(s, line, sizeof line), 3);
    cio_tls_ctx *cc = client_ctx(ca_pem);
    CIO_ASSERT_EQ(cio_stream_starttls(s, cc, "localhost"), 0);
    CIO_ASSERT(cio_stream_is_tls(s));
    CIO_ASSERT_EQ(cio_stream_starttls(s, cc, "localhost"), -EINVAL); /* already TLS */
    CIO_ASSERT_EQ(cio_stream_write(s, "now private\n", 12), 0);
    CIO_ASSERT_EQ(cio_stream_readline(s, line, sizeof line), 12);
    CIO_ASSERT_STREQ(line, "now private\n");
    cio_stream_close(s);
    cio_server_close(srv, CIO_SEC);
    cio_tls_ctx_free(cc);
    cio_tls_ctx_free(starttls_server_ctx);
}

/* ---- TLS over a socketpair: sendfile, setup errors ---- */

typedef struct {
    cio_tls_ctx *sctx, *cctx;
    cio_stream *cli, *srv; /* both ends, TLS once tls_pair_start returned 0 */
} tls_pair;

static int pair_accept(void *arg) {
    tls_pair *p = arg;
    return cio_stream_starttls(p->srv, p->sctx, NULL);
}

/* Two streams on a socketpair, then a TLS handshake between them (the
 * client verifies the server as "localhost"). 0, or the failing code. */
static int tls_pair_start(tls_pair *p, const cio_stream_opts *o) {
    memset(p, 0, sizeof *p);
    if (make_certs() < 0)
        return -1;
    cio_tls_opts so = {.server = true, .cert_file = srv_pem, .key_file = srv_key};
    p->sctx = cio_tls_ctx_new(&so);
    p->cctx = client_ctx(ca_pem);
    int sv[2];
    if (!p->sctx || !p->cctx || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -1;
    int rc = cio_stream_open_fd(&p->cli, sv[0], o);
    int rc2 = cio_stream_open_fd(&p->srv, sv[1], o);
    if (rc < 0 || rc2 < 0)
        return rc < 0 ? rc : rc2;
    cio_task *t = cio_spawn(pair_accept, p);
    rc = cio_stream_starttls(p->cli, p->cctx, "localhost");
    rc2 = cio_join(t);
    return rc < 0 ? rc : rc2;
}

static void tls_pair_stop(tls_pair *p) {
    cio_stream_abort(p->cli);
    cio_stream_abort(p->srv);
    cio_tls_ctx_free(p->sctx);
    cio_tls_ctx_free(p->cctx);
}

/* A file of n bytes whose byte i is pattern(i % 16384): whole 16 KiB
 * pieces of it are recognisable wherever they land in a stream. */
static char pattern(size_t i) { return (char)((i % 16384) * 7 % 251); }

static int make_file(const char *name, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", cio_test_tmpdir(), name);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char *d = malloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = pattern(i);
    ssize_t w = write(fd, d, n);
    free(d);
    if (w != (ssize_t)n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The first i in [0, n) where in[i] is not pattern(i), or n. */
static size_t first_unlike_pattern(const char *in, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (in[i] != pattern(i))
            return i;
    return n;
}

/* For a transfer that must wait for room: a TLS pair whose streams queue
 * at most 32 KiB, and a pattern file of BIG_FILE bytes (2 MiB, far more
 * than the socket holds). The file's descriptor, or -1 with the pair
 * stopped. */
enum { BIG_FILE = 128 * 16384 };
static int big_transfer_start(tls_pair *p) {
    cio_stream_opts o = {.write_high = 32 * 1024};
    int fd = tls_pair_start(p, &o) == 0 ? make_file("tls-big", BIG_FILE) : -1;
    if (fd < 0)
        tls_pair_stop(p);
    return fd;
}

typedef struct {
    cio_stream *s;
    size_t want, got;
    ssize_t rc;
    char *buf;
} drain_job;

/* Reads until end of stream (buf == NULL: counting only, and checking the
 * 16 KiB piece pattern). */
static int read_all_task(void *arg) {
    drain_job *j = arg;
    static char tmp[65536];
    for (;;) {
        char *dst = j->buf ? j->buf + j->got : tmp;
        size_t room = j->buf ? j->want - j->got : sizeof tmp;
        if (j->buf && room == 0)
            return (int)(j->rc = 0);
        ssize_t n = cio_stream_read(j->s, dst, room);
        if (n <= 0)
            return (int)(j->rc = n);
        if (!j->buf)
            for (ssize_t i = 0; i < n; i++)
                if (tmp[i] != pattern(j->got + (size_t)i))
                    return (int)(j->rc = -EILSEQ);
        j->got += (size_t)n;
    }
}

CIO_TEST(tls_sendfile_copies_through_the_stream) {
    tls_pair p;
    CIO_ASSERT_EQ(tls_pair_start(&p, NULL), 0);
    CIO_ASSERT(cio_stream_is_tls(p.cli));
    enum { N = 5 * 16384 + 1000 };
    int fd = make_file("tls-data", N);
    CIO_ASSERT_GE(fd, 0);
    static char in[4 + N];
    drain_job r = {p.srv, sizeof in, 0, 1, in};
    cio_task *rt = cio_spawn(read_all_task, &r);
    CIO_ASSERT_EQ(cio_stream_write(p.cli, "hdr:", 4), 0);
    /* More than the file holds from offset 10: the count says how much. */
    CIO_ASSERT_EQ(cio_stream_sendfile(p.cli, fd, 10, N), N - 10);
    CIO_ASSERT_EQ(cio_stream_sendfile(p.cli, fd, 0, 10), 10);
    CIO_ASSERT_EQ(cio_stream_sendfile(p.cli, fd, N, 100), 0); /* at the end */
    CIO_ASSERT_EQ(cio_join(rt), 0);
    CIO_ASSERT_EQ(r.rc, 0);
    CIO_ASSERT_EQ(r.got, sizeof in);
    CIO_ASSERT(memcmp(in, "hdr:", 4) == 0);
    for (size_t i = 0; i < N - 10; i++)
        if (in[4 + i] != pattern(10 + i))
            CIO_ASSERT_EQ(in[4 + i], pattern(10 + i));
    for (size_t i = 0; i < 10; i++)
        CIO_ASSERT_EQ(in[4 + N - 10 + i], pattern(i));
    /* A file that cannot be read: the error names the file, and the
     * stream is still usable. */
    CIO_ASSERT_EQ(cio_stream_sendfile(p.cli, -1, 0, 10), -EBADF);
    CIO_ASSERT(strstr(cio_errmsg(), "reading the file") != NULL);
    CIO_ASSERT_EQ(cio_stream_write(p.cli, "ok\n", 3), 0);
    char line[16];
    CIO_ASSERT_EQ(cio_stream_readline(p.srv, line, sizeof line), 3);
    /* After write_eof: -EPIPE, and the peer sees the end of the stream. */
    CIO_ASSERT_EQ(cio_stream_write_eof(p.cli), 0);
    CIO_ASSERT_EQ(cio_stream_sendfile(p.cli, fd, 0, 10), -EPIPE);
    CIO_ASSERT(strstr(cio_errmsg(), "sendfile after write_eof") != NULL);
    CIO_ASSERT_EQ(cio_stream_read(p.srv, line, sizeof line), 0);
    close(fd);
    tls_pair_stop(&p);
}

typedef struct {
    cio_stream *s;
    int fd;
    size_t n;
    ssize_t rc;
} sendfile_job;

static int sendfile_task(void *arg) {
    sendfile_job *j = arg;
    j->rc = cio_stream_sendfile(j->s, j->fd, 0, j->n);
    return 0;
}

CIO_TEST_VCLOCK(tls_sendfile_waits_for_the_peer_cancelled_and_timed_out) {
    int fds = cio_test_fd_count();
    tls_pair p;
    enum { N = BIG_FILE };
    int fd = big_transfer_start(&p);
    CIO_ASSERT_GE(fd, 0);
    /* The peer does not read: sendfile waits for room, until the scope
     * expires. */
    int64_t t0 = cio_now();
    CIO_TIMEOUT(2 * CIO_SEC) {
        CIO_ASSERT_EQ(cio_stream_sendfile(p.cli, fd, 0, N), -ETIMEDOUT);
    }
    CIO_ASSERT_EQ(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT(strstr(cio_errmsg(), "timed out") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "sendfile (after ") != NULL);
    /* Cancelled while waiting. */
    sendfile_job j = {p.cli, fd, N, 1};
    cio_task *t = cio_spawn(sendfile_task, &j);
    CIO_ASSERT_EQ(cio_sleep(10 * CIO_MS), 0);
    CIO_ASSERT_EQ(j.rc, 1); /* still waiting */
    CIO_ASSERT_GT(cio_stream_write_buffered(p.cli), 0);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    /* Nothing accepted is lost or cut: the peer gets whole 16 KiB pieces
     * of the file, in order, and then the end of the stream. */
    drain_job r = {p.srv, 0, 0, 1, NULL};
    cio_task *rt = cio_spawn(read_all_task, &r);
    CIO_ASSERT_EQ(cio_stream_write_eof(p.cli), 0);
    CIO_ASSERT_EQ(cio_join(rt), 0);
    CIO_ASSERT_EQ(r.rc, 0);
    CIO_ASSERT_GT(r.got, 0);
    CIO_ASSERT_EQ(r.got % 16384, 0);
    close(fd);
    tls_pair_stop(&p);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

/* ---- sendfile_ex over TLS: how many bytes SSL_write took ---- */

CIO_TEST(tls_sendfile_ex_counts_what_went_out) {
    tls_pair p;
    CIO_ASSERT_EQ(tls_pair_start(&p, NULL), 0);
    enum { N = 5 * 16384 + 1000 };
    int fd = make_file("tls-data", N);
    CIO_ASSERT_GE(fd, 0);
    static char in[N + 10];
    drain_job r = {p.srv, sizeof in, 0, 1, in};
    cio_task *rt = cio_spawn(read_all_task, &r);
    size_t sent = 777;
    CIO_ASSERT_EQ(cio_stream_sendfile_ex(p.cli, fd, 10, N, &sent), N - 10); /* short */
    CIO_ASSERT_EQ(sent, N - 10);
    /* Done means SSL_write took it all: nothing is left queued. */
    CIO_ASSERT_EQ(cio_stream_write_buffered(p.cli), 0);
    sent = 777;
    CIO_ASSERT_EQ(cio_stream_sendfile_ex(p.cli, fd, 0, 10, &sent), 10);
    CIO_ASSERT_EQ(sent, 10);
    sent = 777;
    CIO_ASSERT_EQ(cio_stream_sendfile_ex(p.cli, fd, N, 100, &sent), 0); /* at the end */
    CIO_ASSERT_EQ(sent, 0);
    CIO_ASSERT_EQ(cio_stream_sendfile_ex(p.cli, fd, 0, 10, NULL), 10);
    CIO_ASSERT_EQ(cio_join(rt), 0);
    CIO_ASSERT_EQ(r.rc, 0);
    for (size_t i = 0; i < N - 10; i++)
        if (in[i] != pattern(10 + i))
            CIO_ASSERT_EQ(in[i], pattern(10 + i));
    for (size_t i = 0; i < 20; i++)
        CIO_ASSERT_EQ(in[N - 10 + i], pattern(i % 10));
    /* A file that cannot be read: nothing went out. */
    sent = 777;
    CIO_ASSERT_EQ(cio_stream_sendfile_ex(p.cli, -1, 0, 10, &sent), -EBADF);
    CIO_ASSERT_EQ(sent, 0);
    CIO_ASSERT(strstr(cio_errmsg(), "sendfile: reading the file") != NULL);
    CIO_ASSERT_EQ(cio_stream_write_eof(p.cli), 0);
    sent = 777;
    CIO_ASSERT_EQ(cio_stream_sendfile_ex(p.cli, fd, 0, 10, &sent), -EPIPE);
    CIO_ASSERT_EQ(sent, 0);
    char c;
    CIO_ASSERT_EQ(cio_stream_read(p.srv, &c, 1), 0);
    close(fd);
    tls_pair_stop(&p);
}


/* A big transfer (big_transfer_start: its file is j->fd) whose whole file
 * is then sent by a task (*t) now waiting for room (start_waiting). *t is
 * left NULL if the transfer could not be set up. */
static void start_big_waiting(sfx_job *j, tls_pair *p, cio_task **t) {
    *t = NULL;
    int fd = big_transfer_start(p);
    CIO_ASSERT_GE(fd, 0);
    *j = (sfx_job){p->cli, fd, BIG_FILE, 0, 0, 1, ""};
    start_waiting(j, t);
}

/* Bytes waiting to be read on the raw socket of s. */
static size_t unread(cio_stream *s) {
    int n = 0;
    return ioctl(cio_stream_fd(s), FIONREAD, &n) == 0 ? (size_t)n : 0;
}

/* Resumes the transfer of the n-byte file at `from`, after what went out
 * and what is still queued: the peer must then have the whole file once,
 * in order, and nothing else. */
static void tls_resume_and_check(tls_pair *p, int fd, size_t from, size_t n) {
    char *in = malloc(n + 1);
    drain_job r = {p->srv, n + 1, 0, 1, in};
    cio_task *rt = cio_spawn(read_all_task, &r);
    size_t sent = 0;
    ssize_t rc = cio_stream_sendfile_ex(p->cli, fd, (off_t)from, n - from, &sent);
    int eof = cio_stream_write_eof(p->cli);
    int jrc = cio_join(rt);
    size_t bad = first_unlike_pattern(in, r.got < n ? r.got : n); /* r.got is checked first */
    free(in);
    CIO_ASSERT_EQ(rc, (ssize_t)(n - from));
    CIO_ASSERT_EQ(sent, n - from);
    CIO_ASSERT_EQ(eof, 0);
    CIO_ASSERT_EQ(jrc, 0);
    CIO_ASSERT_EQ(r.rc, 0);
    CIO_ASSERT_EQ(r.got, n);
    CIO_ASSERT_EQ(bad, n);
}

/* Done means SSL_write took every byte, as sendfile(2) on a plain socket
 * is done once the kernel took them: with room to queue the whole file,
 * the call still waits until the peer reads. */
CIO_TEST_VCLOCK(tls_sendfile_ex_is_done_once_ssl_write_took_it_all) {
    tls_pair p;
    cio_stream_opts o = {.write_high = 4 << 20};
    CIO_ASSERT_EQ(tls_pair_start(&p, &o), 0);
    enum { N = 64 * 16384 }; /* more than the socket holds, less than write_high */
    int fd = make_file("tls-big", N);
    CIO_ASSERT_GE(fd, 0);
    sfx_job j = {p.cli, fd, N, 0, 0, 1, ""};
    cio_task *t;
    start_waiting(&j, &t);
    CIO_ASSERT_GT(cio_stream_write_buffered(p.cli), 0);
    drain_job r = {p.srv, 0, 0, 1, NULL};
    cio_task *rt = cio_spawn(read_all_task, &r);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, N);
    CIO_ASSERT_EQ(j.sent, N);
    CIO_ASSERT_EQ(j.queued, 0);
    CIO_ASSERT_EQ(cio_stream_write_eof(p.cli), 0);
    CIO_ASSERT_EQ(cio_join(rt), 0);
    CIO_ASSERT_EQ(r.rc, 0);
    CIO_ASSERT_EQ(r.got, N);
    close(fd);
    tls_pair_stop(&p);
}

/* The peer does not read: the call waits for room until the scope
 * expires. It counts no more than the kernel holds, and resuming after it
 * and the piece still queued delivers the file whole. */
CIO_TEST_VCLOCK(tls_sendfile_ex_timed_out_counts_and_resumes) {
    int fds = cio_test_fd_count();
    tls_pair p;
    enum { N = BIG_FILE };
    int fd = big_transfer_start(&p);
    CIO_ASSERT_GE(fd, 0);
    size_t sent = 0, queued = 0;
    CIO_TIMEOUT(2 * CIO_SEC) {
        CIO_ASSERT_EQ(cio_stream_sendfile_ex(p.cli, fd, 0, N, &sent), -ETIMEDOUT);
        queued = cio_stream_write_buffered(p.cli);
    }
    char want[64];
    snprintf(want, sizeof want, "sendfile (after %zu bytes)", sent);
    CIO_ASSERT(strstr(cio_errmsg(), want) != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "timed out") != NULL);
    CIO_ASSERT_GT(sent, 0);
    CIO_ASSERT_LT(sent + queued, N);
    /* Every counted byte is in the peer's socket, encrypted. */
    CIO_ASSERT_LE(sent, unread(p.srv));
    tls_resume_and_check(&p, fd, sent + queued, N);
    close(fd);
    tls_pair_stop(&p);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

CIO_TEST_VCLOCK(tls_sendfile_ex_cancelled_counts_and_resumes) {
    int fds = cio_test_fd_count();
    tls_pair p;
    enum { N = BIG_FILE };
    sfx_job j;
    cio_task *t;
    start_big_waiting(&j, &p, &t);
    CIO_ASSERT(t != NULL);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    char want[64];
    snprintf(want, sizeof want, "sendfile (after %zu bytes)", j.sent);
    CIO_ASSERT(strstr(j.msg, want) != NULL);
    CIO_ASSERT_GT(j.sent, 0);
    CIO_ASSERT_LT(j.sent + j.queued, N);
    CIO_ASSERT_LE(j.sent, unread(p.srv));
    tls_resume_and_check(&p, j.fd, j.sent + j.queued, N);
    close(j.fd);
    tls_pair_stop(&p);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

/* The peer takes all there is off its socket, then shuts it while the
 * call waits: the count is no more than the encrypted bytes the peer got,
 * and short of them by at most one record that SSL_write had not finished
 * (plus the records' overhead). */
CIO_TEST_VCLOCK(tls_sendfile_ex_counts_what_a_closing_peer_got) {
    tls_pair p;
    enum { N = BIG_FILE };
    sfx_job j;
    cio_task *t;
    start_big_waiting(&j, &p, &t);
    CIO_ASSERT(t != NULL);
    static char raw[65536];
    size_t got = 0;
    ssize_t r;
    while ((r = recv(cio_stream_fd(p.srv), raw, sizeof raw, MSG_DONTWAIT)) > 0)
        got += (size_t)r;
    CIO_ASSERT_GT(got, 0);
    CIO_ASSERT_EQ(shutdown(cio_stream_fd(p.srv), SHUT_RDWR), 0);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT(j.rc == -EPIPE || j.rc == -ECONNRESET);
    char want[64];
    snprintf(want, sizeof want, "sendfile (after %zu bytes)", j.sent);
    CIO_ASSERT(strstr(j.msg, want) != NULL);
    CIO_ASSERT_GT(j.sent, 0);
    CIO_ASSERT_LE(j.sent, got);
    CIO_ASSERT_GE(j.sent + 16384 + 64 * (got / 16384 + 2), got);
    close(j.fd);
    tls_pair_stop(&p);
}

/* The file fails under a waiting call (a directory now has its number):
 * the file's error; what went out plus what was queued is what the peer
 * gets, and the stream stays usable. */
CIO_TEST_VCLOCK(tls_sendfile_ex_counts_up_to_a_file_error) {
    tls_pair p;
    enum { N = BIG_FILE };
    sfx_job j;
    cio_task *t;
    start_big_waiting(&j, &p, &t);
    CIO_ASSERT(t != NULL);
    int dir = open(cio_test_tmpdir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CIO_ASSERT_EQ(dup3(dir, j.fd, O_CLOEXEC), j.fd);
    close(dir);
    char *in = malloc(N + 3);
    drain_job r = {p.srv, N + 3, 0, 1, in};
    cio_task *rt = cio_spawn(read_all_task, &r);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, -EISDIR);
    CIO_ASSERT(strstr(j.msg, "sendfile: reading the file") != NULL);
    CIO_ASSERT_GT(j.sent, 0);
    CIO_ASSERT_LT(j.sent + j.queued, N);
    CIO_ASSERT_EQ(cio_stream_write(p.cli, "ok", 2), 0);
    CIO_ASSERT_EQ(cio_stream_write_eof(p.cli), 0);
    CIO_ASSERT_EQ(cio_join(rt), 0);
    CIO_ASSERT_EQ(r.rc, 0);
    size_t len = j.sent + j.queued, bad = first_unlike_pattern(in, len);
    bool ok = r.got == len + 2 && memcmp(in + len, "ok", 2) == 0;
    free(in);
    CIO_ASSERT_EQ(bad, len);
    CIO_ASSERT(ok);
    close(j.fd);
    tls_pair_stop(&p);
}

CIO_TEST(tls_starttls_errors) {
    int fds = cio_test_fd_count();
    CIO_ASSERT_EQ(make_certs(), 0);
    cio_tls_ctx *cc = client_ctx(ca_pem);
    CIO_ASSERT(cc != NULL);
    int sv[2];
    CIO_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(cio_stream_open_fd(&s, sv[0], NULL), 0);
    /* No context. */
    CIO_ASSERT_EQ(cio_stream_starttls(s, NULL, "localhost"), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "no TLS context") != NULL);
    /* Plain bytes still buffered would be lost to the handshake. */
    CIO_ASSERT_EQ(write(sv[1], "early\nmore", 10), 10);
    char line[16];
    CIO_ASSERT_EQ(cio_stream_readline(s, line, sizeof line), 6);
    CIO_ASSERT_EQ(cio_stream_buffered(s), 4);
    CIO_ASSERT_EQ(cio_stream_starttls(s, cc, "localhost"), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "4 unread bytes are buffered") != NULL);
    CIO_ASSERT_EQ(cio_stream_read(s, line, sizeof line), 4); /* still there */
    CIO_ASSERT(memcmp(line, "more", 4) == 0);
    /* A name that SNI cannot carry (over 255 bytes). */
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    CIO_ASSERT_EQ(cio_stream_starttls(s, cc, name), CIO_ETLS);
    CIO_ASSERT(strstr(cio_errmsg(), "cannot use the name") != NULL);
    CIO_ASSERT(!cio_stream_is_tls(s));
    /* Out of memory setting up the connection. */
    cio_test_fail_alloc(1);
    CIO_ASSERT_EQ(cio_stream_starttls(s, cc, "localhost"), -ENOMEM);
    cio_test_fail_alloc(0);
    CIO_ASSERT(strstr(cio_errmsg(), "starttls localhost: out of memory") != NULL);
    /* None of it sent a byte: the plain stream still works both ways. */
    CIO_ASSERT(!cio_stream_is_tls(s));
    CIO_ASSERT_EQ(cio_stream_write(s, "plain", 5), 0);
    CIO_ASSERT_EQ(cio_stream_flush(s), 0);
    char buf[16];
    CIO_ASSERT_EQ(read(sv[1], buf, sizeof buf), 5);
    CIO_ASSERT(memcmp(buf, "plain", 5) == 0);
    close(sv[1]);
    cio_stream_close(s);
    cio_tls_ctx_free(cc);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

CIO_TEST(tls_context_key_and_alpn_errors) {
    CIO_ASSERT_EQ(make_certs(), 0);
    /* A key file that holds no key. */
    cio_tls_opts bad = {.server = true, .cert_file = srv_pem, .key_file = ca_pem};
    errno = 0;
    CIO_ASSERT(cio_tls_ctx_new(&bad) == NULL);
    CIO_ASSERT_EQ(errno, EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "private key") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), ca_pem) != NULL);
    /* A real key that belongs to another certificate. */
    cio_tls_opts other = {.server = true, .cert_file = srv_pem, .key_file = cli_key};
    errno = 0;
    CIO_ASSERT(cio_tls_ctx_new(&other) == NULL);
    CIO_ASSERT_EQ(errno, EINVAL);
    /* OpenSSL checks the pair as it loads the key ("key values mismatch"). */
    CIO_ASSERT(strstr(cio_errmsg(), "mismatch") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), cli_key) != NULL);
    /* ALPN lists: an empty list, empty names (a trailing comma too) and
     * names over 255 bytes are refused. */
    char longname[300];
    memset(longname, 'p', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const char *lists[] = {"h2,,http/1.1", ",h2", "h2,", "", longname};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        cio_tls_opts a = {.insecure = true, .alpn = lists[i]};
        errno = 0;
        CIO_ASSERT(cio_tls_ctx_new(&a) == NULL);
        CIO_ASSERT_EQ(errno, EINVAL);
        CIO_ASSERT(strstr(cio_errmsg(), "bad ALPN list") != NULL);
    }
    /* The same for a server context. */
    cio_tls_opts sa = {.server = true, .cert_file = srv_pem, .key_file = srv_key, .alpn = ","};
    CIO_ASSERT(cio_tls_ctx_new(&sa) == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "bad ALPN list \",\"") != NULL);
    /* Out of memory for the context itself. */
    cio_test_fail_alloc(1);
    errno = 0;
    CIO_ASSERT(cio_tls_ctx_new(NULL) == NULL);
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(errno, ENOMEM);
    CIO_ASSERT(strstr(cio_errmsg(), "out of memory") != NULL);
}

typedef struct {
    cio_stream *s;
    int rc;
} eof_job;

static int write_eof_task(void *arg) {
    eof_job *j = arg;
    j->rc = cio_stream_write_eof(j->s);
    return 0;
}

CIO_TEST_VCLOCK(tls_write_eof_waits_to_send_close_notify) {
    tls_pair p;
    CIO_ASSERT_EQ(tls_pair_start(&p, NULL), 0);
    /* Fill the socket with whole records, nothing left queued: the
     * close_notify alert then finds no room. */
    int fd = cio_stream_fd(p.cli), sndbuf = 0, outq = 0;
    socklen_t sl = sizeof sndbuf;
    CIO_ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl), 0);
    static char rec[16384];
    memset(rec, 'r', sizeof rec);
    size_t sent = 0;
    while (ioctl(fd, SIOCOUTQ, &outq) == 0 && outq < sndbuf) {
        CIO_ASSERT_EQ(cio_stream_write(p.cli, rec, sizeof rec), 0);
        CIO_ASSERT_EQ(cio_stream_write_buffered(p.cli), 0);
        sent += sizeof rec;
    }
    CIO_ASSERT_GT(sent, 0);
    CIO_TIMEOUT(2 * CIO_SEC) {
        CIO_ASSERT_EQ(cio_stream_write_eof(p.cli), -ETIMEDOUT);
    }
    CIO_ASSERT(strstr(cio_errmsg(), "write_eof") != NULL);
    eof_job j = {p.cli, 1};
    cio_task *t = cio_spawn(write_eof_task, &j);
    CIO_ASSERT_EQ(cio_sleep(10 * CIO_MS), 0);
    CIO_ASSERT_EQ(j.rc, 1); /* still waiting */
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, -ECANCELED);
    /* Once the peer reads, the alert goes out and the peer sees every
     * byte, then the end of the stream. */
    j.rc = 1;
    t = cio_spawn(write_eof_task, &j);
    static char in[16384];
    size_t got = 0;
    ssize_t n;
    while ((n = cio_stream_read(p.srv, in, sizeof in)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            CIO_ASSERT_EQ(in[i], 'r');
        got += (size_t)n;
    }
    CIO_ASSERT_EQ(n, 0);
    CIO_ASSERT_EQ(got, sent);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(j.rc, 0);
    CIO_ASSERT_EQ(cio_stream_write(p.cli, "x", 1), -EPIPE);
    tls_pair_stop(&p);
}
