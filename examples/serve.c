/* A static file server (python3 -m http.server for cio): serves the files
 * under a directory over HTTP/1.1 with keep-alive, Content-Type by
 * extension, index.html or an HTML listing for directories, Last-Modified
 * and byte ranges. The crawler demo walks a tree served by it.
 *
 *   serve [--port P] [--root DIR] [--host ADDR] [--requests N] [--log]
 *
 * Listens on ADDR:P (default 127.0.0.1:8000; port 0 picks a free one) and
 * prints "serving DIR on http://ADDR:P/". Also answers GET /healthz with
 * "ok". Runs until Ctrl-C or SIGTERM (graceful shutdown: requests in
 * progress finish, up to 5 s), or, with --requests N, until N requests
 * have been answered. --log prints an access log line per request on
 * stderr ("127.0.0.1:50412 GET /index.html 200 14"). */
#include <cio.h>
#include <cio/http.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *host, *root;
    int port;
    long max_requests;
    bool log;
    cio_http_server *srv;
} config;

static void access_log(const cio_http_request *req, int status, int64_t bytes, void *arg) {
    cio_addr peer;
    char who[CIO_ADDRSTRLEN] = "-";
    if (cio_http_req_peer(req, &peer) == 0)
        cio_addr_str(&peer, who, sizeof who);
    fprintf(stderr, "%s %s %s %d %lld\n", who, cio_http_req_method(req), cio_http_req_target(req),
            status, (long long)bytes);
}

static int healthz(cio_http_request *req, cio_http_response *resp, void *arg) {
    config *c = arg;
    int rc = cio_http_resp_send(resp, 200, "text/plain", "ok\n", 3);
    /* +1: this request is counted once the handler returns. */
    if (c->max_requests > 0 && (long)cio_http_server_requests(c->srv) + 1 >= c->max_requests)
        cio_http_server_shutdown(c->srv, 5 * CIO_SEC);
    return rc;
}

/* Stops after --requests N: a watcher that polls the request counter. */
static int watch_count(void *arg) {
    config *c = arg;
    while ((long)cio_http_server_requests(c->srv) < c->max_requests)
        if (cio_sleep(10 * CIO_MS) < 0)
            return 0;
    cio_http_server_shutdown(c->srv, 5 * CIO_SEC);
    return 0;
}

static int serve_main(void *arg) {
    config *c = arg;
    cio_http_server *s = c->srv = cio_http_server_new(NULL);
    if (!s)
        return 1;
    int rc = cio_http_server_route(s, "GET", "/healthz", healthz, c);
    if (rc == 0)
        rc = cio_http_server_static(s, "/", c->root);
    if (c->log)
        cio_http_server_access_log(s, access_log, NULL);
    if (rc == 0)
        rc = cio_http_server_listen(s, c->host, c->port);
    if (rc < 0) {
        fprintf(stderr, "serve: %s\n", cio_errmsg());
        cio_http_server_free(s);
        return 1;
    }
    printf("serving %s on http://%s:%d/\n", c->root, c->host, cio_http_server_port(s));
    fflush(stdout);
    cio_task *w = c->max_requests > 0 ? cio_spawn(watch_count, c) : NULL;
    rc = cio_http_server_serve(s); /* Ctrl-C cancels us: -ECANCELED */
    if (w) {
        cio_cancel(w);
        cio_join(w);
    }
    printf("served %llu requests\n", (unsigned long long)cio_http_server_requests(s));
    cio_http_server_free(s);
    return rc == 0 || rc == -ECANCELED ? 0 : 1;
}

static void on_term(int sig) { raise(SIGINT); }

int main(int argc, char **argv) {
    config c = {.host = "127.0.0.1", .root = ".", .port = 8000};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--port") == 0 && v)
            c.port = atoi(v), i++;
        else if (strcmp(argv[i], "--root") == 0 && v)
            c.root = v, i++;
        else if (strcmp(argv[i], "--host") == 0 && v)
            c.host = v, i++;
        else if (strcmp(argv[i], "--requests") == 0 && v)
            c.max_requests = atol(v), i++;
        else if (strcmp(argv[i], "--log") == 0)
            c.log = true;
        else {
            fprintf(stderr, "usage: serve [--port P] [--root DIR] [--host ADDR] [--requests N] [--log]\n");
            return 2;
        }
    }
    /* Background jobs start with SIGINT ignored, and cio only turns a
     * SIGINT left at its default into cancellation: restore it, so that
     * both Ctrl-C and SIGTERM (re-raised as SIGINT) stop us gracefully. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, on_term);
    return cio_run(serve_main, &c);
}
