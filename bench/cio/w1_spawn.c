/* W1: spawn 1,000,000 tasks that each return their index; wait for all;
 * check the sum. Reports ns per task and peak RSS. */
#include <cio.h>

#include "bench_util.h"

static long n_tasks;

static int ret_index(void *arg) { return (int)(intptr_t)arg; }

static int bench(void *arg) {
    (void)arg;
    cio_task **ts = malloc(sizeof *ts * (size_t)n_tasks);
    int *status = malloc(sizeof *status * (size_t)n_tasks);
    BENCH_CHECK(ts && status, "out of memory");
    double t0 = bench_now();
    for (long i = 0; i < n_tasks; i++) {
        ts[i] = cio_spawn(ret_index, (void *)(intptr_t)i);
        BENCH_CHECK(ts[i], "spawn failed at %ld", i);
    }
    BENCH_CHECK(cio_gather(ts, (size_t)n_tasks, status) == 0, "gather failed");
    double t1 = bench_now();
    long long sum = 0;
    for (long i = 0; i < n_tasks; i++)
        sum += status[i];
    BENCH_CHECK(sum == (long long)n_tasks * (n_tasks - 1) / 2, "sum %lld", sum);
    printf("RESULT W1 ns_per_task %.1f\n", (t1 - t0) * 1e9 / (double)n_tasks);
    printf("RESULT W1 peak_rss_kb %ld\n", bench_peak_rss_kb());
    free(ts);
    free(status);
    return 0;
}

int main(int argc, char **argv) {
    n_tasks = bench_arg_n(argc, argv, 1000000);
    return cio_run(bench, NULL) == 0 ? 0 : 1;
}
