/* The HTTP/1.1 server: routing, keep-alive, pipelining, bodies both ways,
 * 100-continue, limits, smuggling refusals, graceful shutdown. Every test
 * starts its own server on 127.0.0.1 and talks to it over real sockets
 * from tasks on the same loop, asserting exact status lines and bodies. */
#include "http_test_util.h"
#include <limits.h>

#include <pthread.h>

#define EXPECT_STATUS(req, want_status, want_closed)                          \
    do {                                                                      \
        static tresp r_; /* static: keeps big structs off the task stack */   \
        bool closed_ = false;                                                 \
        CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r_, &closed_), want_status); \
        CIO_ASSERT_EQ(closed_, want_closed);                                  \
    } while (0)

CIO_TEST(http_get_hello) {
    tsrv t;
    int fds = cio_test_fd_count();
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CIO_ASSERT_STREQ(r.body, "hello\n");
    CIO_ASSERT_STREQ(thead(&r, "Content-Type"), "text/plain");
    CIO_ASSERT_STREQ(thead(&r, "Content-Length"), "6");
    CIO_ASSERT_STREQ(thead(&r, "Server"), "cio");
    CIO_ASSERT(thead(&r, "Date") != NULL);
    CIO_ASSERT(thead(&r, "Connection") == NULL);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

CIO_TEST(http_request_accessors) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    tresp r;
    static const char req[] = "PUT /info?a=1&b=%20 HTTP/1.1\r\nHost:  example.org \r\nX-A: 1\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r, NULL), 200);
    CIO_ASSERT_STREQ(r.body, "PUT|/info?a=1&b=%20|/info|a=1&b=%20|example.org|11|2|Host=example.org");
    static const char abs[] = "GET http://example.org/info?q HTTP/1.1\r\nHost: example.org\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, abs, sizeof abs - 1, &r, NULL), 200);
    CIO_ASSERT_STREQ(r.body, "GET|http://example.org/info?q|/info|q|example.org|11|1|Host=example.org");
    static const char v10[] = "GET /info HTTP/1.0\r\n\r\n";
    bool closed;
    CIO_ASSERT_EQ(texchange(&t, v10, sizeof v10 - 1, &r, &closed), 200);
    CIO_ASSERT_STREQ(r.body, "GET|/info|/info||-|10|0|-=-");
    CIO_ASSERT(closed); /* HTTP/1.0 without keep-alive */
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_routes_404_405_prefix) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    tresp r;
    static const char nf[] = "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, nf, sizeof nf - 1, &r, NULL), 404);
    CIO_ASSERT(strncmp(r.head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    static const char na[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, na, sizeof na - 1, &r, NULL), 405);
    CIO_ASSERT_STREQ(thead(&r, "Allow"), "GET, HEAD");
    static const char px[] = "GET /prefix/a/b?z HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, px, sizeof px - 1, &r, NULL), 200);
    CIO_ASSERT_STREQ(r.body, "/prefix/a/b");
    static const char del[] = "DELETE /prefix/x HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, del, sizeof del - 1, &r, NULL), 200);
    static const char del2[] = "DELETE /prefix/y HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, del2, sizeof del2 - 1, &r, NULL), 405);
    static const char head[] = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, head, sizeof head - 1, &r, NULL), 200);
    CIO_ASSERT_STREQ(thead(&r, "Content-Length"), "6");
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_handler_results) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    tresp r;
    bool closed;
    static const char f[] = "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, f, sizeof f - 1, &r, NULL), 500);
    CIO_ASSERT(strncmp(r.head, "HTTP/1.1 500 Internal Server Error\r\n", 36) == 0);
    static const char e[] = "GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, e, sizeof e - 1, &r, &closed), 204);
    CIO_ASSERT(thead(&r, "Content-Length") == NULL);
    CIO_ASSERT(closed);
    static const char i[] = "GET /inject HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, i, sizeof i - 1, &r, NULL), 200);
    char want[64];
    snprintf(want, sizeof want, "%d %d 0", -EINVAL, -EINVAL);
    CIO_ASSERT_STREQ(r.body, want);
    CIO_ASSERT_STREQ(thead(&r, "X-Good"), "fine");
    CIO_ASSERT(thead(&r, "Set-Cookie") == NULL);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_keepalive_many_requests) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    for (int i = 0; i < 200; i++) {
        CIO_ASSERT_EQ(TSEND(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        tresp r;
        CIO_ASSERT_EQ(tread(s, &r, false), 200);
        CIO_ASSERT_STREQ(r.body, "hello\n");
    }
    /* HTTP/1.0 keep-alive is honoured too. */
    CIO_ASSERT_EQ(TSEND(s, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(thead(&r, "Connection"), "keep-alive");
    CIO_ASSERT_EQ(TSEND(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(thead(&r, "Connection"), "close");
    CIO_ASSERT(tclosed(s));
    cio_stream_abort(s);
    CIO_ASSERT_EQ(cio_http_server_requests(t.s), 202);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_pipelining_in_order) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    /* Three requests in one write, one with a body; responses in order. */
    CIO_ASSERT_EQ(TSEND(s, "GET /prefix/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
                           "GET /prefix/3 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "/prefix/1");
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "abcde");
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "/prefix/3");
    /* 50 pipelined requests, split at an awkward place. */
    char many[50 * 40];
    size_t n = 0;
    for (int i = 0; i < 50; i++)
        n += (size_t)sprintf(many + n, "GET /prefix/%02d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    CIO_ASSERT_EQ(tsend(s, many, 333), 0);
    CIO_ASSERT_EQ(cio_sleep(10 * CIO_MS), 0);
    CIO_ASSERT_EQ(tsend(s, many + 333, n - 333), 0);
    for (int i = 0; i < 50; i++) {
        char want[32];
        sprintf(want, "/prefix/%02d", i);
        CIO_ASSERT_EQ(tread(s, &r, false), 200);
        CIO_ASSERT_STREQ(r.body, want);
    }
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_request_bodies) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    tresp r;
    CIO_ASSERT_EQ(TSEND(s, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "hello world");
    /* Chunked, with an extension and a trailer, in pieces. */
    CIO_ASSERT_EQ(TSEND(s, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5;ext=1\r\nhello\r\n1"), 0);
    CIO_ASSERT_EQ(cio_sleep(5 * CIO_MS), 0);
    CIO_ASSERT_EQ(TSEND(s, "0\r\n, chunked body!!\r\n0\r\nX-Trailer: 1\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "hello, chunked body!!");
    /* Streamed both ways: read 7 bytes at a time, echoed as chunks. */
    CIO_ASSERT_EQ(TSEND(s, "POST /echo-stream HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\n"
                           "abcdefghijklmnopqrstuvwxyz"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(thead(&r, "Transfer-Encoding"), "chunked");
    CIO_ASSERT_STREQ(r.body, "abcdefghijklmnopqrstuvwxyz");
    /* An unread small body is skipped and the connection kept. */
    CIO_ASSERT_EQ(TSEND(s, "POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nxxxx"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT(thead(&r, "Connection") == NULL);
    CIO_ASSERT_EQ(TSEND(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "hello\n");
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_chunked_response) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET /chunks HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    char raw[512];
    ssize_t n = cio_stream_readuntil(s, "0\r\n\r\n", 5, raw, sizeof raw - 1);
    CIO_ASSERT_GT(n, 0);
    raw[n] = 0;
    const char *body = strstr(raw, "\r\n\r\n");
    CIO_ASSERT(body != NULL);
    CIO_ASSERT_STREQ(body + 4, "4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n");
    CIO_ASSERT(strstr(raw, "\r\nX-Test: yes\r\n") != NULL);
    CIO_ASSERT(strstr(raw, "\r\nTransfer-Encoding: chunked\r\n") != NULL);
    /* HTTP/1.0 gets the body delimited by the close. */
    CIO_ASSERT_EQ(TSEND(s, "GET /chunks HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "one,two,three");
    CIO_ASSERT_STREQ(thead(&r, "Connection"), "close");
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_expect_100_continue) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                           "Expect: 100-continue\r\n\r\n"), 0);
    char line[64];
    ssize_t n = cio_stream_readuntil(s, "\r\n\r\n", 4, line, sizeof line - 1);
    CIO_ASSERT_EQ(n, 25);
    line[n] = 0;
    CIO_ASSERT_STREQ(line, "HTTP/1.1 100 Continue\r\n\r\n");
    CIO_ASSERT_EQ(TSEND(s, "data"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "data");
    /* A handler that answers without reading: no 100, and the connection
     * closes since the client may or may not send the body now. */
    CIO_ASSERT_EQ(TSEND(s, "POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                           "Expect: 100-continue\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "ignored\n");
    CIO_ASSERT_STREQ(thead(&r, "Connection"), "close");
    CIO_ASSERT(tclosed(s));
    cio_stream_abort(s);
    /* Other expectations: 417. */
    static const char e[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: bogus\r\n\r\nx";
    tresp r2;
    CIO_ASSERT_EQ(texchange(&t, e, sizeof e - 1, &r2, NULL), 417);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* Request smuggling: every ambiguous framing is a 400 and a close. */
CIO_TEST(http_smuggling_rejected) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 3\r\n\r\n0\r\n\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
                  400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                  400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
                  400, true);
    /* Bare LF line endings, bare CR, obs-fold, space before the colon. */
    EXPECT_STATUS("GET / HTTP/1.1\nHost: x\n\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, true);
    /* Transfer-Encoding whose final coding is not chunked, or chunked
     * twice, or in HTTP/1.0; codings we cannot undo: 501. */
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                  400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: identity\r\n\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                  400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                  501, true);
    /* Invalid chunk sizes. */
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "10000000000000001\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\n", 400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n",
                  400, true);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhelloXX0\r\n\r\n", 400, true);
    /* Host: missing in HTTP/1.1, or twice. */
    EXPECT_STATUS("GET / HTTP/1.1\r\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, true);
    /* Not HTTP/1.x */
    EXPECT_STATUS("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, true);
    /* The server still works. */
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, true);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

CIO_TEST(http_garbage_bytes_400) {
    tsrv t;
    int fds = cio_test_fd_count();
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    EXPECT_STATUS("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, true); /* a TLS hello */
    EXPECT_STATUS("\x00\x01\x02\x03\xff\xfe\r\n\r\n", 400, true);
    EXPECT_STATUS("GET\r\n\r\n", 400, true);
    EXPECT_STATUS("GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, true);
    EXPECT_STATUS("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\r\nX-A: \x7f\r\n\r\n", 400, true);
    EXPECT_STATUS("GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400, true);
    /* Pseudo-random bytes: always a 400 (or a close), never a crash. */
    uint32_t seed = 12345;
    for (int i = 0; i < 40; i++) {
        char junk[300];
        for (size_t k = 0; k < sizeof junk; k++) {
            seed = seed * 1103515245u + 12345u;
            junk[k] = (char)(seed >> 16);
        }
        tresp r;
        int st = texchange(&t, junk, sizeof junk, &r, NULL);
        CIO_ASSERT(st == 400 || st == 431);
    }
    EXPECT_STATUS("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, true);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

CIO_TEST(http_limits_431_413) {
    cio_http_server_opts o = {.max_header_bytes = 1024, .max_headers = 10, .max_body_bytes = 100};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    char req[4096];
    int n = sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', 1100);
    n += 1100;
    n += sprintf(req + n, "\r\n\r\n");
    tresp r;
    bool closed;
    CIO_ASSERT_EQ(texchange(&t, req, (size_t)n, &r, &closed), 431);
    CIO_ASSERT(strncmp(r.head, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
    CIO_ASSERT(closed);
    n = sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 11; i++)
        n += sprintf(req + n, "X-%d: v\r\n", i);
    n += sprintf(req + n, "\r\n");
    CIO_ASSERT_EQ(texchange(&t, req, (size_t)n, &r, &closed), 431);
    CIO_ASSERT(closed);
    /* Exactly at the limits is fine. */
    n = sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 9; i++)
        n += sprintf(req + n, "X-%d: v\r\n", i);
    n += sprintf(req + n, "\r\n");
    CIO_ASSERT_EQ(texchange(&t, req, (size_t)n, &r, NULL), 200);
    EXPECT_STATUS("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413, true);
    n = sprintf(req, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    memset(req + n, 'b', 100);
    CIO_ASSERT_EQ(texchange(&t, req, (size_t)n + 100, &r, NULL), 200);
    CIO_ASSERT_EQ(r.blen, 100);
    /* A chunked body that grows past the limit: 413 from the reader. */
    n = sprintf(req, "POST /readall HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "40\r\n%064d\r\n40\r\n%064d\r\n0\r\n\r\n", 0, 0);
    CIO_ASSERT_EQ(texchange(&t, req, (size_t)n, &r, &closed), 413);
    CIO_ASSERT(closed);
    CIO_ASSERT_EQ(t.read_rc, CIO_ELIMIT);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* A client that sends half a head and stops: 408 after header_timeout. */
CIO_TEST_VCLOCK(http_header_timeout_408) {
    cio_http_server_opts o = {.header_timeout = 5 * CIO_SEC};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(TSEND(s, "GET / HTTP/1.1\r\nHo"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 408);
    CIO_ASSERT(strncmp(r.head, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    CIO_ASSERT_STREQ(thead(&r, "Connection"), "close");
    CIO_ASSERT_GE(cio_now() - t0, 5 * CIO_SEC);
    CIO_ASSERT_LT(cio_now() - t0, 6 * CIO_SEC);
    CIO_ASSERT(tclosed(s));
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* A keep-alive connection with nothing to say is closed quietly. */
CIO_TEST_VCLOCK(http_idle_timeout_closes) {
    cio_http_server_opts o = {.idle_timeout = 30 * CIO_SEC};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    int64_t t0 = cio_now();
    char c;
    CIO_ASSERT_EQ(cio_stream_read(s, &c, 1), 0); /* closed, no bytes */
    CIO_ASSERT_GE(cio_now() - t0, 30 * CIO_SEC);
    CIO_ASSERT_LT(cio_now() - t0, 31 * CIO_SEC);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* A client that stops sending in the middle of a body: the handler's read
 * fails with -ETIMEDOUT after body_timeout and the client gets 408. */
CIO_TEST_VCLOCK(http_body_timeout_408) {
    cio_http_server_opts o = {.body_timeout = 3 * CIO_SEC};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "POST /readall HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 408);
    CIO_ASSERT_EQ(t.read_rc, -ETIMEDOUT);
    CIO_ASSERT(tclosed(s));
    cio_stream_abort(s);
    /* A client that closes mid-body: the handler sees CIO_EPARTIAL. */
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "POST /readall HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), 0);
    CIO_ASSERT_EQ(cio_stream_write_eof(s), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 500);
    CIO_ASSERT_EQ(t.read_rc, CIO_EPARTIAL);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

typedef struct {
    tsrv *t;
    int ok, bad;
    bool stop;
} prober;

/* Makes a request every second on fresh connections until told to stop. */
static int probe_task(void *a) {
    prober *p = a;
    while (!p->stop) {
        static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        tresp r;
        if (texchange(p->t, req, sizeof req - 1, &r, NULL) == 200 && strcmp(r.body, "hello\n") == 0)
            p->ok++;
        else
            p->bad++;
        if (cio_sleep(CIO_SEC) < 0)
            break;
    }
    return 0;
}

/* Slowloris: heads dribbled a byte a second by 20 clients. Each is cut off
 * by header_timeout (408 and close) while others are served normally. */
static int loris(void *a) {
    tsrv *t = a;
    cio_stream *s;
    int rc = tconnect(t, &s);
    if (rc < 0)
        return rc;
    static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    int64_t t0 = cio_now();
    for (size_t i = 0; i < sizeof head - 1; i++) {
        if (tsend(s, head + i, 1) < 0 || cio_sleep(CIO_SEC) < 0)
            break;
        char c; /* the server answered (408)? */
        if (recv(cio_stream_fd(s), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0 || cio_now() - t0 > 20 * CIO_SEC)
            break;
    }
    tresp r;
    rc = tread(s, &r, false);
    int64_t dt = cio_now() - t0;
    cio_stream_abort(s);
    CIO_EXPECT_EQ(rc, 408);
    CIO_EXPECT(dt >= 5 * CIO_SEC && dt <= 7 * CIO_SEC);
    return rc == 408 ? 0 : -1;
}

CIO_TEST_VCLOCK(http_slowloris) {
    cio_http_server_opts o = {.header_timeout = 5 * CIO_SEC};
    tsrv t;
    int fds = cio_test_fd_count();
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    prober p = {.t = &t};
    cio_task *pt = cio_spawn(probe_task, &p);
    cio_task *ls[20];
    for (int i = 0; i < 20; i++)
        ls[i] = cio_spawn(loris, &t);
    CIO_ASSERT_EQ(cio_gather(ls, 20, NULL), 0);
    p.stop = true;
    CIO_ASSERT_EQ(cio_join(pt), 0);
    CIO_ASSERT_GE(p.ok, 5);
    CIO_ASSERT_EQ(p.bad, 0);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

/* A client that resets the connection while a large response streams:
 * the handler's write fails, the server goes on serving others. */
CIO_TEST(http_client_resets_mid_response) {
    tsrv t;
    int fds = cio_test_fd_count();
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    char buf[4096];
    CIO_ASSERT_EQ(cio_stream_readexactly(s, buf, sizeof buf, NULL), (ssize_t)sizeof buf);
    /* RST instead of FIN: SO_LINGER with a zero timeout. */
    struct linger lg = {1, 0};
    CIO_ASSERT_EQ(setsockopt(cio_stream_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    cio_stream_abort(s);
    tresp r;
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r, NULL), 200);
    for (int i = 0; i < 100 && t.big_rc == 0; i++)
        cio_sleep(10 * CIO_MS);
    CIO_ASSERT(t.big_rc == -ECONNRESET || t.big_rc == -EPIPE);
    CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r, NULL), 200);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

/* A client that never reads: only its handler blocks (in drain), others
 * are served; write_timeout then closes it. */
CIO_TEST_VCLOCK(http_client_never_reads) {
    cio_http_server_opts o = {.write_timeout = 10 * CIO_SEC};
    tsrv t;
    int fds = cio_test_fd_count();
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(cio_event_wait(&t.big_started), 0);
    int64_t t0 = cio_now();
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 20; i++) {
        tresp r;
        CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r, NULL), 200);
    }
    CIO_ASSERT_EQ(t.big_rc, 0); /* still blocked */
    CIO_ASSERT_LT(cio_now() - t0, 10 * CIO_SEC);
    while (t.big_rc == 0)
        CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    CIO_ASSERT_EQ(t.big_rc, -ETIMEDOUT);
    CIO_ASSERT_GE(cio_now() - t0, 10 * CIO_SEC);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

/* 10,000 connections opened and dropped (some after a partial request),
 * in waves of 500; the server then serves normally and leaks no fd. */
CIO_TEST(http_ten_thousand_dropped_connections) {
    tsrv t;
    int fds = cio_test_fd_count();
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    long total = cio_test_scale(10000), done = 0;
    while (done < total) {
        cio_stream *ss[500];
        long n = total - done < 500 ? total - done : 500;
        for (long i = 0; i < n; i++) {
            CIO_ASSERT_EQ(tconnect(&t, &ss[i]), 0);
            if (i % 3 == 1)
                cio_stream_write(ss[i], "GET / HT", 8);
        }
        for (long i = 0; i < n; i++)
            cio_stream_abort(ss[i]);
        done += n;
    }
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    tresp r;
    CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r, NULL), 200);
    for (int i = 0; i < 200 && cio_http_server_connections(t.s) > 0; i++)
        cio_sleep(10 * CIO_MS);
    CIO_ASSERT_EQ(cio_http_server_connections(t.s), 0);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

/* Graceful shutdown: idle keep-alive connections close at once, a request
 * in progress completes (with Connection: close), serve returns 0. */
CIO_TEST_VCLOCK(http_graceful_shutdown) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    t.slow_ns = 3 * CIO_SEC;
    cio_stream *idle, *busy;
    CIO_ASSERT_EQ(tconnect(&t, &idle), 0);
    CIO_ASSERT_EQ(TSEND(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(idle, &r, false), 200);
    CIO_ASSERT_EQ(tconnect(&t, &busy), 0);
    CIO_ASSERT_EQ(TSEND(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_http_server_connections(t.s), 2);
    int64_t t0 = cio_now();
    cio_http_server_shutdown(t.s, 10 * CIO_SEC);
    CIO_ASSERT(tclosed(idle));
    CIO_ASSERT_LT(cio_now() - t0, CIO_SEC);
    CIO_ASSERT_EQ(tread(busy, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "slow\n");
    CIO_ASSERT_STREQ(thead(&r, "Connection"), "close");
    CIO_ASSERT(tclosed(busy));
    CIO_ASSERT_EQ(cio_join(t.t), 0);
    CIO_ASSERT_EQ(t.slow_done, 1);
    CIO_ASSERT_LT(cio_now() - t0, 3 * CIO_SEC);
    cio_stream_abort(idle);
    cio_stream_abort(busy);
    /* New connections are refused after the shutdown. */
    cio_stream *s;
    CIO_ASSERT(tconnect(&t, &s) < 0);
    cio_http_server_free(t.s);
}

/* Grace runs out: the handler is cancelled and serve still returns 0. */
CIO_TEST_VCLOCK(http_shutdown_grace_expires) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    t.slow_ns = 100 * CIO_SEC;
    cio_stream *busy;
    CIO_ASSERT_EQ(tconnect(&t, &busy), 0);
    CIO_ASSERT_EQ(TSEND(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    int64_t t0 = cio_now();
    CIO_ASSERT_EQ(tsrv_stop(&t, 2 * CIO_SEC), 0);
    CIO_ASSERT_GE(cio_now() - t0, 2 * CIO_SEC);
    CIO_ASSERT_LT(cio_now() - t0, 3 * CIO_SEC);
    CIO_ASSERT_EQ(t.slow_done, 0);
    CIO_ASSERT(tclosed(busy));
    cio_stream_abort(busy);
}

/* Cancelling the task in cio_http_server_serve cancels the connections. */
CIO_TEST_VCLOCK(http_serve_cancelled) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    t.slow_ns = 100 * CIO_SEC;
    cio_stream *busy;
    CIO_ASSERT_EQ(tconnect(&t, &busy), 0);
    CIO_ASSERT_EQ(TSEND(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    cio_cancel(t.t);
    CIO_ASSERT_EQ(cio_join(t.t), -ECANCELED);
    CIO_ASSERT(tclosed(busy));
    cio_stream_abort(busy);
    CIO_ASSERT_EQ(cio_http_server_connections(t.s), 0);
    cio_http_server_free(t.s);
}

CIO_TEST(http_api_errors) {
    cio_http_server *s = cio_http_server_new(NULL);
    CIO_ASSERT(s != NULL);
    CIO_ASSERT_EQ(cio_http_server_route(s, "GET", "noslash", t_hello, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_http_server_route(s, "G T", "/", t_hello, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_http_server_route(s, "GET", "/", NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_http_server_static(s, "nope", "/tmp"), -EINVAL);
    CIO_ASSERT_EQ(cio_http_server_static(s, "/s/", "/nonexistent-dir-for-cio"), -ENOENT);
    CIO_ASSERT_EQ(cio_http_server_port(s), -1);
    CIO_ASSERT_EQ(cio_http_server_serve(s), -EINVAL);
    CIO_ASSERT_EQ(cio_http_server_listen(s, "127.0.0.1", 70000), -EINVAL);
    CIO_ASSERT_EQ(cio_http_server_listen(s, "127.0.0.1", 0), 0);
    CIO_ASSERT_EQ(cio_http_server_listen(s, "127.0.0.1", 0), -EALREADY);
    CIO_ASSERT_GT(cio_http_server_port(s), 0);
    cio_http_server_free(s); /* still listening: closed abruptly */
    CIO_ASSERT_STREQ(cio_http_status_text(431), "Request Header Fields Too Large");
    CIO_ASSERT_STREQ(cio_http_status_text(799), "");
    CIO_ASSERT_STREQ(cio_http_mime_type("a/b.HTML"), "text/html; charset=utf-8");
    CIO_ASSERT_STREQ(cio_http_mime_type("a.d/noext"), "application/octet-stream");
}

/* A handler that declares its body length up front, then writes it in
 * pieces; every call's result is recorded for the test to check. */
static int len_rc[8];
static bool len_started[2];
static int64_t req_length;
static int t_declared(cio_http_request *req, cio_http_response *w, void *arg) {
    const char *d;
    size_t n;
    req_length = cio_http_req_content_length(req);
    if (cio_http_req_body(req, &d, &n) < 0)
        return -EIO;
    len_started[0] = cio_http_resp_started(w);
    len_rc[0] = cio_http_resp_length(w, -1);
    len_rc[1] = cio_http_resp_length(w, 10);
    len_rc[2] = cio_http_resp_write(w, "abcd", 4);
    len_started[1] = cio_http_resp_started(w);
    len_rc[3] = cio_http_resp_length(w, 20);
    len_rc[4] = cio_http_resp_write(w, "0123456", 7); /* 1 byte too many */
    len_rc[5] = cio_http_resp_write(w, "efghij", 6);
    len_rc[6] = cio_http_resp_end(w);
    len_rc[7] = cio_http_resp_write(w, "x", 1);
    return 0;
}

/* Declares 10 bytes and ends after 3: the end reports it, the client sees
 * the connection close. */
static int short_end_rc;
static int t_short(cio_http_request *req, cio_http_response *w, void *arg) {
    cio_http_resp_length(w, 10);
    cio_http_resp_write(w, "abc", 3);
    short_end_rc = cio_http_resp_end(w);
    return 0;
}

CIO_TEST(http_declared_length_response_and_request_length) {
    tsrv t;
    memset(&t, 0, sizeof t);
    t.s = cio_http_server_new(NULL);
    CIO_ASSERT(t.s != NULL);
    CIO_ASSERT_EQ(cio_http_server_route(t.s, NULL, "/declared", t_declared, NULL), 0);
    CIO_ASSERT_EQ(cio_http_server_route(t.s, "GET", "/short", t_short, NULL), 0);
    CIO_ASSERT_EQ(cio_http_server_listen(t.s, "127.0.0.1", 0), 0);
    t.port = cio_http_server_port(t.s);
    t.t = cio_spawn(tsrv_serve, t.s);
    static tresp r;
    static const char post[] =
        "POST /declared HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    CIO_ASSERT_EQ(texchange(&t, post, sizeof post - 1, &r, NULL), 200);
    CIO_ASSERT_EQ(req_length, 5);
    CIO_ASSERT_STREQ(thead(&r, "Content-Length"), "10");
    CIO_ASSERT(thead(&r, "Transfer-Encoding") == NULL);
    CIO_ASSERT_STREQ(r.body, "abcdefghij");
    CIO_ASSERT(!len_started[0]);
    CIO_ASSERT(len_started[1]);
    CIO_ASSERT_EQ(len_rc[0], -EINVAL);
    CIO_ASSERT_EQ(len_rc[1], 0);
    CIO_ASSERT_EQ(len_rc[2], 0);
    CIO_ASSERT_EQ(len_rc[3], -EALREADY);
    CIO_ASSERT_EQ(len_rc[4], CIO_ELIMIT);
    CIO_ASSERT_EQ(len_rc[5], 0);
    CIO_ASSERT_EQ(len_rc[6], 0);
    CIO_ASSERT_EQ(len_rc[7], -EALREADY);

    static const char chunked[] = "POST /declared HTTP/1.1\r\nHost: x\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, chunked, sizeof chunked - 1, &r, NULL), 200);
    CIO_ASSERT_EQ(req_length, -1); /* chunked: unknown */
    static const char get[] = "GET /declared HTTP/1.1\r\nHost: x\r\n\r\n";
    CIO_ASSERT_EQ(texchange(&t, get, sizeof get - 1, &r, NULL), 200);
    CIO_ASSERT_EQ(req_length, 0);

    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), CIO_EPARTIAL); /* 3 of 10 bytes, then EOF */
    CIO_ASSERT_EQ(short_end_rc, CIO_EPARTIAL);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* Cancellation reaches a handler waiting in cio_http_req_read (shutdown
 * grace over): the read returns -ECANCELED, the connection closes. */
CIO_TEST_VCLOCK(http_cancel_in_body_read) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "POST /readall HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), 0);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    CIO_ASSERT_EQ(tsrv_stop(&t, 2 * CIO_SEC), 0);
    CIO_ASSERT_EQ(t.read_rc, -ECANCELED);
    CIO_ASSERT(tclosed(s));
    cio_stream_abort(s);
}

/* ... and a handler blocked writing to a client that does not read. */
CIO_TEST_VCLOCK(http_cancel_in_response_write) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(cio_event_wait(&t.big_started), 0);
    CIO_ASSERT_EQ(cio_sleep(CIO_SEC), 0);
    CIO_ASSERT_EQ(t.big_rc, 0);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(t.big_rc, -ECANCELED);
    cio_stream_abort(s);
}

/* Allocation failures anywhere on the way (accepting, the connection's
 * buffers, the response buffer): the request fails cleanly, the server
 * goes on, nothing leaks (the harness checks). */
CIO_TEST(http_allocation_failures) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    static const char req[] = "GET /prefix/abc?q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int ok = 0;
    for (long n = 1; n <= 12; n++) {
        cio_stream *s;
        CIO_ASSERT_EQ(tconnect(&t, &s), 0);
        cio_test_fail_alloc(n);
        tresp r;
        int st = -1;
        if (tsend(s, req, sizeof req - 1) == 0)
            st = tread(s, &r, false);
        cio_test_fail_alloc(0);
        cio_stream_abort(s);
        if (st == 200)
            ok++;
        /* Whatever happened to that one, the next request works. */
        CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r, NULL), 200);
        CIO_ASSERT_STREQ(r.body, "/prefix/abc");
    }
    CIO_ASSERT_GT(ok, 0);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* A response is not held back for a batch while the rest of the next
 * request has yet to come (the client may be waiting for it). */
CIO_TEST(http_pipelined_partial_request_flushes) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET /prefix/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /prefix/2 HT"), 0);
    tresp r;
    int st;
    CIO_TIMEOUT(5 * CIO_SEC) { st = tread(s, &r, false); }
    CIO_ASSERT_EQ(st, 200);
    CIO_ASSERT_STREQ(r.body, "/prefix/1");
    CIO_ASSERT_EQ(TSEND(s, "TP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_STREQ(r.body, "/prefix/2");
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* SO_REUSEPORT: a second loop in another thread serves the same port;
 * the kernel spreads connections over both, each loop answers its own. */
typedef struct {
    int port;
    cio_loop *loop;
    cio_http_server *s;
    uint64_t served;
    volatile int ready;
} twin;

static int twin_hello(cio_http_request *req, cio_http_response *w, void *arg) {
    return cio_http_resp_send(w, 200, "text/plain", "twin\n", 5);
}

static int twin_main(void *arg) {
    twin *tw = arg;
    cio_http_server_opts o = {.reuseport = true};
    tw->s = cio_http_server_new(&o);
    cio_http_server_route(tw->s, "GET", "/", twin_hello, NULL);
    int rc = cio_http_server_listen(tw->s, "127.0.0.1", tw->port);
    tw->loop = cio_loop_current();
    __atomic_store_n(&tw->ready, rc == 0 ? 1 : -1, __ATOMIC_RELEASE);
    if (rc == 0)
        rc = cio_http_server_serve(tw->s);
    tw->served = cio_http_server_requests(tw->s);
    cio_http_server_free(tw->s);
    return rc;
}

static void *twin_thread(void *arg) { return (void *)(intptr_t)cio_run(twin_main, arg); }

static void twin_stop(void *arg) { cio_http_server_shutdown(((twin *)arg)->s, CIO_SEC); }

CIO_TEST(http_reuseport_two_loops) {
    cio_http_server_opts o = {.reuseport = true};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    twin tw = {.port = t.port};
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, twin_thread, &tw), 0);
    while (__atomic_load_n(&tw.ready, __ATOMIC_ACQUIRE) == 0)
        cio_sleep(CIO_MS);
    CIO_ASSERT_EQ(tw.ready, 1);
    int mine = 0, theirs = 0;
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 64; i++) {
        tresp r;
        CIO_ASSERT_EQ(texchange(&t, req, sizeof req - 1, &r, NULL), 200);
        if (strcmp(r.body, "hello\n") == 0)
            mine++;
        else if (strcmp(r.body, "twin\n") == 0)
            theirs++;
    }
    CIO_ASSERT_EQ(cio_call_threadsafe(tw.loop, twin_stop, &tw), 0);
    void *res;
    pthread_join(th, &res);
    CIO_ASSERT_EQ((intptr_t)res, 0);
    CIO_ASSERT_EQ(mine + theirs, 64);
    CIO_ASSERT_GT(mine, 0);
    CIO_ASSERT_GT(theirs, 0);
    CIO_ASSERT_EQ(tw.served, (uint64_t)theirs);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

typedef struct {
    char lines[8][128];
    int n;
} logbook;

static void log_line(const cio_http_request *req, int status, int64_t bytes, void *arg) {
    logbook *lb = arg;
    if (lb->n < 8)
        snprintf(lb->lines[lb->n++], 128, "%s %s %d %lld", cio_http_req_method(req),
                 cio_http_req_target(req), status, (long long)bytes);
}

CIO_TEST(http_access_log) {
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, NULL), 0);
    logbook lb = {.n = 0};
    cio_http_server_access_log(t.s, log_line, &lb);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "GET /?a HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /chunks HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    tresp r;
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    CIO_ASSERT_EQ(tread(s, &r, true), 200);
    CIO_ASSERT_EQ(tread(s, &r, false), 404);
    CIO_ASSERT_EQ(tread(s, &r, false), 200);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(lb.n, 4);
    CIO_ASSERT_STREQ(lb.lines[0], "GET /?a 200 6");
    CIO_ASSERT_STREQ(lb.lines[1], "HEAD / 200 0");
    CIO_ASSERT_STREQ(lb.lines[2], "GET /nothing 404 10");
    CIO_ASSERT_STREQ(lb.lines[3], "GET /chunks 200 13");
}

typedef struct {
    cio_stream *s;
    bool chunked;
    size_t total;
    uint64_t sum;
} uploader;

/* Sends a 3 MiB body in uneven pieces, as Content-Length or chunked. */
static int upload_task(void *arg) {
    uploader *u = arg;
    static char piece[70000];
    size_t sent = 0, k = 0;
    while (sent < u->total) {
        size_t n = 1000 + (k++ * 7919) % (sizeof piece - 1000);
        if (n > u->total - sent)
            n = u->total - sent;
        for (size_t i = 0; i < n; i++) {
            piece[i] = (char)((sent + i) * 31);
            u->sum += (unsigned char)piece[i];
        }
        char hdr[32];
        int rc = 0;
        if (u->chunked) {
            int h = snprintf(hdr, sizeof hdr, "%zX;piece=%zu\r\n", n, k);
            rc = cio_stream_write(u->s, hdr, (size_t)h);
        }
        if (rc == 0)
            rc = cio_stream_write(u->s, piece, n);
        if (rc == 0 && u->chunked)
            rc = cio_stream_write(u->s, "\r\n", 2);
        if (rc == 0)
            rc = cio_stream_drain(u->s);
        if (rc < 0)
            return rc;
        sent += n;
    }
    if (u->chunked && cio_stream_write(u->s, "0\r\n\r\n", 5) < 0)
        return -EPIPE;
    return cio_stream_flush(u->s);
}

/* Large request bodies (beyond every buffer), both framings, streamed
 * while the handler reads: every byte arrives, in order. */
CIO_TEST(http_large_request_bodies) {
    cio_http_server_opts o = {.max_body_bytes = -1};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    for (int chunked = 0; chunked < 2; chunked++) {
        uploader u = {.s = s, .chunked = chunked, .total = 3 << 20};
        char head[128];
        if (chunked)
            snprintf(head, sizeof head, "PUT /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        else
            snprintf(head, sizeof head, "PUT /sum HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", u.total);
        CIO_ASSERT_EQ(TSEND(s, head), 0);
        cio_task *up = cio_spawn(upload_task, &u);
        tresp r;
        CIO_ASSERT_EQ(tread(s, &r, false), 200);
        CIO_ASSERT_EQ(cio_join(up), 0);
        char want[64];
        snprintf(want, sizeof want, "%zu %llu", u.total, (unsigned long long)u.sum);
        CIO_ASSERT_STREQ(r.body, want);
    }
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* max_connections: beyond it, new connections wait in the backlog until
 * one of the served ones closes. */
CIO_TEST_VCLOCK(http_connection_limit) {
    cio_http_server_opts o = {.max_connections = 2};
    tsrv t;
    CIO_ASSERT_EQ(tsrv_start(&t, &o), 0);
    cio_stream *a, *b, *c;
    tresp r;
    CIO_ASSERT_EQ(tconnect(&t, &a), 0);
    CIO_ASSERT_EQ(TSEND(a, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(a, &r, false), 200);
    CIO_ASSERT_EQ(tconnect(&t, &b), 0);
    CIO_ASSERT_EQ(TSEND(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    CIO_ASSERT_EQ(tread(b, &r, false), 200);
    CIO_ASSERT_EQ(tconnect(&t, &c), 0); /* the kernel completes it */
    CIO_ASSERT_EQ(TSEND(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    int st = 0;
    CIO_TIMEOUT(5 * CIO_SEC) { st = tread(c, &r, false); }
    CIO_ASSERT_EQ(st, -ETIMEDOUT); /* not accepted yet */
    CIO_ASSERT_EQ(cio_http_server_connections(t.s), 2);
    cio_stream_abort(a);
    CIO_ASSERT_EQ(tread(c, &r, false), 200);
    cio_stream_abort(b);
    cio_stream_abort(c);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* Misuse of the request body and response calls from a handler; every
 * result and message is recorded for the test to check. */
static int mis_rc[8];
static char mis_msg[8][160];
static int mis_pads;
#define MIS_REC(i, call) \
    (mis_rc[i] = (int)(call), snprintf(mis_msg[i], sizeof mis_msg[i], "%s", cio_errmsg()))

static int t_misuse(cio_http_request *req, cio_http_response *w, void *arg) {
    char buf[64];
    const char *d;
    size_t n;
    MIS_REC(0, cio_http_req_read(req, buf, 3));
    MIS_REC(1, cio_http_req_body(req, &d, &n)); /* the body is already being read */
    ssize_t k;
    while ((k = cio_http_req_read(req, buf, sizeof buf)) > 0)
        ;
    /* Header fields up to the response head's limit, then CIO_ELIMIT. */
    char value[1001];
    memset(value, 'v', 1000);
    value[1000] = 0;
    int rc;
    mis_pads = 0;
    for (;;) {
        char name[32];
        snprintf(name, sizeof name, "X-Pad-%d", mis_pads);
        if ((rc = cio_http_resp_header(w, name, value)) < 0)
            break;
        mis_pads++;
    }
    MIS_REC(2, rc);
    MIS_REC(3, cio_http_resp_send(w, 200, "text/plain", "ok\n", 3));
    MIS_REC(4, cio_http_resp_send(w, 201, "text/plain", "again\n", 6));
    MIS_REC(5, cio_http_resp_header(w, "X-Late", "1"));
    return 0;
}

/* Body reads that fail: out of memory, and a chunked body with bad
 * framing read again after the error. */
static int t_body_fail(cio_http_request *req, cio_http_response *w, void *arg) {
    const char *d;
    size_t n;
    long fail = (long)(intptr_t)arg;
    char buf[64];
    if (fail) {
        cio_test_fail_alloc(fail);
        MIS_REC(0, cio_http_req_body(req, &d, &n));
        cio_test_fail_alloc(0);
        return mis_rc[0];
    }
    ssize_t k;
    while ((k = cio_http_req_read(req, buf, sizeof buf)) > 0)
        ;
    MIS_REC(0, k);
    MIS_REC(1, cio_http_req_read(req, buf, sizeof buf));
    MIS_REC(2, cio_http_req_body(req, &d, &n));
    return mis_rc[0];
}

static int start_custom(tsrv *t) {
    memset(t, 0, sizeof *t);
    t->s = cio_http_server_new(NULL);
    if (!t->s)
        return -ENOMEM;
    int rc = cio_http_server_route(t->s, "POST", "/misuse", t_misuse, NULL);
    if (!rc)
        rc = cio_http_server_route(t->s, "POST", "/oom1", t_body_fail, (void *)(intptr_t)1);
    if (!rc)
        rc = cio_http_server_route(t->s, "POST", "/oom2", t_body_fail, (void *)(intptr_t)2);
    if (!rc)
        rc = cio_http_server_route(t->s, "POST", "/bad", t_body_fail, NULL);
    if (!rc)
        rc = cio_http_server_listen(t->s, "127.0.0.1", 0);
    if (rc < 0)
        return rc;
    t->port = cio_http_server_port(t->s);
    t->t = cio_spawn(tsrv_serve, t->s);
    return 0;
}

CIO_TEST(http_body_and_response_misuse) {
    int fds = cio_test_fd_count();
    tsrv t;
    CIO_ASSERT_EQ(start_custom(&t), 0);
    cio_stream *s;
    CIO_ASSERT_EQ(tconnect(&t, &s), 0);
    CIO_ASSERT_EQ(TSEND(s, "POST /misuse HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
                           "0123456789"), 0);
    static char head[32768];
    ssize_t n = cio_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head - 1);
    CIO_ASSERT_GT(n, 0);
    head[n] = 0;
    CIO_ASSERT(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    char body[4];
    CIO_ASSERT_EQ(cio_stream_readexactly(s, body, 3, NULL), 3);
    CIO_ASSERT(memcmp(body, "ok\n", 3) == 0);
    CIO_ASSERT_EQ(mis_rc[0], 3);
    CIO_ASSERT_EQ(mis_rc[1], -EALREADY);
    CIO_ASSERT(strstr(mis_msg[1], "already being read") != NULL);
    /* 16 KiB of fields: 16 of these fit, and every one of them was sent. */
    CIO_ASSERT_EQ(mis_rc[2], CIO_ELIMIT);
    CIO_ASSERT(strstr(mis_msg[2], "header fields over 16384 bytes") != NULL);
    CIO_ASSERT_EQ(mis_pads, 16);
    int seen = 0;
    for (const char *p = head; (p = strstr(p, "\r\nX-Pad-")) != NULL; p++)
        seen++;
    CIO_ASSERT_EQ(seen, mis_pads);
    CIO_ASSERT_EQ(mis_rc[3], 0);
    CIO_ASSERT_EQ(mis_rc[4], -EALREADY);
    CIO_ASSERT(strstr(mis_msg[4], "already started") != NULL);
    CIO_ASSERT_EQ(mis_rc[5], -EALREADY);
    CIO_ASSERT(strstr(mis_msg[5], "X-Late after the head was sent") != NULL);
    CIO_ASSERT(strstr(head, "X-Late") == NULL);
    /* The connection goes on. */
    CIO_ASSERT_EQ(TSEND(s, "POST /misuse HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"), 0);
    n = cio_stream_readuntil(s, "\r\n\r\n", 4, head, sizeof head - 1);
    CIO_ASSERT_GT(n, 0);
    CIO_ASSERT_EQ(cio_stream_readexactly(s, body, 3, NULL), 3);
    cio_stream_abort(s);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}

CIO_TEST(http_request_body_out_of_memory_and_after_an_error) {
    tsrv t;
    CIO_ASSERT_EQ(start_custom(&t), 0);
    static tresp r;
    /* The first allocation (the body buffer) fails: 500. */
    static const char oom1[] = "POST /oom1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    CIO_ASSERT_EQ(texchange(&t, oom1, sizeof oom1 - 1, &r, NULL), 500);
    CIO_ASSERT_EQ(mis_rc[0], -ENOMEM);
    CIO_ASSERT(strstr(mis_msg[0], "http request body: out of memory") != NULL);
    /* Growing the buffer for a chunked body over 4 KiB fails: 500, and the
     * first buffer is not lost (the harness counts allocations). */
    static char big[6000];
    int len = snprintf(big, sizeof big,
                       "POST /oom2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "1388\r\n");
    memset(big + len, 'z', 5000);
    len += 5000;
    len += snprintf(big + len, sizeof big - (size_t)len, "\r\n0\r\n\r\n");
    mis_rc[0] = 0;
    CIO_ASSERT_EQ(texchange(&t, big, (size_t)len, &r, NULL), 500);
    CIO_ASSERT_EQ(mis_rc[0], -ENOMEM);
    CIO_ASSERT(strstr(mis_msg[0], "http request body: out of memory") != NULL);
    /* Bad chunked framing: CIO_EPARSE, and every later read says the body
     * is unusable; the client gets 400. */
    static const char bad[] = "POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\nabcXY\r\n0\r\n\r\n";
    bool closed = false;
    CIO_ASSERT_EQ(texchange(&t, bad, sizeof bad - 1, &r, &closed), 400);
    CIO_ASSERT(closed);
    CIO_ASSERT_EQ(mis_rc[0], CIO_EPARSE);
    CIO_ASSERT(strstr(mis_msg[0], "bad chunked framing") != NULL);
    CIO_ASSERT_EQ(mis_rc[1], CIO_EPARSE);
    CIO_ASSERT(strstr(mis_msg[1], "unusable after an earlier error") != NULL);
    CIO_ASSERT_EQ(mis_rc[2], -EALREADY);
    CIO_ASSERT_EQ(tsrv_stop(&t, CIO_SEC), 0);
}

/* Every status code with a reason phrase in RFC 9110 (and 429 / 431 from
 * RFC 6585) that the library knows gives that phrase; codes it does not
 * know give "". */
CIO_TEST(http_status_text_gives_the_standard_reason_phrases) {
    static const struct {
        int code;
        const char *text;
    } known[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *t = cio_http_status_text(known[i].code);
        CIO_ASSERT(t != NULL);
        if (strcmp(t, known[i].text) != 0)
            fprintf(stderr, "status %d: \"%s\", expected \"%s\"\n", known[i].code, t,
                    known[i].text);
        CIO_ASSERT_STREQ(t, known[i].text);
    }
    static const int unknown[] = {INT_MIN, -200, -1, 0, 1, 99, 102, 199, 203, 299, 305, 399,
                                  402, 418, 499, 599, 600, 1000, 200000, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *t = cio_http_status_text(unknown[i]);
        CIO_ASSERT(t != NULL);
        if (*t)
            fprintf(stderr, "status %d: \"%s\", expected \"\"\n", unknown[i], t);
        CIO_ASSERT_STREQ(t, "");
    }
}

/* A NULL server, request or response: -EINVAL naming the call from those
 * that can fail; the getters give "", 0, NULL or false; void calls do
 * nothing. */
#define EXPECT_EINVAL(call, text)                                            \
    do {                                                                     \
        CIO_ASSERT_EQ((long)(call), -EINVAL);                                \
        CIO_ASSERT(strstr(cio_errmsg(), text) != NULL);                      \
    } while (0)
CIO_TEST(http_calls_with_null_are_einval) {
    const char *n, *v, *d;
    size_t len;
    char buf[8];
    cio_addr a;
    EXPECT_EINVAL(cio_http_server_route(NULL, "GET", "/", t_hello, NULL),
                  "http route: the server is NULL");
    EXPECT_EINVAL(cio_http_server_static(NULL, "/s/", "/tmp"), "http static: the server is NULL");
    EXPECT_EINVAL(cio_http_server_listen(NULL, NULL, 0), "http listen: the server is NULL");
    EXPECT_EINVAL(cio_http_server_serve(NULL), "http serve: the server is NULL");
    cio_http_server_access_log(NULL, NULL, NULL);
    CIO_ASSERT_STREQ(cio_http_req_method(NULL), "");
    CIO_ASSERT_STREQ(cio_http_req_target(NULL), "");
    CIO_ASSERT_STREQ(cio_http_req_path(NULL), "");
    CIO_ASSERT_STREQ(cio_http_req_query(NULL), "");
    CIO_ASSERT_EQ(cio_http_req_version(NULL), 0);
    CIO_ASSERT(cio_http_req_header(NULL, "Host") == NULL);
    CIO_ASSERT_EQ(cio_http_req_header_count(NULL), 0);
    CIO_ASSERT_EQ(cio_http_req_content_length(NULL), 0);
    EXPECT_EINVAL(cio_http_req_header_at(NULL, 0, &n, &v), "cio_http_req_header_at: the req");
    EXPECT_EINVAL(cio_http_req_peer(NULL, &a), "cio_http_req_peer: the request is NULL");
    EXPECT_EINVAL(cio_http_req_read(NULL, buf, 1), "cio_http_req_read: the request is NULL");
    EXPECT_EINVAL(cio_http_req_body(NULL, &d, &len), "cio_http_req_body: the request is NULL");
    cio_http_resp_status(NULL, 200);
    EXPECT_EINVAL(cio_http_resp_header(NULL, "A", "b"), "cio_http_resp_header: the response");
    EXPECT_EINVAL(cio_http_resp_send(NULL, 200, NULL, "x", 1), "cio_http_resp_send: the resp");
    EXPECT_EINVAL(cio_http_resp_length(NULL, 1), "cio_http_resp_length: the response is NULL");
    EXPECT_EINVAL(cio_http_resp_write(NULL, "x", 1), "cio_http_resp_write: the response");
    EXPECT_EINVAL(cio_http_resp_end(NULL), "cio_http_resp_end: the response is NULL");
    CIO_ASSERT(!cio_http_resp_started(NULL));
    CIO_ASSERT_STREQ(cio_http_mime_type(NULL), "application/octet-stream");
}
