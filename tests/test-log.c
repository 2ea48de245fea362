/* The logger: levels, named loggers, line fields, handlers, the bounded
 * queue's two policies, flushing, cio's own reports. Every test ends with
 * cio_log_shutdown so that the leak check sees the logger's memory and
 * files released. */
#define _GNU_SOURCE
#include <cio/log.h>
#include <cio/test.h>
#include <cio/thread.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"

static char logpath[600];

static const char *fresh_log(const char *name) {
    snprintf(logpath, sizeof logpath, "%s/%s", cio_test_tmpdir(), name);
    return logpath;
}

/* Reads the whole log (blocking read: the file is local and small). */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int log_hello(void *arg) {
    return cio_log_info(arg, "hello %d from %s", 42, "a task");
}

CIO_TEST(log_line_has_time_level_logger_and_task) {
    const char *p = fresh_log("a.log");
    CIO_ASSERT_GE(cio_log_add_file(p, CIO_LOG_DEBUG), 0);
    cio_logger *lg = cio_log_get("app.db");
    CIO_ASSERT(lg != NULL);
    CIO_ASSERT_STREQ(cio_log_name(lg), "app.db");
    CIO_ASSERT_EQ(cio_log_set_level(lg, CIO_LOG_INFO), 0);
    cio_task *t = cio_spawn_with(log_hello, lg, &(cio_spawn_opts){.name = "fetcher"});
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT_EQ(cio_log_debug(lg, "not shown"), 0);
    CIO_ASSERT_EQ(cio_log_flush(), 0);
    char *s = slurp(p);
    CIO_ASSERT(s != NULL);
    CIO_ASSERT_EQ(count_lines(s), 1);
    int y, mo, d, h, mi, sec, ms;
    CIO_ASSERT_EQ(sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d.%3d", &y, &mo, &d, &h, &mi, &sec, &ms), 7);
    CIO_ASSERT(strstr(s, " INFO ") != NULL);
    CIO_ASSERT(strstr(s, " app.db [fetcher] hello 42 from a task\n") != NULL);
    free(s);
    cio_log_shutdown();
}

CIO_TEST(log_levels_inherit_along_dotted_names) {
    cio_logger *root = cio_log_get(NULL);
    cio_logger *a = cio_log_get("a"), *ab = cio_log_get("a.b"), *abc = cio_log_get("a.b.c");
    CIO_ASSERT(root && a && ab && abc);
    CIO_ASSERT(cio_log_get("a.b") == ab);
    CIO_ASSERT_EQ(cio_log_effective_level(abc), CIO_LOG_WARNING); /* root's default */
    CIO_ASSERT_EQ(cio_log_set_level(a, CIO_LOG_ERROR), 0);
    CIO_ASSERT_EQ(cio_log_effective_level(abc), CIO_LOG_ERROR);
    CIO_ASSERT(!cio_log_enabled(abc, CIO_LOG_WARNING));
    CIO_ASSERT_EQ(cio_log_set_level(ab, CIO_LOG_DEBUG), 0);
    CIO_ASSERT(cio_log_enabled(abc, CIO_LOG_DEBUG));
    CIO_ASSERT(!cio_log_enabled(a, CIO_LOG_DEBUG));
    CIO_ASSERT_EQ(cio_log_set_level(ab, CIO_LOG_NOTSET), 0);
    CIO_ASSERT_EQ(cio_log_effective_level(abc), CIO_LOG_ERROR);
    CIO_ASSERT_EQ(cio_log_set_level(a, -3), -EINVAL);
    CIO_ASSERT_EQ(cio_log_configure(0, (cio_log_policy)9), -EINVAL);
    CIO_ASSERT_EQ(cio_log_configure((size_t)1 << 30, CIO_LOG_BLOCK), -EINVAL);
    CIO_ASSERT_EQ(cio_log_add_file(NULL, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_log_add_file("/no/such/dir/x.log", 0), -ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), "/no/such/dir/x.log") != NULL);
    CIO_ASSERT_EQ(cio_log_remove_handler(5), -EINVAL);
    cio_log_shutdown();
}

CIO_TEST(log_handler_levels_and_long_messages) {
    const char *p = fresh_log("warn.log");
    char p2[600];
    snprintf(p2, sizeof p2, "%s/all.log", cio_test_tmpdir());
    CIO_ASSERT_GE(cio_log_add_file(p, CIO_LOG_WARNING), 0);
    int all = cio_log_add_file(p2, CIO_LOG_DEBUG);
    CIO_ASSERT_GE(all, 0);
    cio_log_set_level(NULL, CIO_LOG_DEBUG);
    cio_logger *lg = cio_log_get("x");
    cio_log_info(lg, "info line");
    cio_log_error(lg, "error line");
    char big[5000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cio_log_warning(lg, "big:%s:end", big);
    CIO_ASSERT_EQ(cio_log_remove_handler(all), 0);
    cio_log_error(lg, "after removal");
    CIO_ASSERT_EQ(cio_log_flush(), 0);
    char *s = slurp(p), *s2 = slurp(p2);
    CIO_ASSERT_EQ(count_lines(s), 3);
    CIO_ASSERT(strstr(s, "info line") == NULL);
    CIO_ASSERT(strstr(s, "error line") != NULL);
    char *b = strstr(s, "big:");
    CIO_ASSERT(b != NULL);
    CIO_ASSERT(strncmp(b + 4 + 4999, ":end\n", 5) == 0);
    CIO_ASSERT_EQ(count_lines(s2), 3);
    CIO_ASSERT(strstr(s2, "info line") != NULL);
    CIO_ASSERT(strstr(s2, "after removal") == NULL);
    free(s);
    free(s2);
    cio_log_shutdown();
}

static int vlog_helper(cio_logger *lg, int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = cio_vlog(lg, level, fmt, ap);
    va_end(ap);
    return rc;
}

CIO_TEST(log_stderr_handler_and_handler_errors) {
    const char *p = fresh_log("stderr.log");
    fflush(stderr);
    int saved = dup(2), fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CIO_ASSERT(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    int id = cio_log_add_stderr(CIO_LOG_ERROR);
    cio_logger *lg = cio_log_get("err");
    cio_log_warning(lg, "below the handler's level");
    cio_log_error(lg, "to stderr %d", 7);
    int flushed = cio_log_flush();
    int removed = cio_log_remove_handler(id);
    dup2(saved, 2);
    close(saved);
    CIO_ASSERT_GE(id, 0);
    CIO_ASSERT_EQ(flushed, 0);
    CIO_ASSERT_EQ(removed, 0);
    char *s = slurp(p);
    CIO_ASSERT(s != NULL);
    CIO_ASSERT_EQ(count_lines(s), 1);
    CIO_ASSERT(strstr(s, " ERROR ") != NULL);
    CIO_ASSERT(strstr(s, " err [") != NULL);
    CIO_ASSERT(strstr(s, "] to stderr 7\n") != NULL);
    free(s);

    CIO_ASSERT_EQ(cio_log_remove_handler(id), -EINVAL); /* already removed */
    CIO_ASSERT(strstr(cio_errmsg(), "no handler") != NULL);
    CIO_ASSERT_EQ(cio_log_remove_handler(-1), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "bad id -1") != NULL);
    CIO_ASSERT_EQ(vlog_helper(lg, CIO_LOG_ERROR, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "format is NULL") != NULL);
    CIO_ASSERT_EQ(vlog_helper(lg, CIO_LOG_DEBUG, NULL), 0); /* filtered out first */

    /* Handlers are a fixed table: the one past it is refused. */
    int ids[8], n = 0;
    for (; n < 8; n++)
        if ((ids[n] = cio_log_add_stderr(CIO_LOG_CRITICAL)) < 0)
            break;
    CIO_ASSERT_EQ(n, 8);
    CIO_ASSERT_EQ(cio_log_add_stderr(CIO_LOG_CRITICAL), -ENOSPC);
    CIO_ASSERT(strstr(cio_errmsg(), "at most 8 handlers") != NULL);
    for (int i = 0; i < n; i++)
        CIO_ASSERT_EQ(cio_log_remove_handler(ids[i]), 0);
    cio_log_shutdown();
}

/* ---- many tasks, order per task ---- */

typedef struct {
    cio_logger *lg;
    int id, lines;
} writer_arg;

static int writer(void *arg) {
    writer_arg *w = arg;
    for (int i = 0; i < w->lines; i++) {
        int rc = cio_log_info(w->lg, "t%d n%d", w->id, i);
        if (rc < 0)
            return rc;
        if (i % 16 == 0 && (rc = cio_yield()) < 0)
            return rc;
    }
    return 0;
}

/* A small queue under BLOCK: tasks park when it is full, nothing is lost,
 * and each task's lines keep their order. */
CIO_TEST(log_many_tasks_small_queue_nothing_lost_in_order) {
    const char *p = fresh_log("many.log");
    CIO_ASSERT_EQ(cio_log_configure(64, CIO_LOG_BLOCK), 0);
    CIO_ASSERT_GE(cio_log_add_file(p, CIO_LOG_DEBUG), 0);
    cio_log_set_level(NULL, CIO_LOG_INFO);
    enum { T = 100 };
    int lines = (int)cio_test_scale(500);
    writer_arg args[T];
    cio_task *ts[T];
    for (int i = 0; i < T; i++) {
        args[i] = (writer_arg){cio_log_get("many"), i, lines};
        ts[i] = cio_spawn(writer, &args[i]);
    }
    CIO_ASSERT_EQ(cio_gather(ts, T, NULL), 0);
    CIO_ASSERT_EQ(cio_log_flush(), 0);
    CIO_ASSERT_EQ(cio_log_dropped(), 0);
    FILE *f = fopen(p, "r");
    CIO_ASSERT(f != NULL);
    int next[T] = {0}, total = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char *m = strstr(line, "] t");
        int id, n;
        if (!m || sscanf(m, "] t%d n%d", &id, &n) != 2 || id < 0 || id >= T) {
            cio_test_fail(__FILE__, __LINE__, "bad line: %s", line);
            break;
        }
        if (n != next[id]) {
            cio_test_fail(__FILE__, __LINE__, "task %d: line %d after %d", id, n, next[id] - 1);
            break;
        }
        next[id]++;
        total++;
    }
    fclose(f);
    CIO_ASSERT_EQ(total, T * lines);
    cio_log_shutdown();
}

/* ---- a stalled writer: the queue fills ---- */

typedef struct {
    int rfd;
    long bytes;
} drain_arg;
static void *drain_pipe(void *arg) {
    drain_arg *d = arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(d->rfd, buf, sizeof buf)) > 0)
        d->bytes += n;
    return NULL;
}

/* Sends every record (DEBUG and up) through a 16-slot queue with the
 * given policy into a new pipe; the test reads fds[0]. The handler keeps
 * its own descriptor of the pipe, so fds[1] is closed here. */
static int log_into_pipe(int fds[2], cio_log_policy policy) {
    if (pipe(fds) != 0)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[1]);
    int rc = cio_log_configure(16, policy);
    if (rc == 0 && cio_log_add_file(path, CIO_LOG_DEBUG) < 0)
        rc = -1;
    close(fds[1]);
    cio_log_set_level(NULL, CIO_LOG_DEBUG);
    return rc;
}

/* The handler writes into a pipe nobody reads yet, so the writer blocks
 * and the queue fills: under DROP the extra records are counted. */
CIO_TEST(log_drop_policy_counts_what_a_full_queue_refuses) {
    int fds[2];
    CIO_ASSERT_EQ(log_into_pipe(fds, CIO_LOG_DROP), 0);
    int n = 5000, refused = 0;
    for (int i = 0; i < n; i++)
        refused += cio_log_info(NULL, "line %06d with some padding to fill the pipe", i) == -EAGAIN;
    CIO_ASSERT_GT(refused, 0);
    CIO_ASSERT_EQ(cio_log_dropped(), (uint64_t)refused);
    drain_arg d = {fds[0], 0};
    /* Read the pipe on a thread while shutdown writes the rest out. */
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, drain_pipe, &d), 0);
    cio_log_shutdown(); /* closes the handler: the reader sees EOF */
    pthread_join(th, NULL);
    close(fds[0]);
    long per_line = (long)strlen("2026-11-21 05:17:03.123 INFO     root [main] line 000000 "
                                 "with some padding to fill the pipe\n");
    CIO_ASSERT_EQ(d.bytes, (long)(n - refused) * per_line);
}

static int blocked_logger(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        int rc = cio_log_info(NULL, "line %06d with some padding to fill the pipe", i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Under BLOCK a task parks on the full queue, other tasks run, and a
 * cancelled task leaves the wait with -ECANCELED. */
CIO_TEST(log_block_policy_parks_the_task_cancellably) {
    int fds[2];
    CIO_ASSERT_EQ(log_into_pipe(fds, CIO_LOG_BLOCK), 0);
    cio_task *t = cio_spawn(blocked_logger, NULL);
    while (!cio__task_parked(t)) /* until the queue is full and t waits */
        CIO_ASSERT_EQ(cio_yield(), 0);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    drain_arg d = {fds[0], 0};
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, drain_pipe, &d), 0);
    cio_log_shutdown();
    pthread_join(th, NULL);
    close(fds[0]);
    CIO_ASSERT_GT(d.bytes, 0);
    CIO_ASSERT_EQ(cio_log_dropped(), 0);
}

/* ---- outside tasks, at run exit, cio's own reports ---- */

static void *named_thread(void *arg) {
    pthread_setname_np(pthread_self(), "my-thread");
    cio_log_warning(arg, "from a plain thread");
    return NULL;
}

static int fails_loudly(void *arg) {
    (void)arg;
    return cio_seterr(-EIO, "the widget broke");
}

static int spam(void *arg) {
    for (int i = 0; i < 100; i++)
        cio_log_warning(arg, "exit line %d", i);
    return 0;
}
static void *run_and_count(void *arg) {
    cio_run(spam, cio_log_get("exit"));
    /* cio_run has returned: every line must be in the file already. */
    char *s = slurp(arg);
    int n = 0;
    for (char *q = s; q && (q = strstr(q, "exit line")); q++)
        n++;
    free(s);
    return (void *)(intptr_t)n;
}
static int join_thread(void *arg) {
    void *ret;
    pthread_join(*(pthread_t *)arg, &ret);
    return (int)(intptr_t)ret;
}

CIO_TEST(log_threads_run_exit_flush_and_cio_reports) {
    const char *p = fresh_log("mixed.log");
    CIO_ASSERT_GE(cio_log_add_file(p, CIO_LOG_DEBUG), 0);
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, named_thread, cio_log_get("plain")), 0);
    CIO_ASSERT_EQ(cio_to_thread(join_thread, &th), 0);
    CIO_ASSERT_EQ(pthread_create(&th, NULL, run_and_count, (void *)p), 0);
    CIO_ASSERT_EQ(cio_to_thread(join_thread, &th), 100);
    cio__report(2, "a warning of cio's own");
    /* A detached task's error that nobody collects is reported: here. */
    cio_task *t = cio_spawn_with(fails_loudly, NULL, &(cio_spawn_opts){.name = "doomed"});
    CIO_ASSERT_EQ(cio_detach(t), 0);
    CIO_ASSERT_EQ(cio_yield(), 0);
    CIO_ASSERT_EQ(cio_yield(), 0);
    CIO_ASSERT_EQ(cio_log_flush(), 0);
    char *s = slurp(p);
    CIO_ASSERT(strstr(s, " WARNING  plain [my-thread] from a plain thread\n") != NULL);
    CIO_ASSERT(strstr(s, " WARNING  cio [main] a warning of cio's own\n") != NULL);
    CIO_ASSERT(strstr(s, " ERROR    cio [") != NULL);
    CIO_ASSERT(strstr(s, "'doomed'") != NULL);
    CIO_ASSERT(strstr(s, "the widget broke") != NULL);
    free(s);
    cio_log_shutdown();
}

/* ---- the seed's QueueHandler + FileHandler example ---- */

typedef struct {
    char out[4096];
    int status;
} example_run;

static int run_logging_example(void *arg) {
    example_run *r = arg;
    const char *build = getenv("CIO_BUILD_DIR");
    if (!build)
        return -ENOENT;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s/examples/logging_queue 2>&1", cio_test_tmpdir(), build);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(r->out, 1, sizeof r->out - 1, p) : 0;
    r->out[n] = 0;
    r->status = p ? pclose(p) : -1;
    return 0;
}

/* Output equals examples/expected/logging_queue.txt once each line's time
 * stamp ("YYYY-MM-DD HH:MM:SS.mmm ") is cut off. */
CIO_TEST(example_logging_queue) {
    static example_run r;
    CIO_ASSERT_EQ(cio_to_thread(run_logging_example, &r), 0);
    CIO_ASSERT_EQ(r.status, 0);
    char want[4096] = {0}, path[1024], got[4096] = {0};
    snprintf(path, sizeof path, "%s/examples/expected/logging_queue.txt",
             getenv("CIO_SOURCE_DIR") ? getenv("CIO_SOURCE_DIR") : ".");
    FILE *f = fopen(path, "r");
    CIO_ASSERT(f != NULL);
    (void)!fread(want, 1, sizeof want - 1, f);
    fclose(f);
    size_t g = 0;
    for (char *line = r.out; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        int y, mo, d, h, mi, s, ms;
        CIO_ASSERT_EQ(sscanf(line, "%4d-%2d-%2d %2d:%2d:%2d.%3d ", &y, &mo, &d, &h, &mi, &s, &ms), 7);
        memcpy(got + g, line + 24, len - 24);
        g += len - 24;
        line += len;
    }
    CIO_ASSERT_STREQ(got, want);
}

CIO_TEST(log_out_of_memory_for_a_long_message) {
    const char *p = fresh_log("oom.log");
    CIO_ASSERT_GE(cio_log_add_file(p, CIO_LOG_DEBUG), 0);
    CIO_ASSERT_EQ(cio_log_warning(NULL, "warm-up"), 0); /* starts the writer */
    char big[1000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cio_test_fail_alloc(1);
    CIO_ASSERT_EQ(cio_log_warning(NULL, "%s", big), 0); /* truncated, not lost */
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(cio_log_flush(), 0);
    char *s = slurp(p);
    CIO_ASSERT_EQ(count_lines(s), 2);
    CIO_ASSERT(strstr(s, "qqqq") != NULL);
    free(s);
    cio_log_shutdown();
}

static int five_seconds(void *arg) {
    (void)arg;
    return cio_sleep(5 * CIO_SEC);
}
static int log_2000(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        int rc = cio_log_info(NULL, "line %06d with some padding to fill the pipe", i);
        if (rc < 0)
            return rc;
    }
    return 0;
}
static void *late_drain(void *arg) {
    usleep(30000); /* the order of events does not depend on this delay */
    return drain_pipe(arg);
}

/* A task parked on the full queue waits for the writer thread, so virtual
 * time must not jump to the sleeper's deadline meanwhile. */
CIO_TEST_VCLOCK(log_blocked_task_holds_the_virtual_clock) {
    int fds[2];
    CIO_ASSERT_EQ(log_into_pipe(fds, CIO_LOG_BLOCK), 0);
    int64_t t0 = cio_now();
    cio_task *sleeper = cio_spawn(five_seconds, NULL);
    cio_task *t = cio_spawn(log_2000, NULL);
    drain_arg d = {fds[0], 0};
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, late_drain, &d), 0);
    CIO_ASSERT_EQ(cio_join(t), 0);
    CIO_ASSERT(!cio_task_done(sleeper));
    CIO_ASSERT_LT(cio_now() - t0, 5 * CIO_SEC);
    CIO_ASSERT_EQ(cio_join(sleeper), 0);
    cio_log_shutdown();
    pthread_join(th, NULL);
    close(fds[0]);
    CIO_ASSERT_GT(d.bytes, 0);
}
