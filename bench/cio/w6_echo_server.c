/* W6: the cio echo server, written the plain way a cio user would: a
 * server with a task per connection that reads some bytes and writes them
 * back, with drain for backpressure.
 *
 *   w6_echo_server --port P     prints READY once listening on 127.0.0.1:P,
 *                               then echoes until killed (SIGINT/SIGTERM). */
#include <cio/net.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *port = NULL;

static int echo(cio_stream *s, void *arg) {
    (void)arg;
    char buf[16384];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return (int)n;
        int rc = cio_stream_write(s, buf, (size_t)n);
        if (rc == 0)
            rc = cio_stream_drain(s);
        if (rc < 0)
            return rc;
    }
}

static int serve(void *arg) {
    (void)arg;
    cio_server *srv;
    cio_serve_opts o = {.backlog = 1024, .stack_size = 64 * 1024};
    if (cio_tcp_serve(&srv, "127.0.0.1", port, echo, NULL, &o) < 0) {
        fprintf(stderr, "w6_echo_server: %s\n", cio_errmsg());
        return 1;
    }
    printf("READY\n");
    fflush(stdout);
    cio_server_wait(srv); /* until SIGINT cancels us */
    cio_server_close(srv, 0);
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port"))
            port = argv[i + 1];
    if (!port) {
        fprintf(stderr, "usage: w6_echo_server --port P\n");
        return 2;
    }
    int rc = cio_run(serve, NULL);
    return rc == -ECANCELED ? 0 : rc;
}
