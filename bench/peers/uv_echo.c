/* W6 peer: the libuv echo server as libuv's own guide writes it
 * (uv_read_start with an allocating callback, one uv_write per read).
 *
 *   uv_echo --port P      prints READY once listening on 127.0.0.1:P */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
} write_req;

static uv_loop_t *loop;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void close_cb(uv_handle_t *h) { free(h); }

static void write_cb(uv_write_t *req, int status) {
    write_req *wr = (write_req *)req;
    uv_handle_t *h = (uv_handle_t *)req->handle;
    free(wr->buf.base);
    free(wr);
    if (status < 0 && !uv_is_closing(h))
        uv_close(h, close_cb);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    if (n > 0) {
        write_req *wr = malloc(sizeof *wr);
        if (!wr) {
            free(buf->base);
            uv_close((uv_handle_t *)s, close_cb);
            return;
        }
        wr->buf = uv_buf_init(buf->base, (unsigned)n);
        uv_write(&wr->req, s, &wr->buf, 1, write_cb);
        return;
    }
    free(buf->base);
    if (n < 0 && !uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, close_cb);
}

static void on_conn(uv_stream_t *server, int status) {
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, c);
    if (uv_accept(server, (uv_stream_t *)c) == 0) {
        uv_tcp_nodelay(c, 1);
        uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
    } else {
        uv_close((uv_handle_t *)c, close_cb);
    }
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
    if (port <= 0) {
        fprintf(stderr, "usage: uv_echo --port P\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a reset peer is an error code, not a signal */
    loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_conn);
    if (rc) {
        fprintf(stderr, "uv_echo: listen on 127.0.0.1:%d: %s\n", port, uv_strerror(rc));
        return 1;
    }
    printf("READY\n");
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
