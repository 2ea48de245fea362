/* W8 files (libuv peer): write 10,000 files of 4 KiB into a fresh directory
 * under /tmp with at most 64 files in flight (open, write,
 * close on libuv's thread pool through uv_fs_*), then read every file back
 * (open, read, close) and verify its contents. Reports files per second
 * each way; removes the directory afterwards, unless W8_DIR names the
 * parent directory (then its caller removes it: see bench/run.sh).
 *
 *   uv_w8_files [--n N]     (default 10,000) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define FILE_SIZE 4096
#define IN_FLIGHT 64

typedef struct {
    uv_fs_t req;
    long idx;
    uv_file fd;
    size_t done;
    char path[256];
    char buf[FILE_SIZE * 2];
} slot;

static uv_loop_t *loop;
static long n_files, next_idx, finished;
static char dir[200];
static int reading, failed;

/* File i holds its index in decimal, 8 digits, repeated to 4 KiB. */
static void content(long i, char *out) {
    char tag[9];
    snprintf(tag, sizeof tag, "%08ld", i);
    for (int k = 0; k < FILE_SIZE; k += 8)
        memcpy(out + k, tag, 8);
}

static void fail(slot *s, const char *what, ssize_t rc) {
    fprintf(stderr, "uv_w8_files: %s %s: %s\n", what, s->path, uv_strerror((int)rc));
    failed = 1;
}

static void start(slot *s);

static void on_close(uv_fs_t *req) {
    slot *s = (slot *)req;
    uv_fs_req_cleanup(req);
    finished++;
    start(s);
}

static void on_io(uv_fs_t *req) {
    slot *s = (slot *)req;
    ssize_t r = req->result;
    uv_fs_req_cleanup(req);
    if (r < 0) {
        fail(s, reading ? "read" : "write", r);
    } else if (!reading) {
        s->done += (size_t)r;
        if (s->done < FILE_SIZE) { /* short write: write the rest */
            uv_buf_t b = uv_buf_init(s->buf + s->done, (unsigned)(FILE_SIZE - s->done));
            uv_fs_write(loop, &s->req, s->fd, &b, 1, (int64_t)s->done, on_io);
            return;
        }
    } else if (r > 0) {
        s->done += (size_t)r;
        if (s->done < sizeof s->buf) { /* read until end of file */
            uv_buf_t b = uv_buf_init(s->buf + s->done, (unsigned)(sizeof s->buf - s->done));
            uv_fs_read(loop, &s->req, s->fd, &b, 1, (int64_t)s->done, on_io);
            return;
        }
    }
    if (reading && r >= 0) {
        char want[FILE_SIZE];
        content(s->idx, want);
        if (s->done != FILE_SIZE || memcmp(s->buf, want, FILE_SIZE) != 0) {
            fprintf(stderr, "benchmark result is wrong: contents of %s (%zu bytes)\n", s->path,
                    s->done);
            failed = 1;
        }
    }
    uv_fs_close(loop, &s->req, s->fd, on_close);
}

static void on_open(uv_fs_t *req) {
    slot *s = (slot *)req;
    ssize_t fd = req->result;
    uv_fs_req_cleanup(req);
    if (fd < 0) {
        fail(s, "open", fd);
        return;
    }
    s->fd = (uv_file)fd;
    s->done = 0;
    uv_buf_t b;
    if (reading) {
        b = uv_buf_init(s->buf, sizeof s->buf);
        uv_fs_read(loop, &s->req, s->fd, &b, 1, 0, on_io);
    } else {
        content(s->idx, s->buf);
        b = uv_buf_init(s->buf, FILE_SIZE);
        uv_fs_write(loop, &s->req, s->fd, &b, 1, 0, on_io);
    }
}

static void start(slot *s) {
    if (failed || next_idx >= n_files)
        return;
    s->idx = next_idx++;
    snprintf(s->path, sizeof s->path, "%s/f%ld", dir, s->idx);
    int flags = reading ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC;
    uv_fs_open(loop, &s->req, s->path, flags, 0644, on_open);
}

static double run_phase(slot *slots) {
    next_idx = 0;
    finished = 0;
    uint64_t t0 = uv_hrtime();
    for (int k = 0; k < IN_FLIGHT; k++)
        start(&slots[k]);
    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t t1 = uv_hrtime();
    return (double)(t1 - t0) / 1e9;
}

int main(int argc, char **argv) {
    n_files = 10000;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--n"))
            n_files = atol(argv[i + 1]);
    const char *parent = getenv("W8_DIR");
    snprintf(dir, sizeof dir, "%s/cio-w8-uv-XXXXXX", parent ? parent : "/tmp");
    if (!mkdtemp(dir)) {
        perror("uv_w8_files: mkdtemp");
        return 1;
    }
    loop = uv_default_loop();
    slot *slots = calloc(IN_FLIGHT, sizeof *slots);
    if (!slots)
        return 1;
    double tw = run_phase(slots);
    int ok = !failed && finished == n_files;
    double tr = 0;
    if (ok) {
        reading = 1;
        tr = run_phase(slots);
        ok = !failed && finished == n_files;
    }
    /* clean up (not timed) */
    char path[256];
    for (long i = 0; !parent && i < n_files; i++) {
        snprintf(path, sizeof path, "%s/f%ld", dir, i);
        unlink(path);
    }
    if (!parent)
        rmdir(dir);
    free(slots);
    if (!ok) {
        fprintf(stderr, "benchmark result is wrong: %ld of %ld files done\n", finished, n_files);
        return 1;
    }
    printf("RESULT W8 write_files_per_sec %.0f\n", (double)n_files / tw);
    printf("RESULT W8 read_files_per_sec %.0f\n", (double)n_files / tr);
    return 0;
}
