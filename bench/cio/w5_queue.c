/* W5: 4 producers and 4 consumers through one queue of max size 1,024,
 * 1,000,000 items in total; the consumers check the sum. */
#include <cio.h>

#include "bench_util.h"

#define PRODUCERS 4
#define CONSUMERS 4

static cio_queue q;
static long items;

static int producer(void *arg) {
    long first = (long)(intptr_t)arg, n = items / PRODUCERS;
    for (long i = 0; i < n; i++)
        if (cio_queue_put(&q, (void *)(intptr_t)(first + i + 1)) < 0)
            return -1;
    return 0;
}

static int consumer(void *arg) {
    long *sum = arg;
    void *v;
    int rc;
    while ((rc = cio_queue_get(&q, &v)) == 0)
        *sum += (long)(intptr_t)v;
    return rc == CIO_ECLOSED ? 0 : rc; /* the queue is shut down at the end */
}

static int bench(void *arg) {
    (void)arg;
    BENCH_CHECK(cio_queue_init(&q, CIO_QUEUE_FIFO, 1024) == 0, "queue init");
    long sums[CONSUMERS] = {0};
    cio_task *p[PRODUCERS], *c[CONSUMERS];
    double t0 = bench_now();
    for (int i = 0; i < CONSUMERS; i++)
        c[i] = cio_spawn(consumer, &sums[i]);
    for (int i = 0; i < PRODUCERS; i++)
        p[i] = cio_spawn(producer, (void *)(intptr_t)(i * (items / PRODUCERS)));
    BENCH_CHECK(cio_gather(p, PRODUCERS, NULL) == 0, "a producer failed");
    cio_queue_shutdown(&q, false); /* consumers drain what is left, then stop */
    BENCH_CHECK(cio_gather(c, CONSUMERS, NULL) == 0, "a consumer failed");
    double t1 = bench_now();
    long sum = 0, n = items / PRODUCERS * PRODUCERS;
    for (int i = 0; i < CONSUMERS; i++)
        sum += sums[i];
    BENCH_CHECK(sum == n * (n + 1) / 2, "sum %ld, expected %ld", sum, n * (n + 1) / 2);
    cio_queue_destroy(&q);
    printf("RESULT W5 items_per_sec %.0f\n", (double)n / (t1 - t0));
    return 0;
}

int main(int argc, char **argv) {
    items = bench_arg_n(argc, argv, 1000000);
    return cio_run(bench, NULL) == 0 ? 0 : 1;
}
