/* Static files from cio_http_server_static, and the server driven by a
 * real client (curl's command-line tool, run on the thread pool). */
#include "http_test_util.h"

#include <cio/thread.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[512];

static void put_file(const char *rel, const char *data, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* www/: index.html, a.txt, b c.json, big.bin (300 KB), sub/ (no index),
 * sub/x.css, out -> /etc (a symlink out of the root), in -> a.txt. */
static void make_tree(void) {
    snprintf(root, sizeof root, "%s/www", cio_test_tmpdir());
    mkdir(root, 0755);
    char p[1024];
    snprintf(p, sizeof p, "%s/sub", root);
    mkdir(p, 0755);
    put_file("index.html", "<h1>home</h1>\n", 14);
    put_file("a.txt", "alpha\n", 6);
    put_file("b c.json", "{\"k\":1}", 7);
    put_file("sub/x.css", "p{}", 3);
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('A' + (i * 7) % 26);
    put_file("big.bin", big, sizeof big);
    snprintf(p, sizeof p, "%s/out", root);
    if (symlink("/etc", p) < 0) {
    }
    snprintf(p, sizeof p, "%s/in", root);
    if (symlink("a.txt", p) < 0) {
    }
}

static int start_static(tsrv *t) {
    make_tree();
    int rc = tsrv_start(t, NULL);
    return rc < 0 ? rc : cio_http_server_static(t->s, "/files/", root);
}

static int get(tsrv *t, const char *path, const char *extra, tresp *r) {
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, extra ? extra : "");
    return texchange(t, req, (size_t)n, r, NULL);
}

CIO_TEST(static_files_basic) {
    tsrv t;
    CIO_ASSERT_EQ(start_static(&t), 0);
    tresp r;
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", NULL, &r), 200);
    CIO_ASSERT_STREQ(r.body, "alpha\n");
    CIO_ASSERT_STREQ(thead(&r, "Content-Type"), "text/plain; charset=utf-8");
    CIO_ASSERT_STREQ(thead(&r, "Content-Length"), "6");
    CIO_ASSERT_STREQ(thead(&r, "Accept-Ranges"), "bytes");
    CIO_ASSERT(thead(&r, "Last-Modified") != NULL);
    CIO_ASSERT_EQ(get(&t, "/files/b%20c.json", NULL, &r), 200);
    CIO_ASSERT_STREQ(r.body, "{\"k\":1}");
    CIO_ASSERT_STREQ(thead(&r, "Content-Type"), "application/json");
    CIO_ASSERT_EQ(get(&t, "/files/sub/x.css?v=2", NULL, &r), 200);
    CIO_ASSERT_STREQ(thead(&r, "Content-Type"), "text/css; charset=utf-8");
    CIO_ASSERT_EQ(get(&t, "/files/", NULL, &r), 200);
    CIO_ASSERT_STREQ(r.body, "<h1>home</h1>\n");
    CIO_ASSERT_STREQ(thead(&r, "Content-Type"), "text/html; charset=utf-8");
    CIO_ASSERT_EQ(get(&t, "/files/in", NULL, &r), 200); /* symlink inside */
    CIO_ASSERT_STREQ(r.body, "alpha\n");
    static const char head[] = "HEAD /files/a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, head, sizeof head - 1, &r, NULL), 200);
    CIO_ASSERT_STREQ(thead(&r, "Content-Length"), "6");
    static const char post[] = "POST /files/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, post, sizeof post - 1, &r, NULL), 405);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(static_files_dirs_and_escapes) {
    tsrv t;
    CIO_ASSERT_EQ(start_static(&t), 0);
    tresp r;
    CIO_ASSERT_EQ(get(&t, "/files/sub?q=1", NULL, &r), 301);
    CIO_ASSERT_STREQ(thead(&r, "Location"), "/files/sub/?q=1");
    CIO_ASSERT_EQ(get(&t, "/files/sub/", NULL, &r), 200);
    CIO_ASSERT(strstr(r.body, "<li><a href=\"x.css\">x.css</a></li>") != NULL);
    CIO_ASSERT_EQ(get(&t, "/files/missing.txt", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/../test-http-static", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/%2e%2e/%2e%2e/etc/passwd", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/sub/..%2f..%2fetc/passwd", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/%2fetc%2fpasswd", NULL, &r), 404); /* decodes absolute */
    CIO_ASSERT_EQ(get(&t, "/files/%2Fa.txt", NULL, &r), 200); /* stays below the root */
    CIO_ASSERT_STREQ(r.body, "alpha\n");
    CIO_ASSERT_EQ(get(&t, "/files/out/passwd", NULL, &r), 404); /* symlink out of root */
    CIO_ASSERT_EQ(get(&t, "/files/a.txt%00.html", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/%zz", NULL, &r), 404);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* The same confinement without openat2 (older kernels). */
CIO_TEST(static_files_escapes_without_openat2) {
    setenv("CIO_HTTP_NO_OPENAT2", "1", 1);
    tsrv t;
    CIO_ASSERT_EQ(start_static(&t), 0);
    tresp r;
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", NULL, &r), 200);
    CIO_ASSERT_EQ(get(&t, "/files/in", NULL, &r), 200); /* symlink inside */
    CIO_ASSERT_STREQ(r.body, "alpha\n");
    CIO_ASSERT_EQ(get(&t, "/files/out/passwd", NULL, &r), 404); /* through a symlink out */
    CIO_ASSERT_EQ(get(&t, "/files/out", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/%2fetc%2fpasswd", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/%2e%2e/%2e%2e/etc/passwd", NULL, &r), 404);
    CIO_ASSERT_EQ(get(&t, "/files/sub/", NULL, &r), 200);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    unsetenv("CIO_HTTP_NO_OPENAT2");
}

CIO_TEST(static_files_ranges_and_conditional) {
    tsrv t;
    CIO_ASSERT_EQ(start_static(&t), 0);
    tresp r;
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", "Range: bytes=1-3\r\n", &r), 206);
    CIO_ASSERT_STREQ(r.body, "lph");
    CIO_ASSERT_STREQ(thead(&r, "Content-Range"), "bytes 1-3/6");
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", "Range: bytes=-2\r\n", &r), 206);
    CIO_ASSERT_STREQ(r.body, "a\n");
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", "Range: bytes=4-\r\n", &r), 206);
    CIO_ASSERT_STREQ(r.body, "a\n");
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", "Range: bytes=10-20\r\n", &r), 416);
    CIO_ASSERT_STREQ(thead(&r, "Content-Range"), "bytes */6");
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", "Range: bytes=0-1,3-4\r\n", &r), 200); /* multi: whole */
    CIO_ASSERT_STREQ(r.body, "alpha\n");
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", NULL, &r), 200);
    char hdr[320];
    snprintf(hdr, sizeof hdr, "If-Modified-Since: %s\r\n", thead(&r, "Last-Modified"));
    CIO_ASSERT_EQ(get(&t, "/files/a.txt", hdr, &r), 304);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* A large file goes out with sendfile; every byte checked, twice on one
 * keep-alive connection. */
CIO_TEST(static_files_large_sendfile) {
    tsrv t;
    CIO_ASSERT_EQ(start_static(&t), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    char *buf = malloc(300000);
    for (int round = 0; round < 2; round++) {
        CIO_ASSERT_EQ(TSEND(s, "GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        char head[1024];
        ssize_t n = cio_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head - 1);
        CIO_ASSERT_GT(n, 0);
        head[n] = 0;
        CIO_ASSERT(strstr(head, "\r\nContent-Length: 300000\r\n") != NULL);
        CIO_ASSERT(strstr(head, "\r\nContent-Type: application/octet-stream\r\n") != NULL);
        CIO_ASSERT_EQ(cio_stream_readexactly(s, buf, 300000, NULL), 300000);
        for (size_t i = 0; i < 300000; i++)
            if (buf[i] != (char)('A' + (i * 7) % 26))
                CIO_ASSERT_EQ(i, -1);
    }
    free(buf);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* ---- curl ---------------------------------------------------------------- */

typedef struct {
    char cmd[2048];
    char out[8192];
    int status;
} shell;

/* Runs a shell command on the thread pool (it blocks), capturing stdout. */
static int run_shell(void *arg) {
    shell *sh = arg;
    FILE *p = popen(sh->cmd, "r");
    if (!p)
        return -errno;
    size_t n = fread(sh->out, 1, sizeof sh->out - 1, p);
    sh->out[n] = 0;
    sh->status = pclose(p);
    return 0;
}

static bool have_curl(void) { return access("/usr/bin/curl", X_OK) == 0; }

CIO_TEST(curl_keepalive_bodies_and_continue) {
    if (!have_curl()) {
        printf("curl not installed: skipped\n");
        return;
    }
    tsrv t;
    CIO_ASSERT_EQ(start_static(&t), 0);
    shell sh;
    /* Two URLs on one connection (keep-alive): one connect. */
    snprintf(sh.cmd, sizeof sh.cmd,
             "curl -sS --max-time 20 -w '|%%{http_code}|%%{num_connects}\\n' "
             "http://127.0.0.1:%d/files/a.txt http://127.0.0.1:%d/prefix/z",
             t.port, t.port);
    CIO_ASSERT_EQ(cio_to_thread(run_shell, &sh), 0);
    CIO_ASSERT_EQ(sh.status, 0);
    CIO_ASSERT_STREQ(sh.out, "alpha\n|200|1\n/prefix/z|200|0\n");
    /* A chunked upload, echoed. */
    char file[600];
    snprintf(file, sizeof file, "%s/upload.txt", cio_test_tmpdir());
    FILE *f = fopen(file, "w");
    for (int i = 0; i < 1000; i++)
        fprintf(f, "line %04d\n", i);
    fclose(f);
    snprintf(sh.cmd, sizeof sh.cmd,
             "curl -sS --max-time 20 -H 'Transfer-Encoding: chunked' --data-binary @%s "
             "http://127.0.0.1:%d/echo | cmp - %s && echo same",
             file, t.port, file);
    CIO_ASSERT_EQ(cio_to_thread(run_shell, &sh), 0);
    CIO_ASSERT_STREQ(sh.out, "same\n");
    /* Expect: 100-continue (curl waits for the 100 before the body). */
    snprintf(sh.cmd, sizeof sh.cmd,
             "curl -sS --max-time 20 -H 'Expect: 100-continue' --expect100-timeout 10 "
             "--data-binary @%s -w '%%{http_code}' -o /dev/null http://127.0.0.1:%d/echo",
             file, t.port);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(cio_to_thread(run_shell, &sh), 0);
    CIO_ASSERT_STREQ(sh.out, "200");
    CIO_ASSERT_LT(cio_now() - t0, 5 * CIO_SEC); /* no wait for the expect timeout */
    /* Ranges and the streamed chunked response. */
    snprintf(sh.cmd, sizeof sh.cmd,
             "curl -sS --max-time 20 -r 0-2 http://127.0.0.1:%d/files/big.bin; "
             "curl -sS --max-time 20 http://127.0.0.1:%d/chunks",
             t.port, t.port);
    CIO_ASSERT_EQ(cio_to_thread(run_shell, &sh), 0);
    CIO_ASSERT_STREQ(sh.out, "AHOone,two,three");
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* HTTPS: the same server over TLS (a throw-away CA made with the openssl
 * command), reached by curl with verification on. */
CIO_TEST(curl_https) {
    if (!have_curl() || access("/usr/bin/openssl", X_OK) != 0) {
        printf("curl or openssl not installed: skipped\n");
        return;
    }
    const char *d = cio_test_tmpdir();
    shell sh;
    snprintf(sh.cmd, sizeof sh.cmd,
             "(cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj '/CN=cio http test CA' "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout server.key -out server.csr -subj '/CN=localhost' && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile ext.cnf) >/dev/null 2>&1 && echo made",
             d);
    CIO_ASSERT_EQ(cio_to_thread(run_shell, &sh), 0);
    CIO_ASSERT_STREQ(sh.out, "made\n");
    char cert[600], key[600];
    snprintf(cert, sizeof cert, "%s/server.pem", d);
    snprintf(key, sizeof key, "%s/server.key", d);
    cio_tls_opts to = {.server = true, .cert_file = cert, .key_file = key};
    cio_tls_ctx *ctx = cio_tls_ctx_new(&to);
    CIO_ASSERT(ctx != NULL);
    cio_http_server_opts o = {.tls_ctx = ctx};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    snprintf(sh.cmd, sizeof sh.cmd,
             "curl -sS --max-time 20 --cacert %s/ca.pem -w '|%%{http_code}|%%{num_connects}\\n' "
             "https://127.0.0.1:%d/ https://127.0.0.1:%d/chunks 2>&1",
             d, t.port, t.port);
    CIO_ASSERT_EQ(cio_to_thread(run_shell, &sh), 0);
    CIO_ASSERT_STREQ(sh.out, "hello\n|200|1\none,two,three|200|0\n");
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    cio_tls_ctx_free(ctx);
}
