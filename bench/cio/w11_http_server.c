/* W11: cio's HTTP/1.1 server answering GET / with a 1 KiB body, for
 * `wrk -t2 -c64 -d10s` (bench/run.sh runs nginx and Node's http the same
 * way). Usage: w11_http_server [--port P]. Prints READY once listening and
 * serves until interrupted (SIGINT/SIGTERM), then prints
 * RESULT W11 requests_served <n> and checks that it served something. */
#include <cio.h>
#include <cio/http.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char body[1024];
static int port = 8080;

static int hello(cio_http_request *req, cio_http_response *resp, void *arg) {
    return cio_http_resp_send(resp, 200, "text/plain", body, sizeof body);
}

static int run(void *arg) {
    cio_http_server *s = cio_http_server_new(NULL);
    if (!s)
        return 1;
    int rc = cio_http_server_route(s, "GET", "/", hello, NULL);
    if (rc == 0)
        rc = cio_http_server_listen(s, "127.0.0.1", port);
    if (rc < 0) {
        fprintf(stderr, "w11_http_server: %s\n", cio_errmsg());
        cio_http_server_free(s);
        return 1;
    }
    printf("READY %d\n", cio_http_server_port(s));
    fflush(stdout);
    cio_http_server_serve(s); /* until SIGINT cancels us */
    uint64_t n = cio_http_server_requests(s);
    cio_http_server_free(s);
    printf("RESULT W11 requests_served %llu\n", (unsigned long long)n);
    return 0;
}

static void on_term(int sig) { raise(SIGINT); }

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    body[sizeof body - 1] = '\n';
    /* Background jobs start with SIGINT ignored, and cio only turns a
     * SIGINT left at its default into cancellation: restore it, so that
     * both Ctrl-C and SIGTERM (re-raised as SIGINT) stop us gracefully. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, on_term);
    return cio_run(run, NULL);
}
