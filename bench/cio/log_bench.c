/* LOG: 1,000 tasks log 1,000,000 lines in all through cio_log to a file
 * handler (the writer thread is busy the whole time); every call is timed.
 * Reports the median cost of one call, then checks that every line reached
 * the file, in order for each task.   log_bench [--n LINES] */
#define _GNU_SOURCE
#include <cio/core.h>
#include <cio/log.h>

#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static long n_lines, n_tasks, per_task;
static uint32_t *costs;
static cio_logger *lg;

static inline uint64_t ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int worker(void *arg) {
    long k = (long)(intptr_t)arg;
    uint32_t *mine = costs + k * per_task;
    for (long i = 0; i < per_task; i++) {
        uint64_t t0 = ns();
        int rc = cio_log_info(lg, "task %ld line %ld of %ld", k, i, per_task);
        mine[i] = (uint32_t)(ns() - t0);
        BENCH_CHECK(rc == 0, "cio_log failed: %d", rc);
        if (i % 100 == 99 && cio_yield() < 0)
            return -1;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int bench(void *arg) {
    (void)arg;
    cio_task **ts = malloc(sizeof *ts * (size_t)n_tasks);
    BENCH_CHECK(ts, "out of memory");
    for (long k = 0; k < n_tasks; k++) {
        char name[24];
        snprintf(name, sizeof name, "w%ld", k);
        ts[k] = cio_spawn_with(worker, (void *)(intptr_t)k, &(cio_spawn_opts){.name = name});
    }
    BENCH_CHECK(cio_gather(ts, (size_t)n_tasks, NULL) == 0, "a task failed");
    free(ts);
    return cio_log_flush();
}

int main(int argc, char **argv) {
    n_lines = bench_arg_n(argc, argv, 1000000);
    n_tasks = n_lines >= 10000 ? 1000 : (n_lines >= 10 ? n_lines / 10 : 1);
    per_task = n_lines / n_tasks;
    n_lines = per_task * n_tasks;
    costs = malloc(sizeof *costs * (size_t)n_lines);
    char path[] = "/tmp/cio-log-bench-XXXXXX";
    int fd = mkstemp(path);
    BENCH_CHECK(costs && fd >= 0, "setup failed");
    close(fd);
    lg = cio_log_get("bench");
    cio_log_set_level(lg, CIO_LOG_INFO);
    BENCH_CHECK(cio_log_add_file(path, CIO_LOG_DEBUG) >= 0, "%s", cio_errmsg());
    BENCH_CHECK(cio_run(bench, NULL) == 0, "run failed");
    cio_log_shutdown();

    long *next = calloc((size_t)n_tasks, sizeof *next), lines = 0;
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "] task ");
        long k, i;
        BENCH_CHECK(p && sscanf(p, "] task %ld line %ld", &k, &i) == 2 && k >= 0 && k < n_tasks,
                    "bad line: %s", line);
        BENCH_CHECK(i == next[k], "task %ld: line %ld after %ld", k, i, next[k] - 1);
        next[k]++;
        lines++;
    }
    if (f)
        fclose(f);
    unlink(path);
    BENCH_CHECK(lines == n_lines, "%ld of %ld lines in the file", lines, n_lines);
    qsort(costs, (size_t)n_lines, sizeof *costs, cmp_u32);
    printf("RESULT LOG ns_per_call_median %u\n", costs[n_lines / 2]);
    fprintf(stderr, "log_bench: %ld lines from %ld tasks, all in order; p90 %u ns, p99 %u ns\n",
            n_lines, n_tasks, costs[n_lines * 9 / 10], costs[n_lines * 99 / 100]);
    free(costs);
    free(next);
    return 0;
}
