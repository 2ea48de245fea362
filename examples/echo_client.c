/* An echo client (asyncio's open_connection example): sends each message
 * as a line and prints what comes back.
 *
 *   echo_client [--host H] [--port P] message...
 *
 * Connects to H:P (default 127.0.0.1:8888; H may be a name, resolved off
 * the loop). While the connection is refused it retries for up to 3
 * seconds, so it can be started right after the server. Prints "> msg"
 * for each line sent and "< reply" for each line received. */
#include <cio/net.h>

#include <stdio.h>
#include <string.h>

static const char *host = "127.0.0.1", *port = "8888";
static char **msgs;
static int nmsgs;

static int main_task(void *arg) {
    (void)arg;
    cio_stream *s = NULL;
    int rc;
    cio_connect_opts o = {.timeout = 2 * CIO_SEC};
    for (int attempt = 0;; attempt++) {
        rc = cio_tcp_connect(&s, host, port, &o);
        if (rc != -ECONNREFUSED || attempt == 30)
            break;
        cio_sleep(100 * CIO_MS); /* the server may still be starting */
    }
    if (rc < 0) {
        fprintf(stderr, "echo_client: %s\n", cio_errmsg());
        return 1;
    }
    char line[1024];
    for (int i = 0; i < nmsgs; i++) {
        printf("> %s\n", msgs[i]);
        if ((rc = cio_stream_write(s, msgs[i], strlen(msgs[i]))) < 0 ||
            (rc = cio_stream_write(s, "\n", 1)) < 0)
            break;
        ssize_t n = cio_stream_readline(s, line, sizeof line);
        if (n <= 0) {
            rc = n < 0 ? (int)n : -ECONNRESET;
            break;
        }
        line[strcspn(line, "\n")] = 0;
        printf("< %s\n", line);
    }
    if (rc < 0)
        fprintf(stderr, "echo_client: %s\n", cio_errmsg());
    int crc = cio_stream_close(s);
    return rc < 0 ? 1 : crc < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = argv[++i];
        else
            break;
    }
    msgs = argv + i;
    nmsgs = argc - i;
    if (nmsgs == 0) {
        fprintf(stderr, "usage: echo_client [--host H] [--port P] message...\n");
        return 2;
    }
    return cio_run(main_task, NULL);
}
