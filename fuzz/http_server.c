/* libFuzzer target for the whole server side of a connection: the input
 * is sent (in pieces) over a real 127.0.0.1 socket to a cio_http_server
 * with small limits and handlers that read bodies in every way, then the
 * client half-closes and reads every response until the server closes.
 * Runs on the virtual clock so timeouts cost nothing. Invariants: the
 * output is HTTP/1.1 responses, and no cio allocation outlives the run.
 * The server's sources are compiled into this file so that coverage
 * guidance sees their branches.
 *   build-fuzz/fuzz-http_server -max_total_time=60 */
#include "http/parse.c"
#include "http/conn.c"
#include "http/response.c"
#include "http/server.c"

#include <cio/net.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int h_hello(cio_http_request *req, cio_http_response *w, void *arg) {
    return cio_http_resp_send(w, 200, "text/plain", "hello\n", 6);
}

static int h_echo(cio_http_request *req, cio_http_response *w, void *arg) {
    const char *d;
    size_t n;
    int rc = cio_http_req_body(req, &d, &n);
    return rc < 0 ? rc : cio_http_resp_send(w, 200, NULL, d, n);
}

static int h_stream(cio_http_request *req, cio_http_response *w, void *arg) {
    char buf[5];
    ssize_t n;
    cio_http_resp_header(w, "X-Q", cio_http_req_query(req));
    while ((n = cio_http_req_read(req, buf, sizeof buf)) > 0)
        if (cio_http_resp_write(w, buf, (size_t)n) < 0)
            return -EIO;
    return (int)n;
}

static int h_noread(cio_http_request *req, cio_http_response *w, void *arg) {
    cio_http_resp_length(w, 3);
    return cio_http_resp_write(w, "abc", 3);
}

typedef struct {
    const uint8_t *data;
    size_t size, step;
} input;

static int serve_task(void *s) { return cio_http_server_serve(s); }

static int run(void *arg) {
    input *in = arg;
    cio_http_server_opts o = {.max_header_bytes = 512, .max_headers = 8, .max_body_bytes = 2048,
                              .header_timeout = CIO_SEC, .idle_timeout = CIO_SEC,
                              .body_timeout = CIO_SEC, .write_timeout = CIO_SEC};
    cio_http_server *s = cio_http_server_new(&o);
    cio_http_server_route(s, "GET", "/", h_hello, NULL);
    cio_http_server_route(s, NULL, "/echo", h_echo, NULL);
    cio_http_server_route(s, NULL, "/s*", h_stream, NULL);
    cio_http_server_route(s, "POST", "/n", h_noread, NULL);
    if (cio_http_server_listen(s, "127.0.0.1", 0) < 0)
        abort();
    cio_task *t = cio_spawn(serve_task, s);
    char port[16];
    snprintf(port, sizeof port, "%d", cio_http_server_port(s));
    cio_stream *c;
    if (cio_tcp_connect(&c, "127.0.0.1", port, NULL) < 0)
        abort();
    for (size_t off = 0; off < in->size; off += in->step) {
        size_t n = in->size - off < in->step ? in->size - off : in->step;
        if (cio_stream_write(c, in->data + off, n) < 0 || cio_stream_flush(c) < 0)
            break;
        cio_yield();
    }
    cio_stream_write_eof(c);
    char buf[4096], first[9];
    size_t got = 0;
    ssize_t r;
    CIO_TIMEOUT(60 * CIO_SEC) {
        while ((r = cio_stream_read(c, buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < r && got < sizeof first; i++)
                first[got++] = buf[i];
    }
    if (got == sizeof first && memcmp(first, "HTTP/1.1 ", 9) != 0)
        abort(); /* what comes out starts with a status line */
    cio_stream_abort(c);
    cio_http_server_shutdown(s, 0);
    cio_join(t);
    cio_http_server_free(s);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 8192)
        return 0;
    input in = {data + 1, size - 1, (size_t)data[0] % 64 + 1};
    long before = cio__alloc_live();
    cio_run_opts ro = {.virtual_clock = true, .no_sigint = true};
    cio_run_with(run, &in, &ro);
    if (cio__alloc_live() != before)
        abort(); /* a leak in the server */
    return 0;
}
