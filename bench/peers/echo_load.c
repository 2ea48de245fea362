/* W6 load generator: one single-threaded epoll client used against every
 * echo server, so the servers are compared under the same load.
 *
 *   echo_load --port P --conns N --seconds S --size 64 [--host 127.0.0.1]
 *             [--server-pid PID]
 *
 * Opens N connections; each sends SIZE bytes, waits for the whole echo,
 * checks it byte for byte, records the round-trip time and sends again,
 * until S seconds have passed. Prints
 *   RESULT W6 rtt_per_sec_<N>c <round trips per second>
 *   RESULT W6 median_rtt_us_<N>c <median round trip in microseconds>
 *   RESULT W6 load_cpu_pct_<N>c <this program's CPU use, % of one core>
 *   RESULT W6 server_cpu_us_per_rtt_<N>c <server CPU per round trip>
 * (the last with --server-pid only), and exits non-zero when an echo is
 * wrong, a connection fails, or no round trip completes for 5 s (the run
 * is bounded in time either way).
 *
 * On a two-core machine the generator and the server each take a core;
 * when the generator is the one near 100 %, every faster server gets the
 * same rate, and the server's CPU per round trip is what still tells them
 * apart. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536

typedef struct {
    int fd;
    uint32_t id;
    uint32_t seq;
    size_t sent;    /* bytes of the current message written so far */
    size_t got;     /* bytes of its echo received so far */
    uint64_t t0;    /* when the current message was started */
    int want_out;   /* EPOLLOUT registered for a write that hit EAGAIN */
    unsigned char msg[MAX_SIZE];
    unsigned char in[MAX_SIZE];
} conn;

static size_t msg_size = 64;
static int ep;
static uint32_t *samples;   /* round-trip times in ns */
static size_t n_samples, cap_samples;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int conn_id) {
    fprintf(stderr, "echo_load: %s (connection %d): %s\n", what, conn_id, strerror(errno));
    exit(1);
}

/* Every message differs (connection id and sequence number in front, a
 * pattern derived from both behind) so a misrouted or stale echo is seen. */
static void fill_msg(conn *c) {
    c->seq++;
    for (size_t i = 0; i < msg_size; i++)
        c->msg[i] = (unsigned char)(c->id * 31u + c->seq * 7u + i);
    if (msg_size >= 8) {
        memcpy(c->msg, &c->id, 4);
        memcpy(c->msg + 4, &c->seq, 4);
    }
    c->sent = 0;
    c->got = 0;
    c->t0 = now_ns();
}

static void want_out(conn *c, int on) {
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl", (int)c->id);
    c->want_out = on;
}

static void send_some(conn *c) {
    while (c->sent < msg_size) {
        ssize_t n = write(c->fd, c->msg + c->sent, msg_size - c->sent);
        if (n < 0) {
            if (errno == EAGAIN) {
                want_out(c, 1); /* rare with small messages */
                return;
            }
            if (errno == EINTR)
                continue;
            die("write", (int)c->id);
        }
        c->sent += (size_t)n;
    }
    want_out(c, 0);
}

static void add_sample(uint64_t ns) {
    if (n_samples == cap_samples) {
        cap_samples = cap_samples ? cap_samples * 2 : 1 << 20;
        samples = realloc(samples, cap_samples * sizeof *samples);
        if (!samples) {
            fprintf(stderr, "echo_load: out of memory\n");
            exit(1);
        }
    }
    samples[n_samples++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* CPU seconds (user + system, all threads) used so far by process pid,
 * from /proc/<pid>/stat; -1 when it cannot be read. */
static double proc_cpu_seconds(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                     &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0, nconns = 100, server_pid = 0;
    double seconds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns"))
            nconns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            msg_size = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--host"))
            host = argv[i + 1];
        else if (!strcmp(argv[i], "--server-pid"))
            server_pid = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "echo_load: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (port <= 0 || nconns <= 0 || seconds <= 0 || msg_size == 0 || msg_size > MAX_SIZE) {
        fprintf(stderr, "usage: echo_load --port P --conns N --seconds S --size BYTES\n");
        return 2;
    }

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "echo_load: bad IPv4 address %s\n", host);
        return 2;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1", -1);
    conn *conns = calloc((size_t)nconns, sizeof *conns);
    if (!conns)
        die("calloc", -1);
    /* Connect everything first (blocking): connection set-up is not timed. */
    for (int i = 0; i < nconns; i++) {
        conn *c = &conns[i];
        c->id = (uint32_t)i;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            die("socket", i);
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect", i);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
            die("fcntl", i);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die("epoll_ctl", i);
    }

    double self0 = self_cpu_seconds();
    double server0 = server_pid > 0 ? proc_cpu_seconds(server_pid) : -1;
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(seconds * 1e9);
    uint64_t last_progress = start;
    for (int i = 0; i < nconns; i++) {
        fill_msg(&conns[i]);
        send_some(&conns[i]);
    }
    struct epoll_event evs[256];
    uint64_t trips = 0;
    uint64_t now = start;
    while (now < deadline) {
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait", -1);
        }
        now = now_ns();
        for (int k = 0; k < n; k++) {
            conn *c = evs[k].data.ptr;
            if (c->sent < msg_size)
                send_some(c); /* finish a write that hit EAGAIN */
            for (;;) {
                ssize_t r = read(c->fd, c->in + c->got, msg_size - c->got);
                if (r < 0) {
                    if (errno == EAGAIN)
                        break;
                    if (errno == EINTR)
                        continue;
                    die("read", (int)c->id);
                }
                if (r == 0) {
                    fprintf(stderr, "echo_load: server closed connection %u\n", c->id);
                    return 1;
                }
                if (c->got + (size_t)r > c->sent) {
                    fprintf(stderr, "echo_load: bytes echoed before they were sent (connection %u)\n",
                            c->id);
                    return 1;
                }
                c->got += (size_t)r;
                if (c->got < msg_size)
                    continue;
                if (memcmp(c->in, c->msg, msg_size) != 0) {
                    fprintf(stderr, "echo_load: wrong echo on connection %u, message %u\n", c->id,
                            c->seq);
                    return 1;
                }
                uint64_t t = now_ns();
                add_sample(t - c->t0);
                trips++;
                last_progress = t;
                if (t >= deadline)
                    break;
                fill_msg(c);
                send_some(c);
            }
        }
        if (now > last_progress && now - last_progress > 5000000000ull) {
            fprintf(stderr, "echo_load: no echo for 5 s, giving up\n");
            return 1;
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    double self_cpu = self_cpu_seconds() - self0;
    double server1 = server0 >= 0 ? proc_cpu_seconds(server_pid) : -1;
    if (trips == 0) {
        fprintf(stderr, "echo_load: no round trip completed\n");
        return 1;
    }
    qsort(samples, n_samples, sizeof *samples, cmp_u32);
    double median_us = samples[n_samples / 2] / 1e3;
    printf("RESULT W6 rtt_per_sec_%dc %.0f\n", nconns, (double)trips / elapsed);
    printf("RESULT W6 median_rtt_us_%dc %.2f\n", nconns, median_us);
    printf("RESULT W6 load_cpu_pct_%dc %.0f\n", nconns, 100 * self_cpu / elapsed);
    if (server1 >= 0)
        printf("RESULT W6 server_cpu_us_per_rtt_%dc %.2f\n", nconns,
               (server1 - server0) * 1e6 / (double)trips);
    for (int i = 0; i < nconns; i++)
        close(conns[i].fd);
    free(conns);
    free(samples);
    close(ep);
    return 0;
}
