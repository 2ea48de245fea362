/* W1 floor: the least any runtime must do to have 1,000,000 tasks alive at
 * once that each return their index, with no scheduler at all. Each task is
 * a 32-byte record (its function, its argument, its result and state, a
 * link in the run queue) taken from one mapping in huge pages where the
 * kernel gives them (as cio's task handles are), queued in order, then
 * run in that order, each result stored straight into the caller's status
 * array. The clock covers what W1's programs time: the handle array, the
 * status array and the records are first touched inside it, as a runtime's
 * are. A runtime's W1 figure divided by this one is what its scheduling
 * costs on top of the memory.
 *
 *   w1_floor [--n N]     prints RESULT W1 ns_per_task and peak_rss_kb */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

typedef struct record {
    struct record *next;
    int (*fn)(void *);
    void *arg;
    int result;
    int state;
} record;

_Static_assert(sizeof(record) == 32, "a record is 32 bytes");

static int ret_index(void *arg) { return (int)(intptr_t)arg; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long n = 1000000;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--n") == 0)
            n = atol(argv[i + 1]);
    if (n < 1) {
        fprintf(stderr, "w1_floor: --n must be at least 1\n");
        return 1;
    }
    record **ts = malloc(sizeof *ts * (size_t)n);
    int *status = malloc(sizeof *status * (size_t)n);
    if (!ts || !status) {
        fprintf(stderr, "w1_floor: out of memory\n");
        return 1;
    }
    double t0 = now();
    size_t len = sizeof(record) * (size_t)n;
    record *recs = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (recs == MAP_FAILED) {
        fprintf(stderr, "w1_floor: out of memory\n");
        return 1;
    }
    madvise(recs, len, MADV_HUGEPAGE);
    record *head = NULL, **tail = &head;
    for (long i = 0; i < n; i++) { /* spawn: fill a record, queue it */
        record *r = &recs[i];
        r->fn = ret_index;
        r->arg = (void *)(intptr_t)i;
        r->result = 0;
        r->state = 1;
        r->next = NULL;
        *tail = r;
        tail = &r->next;
        ts[i] = r;
    }
    for (record *r = head; r; r = r->next) { /* run, and gather in place */
        r->result = r->fn(r->arg);
        r->state = 2;
        status[r - recs] = r->result;
    }
    double t1 = now();
    long long sum = 0;
    for (long i = 0; i < n; i++)
        sum += status[i] + (ts[i]->state == 2 ? 0 : 1LL << 40);
    if (sum != (long long)n * (n - 1) / 2) {
        fprintf(stderr, "w1_floor: wrong sum %lld\n", sum);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT W1 ns_per_task %.1f\n", (t1 - t0) * 1e9 / (double)n);
    printf("RESULT W1 peak_rss_kb %ld\n", ru.ru_maxrss);
    munmap(recs, len);
    free(status);
    free(ts);
    return 0;
}
