/* The CIO_TEST runner: runs each test body as the main task of cio_run,
 * under a time limit, then checks that nothing leaked (task handles, cio
 * allocations, file descriptors). `prog` runs every test (each in a forked
 * child), `prog name...` runs the named ones here, `prog --list` lists. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cio/test.h"

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long cio__alloc_live_count(void);
void cio__alloc_fail_after(long n);
size_t cio__last_run_leaked_handles(void);

static cio_test_case *first, *last;
static int failures;
static const char *running = "?";
static char tmpdir[64];

void cio_test_register(cio_test_case *tc) {
    tc->next = NULL;
    if (last)
        last->next = tc;
    else
        first = tc;
    last = tc;
}

void cio_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: %s: FAIL: ", file, line, running);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failures++;
}

long cio_test_scale(long n) {
    const char *s = getenv("CIO_TEST_SCALE");
    double f = s ? atof(s) : 1.0;
    long r = (long)((double)n * (f > 0 ? f : 1.0));
    return r < 1 ? 1 : r;
}

int cio_test_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

void cio_test_fail_alloc(long n) { cio__alloc_fail_after(n); }

const char *cio_test_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/cio-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return tmpdir;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void on_alarm(int sig) {
    (void)sig;
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s: TIMEOUT: the test did not finish in time\n", running);
    if (write(2, msg, (size_t)n) < 0) {
    }
    _exit(3);
}

static int body_task(void *arg) {
    ((cio_test_case *)arg)->body();
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run_here(cio_test_case *tc) {
    running = tc->name;
    failures = 0;
    const char *lim = getenv("CIO_TEST_TIMEOUT");
    signal(SIGALRM, on_alarm);
    alarm(lim ? (unsigned)atoi(lim) : 60);
    int fds = cio_test_fd_count();
    long allocs = cio__alloc_live_count();
    double t0 = now_ms();
    cio_run_opts o = {.virtual_clock = tc->virtual_clock, .no_sigint = true};
    int rc = cio_run_with(body_task, tc, &o);
    double ms = now_ms() - t0;
    alarm(0);
    cio__alloc_fail_after(0);
    if (rc != 0)
        cio_test_fail(tc->file, tc->line, "cio_run returned %d (%s)", rc, cio_errmsg());
    size_t leaked = cio__last_run_leaked_handles();
    if (leaked)
        cio_test_fail(tc->file, tc->line, "%zu task handle(s) never joined or detached",
                      leaked);
    if (tmpdir[0]) {
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = 0;
    }
    int fds_after = cio_test_fd_count();
    if (fds_after != fds)
        cio_test_fail(tc->file, tc->line, "file descriptors leaked: %d open before, %d after",
                      fds, fds_after);
    long allocs_after = cio__alloc_live_count();
    if (allocs_after != allocs)
        cio_test_fail(tc->file, tc->line, "memory leaked: %ld cio allocation(s) not freed",
                      allocs_after - allocs);
    fprintf(stderr, "%s %s (%.1f ms)\n", failures ? "FAIL" : "PASS", tc->name, ms);
    return failures ? 1 : 0;
}

static int run_forked(cio_test_case *tc) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(run_here(tc));
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st))
        return WEXITSTATUS(st) ? 1 : 0;
    fprintf(stderr, "FAIL %s (killed by signal %d)\n", tc->name, WTERMSIG(st));
    return 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (cio_test_case *tc = first; tc; tc = tc->next)
            printf("%s\n", tc->name);
        return 0;
    }
    int failed = 0, ran = 0;
    if (argc == 1) {
        for (cio_test_case *tc = first; tc; tc = tc->next, ran++)
            failed += run_forked(tc);
    } else {
        for (int i = 1; i < argc; i++) {
            cio_test_case *tc = first;
            while (tc && strcmp(tc->name, argv[i]) != 0)
                tc = tc->next;
            if (!tc) {
                fprintf(stderr, "no test named '%s' (try --list)\n", argv[i]);
                return 2;
            }
            failed += argc > 2 ? run_forked(tc) : run_here(tc);
            ran++;
        }
    }
    if (ran > 1)
        fprintf(stderr, "%d/%d tests passed\n", ran - failed, ran);
    return failed ? 1 : 0;
}
