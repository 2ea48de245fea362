/* W7: 10,000 sequential cio_to_thread calls of a trivial function, then
 * 10,000 concurrent ones (a task each, gathered). Reports µs per call each
 * way. The concurrent figure is the median round after one warm-up round,
 * of rounds until 0.5 s have been timed (at most 25; a round takes a few ms,
 * so one burst of load from elsewhere would decide a single one). The
 * warm-up round also pays for 10,000 fresh task stacks (page faults), which
 * W1 measures; that cold figure goes to stderr. */
#include <cio/core.h>
#include <cio/thread.h>

#include "bench_util.h"

static long n_calls;

static int triple(void *arg) {
    long *v = arg;
    *v *= 3;
    return 0;
}

static int one_call(void *arg) { return cio_to_thread(triple, arg); }

/* One concurrent round: returns µs per call. */
static double concurrent(long *vals, cio_task **ts) {
    double t0 = bench_now();
    for (long i = 0; i < n_calls; i++) {
        vals[i] = i;
        ts[i] = cio_spawn(one_call, &vals[i]);
        BENCH_CHECK(ts[i], "spawn %ld failed", i);
    }
    BENCH_CHECK(cio_gather(ts, (size_t)n_calls, NULL) == 0, "gather failed");
    double t1 = bench_now();
    long sum = 0;
    for (long i = 0; i < n_calls; i++)
        sum += vals[i];
    BENCH_CHECK(sum == 3 * n_calls * (n_calls - 1) / 2, "concurrent sum %ld", sum);
    return (t1 - t0) * 1e6 / (double)n_calls;
}

static int bench(void *arg) {
    (void)arg;
    long *vals = malloc(sizeof *vals * (size_t)n_calls);
    cio_task **ts = malloc(sizeof *ts * (size_t)n_calls);
    BENCH_CHECK(vals && ts, "out of memory");
    long warm = 1;
    BENCH_CHECK(cio_to_thread(triple, &warm) == 0 && warm == 3, "warm-up call failed");

    double t0 = bench_now();
    long sum = 0;
    for (long i = 0; i < n_calls; i++) {
        long v = i;
        BENCH_CHECK(cio_to_thread(triple, &v) == 0, "call %ld failed", i);
        sum += v;
    }
    double t1 = bench_now();
    BENCH_CHECK(sum == 3 * n_calls * (n_calls - 1) / 2, "sequential sum %ld", sum);

    double cold = concurrent(vals, ts), rounds[25], timed = 0;
    int n_rounds = 0;
    while (n_rounds < 25 && (n_rounds == 0 || timed < 0.5)) {
        rounds[n_rounds] = concurrent(vals, ts);
        timed += rounds[n_rounds++] * 1e-6 * (double)n_calls;
    }

    printf("RESULT W7 us_per_call_seq %.3f\n", (t1 - t0) * 1e6 / (double)n_calls);
    printf("RESULT W7 us_per_call_conc %.3f\n", bench_median(rounds, n_rounds));
    fprintf(stderr, "w7_to_thread: concurrent first (cold stacks) round %.3f us per call\n", cold);
    free(vals);
    free(ts);
    return 0;
}

int main(int argc, char **argv) {
    n_calls = bench_arg_n(argc, argv, 10000);
    return cio_run(bench, NULL) == 0 ? 0 : 1;
}
