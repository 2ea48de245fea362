/* W7 to_thread (libuv peer): run a trivial function on libuv's thread pool
 * with uv_queue_work, 10,000 times one after the other (each submitted from
 * the previous one's after-work callback), then 10,000 submitted at once
 * (one warm-up round, then rounds until 0.5 s have been timed, at most 25,
 * and the median round, as the cio program).
 * Checks every result. Reports microseconds per call for each phase.
 *
 *   uv_w7_queue_work [--n N]     (default 10,000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    uv_work_t req;
    long in, out;
} job;

static uv_loop_t *loop;
static long n_calls, seq_next, conc_done;
static long long sum;

static void trivial(uv_work_t *req) {
    job *j = (job *)req;
    j->out = j->in + 1;
}

static void seq_after(uv_work_t *req, int status);

static void seq_submit(job *j) {
    j->in = seq_next++;
    uv_queue_work(loop, &j->req, trivial, seq_after);
}

static void seq_after(uv_work_t *req, int status) {
    job *j = (job *)req;
    if (status == 0)
        sum += j->out;
    if (seq_next < n_calls)
        seq_submit(j);
}

static void conc_after(uv_work_t *req, int status) {
    job *j = (job *)req;
    if (status == 0)
        sum += j->out;
    conc_done++;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int check_sum(const char *phase) {
    long long want = (long long)n_calls * (n_calls + 1) / 2;
    if (sum != want) {
        fprintf(stderr, "benchmark result is wrong: %s sum %lld, want %lld\n", phase, sum, want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    n_calls = 10000;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--n"))
            n_calls = atol(argv[i + 1]);
    loop = uv_default_loop();

    /* Warm the pool up once (libuv starts its threads on first use), as the
     * other programs' pools are warm by their second call. */
    job warm = {.in = 0};
    seq_next = n_calls; /* no follow-up */
    uv_queue_work(loop, &warm.req, trivial, seq_after);
    uv_run(loop, UV_RUN_DEFAULT);

    sum = 0;
    seq_next = 0;
    job j;
    uint64_t t0 = uv_hrtime();
    seq_submit(&j);
    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t t1 = uv_hrtime();
    if (check_sum("sequential"))
        return 1;

    job *jobs = calloc((size_t)n_calls, sizeof *jobs);
    if (!jobs)
        return 1;
    /* as the cio program: one warm-up round, then rounds until 0.5 s have
     * been timed (at most 25): the median round */
    double rounds[26], timed = 0;
    int n_rounds = 0;
    for (int r = 0; r < 26 && (r < 2 || timed < 0.5); r++) {
        sum = 0;
        conc_done = 0;
        uint64_t t2 = uv_hrtime();
        for (long i = 0; i < n_calls; i++) {
            jobs[i].in = i;
            uv_queue_work(loop, &jobs[i].req, trivial, conc_after);
        }
        uv_run(loop, UV_RUN_DEFAULT);
        uint64_t t3 = uv_hrtime();
        if (conc_done != n_calls || check_sum("concurrent"))
            return 1;
        if (r > 0) {
            rounds[n_rounds++] = (double)(t3 - t2) / 1e3 / (double)n_calls;
            timed += (double)(t3 - t2) / 1e9;
        }
    }
    qsort(rounds, (size_t)n_rounds, sizeof *rounds, cmp_double);
    double median = n_rounds % 2 ? rounds[n_rounds / 2]
                                 : (rounds[n_rounds / 2 - 1] + rounds[n_rounds / 2]) / 2;
    printf("RESULT W7 us_per_call_seq %.3f\n", (double)(t1 - t0) / 1e3 / (double)n_calls);
    printf("RESULT W7 us_per_call_conc %.3f\n", median);
    free(jobs);
    return 0;
}
