/* W2: two tasks hand control back and forth 1,000,000 times, through two
 * cio_events (a hand-off: set, then wait and clear) and through cio_yield
 * (a bare switch).
 *
 * The event hand-off is measured in two shapes: a pinger and a ponger (two
 * different functions, as in the seed-style example), and two instances of
 * one player function. A switch resumes a task under return addresses its
 * partner's calls pushed, so a `ret` from cio_event_wait into a different
 * function than the partner's would be mispredicted on every switch; cio's
 * suspending functions return by a jump instead, and the two shapes show
 * that it works (docs/benchmarks.md, docs/decisions.md).
 *
 * A round of 1,000,000 takes about 40 ms here, short enough for one burst of
 * load from elsewhere to double it; so, as in every W2 program, each shape
 * is measured in rounds until 0.5 s have been timed and the median round is
 * reported (the rule of Python's timeit.autorange; a program whose round
 * takes longer than that times one round). */
#include <cio.h>

#include "bench_util.h"

static long rounds;

static cio_event ping = CIO_EVENT_INIT, pong = CIO_EVENT_INIT;
static long count;

static int pinger(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        cio_event_set(&ping);
        if (cio_event_wait(&pong) < 0)
            return -1;
        cio_event_clear(&pong);
    }
    return 0;
}

static int ponger(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        if (cio_event_wait(&ping) < 0)
            return -1;
        cio_event_clear(&ping);
        count++;
        cio_event_set(&pong);
    }
    return 0;
}

/* Both tasks run this: wait for my event, clear it, set the other's. */
static cio_event turn[2] = {CIO_EVENT_INIT, CIO_EVENT_INIT};
static long plays;

static int player(void *arg) {
    int me = (int)(intptr_t)arg;
    for (long i = 0; i < rounds; i++) {
        if (cio_event_wait(&turn[me]) < 0)
            return -1;
        cio_event_clear(&turn[me]);
        plays++;
        cio_event_set(&turn[1 - me]);
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

/* One round of each shape: ns per hand-off (two per round). */
static double ping_pong(void) {
    cio_task *t[2];
    count = 0;
    double t0 = bench_now();
    t[0] = cio_spawn(pinger, NULL);
    t[1] = cio_spawn(ponger, NULL);
    BENCH_CHECK(cio_gather(t, 2, NULL) == 0, "ping-pong failed");
    double t1 = bench_now();
    BENCH_CHECK(count == rounds, "count %ld", count);
    return (t1 - t0) * 1e9 / (double)(2 * rounds);
}

static double players(void) {
    cio_task *t[2];
    plays = 0;
    double t0 = bench_now();
    t[0] = cio_spawn(player, (void *)0);
    t[1] = cio_spawn(player, (void *)1);
    cio_event_set(&turn[0]);
    BENCH_CHECK(cio_gather(t, 2, NULL) == 0, "players failed");
    double t1 = bench_now();
    BENCH_CHECK(plays == 2 * rounds, "plays %ld", plays);
    cio_event_clear(&turn[0]); /* player 1 set it last, for nobody */
    return (t1 - t0) * 1e9 / (double)(2 * rounds);
}

static double yielders(void) {
    cio_task *t[2];
    yields = 0;
    double t0 = bench_now();
    t[0] = cio_spawn(yielder, NULL);
    t[1] = cio_spawn(yielder, NULL);
    BENCH_CHECK(cio_gather(t, 2, NULL) == 0, "yield failed");
    double t1 = bench_now();
    BENCH_CHECK(yields == 2 * rounds, "yields %ld", yields);
    return (t1 - t0) * 1e9 / (double)(2 * rounds);
}

/* Rounds until 0.5 s have been timed (at most 25): the median round. */
static void report(const char *metric, double (*round)(void)) {
    double ns[25], timed = 0;
    int n = 0;
    while (n < 25 && (n == 0 || timed < 0.5)) {
        ns[n] = round();
        timed += ns[n] * 2e-9 * (double)rounds;
        n++;
    }
    printf("RESULT W2 %s %.2f\n", metric, bench_median(ns, n));
    /* ns is sorted now */
    fprintf(stderr, "w2_switch: %s: %d rounds, %.2f to %.2f ns\n", metric, n, ns[0], ns[n - 1]);
}

static int bench(void *arg) {
    (void)arg;
    report("ns_per_handoff", ping_pong);
    report("ns_per_handoff_one_fn", players);
    report("ns_per_yield", yielders);
    return 0;
}

int main(int argc, char **argv) {
    rounds = bench_arg_n(argc, argv, 1000000);
    return cio_run(bench, NULL) == 0 ? 0 : 1;
}
