/* TLS tests: a throw-away CA and server certificate are made at run time
 * with the openssl command in the test's tmpdir; a cio TLS server on
 * 127.0.0.1 is then reached with verification on (passes), with the wrong
 * expected name and with an untrusted CA (both fail with CIO_ETLS and a
 * message that says why). */
#define _GNU_SOURCE
#include <cio/net.h>
#include <cio/test.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
