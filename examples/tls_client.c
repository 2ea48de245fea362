/* A TLS client: the same stream API over OpenSSL, with certificate and
 * host name verification on by default.
 *
 *   tls_client [--ca FILE] [--name NAME] [--insecure] HOST [PORT [PATH]]
 *       sends "GET PATH HTTP/1.0" over TLS to HOST:PORT (default 443, /)
 *       and prints the TLS version, the status line and the headers.
 *   tls_client --local
 *       self-contained demo (no network): makes a throw-away CA and a
 *       certificate for "localhost" with the openssl command, serves TLS on
 *       127.0.0.1, then connects three times: verified against the CA
 *       (works), expecting the wrong name and trusting only the system
 *       store (both refused, with the reason). */
#define _GNU_SOURCE
#include <cio/net.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *ca_file, *name, *host, *port = "443", *path = "/";
static bool insecure, local;

/* ---- a plain HTTPS GET ---- */

static int get(void) {
    cio_tls_opts to = {.ca_file = ca_file, .insecure = insecure};
    cio_tls_ctx *ctx = cio_tls_ctx_new(&to);
    if (!ctx) {
        fprintf(stderr, "tls_client: %s\n", cio_errmsg());
        return 1;
    }
    cio_connect_opts o = {.tls_ctx = ctx, .server_name = name, .timeout = 10 * CIO_SEC};
    cio_stream *s;
    int rc = cio_tcp_connect(&s, host, port, &o);
    if (rc < 0) {
        fprintf(stderr, "tls_client: %s\n", cio_errmsg());
        cio_tls_ctx_free(ctx);
        return 1;
    }
    printf("connected with %s%s\n", cio_stream_tls_version(s),
           insecure ? " (certificate NOT verified)" : ", certificate verified");
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, name ? name : host);
    cio_stream_write(s, req, (size_t)n);
    char line[2048];
    ssize_t len;
    /* Status line and headers, up to the blank line. */
    while ((len = cio_stream_readline(s, line, sizeof line)) > 2)
        printf("%s", line);
    if (len < 0)
        fprintf(stderr, "tls_client: %s\n", cio_errmsg());
    cio_stream_close(s);
    cio_tls_ctx_free(ctx);
    return len < 0 ? 1 : 0;
}

/* ---- the local demo ---- */

static int echo_line(cio_stream *s, void *arg) {
    (void)arg;
    char line[256];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    if (n > 0)
        cio_stream_write(s, line, (size_t)n);
    return n < 0 ? (int)n : 0;
}

static int try_connect(const char *label, cio_tls_ctx *ctx, const char *sni, const char *p) {
    cio_connect_opts o = {.tls_ctx = ctx, .tls = ctx == NULL, .server_name = sni,
                          .timeout = 5 * CIO_SEC};
    cio_stream *s;
    printf("%s: ", label);
    int rc = cio_tcp_connect(&s, "localhost", p, &o);
    if (rc < 0) {
        printf("refused: %s\n", cio_errmsg());
        return rc;
    }
    cio_stream_write(s, "hello over TLS\n", 15);
    char line[256];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    printf("%s, echoed \"%.*s\"\n", cio_stream_tls_version(s), n > 0 ? (int)n - 1 : 0, line);
    cio_stream_close(s);
    return 0;
}

static int local_demo(void) {
    char dir[] = "/tmp/cio-tls-XXXXXX";
    if (!mkdtemp(dir))
        return perror("mkdtemp"), 1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && (openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=cio demo CA' "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout srv.key -out srv.csr -subj '/CN=localhost' && "
             "echo subjectAltName=DNS:localhost,IP:127.0.0.1 > ext && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out srv.pem -days 1 -extfile ext) >/dev/null 2>&1",
             dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tls_client: the openssl command failed\n");
        return 1;
    }
    char ca[256], cert[256], key[256];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/srv.pem", dir);
    snprintf(key, sizeof key, "%s/srv.key", dir);
    printf("made a throw-away CA and a certificate for localhost\n");

    cio_tls_opts so = {.server = true, .cert_file = cert, .key_file = key};
    cio_tls_ctx *sctx = cio_tls_ctx_new(&so);
    cio_tls_opts co = {.ca_file = ca};
    cio_tls_ctx *cctx = cio_tls_ctx_new(&co);
    cio_server *srv;
    cio_serve_opts opts = {.tls_ctx = sctx};
    if (!sctx || !cctx || cio_tcp_serve(&srv, "127.0.0.1", "0", echo_line, NULL, &opts) < 0) {
        fprintf(stderr, "tls_client: %s\n", cio_errmsg());
        return 1;
    }
    char p[16];
    snprintf(p, sizeof p, "%d", cio_server_port(srv));
    printf("TLS echo server on 127.0.0.1 (port chosen by the kernel)\n");
    int ok = try_connect("verified against our CA", cctx, NULL, p) == 0;
    int wrong = try_connect("expecting the name wrong.example", cctx, "wrong.example", p) ==
                CIO_ETLS;
    int untrusted = try_connect("trusting only the system store", NULL, NULL, p) == CIO_ETLS;
    cio_server_close(srv, CIO_SEC);
    cio_tls_ctx_free(sctx);
    cio_tls_ctx_free(cctx);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
    }
    return ok && wrong && untrusted ? 0 : 1;
}

static int main_task(void *arg) {
    (void)arg;
    return local ? local_demo() : get();
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--ca") && i + 1 < argc)
            ca_file = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--insecure"))
            insecure = true;
        else if (!strcmp(argv[i], "--local"))
            local = true;
        else
            break;
    }
    if (i < argc)
        host = argv[i++];
    if (i < argc)
        port = argv[i++];
    if (i < argc)
        path = argv[i++];
    if (!local && !host) {
        fprintf(stderr, "usage: tls_client [--ca FILE] [--name NAME] [--insecure] HOST [PORT [PATH]]\n"
                        "       tls_client --local\n");
        return 2;
    }
    return cio_run(main_task, NULL);
}
