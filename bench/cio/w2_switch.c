/* W2: two tasks hand control back and forth 1,000,000 times, through two
 * events (a hand-off) and through cio_yield (a bare switch). */
#include <cio.h>

#include "bench_util.h"
#include "core/internal.h"

static long rounds;

/* A minimal one-waiter event on the core's wait queue, so this benchmark
 * depends only on the core; the coordination toolkit's cio_event is
 * measured the same way when present. */
typedef struct {
    bool set;
    cio__waitq q;
} flag;

static int flag_wait(flag *f) {
    while (!f->set) {
        cio__waiter w;
        int rc = cio__waitq_wait(&f->q, &w);
        if (rc < 0)
            return rc;
    }
    f->set = false;
    return 0;
}

static void flag_set(flag *f) {
    f->set = true;
    cio__waitq_wake_one(&f->q, 0);
}

static flag ping, pong;
static long count;

static int pinger(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        flag_set(&ping);
        if (flag_wait(&pong) < 0)
            return -1;
    }
    return 0;
}

static int ponger(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        if (flag_wait(&ping) < 0)
            return -1;
        count++;
        flag_set(&pong);
    }
    return 0;
}

static long yields;
static int yielder(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        yields++;
        cio_yield();
    }
    return 0;
}

static int bench(void *arg) {
    (void)arg;
    cio_task *t[2];
    double t0 = bench_now();
    t[0] = cio_spawn(pinger, NULL);
    t[1] = cio_spawn(ponger, NULL);
    BENCH_CHECK(cio_gather(t, 2, NULL) == 0, "ping-pong failed");
    double t1 = bench_now();
    BENCH_CHECK(count == rounds, "count %ld", count);
    /* two hand-offs per round */
    printf("RESULT W2 ns_per_handoff %.2f\n", (t1 - t0) * 1e9 / (double)(2 * rounds));

    t0 = bench_now();
    t[0] = cio_spawn(yielder, NULL);
    t[1] = cio_spawn(yielder, NULL);
    BENCH_CHECK(cio_gather(t, 2, NULL) == 0, "yield failed");
    t1 = bench_now();
    BENCH_CHECK(yields == 2 * rounds, "yields %ld", yields);
    printf("RESULT W2 ns_per_yield %.2f\n", (t1 - t0) * 1e9 / (double)(2 * rounds));
    return 0;
}

int main(int argc, char **argv) {
    rounds = bench_arg_n(argc, argv, 1000000);
    return cio_run(bench, NULL) == 0 ? 0 : 1;
}
