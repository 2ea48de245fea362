/* W8: write 10,000 files of 4 KiB into a fresh directory with at most 64
 * in flight (64 tasks take the next index; each file is open + write +
 * close), then read every file back (open + read to EOF + close) and
 * verify it. Reports files per second each way. Removes its files at the
 * end, unless W8_DIR names the parent directory (then its caller removes
 * them: see bench/run.sh).
 *   w8_files [--n N] [--backend uring|threads]   (CIO_IO works too) */
#include <cio/core.h>
#include <cio/fs.h>

#include <stdint.h>
#include <unistd.h>

#include "bench_util.h"

#define FILE_SIZE 4096
#define IN_FLIGHT 64

static long n_files, next_idx;
static char dir[200];
static bool reading;

/* File i holds its index in decimal, 8 digits, repeated to 4 KiB (as the
 * peers write it). */
static void content(long i, char *out) {
    char tag[24];
    snprintf(tag, sizeof tag, "%08ld", i % 100000000);
    for (int k = 0; k < FILE_SIZE; k += 8)
        memcpy(out + k, tag, 8);
}

static int worker(void *arg) {
    (void)arg;
    char path[256], want[FILE_SIZE];
    for (long i; (i = next_idx++) < n_files;) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        content(i, want);
        if (!reading) {
            int rc = cio_fs_write_file(path, want, FILE_SIZE);
            BENCH_CHECK(rc == 0, "%s", cio_errmsg());
        } else {
            char *got;
            size_t len;
            int rc = cio_fs_read_file(path, &got, &len);
            BENCH_CHECK(rc == 0, "%s", cio_errmsg());
            BENCH_CHECK(len == FILE_SIZE && memcmp(got, want, FILE_SIZE) == 0,
                        "%s: wrong contents", path);
            cio_fs_free(got);
        }
    }
    return 0;
}

static double phase(bool read_phase) {
    reading = read_phase;
    next_idx = 0;
    cio_task *ts[IN_FLIGHT];
    double t0 = bench_now();
    for (int i = 0; i < IN_FLIGHT; i++)
        ts[i] = cio_spawn(worker, NULL);
    BENCH_CHECK(cio_gather(ts, IN_FLIGHT, NULL) == 0, "a worker failed");
    return bench_now() - t0;
}

static int bench(void *arg) {
    (void)arg;
    double tw = phase(false);
    double tr = phase(true);
    printf("RESULT W8 write_files_per_sec %.0f\n", (double)n_files / tw);
    printf("RESULT W8 read_files_per_sec %.0f\n", (double)n_files / tr);
    fprintf(stderr, "w8_files: backend %s\n",
            cio_fs_backend() == CIO_FS_URING ? "io_uring" : "threads");
    return 0;
}

int main(int argc, char **argv) {
    n_files = bench_arg_n(argc, argv, 10000);
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--backend") == 0)
            cio_fs_set_backend(strcmp(argv[i + 1], "threads") == 0 ? CIO_FS_THREADS
                                                                   : CIO_FS_URING);
    const char *parent = getenv("W8_DIR");
    snprintf(dir, sizeof dir, "%s/cio-w8-XXXXXX", parent ? parent : "/tmp");
    if (!mkdtemp(dir)) {
        perror("w8_files: mkdtemp");
        return 1;
    }
    int rc = cio_run(bench, NULL);
    char path[256];
    for (long i = 0; !parent && i < n_files; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        unlink(path);
    }
    if (!parent)
        rmdir(dir);
    return rc == 0 ? 0 : 1;
}
