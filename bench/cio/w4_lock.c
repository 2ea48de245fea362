/* W4: 1,000 tasks each do 1,000 x { acquire a lock; yield; release }.
 * Every acquisition but the first is contended (the holder yields), so
 * this measures the lock's wait, hand-off and wake path. */
#include <cio.h>

#include "bench_util.h"

static cio_lock lock = CIO_LOCK_INIT;
static long rounds, inside, total;

static int worker(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        if (cio_lock_acquire(&lock) < 0)
            return -1;
        BENCH_CHECK(++inside == 1, "two tasks inside the lock");
        total++;
        cio_yield();
        inside--;
        cio_lock_release(&lock);
    }
    return 0;
}

static long ntasks;

static int bench(void *arg) {
    (void)arg;
    cio_task **t = malloc((size_t)ntasks * sizeof *t);
    BENCH_CHECK(t != NULL, "out of memory");
    double t0 = bench_now();
    for (long i = 0; i < ntasks; i++)
        t[i] = cio_spawn(worker, NULL);
    BENCH_CHECK(cio_gather(t, (size_t)ntasks, NULL) == 0, "a worker failed");
    double t1 = bench_now();
    free(t);
    BENCH_CHECK(total == ntasks * rounds, "total %ld", total);
    BENCH_CHECK(!cio_lock_locked(&lock), "lock still held");
    printf("RESULT W4 acq_per_sec %.0f\n", (double)total / (t1 - t0));
    return 0;
}

int main(int argc, char **argv) {
    ntasks = bench_arg_n(argc, argv, 1000); /* --n: tasks, as the peers take it */
    rounds = 1000;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--rounds") == 0)
            rounds = atol(argv[i + 1]);
    return cio_run(bench, NULL) == 0 ? 0 : 1;
}
