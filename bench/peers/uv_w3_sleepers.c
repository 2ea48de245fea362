/* W3 sleepers (libuv peer): N uv_timer_t, each started with a pseudo-random
 * timeout uniform in [0, 1000] ms (the same fixed-seed generator as the cio
 * program), each closed when it fires. A timer is libuv's "sleeping task".
 * Reports wall time beyond 1 s, lateness past the last deadline, and RSS per
 * timer (sampled 50 ms after all were started).
 *
 *   uv_w3_sleepers [--n N]     (default 1,000,000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

static long n_tasks, done_count;
static uint64_t last_deadline_ms;
static long rss_sample_kb;

static long rss_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * 4;
}

static void free_cb(uv_handle_t *h) { free(h); }

static void fire_cb(uv_timer_t *t) {
    done_count++;
    uv_close((uv_handle_t *)t, free_cb);
}

static void sample_cb(uv_timer_t *t) {
    rss_sample_kb = rss_kb();
    uv_close((uv_handle_t *)t, NULL);
}

int main(int argc, char **argv) {
    n_tasks = 1000000;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--n"))
            n_tasks = atol(argv[i + 1]);
    uv_loop_t *loop = uv_default_loop();
    unsigned long long seed = 42;
    long base_kb = rss_kb();
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n_tasks; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t ms = (seed >> 33) % 1001;
        uv_timer_t *t = malloc(sizeof *t);
        if (!t) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        uv_timer_init(loop, t);
        /* The timeout counts from the loop's cached "now", which this long
         * set-up loop would leave stale (timers would fire early, up to the
         * whole set-up time): refresh it, as uv_update_time's docs advise
         * for code that keeps the loop busy, so every sleeper sleeps its
         * full time from its own start, as in the other programs. */
        uv_update_time(loop);
        uint64_t deadline = uv_now(loop) + ms;
        if (deadline > last_deadline_ms)
            last_deadline_ms = deadline;
        uv_timer_start(t, fire_cb, ms, 0);
    }
    uv_timer_t sampler;
    uv_timer_init(loop, &sampler);
    uv_timer_start(&sampler, sample_cb, 50, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t t1 = uv_hrtime();
    uv_update_time(loop);
    if (done_count != n_tasks) {
        fprintf(stderr, "benchmark result is wrong: done %ld\n", done_count);
        return 1;
    }
    /* uv_run returns when the last timer has fired and closed: t1 is the
     * end; lateness past the last deadline uses the loop clock (ms). */
    const char *tag = n_tasks >= 1000000 ? "1m" : n_tasks >= 100000 ? "100k" : "n";
    printf("RESULT W3 late_ms_%s %.1f\n", tag, ((double)(t1 - t0) / 1e9 - 1.0) * 1e3);
    printf("RESULT W3 lag_after_last_deadline_ms_%s %.1f\n", tag,
           (double)(uv_now(loop) - last_deadline_ms));
    printf("RESULT W3 rss_per_task_b_%s %.0f\n", tag,
           (double)(rss_sample_kb - base_kb) * 1024.0 / (double)n_tasks);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT W3 peak_rss_kb_%s %ld\n", tag, ru.ru_maxrss);
    return 0;
}
