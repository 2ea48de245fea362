/* W3: N tasks each sleep a pseudo-random time uniform in [0, 1000] ms
 * (fixed seed), then exit; for N = 1,000,000 and 100,000. Reports wall
 * time beyond 1 s, lateness past the last deadline, and RSS per task. */
#include <cio.h>

#include "bench_util.h"

static long n_tasks;
static long done_count;
static int64_t last_deadline;
static long rss_base_kb, rss_peak_kb;

static int sleeper(void *arg) {
    int64_t ms = (int64_t)(intptr_t)arg;
    int64_t deadline = cio_now() + ms * CIO_MS;
    if (deadline > last_deadline)
        last_deadline = deadline;
    int rc = cio_sleep(ms * CIO_MS);
    done_count++;
    return rc;
}

/* Samples RSS while everything sleeps: once all tasks have started. */
static int sampler(void *arg) {
    (void)arg;
    cio_sleep(50 * CIO_MS);
    long rss = bench_rss_kb();
    if (rss > rss_peak_kb)
        rss_peak_kb = rss;
    return 0;
}

static int bench(void *arg) {
    (void)arg;
    unsigned long long seed = 42;
    cio_task **ts = malloc(sizeof *ts * (size_t)n_tasks);
    BENCH_CHECK(ts, "out of memory");
    rss_base_kb = bench_rss_kb();
    double t0 = bench_now();
    int64_t c0 = cio_now();
    for (long i = 0; i < n_tasks; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t ms = (int64_t)((seed >> 33) % 1001);
        ts[i] = cio_spawn(sleeper, (void *)(intptr_t)ms);
        BENCH_CHECK(ts[i], "spawn failed");
    }
    cio_task *s = cio_spawn(sampler, NULL);
    BENCH_CHECK(cio_gather(ts, (size_t)n_tasks, NULL) == 0, "a sleeper failed");
    double t1 = bench_now();
    int64_t lag = cio_now() - last_deadline;
    cio_join(s);
    BENCH_CHECK(done_count == n_tasks, "done %ld", done_count);
    const char *tag = n_tasks >= 1000000 ? "1m" : n_tasks >= 100000 ? "100k" : "n";
    printf("RESULT W3 late_ms_%s %.1f\n", tag, ((t1 - t0) - 1.0) * 1e3);
    printf("RESULT W3 lag_after_last_deadline_ms_%s %.1f\n", tag, (double)lag / 1e6);
    printf("RESULT W3 rss_per_task_b_%s %.0f\n", tag,
           (double)(rss_peak_kb - rss_base_kb) * 1024.0 / (double)n_tasks);
    printf("RESULT W3 peak_rss_kb_%s %ld\n", tag, bench_peak_rss_kb());
    (void)c0;
    free(ts);
    return 0;
}

int main(int argc, char **argv) {
    n_tasks = bench_arg_n(argc, argv, 1000000);
    return cio_run(bench, NULL) == 0 ? 0 : 1;
}
