/* An echo server (asyncio's start_server example): every client gets its
 * lines sent back, each client in its own task.
 *
 *   echo_server [--port P] [--count N]
 *
 * Listens on 127.0.0.1:P (default 8888; 0 picks a free port) and prints
 * "echo server listening on 127.0.0.1:P". With --count N it shuts down
 * gracefully after N clients have come and gone; otherwise it runs until
 * Ctrl-C (which cancels the main task and closes the server). */
#include <cio/net.h>
#include <cio/sync.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count = 0;

typedef struct {
    int served;     /* clients that have disconnected */
    cio_event done; /* set when `count` clients were served */
    cio_server *srv;
} state;

static int handle_client(cio_stream *s, void *arg) {
    state *st = arg;
    cio_addr peer;
    char who[CIO_ADDRSTRLEN] = "?";
    if (cio_stream_peer(s, &peer) == 0)
        cio_addr_str(&peer, who, sizeof who);
    printf("client %s connected\n", who);
    fflush(stdout);
    char line[1024];
    int lines = 0;
    ssize_t n;
    /* readline returns 0 at end of stream, a negative code on errors
     * (CIO_ELIMIT for a line longer than the buffer). */
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0) {
        lines++;
        if (cio_stream_write(s, line, (size_t)n) < 0 || cio_stream_drain(s) < 0)
            break;
    }
    if (n < 0)
        printf("client %s: %s\n", who, cio_errmsg());
    printf("client %s disconnected after %d line%s\n", who, lines, lines == 1 ? "" : "s");
    fflush(stdout);
    if (++st->served == count)
        cio_event_set(&st->done);
    return 0;
}

static const char *port = "8888";

static int main_task(void *arg) {
    (void)arg;
    state st = {0};
    cio_event_init(&st.done);
    int rc = cio_tcp_serve(&st.srv, "127.0.0.1", port, handle_client, &st, NULL);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s\n", cio_errmsg());
        return 1;
    }
    printf("echo server listening on 127.0.0.1:%d\n", cio_server_port(st.srv));
    fflush(stdout);
    if (count > 0)
        cio_event_wait(&st.done); /* or until Ctrl-C */
    else
        cio_server_wait(st.srv); /* until Ctrl-C */
    int cancelled = cio_server_close(st.srv, 2 * CIO_SEC);
    printf("echo server closed (%d client%s served%s)\n", st.served, st.served == 1 ? "" : "s",
           cancelled > 0 ? ", some cut short" : "");
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: echo_server [--port P] [--count N]\n");
            return 2;
        }
    }
    int rc = cio_run(main_task, NULL);
    return rc == -ECANCELED ? 0 : rc;
}
