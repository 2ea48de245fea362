/* Async files and file-system calls. Every test body runs twice, once on
 * io_uring and once on the thread pool (FS_BOTH), in the same test. */
#define _GNU_SOURCE
#include <cio/fs.h>
#include <cio/test.h>
#include <cio/thread.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fsop.h"

static const char *backend_name = "?";
static char pathbuf[512];

static const char *tpath(const char *name) {
    snprintf(pathbuf, sizeof pathbuf, "%s/%s-%s", cio_test_tmpdir(), backend_name, name);
    return pathbuf;
}

/* Runs body on each backend; the uring pass is skipped (and said so) only
 * where the kernel refuses io_uring. */
#define FS_BOTH(body)                                                          \
    do {                                                                       \
        for (int b_ = 0; b_ < 2; b_++) {                                       \
            backend_name = b_ == 0 ? "uring" : "threads";                      \
            if (b_ == 0 && !cio__uring_available()) {                          \
                fprintf(stderr, "io_uring unavailable: uring pass skipped\n"); \
                continue;                                                      \
            }                                                                  \
            cio_fs_set_backend(b_ == 0 ? CIO_FS_URING : CIO_FS_THREADS);       \
            CIO_ASSERT_EQ(cio_fs_backend(), b_ == 0 ? CIO_FS_URING : CIO_FS_THREADS); \
            fprintf(stderr, "-- backend %s\n", backend_name);                 \
            body();                                                            \
        }                                                                      \
        cio_fs_set_backend(CIO_FS_AUTO);                                       \
    } while (0)

static const char seed_text[] = "非同期で書き込み";

static void write_then_read_body(void) {
    const char *p = tpath("output.txt");
    cio_file *f = cio_file_open(p, "w", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_write(f, seed_text, strlen(seed_text)), (long)strlen(seed_text));
    CIO_ASSERT_EQ(cio_file_tell(f), (long)strlen(seed_text));
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    f = cio_file_open(p, "r", 0);
    CIO_ASSERT(f != NULL);
    char *s = NULL;
    size_t n = 0;
    CIO_ASSERT_EQ(cio_file_read_all(f, &s, &n), 0);
    CIO_ASSERT_EQ(n, strlen(seed_text));
    CIO_ASSERT_STREQ(s, seed_text);
    cio_fs_free(s);
    char c;
    CIO_ASSERT_EQ(cio_file_read(f, &c, 1), 0); /* at EOF */
    CIO_ASSERT_EQ(cio_file_close(f), 0);
}
CIO_TEST(fs_write_then_read) { FS_BOTH(write_then_read_body); }

static void open_errors_body(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/no/such/dir/file", cio_test_tmpdir());
    errno = 0;
    CIO_ASSERT(cio_file_open(p, "r", 0) == NULL);
    CIO_ASSERT_EQ(errno, ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), p) != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "No such file") != NULL);
    CIO_ASSERT(cio_file_open(tpath("x"), "z", 0) == NULL);
    CIO_ASSERT_EQ(errno, EINVAL);
    CIO_ASSERT(cio_file_open(NULL, "r", 0) == NULL);
    CIO_ASSERT_EQ(errno, EINVAL);
    CIO_ASSERT(cio_file_open(cio_test_tmpdir(), "w", 0) == NULL);
    CIO_ASSERT_EQ(errno, EISDIR);
    /* "x": exclusive creation */
    cio_file *f = cio_file_open(tpath("excl"), "wx", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    CIO_ASSERT(cio_file_open(tpath("excl"), "wx", 0) == NULL);
    CIO_ASSERT_EQ(errno, EEXIST);
}
CIO_TEST(fs_open_errors_name_the_path) { FS_BOTH(open_errors_body); }

static void bad_args_body(void) {
    char b[4];
    CIO_ASSERT_EQ(cio_file_read(NULL, b, 4), -EINVAL);
    CIO_ASSERT_EQ(cio_file_write(NULL, b, 4), -EINVAL);
    CIO_ASSERT_EQ(cio_file_seek(NULL, 0, SEEK_SET), -EINVAL);
    CIO_ASSERT_EQ(cio_file_sync(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_file_close(NULL), 0);
    cio_stat st;
    CIO_ASSERT_EQ(cio_fs_stat(NULL, &st), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_stat("/", NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_unlink(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_rename("a", NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_listdir("/", NULL, NULL), -EINVAL);
    cio_file *f = cio_file_open(tpath("wo"), "w", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_read(f, b, 4), -EBADF);
    CIO_ASSERT_EQ(cio_file_read(f, NULL, 4), -EINVAL);
    CIO_ASSERT_EQ(cio_file_pwrite(f, b, 4, -1), -EINVAL);
    CIO_ASSERT_EQ(cio_file_seek(f, -5, SEEK_SET), -EINVAL);
    CIO_ASSERT_EQ(cio_file_seek(f, 0, 42), -EINVAL);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    f = cio_file_open(tpath("wo"), "r", 0);
    CIO_ASSERT_EQ(cio_file_write(f, b, 4), -EBADF);
    CIO_ASSERT(strstr(cio_errmsg(), "not open for writing") != NULL);
    CIO_ASSERT_EQ(cio_file_readline(f, b, 1), -EINVAL);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
}
CIO_TEST(fs_bad_arguments) { FS_BOTH(bad_args_body); }

static void accessors_body(void) {
    const char *p = tpath("accessors");
    cio_file *f = cio_file_open(p, "w+", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_STREQ(cio_file_path(f), p);
    int fd = cio_file_fd(f);
    CIO_ASSERT_GE(fd, 0);
    CIO_ASSERT_EQ(write(fd, "raw", 3), 3); /* it is the file's own descriptor */
    struct stat st;
    CIO_ASSERT_EQ(fstat(fd, &st), 0);
    CIO_ASSERT_EQ(st.st_size, 3);
    CIO_ASSERT_EQ(cio_file_fd(NULL), -1);
    CIO_ASSERT_STREQ(cio_file_path(NULL), "");
    CIO_ASSERT_EQ(cio_file_puts(f, NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "puts: string is NULL") != NULL);
    CIO_ASSERT_EQ(cio_file_puts(f, "0123456789"), 10);
    char b[8];
    CIO_ASSERT_EQ(cio_file_pread(f, b, 4, -1), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "negative offset") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), p) != NULL);
    CIO_ASSERT_EQ(cio_file_pread(NULL, b, 4, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_file_seek(f, 2, SEEK_SET), 2);
    CIO_ASSERT_EQ(cio_file_seek(f, 3, SEEK_CUR), 5);
    CIO_ASSERT_EQ(cio_file_read(f, b, 2), 2);
    CIO_ASSERT(memcmp(b, "56", 2) == 0); /* puts wrote at the file's position 0 */
    CIO_ASSERT_EQ(cio_file_seek(f, -1, SEEK_CUR), 6);
    CIO_ASSERT_EQ(cio_file_read(f, b, 1), 1);
    CIO_ASSERT_EQ(b[0], '6');
    CIO_ASSERT_EQ(cio_file_seek(f, -100, SEEK_CUR), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "negative position") != NULL);
    CIO_ASSERT_EQ(cio_file_tell(f), 7); /* a failed seek moves nothing */
    CIO_ASSERT_EQ(cio_file_close(f), 0);
}
CIO_TEST(fs_file_accessors_seek_cur_and_argument_errors) { FS_BOTH(accessors_body); }

static void large_body(void) {
    size_t n = 3 * 1024 * 1024 + 123; /* several chunks */
    unsigned char *data = malloc(n), *back = malloc(n);
    CIO_ASSERT(data && back);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 12));
    cio_file *f = cio_file_open(tpath("big"), "w+", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_write(f, data, n), (long)n);
    CIO_ASSERT_EQ(cio_file_seek(f, 0, SEEK_SET), 0);
    CIO_ASSERT_EQ(cio_file_read(f, back, n + 100), (long)n); /* short only at EOF */
    CIO_ASSERT(memcmp(data, back, n) == 0);
    CIO_ASSERT_EQ(cio_file_pread(f, back, 1000, 2000000), 1000);
    CIO_ASSERT(memcmp(data + 2000000, back, 1000) == 0);
    CIO_ASSERT_EQ(cio_file_tell(f), (long)n); /* pread leaves the position */
    CIO_ASSERT_EQ(cio_file_pwrite(f, "HELLO", 5, 10), 5);
    CIO_ASSERT_EQ(cio_file_pread(f, back, 5, 10), 5);
    CIO_ASSERT(memcmp(back, "HELLO", 5) == 0);
    CIO_ASSERT_EQ(cio_file_seek(f, -3, SEEK_END), (long)n - 3);
    CIO_ASSERT_EQ(cio_file_read(f, back, 10), 3);
    CIO_ASSERT_EQ(cio_file_sync(f), 0);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    cio_stat st;
    CIO_ASSERT_EQ(cio_fs_stat(tpath("big"), &st), 0);
    CIO_ASSERT_EQ(st.size, n);
    CIO_ASSERT(S_ISREG(st.mode));
    free(data);
    free(back);
}
CIO_TEST(fs_large_read_write_pread_pwrite_seek) { FS_BOTH(large_body); }

static void append_body(void) {
    const char *p = tpath("log");
    CIO_ASSERT_EQ(cio_fs_write_file(p, "one\n", 4), 0);
    cio_file *f = cio_file_open(p, "a", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_tell(f), 4);
    CIO_ASSERT_EQ(cio_file_puts(f, "two\n"), 4);
    CIO_ASSERT_EQ(cio_file_seek(f, 0, SEEK_SET), 0);
    CIO_ASSERT_EQ(cio_file_puts(f, "three\n"), 6); /* append ignores the position */
    CIO_ASSERT_EQ(cio_file_tell(f), 14);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    char *s;
    size_t n;
    CIO_ASSERT_EQ(cio_fs_read_file(p, &s, &n), 0);
    CIO_ASSERT_STREQ(s, "one\ntwo\nthree\n");
    cio_fs_free(s);
    f = cio_file_open(p, "a+", 0);
    CIO_ASSERT_EQ(cio_file_seek(f, 4, SEEK_SET), 4);
    char b[8] = {0};
    CIO_ASSERT_EQ(cio_file_read(f, b, 3), 3);
    CIO_ASSERT_STREQ(b, "two");
    CIO_ASSERT_EQ(cio_file_close(f), 0);
}
CIO_TEST(fs_append_mode) { FS_BOTH(append_body); }

static void lines_body(void) {
    const char *p = tpath("lines");
    size_t longn = 200000;
    char *content = malloc(longn + 64);
    strcpy(content, "alpha\n\nbeta\n");
    size_t off = strlen(content);
    memset(content + off, 'x', longn);
    off += longn;
    strcpy(content + off, "\nlast-no-newline");
    size_t total = off + strlen("\nlast-no-newline");
    CIO_ASSERT_EQ(cio_fs_write_file(p, content, total), 0);

    cio_file *f = cio_file_open(p, "r", 0);
    char *line;
    size_t len;
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), 0);
    CIO_ASSERT_STREQ(line, "alpha\n");
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), 0);
    CIO_ASSERT_STREQ(line, "\n");
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), 0);
    CIO_ASSERT_STREQ(line, "beta\n");
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), 0);
    CIO_ASSERT_EQ(len, longn + 1);
    CIO_ASSERT_EQ(line[0], 'x');
    CIO_ASSERT_EQ(line[longn], '\n');
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), 0);
    CIO_ASSERT_STREQ(line, "last-no-newline");
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), CIO_EEND);
    CIO_ASSERT_EQ(cio_file_close(f), 0);

    /* readline: pieces of at most cap - 1 bytes; reads mix with lines. */
    f = cio_file_open(p, "r", 0);
    char b[5];
    CIO_ASSERT_EQ(cio_file_readline(f, b, sizeof b), 4);
    CIO_ASSERT_STREQ(b, "alph");
    CIO_ASSERT_EQ(cio_file_readline(f, b, sizeof b), 2);
    CIO_ASSERT_STREQ(b, "a\n");
    CIO_ASSERT_EQ(cio_file_tell(f), 6);
    CIO_ASSERT_EQ(cio_file_read(f, b, 3), 3); /* "\nbe" from the buffer */
    CIO_ASSERT(memcmp(b, "\nbe", 3) == 0);
    CIO_ASSERT_EQ(cio_file_readline(f, b, sizeof b), 3);
    CIO_ASSERT_STREQ(b, "ta\n");
    CIO_ASSERT_EQ(cio_file_seek(f, -4, SEEK_END), (long)total - 4);
    CIO_ASSERT_EQ(cio_file_readline(f, b, sizeof b), 4);
    CIO_ASSERT_STREQ(b, "line");
    CIO_ASSERT_EQ(cio_file_readline(f, b, sizeof b), 0);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    free(content);
}
CIO_TEST(fs_readline_and_line_iteration) { FS_BOTH(lines_body); }

static void dirs_body(void) {
    char d[600], a[700], b[700], c[700];
    snprintf(d, sizeof d, "%s", tpath("dir"));
    CIO_ASSERT_EQ(cio_fs_mkdir(d, 0755), 0);
    CIO_ASSERT_EQ(cio_fs_mkdir(d, 0755), -EEXIST);
    CIO_ASSERT(strstr(cio_errmsg(), d) != NULL);
    snprintf(a, sizeof a, "%s/b-file", d);
    snprintf(b, sizeof b, "%s/a-file", d);
    snprintf(c, sizeof c, "%s/c-sub", d);
    CIO_ASSERT_EQ(cio_fs_write_file(a, "12345", 5), 0);
    CIO_ASSERT_EQ(cio_fs_write_file(b, "", 0), 0);
    CIO_ASSERT_EQ(cio_fs_mkdir(c, 0700), 0);
    char **names;
    size_t n;
    CIO_ASSERT_EQ(cio_fs_listdir(d, &names, &n), 0);
    CIO_ASSERT_EQ(n, 3);
    CIO_ASSERT_STREQ(names[0], "a-file");
    CIO_ASSERT_STREQ(names[1], "b-file");
    CIO_ASSERT_STREQ(names[2], "c-sub");
    CIO_ASSERT(names[3] == NULL);
    cio_fs_free(names);
    cio_stat st;
    CIO_ASSERT_EQ(cio_fs_stat(a, &st), 0);
    CIO_ASSERT_EQ(st.size, 5);
    CIO_ASSERT_EQ(cio_fs_stat(c, &st), 0);
    CIO_ASSERT(S_ISDIR(st.mode));
    CIO_ASSERT_EQ(cio_fs_rmdir(d), -ENOTEMPTY);
    CIO_ASSERT_EQ(cio_fs_rename(a, b), 0); /* replaces b */
    CIO_ASSERT_EQ(cio_fs_stat(a, &st), -ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), a) != NULL);
    CIO_ASSERT_EQ(cio_fs_stat(b, &st), 0);
    CIO_ASSERT_EQ(st.size, 5);
    CIO_ASSERT_EQ(cio_fs_rename(a, b), -ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), "->") != NULL);
    CIO_ASSERT_EQ(cio_fs_unlink(b), 0);
    CIO_ASSERT_EQ(cio_fs_unlink(b), -ENOENT);
    CIO_ASSERT_EQ(cio_fs_rmdir(c), 0);
    CIO_ASSERT_EQ(cio_fs_rmdir(d), 0);
    CIO_ASSERT_EQ(cio_fs_listdir(d, &names, &n), -ENOENT);
    CIO_ASSERT(names == NULL);
}
CIO_TEST(fs_stat_mkdir_listdir_rename_unlink_rmdir) { FS_BOTH(dirs_body); }

/* ---- cancellation and timeouts ---- */

typedef struct {
    char path[600];
    int writes;
} writer_ctx;

static int big_writer(void *arg) {
    writer_ctx *c = arg;
    char chunk[65536];
    memset(chunk, 'w', sizeof chunk);
    cio_file *f = cio_file_open(c->path, "w", 0);
    if (!f)
        return -errno;
    int rc = 0;
    for (int i = 0; i < 1000 && rc >= 0; i++) {
        c->writes++;
        rc = (int)cio_file_write(f, chunk, sizeof chunk);
    }
    cio_file_close(f); /* shielded: closes even though cancelled */
    return rc < 0 ? rc : 0;
}

/* The writer's buffer is on its stack and gone once it returns; the op in
 * flight must complete into its own copy (ASan and the leak check watch). */
static void cancel_write_body(void) {
    writer_ctx c = {.writes = 0};
    snprintf(c.path, sizeof c.path, "%s", tpath("cancelled"));
    const char *p = c.path;
    cio_task *t = cio_spawn(big_writer, &c);
    while (c.writes < 2) /* t is inside its second write */
        CIO_ASSERT_EQ(cio_yield(), 0);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    cio_stat st;
    CIO_ASSERT_EQ(cio_fs_stat(p, &st), 0);
    CIO_ASSERT_LT(st.size, 1000 * 65536);
}
CIO_TEST(fs_cancel_mid_write) { FS_BOTH(cancel_write_body); }

static int opener(void *arg) {
    cio_file *f = cio_file_open(arg, "w", 0);
    if (!f)
        return -errno;
    cio_file_close(f);
    return 0;
}

/* Cancelled while the open is out: an fd opened after the task left must
 * be closed (the harness counts fds). */
static void cancel_open_body(void) {
    char p[600];
    snprintf(p, sizeof p, "%s", tpath("opened"));
    cio_task *t = cio_spawn(opener, p);
    CIO_ASSERT_EQ(cio_yield(), 0);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    /* Cancelled before it started: nothing runs. */
    t = cio_spawn(opener, p);
    cio_cancel(t);
    CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
}
CIO_TEST(fs_cancel_during_open_leaks_no_fd) { FS_BOTH(cancel_open_body); }

/* A read from a FIFO nobody writes blocks until the timeout; then a byte
 * arrives and the abandoned operation finishes into cio's buffer. */
static void timeout_body(void) {
    char p[600];
    snprintf(p, sizeof p, "%s", tpath("fifo"));
    CIO_ASSERT_EQ(mkfifo(p, 0600), 0);
    cio_file *f = cio_file_open(p, "r+", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_seek(f, 0, SEEK_SET), -ESPIPE);
    char buf[16];
    ssize_t rc = 0;
    CIO_TIMEOUT(20 * CIO_MS) { rc = cio_file_read(f, buf, sizeof buf); }
    CIO_ASSERT_EQ(rc, -ETIMEDOUT);
    int wfd = open(p, O_WRONLY | O_NONBLOCK);
    CIO_ASSERT(wfd >= 0);
    CIO_ASSERT_EQ(write(wfd, "zz", 2), 2);
    /* A worker's read cannot be interrupted: it takes "zz" into the op's
     * own buffer and is then freed. io_uring cancelled its read, so the
     * bytes stay in the pipe. */
    int avail = 2;
    while (strcmp(backend_name, "threads") == 0 && avail > 0) {
        CIO_ASSERT_EQ(ioctl(wfd, FIONREAD, &avail), 0);
        CIO_ASSERT_EQ(cio_yield(), 0);
    }
    CIO_ASSERT_EQ(write(wfd, "ok", 2), 2);
    close(wfd);
    rc = cio_file_read(f, buf, sizeof buf);
    CIO_ASSERT_GE(rc, 2);
    CIO_ASSERT(memcmp(buf + rc - 2, "ok", 2) == 0);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
}
CIO_TEST(fs_timeout_on_a_blocked_read) { FS_BOTH(timeout_body); }

/* ---- concurrency ---- */

static int file_worker(void *arg) {
    long i = (long)(intptr_t)arg;
    char p[600], data[64], back[64] = {0};
    snprintf(p, sizeof p, "%s/%s-many-%ld", cio_test_tmpdir(), backend_name, i);
    int n = snprintf(data, sizeof data, "file number %ld", i);
    int rc = cio_fs_write_file(p, data, (size_t)n);
    if (rc < 0)
        return rc;
    cio_file *f = cio_file_open(p, "r", 0);
    if (!f)
        return -errno;
    ssize_t r = cio_file_read(f, back, sizeof back);
    cio_file_close(f);
    if (r != n || memcmp(data, back, (size_t)n) != 0)
        return -EIO;
    return cio_fs_unlink(p);
}

static void many_body(void) {
    enum { N = 300 };
    cio_task *ts[N];
    for (long i = 0; i < N; i++)
        ts[i] = cio_spawn(file_worker, (void *)(intptr_t)i);
    int status[N];
    CIO_ASSERT_EQ(cio_gather(ts, N, status), 0);
}
CIO_TEST(fs_many_concurrent_files) { FS_BOTH(many_body); }

static int loop_files(void *arg) {
    long id = (long)(intptr_t)arg;
    for (int i = 0; i < 20; i++) {
        int rc = file_worker((void *)(intptr_t)(1000 * (id + 1) + i));
        if (rc < 0)
            return rc;
    }
    return 0;
}
static void *loop_thread(void *arg) { return (void *)(intptr_t)cio_run(loop_files, arg); }
static int join_thread(void *arg) {
    void *ret;
    pthread_join(*(pthread_t *)arg, &ret);
    return (int)(intptr_t)ret;
}

static void loops_body(void) {
    enum { L = 3 };
    pthread_t th[L];
    (void)cio_test_tmpdir(); /* created here, before the threads read it */
    for (long i = 0; i < L; i++)
        CIO_ASSERT_EQ(pthread_create(&th[i], NULL, loop_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < L; i++)
        CIO_ASSERT_EQ(cio_to_thread(join_thread, &th[i]), 0);
}
CIO_TEST(fs_several_loops_in_threads) { FS_BOTH(loops_body); }

CIO_TEST(fs_backend_choice) {
    CIO_ASSERT_EQ(cio_fs_set_backend((cio_fs_backend_kind)7), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_set_backend(CIO_FS_THREADS), 0);
    CIO_ASSERT_EQ(cio_fs_backend(), CIO_FS_THREADS);
    CIO_ASSERT_EQ(cio_fs_set_backend(CIO_FS_AUTO), 0);
    CIO_ASSERT_EQ(cio_fs_backend(), cio__uring_available() ? CIO_FS_URING : CIO_FS_THREADS);
}

static int in_thread(void *arg) {
    (void)arg;
    return cio_file_open("/", "r", 0) == NULL ? -errno : 0;
}
CIO_TEST(fs_outside_a_task_is_eperm) {
    /* On a pool thread there is no loop: suspending calls refuse. */
    CIO_ASSERT_EQ(cio_to_thread(in_thread, NULL), -EPERM);
}

/* ---- the seed's aiofiles example ---- */

/* Runs examples/<name> in this test's scratch directory; returns its exit
 * status and its output in out. */
static int run_example(const char *name, const char *env, char *out, size_t cap) {
    const char *build = getenv("CIO_BUILD_DIR");
    if (!build) {
        cio_test_fail(__FILE__, __LINE__, "CIO_BUILD_DIR not set (run via ctest)");
        return -1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s/examples/%s 2>&1", cio_test_tmpdir(), env, build,
             name);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, cap - 1, p) : 0;
    out[n] = 0;
    return p ? pclose(p) : -1;
}

static int example_aiofiles_job(void *arg) {
    char out[256];
    int st = run_example("aiofiles", arg, out, sizeof out);
    if (st != 0 || strcmp(out, "非同期で書き込み\n") != 0) {
        cio_test_fail(__FILE__, __LINE__, "aiofiles (%s) exited %d and printed:\n%s",
                      (char *)arg, st, out);
        return -1;
    }
    return 0;
}

CIO_TEST(example_aiofiles_on_both_backends) {
    /* Blocking popen runs on the pool, so the loop stays free. */
    CIO_ASSERT_EQ(cio_to_thread(example_aiofiles_job, "CIO_IO=uring"), 0);
    CIO_ASSERT_EQ(cio_to_thread(example_aiofiles_job, "CIO_IO=threads"), 0);
    char *s;
    char p[600];
    snprintf(p, sizeof p, "%s/output.txt", cio_test_tmpdir());
    CIO_ASSERT_EQ(cio_fs_read_file(p, &s, NULL), 0);
    CIO_ASSERT_STREQ(s, "非同期で書き込み");
    cio_fs_free(s);
}

/* ---- out of memory, and cancellation of the other calls ---- */

static void oom_body(void) {
    for (long n = 1; n <= 4; n++) {
        cio_test_fail_alloc(n);
        cio_file *f = cio_file_open(tpath("oom"), "w", 0);
        cio_test_fail_alloc(0);
        if (f) {
            CIO_ASSERT_EQ(cio_file_close(f), 0);
        } else {
            CIO_ASSERT_EQ(errno, ENOMEM);
        }
    }
    cio_stat st;
    cio_test_fail_alloc(1);
    CIO_ASSERT_EQ(cio_fs_stat("/", &st), -ENOMEM);
    cio_test_fail_alloc(0);
}
CIO_TEST(fs_out_of_memory_fails_cleanly) { FS_BOTH(oom_body); }

static int stat_and_list(void *arg) {
    cio_stat st;
    char **names;
    for (;;) {
        int rc = cio_fs_stat(arg, &st);
        if (rc < 0)
            return rc;
        rc = cio_fs_listdir(arg, &names, NULL);
        if (rc < 0)
            return rc;
        cio_fs_free(names);
    }
}

/* Cancelled at whichever call it is in (stat on the ring or listdir on
 * the pool): -ECANCELED, and the abandoned records are freed. */
static void cancel_meta_body(void) {
    for (int yields = 1; yields <= 6; yields++) {
        cio_task *t = cio_spawn(stat_and_list, (void *)cio_test_tmpdir());
        for (int i = 0; i < yields; i++)
            CIO_ASSERT_EQ(cio_yield(), 0);
        cio_cancel(t);
        CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    }
}
CIO_TEST(fs_cancel_stat_and_listdir) { FS_BOTH(cancel_meta_body); }

/* ---- whole-file helpers ---- */

static char *pattern(size_t n, unsigned seed) {
    char *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i * 7 + seed) % 26);
    return p;
}

/* Sizes around the io_uring chain's first buffer (64 KiB): a file that
 * fills it is read again by parts; a shorter one is done in one chain. */
static void whole_file_body(void) {
    static const size_t sizes[] = {0, 1, 4096, 65535, 65536, 65537, 300000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        char *data = pattern(n, (unsigned)k);
        const char *p = tpath("whole");
        CIO_ASSERT_EQ(cio_fs_write_file(p, data, n), 0);
        char *back = NULL;
        size_t len = 99;
        CIO_ASSERT_EQ(cio_fs_read_file(p, &back, &len), 0);
        CIO_ASSERT_EQ(len, n);
        CIO_ASSERT(memcmp(back, data, n) == 0);
        CIO_ASSERT_EQ(back[n], 0); /* NUL-terminated */
        cio_fs_free(back);
        int fd = open(p, O_RDONLY); /* what the kernel holds, read plainly */
        CIO_ASSERT(fd >= 0);
        char *plain = malloc(n + 1);
        CIO_ASSERT_EQ(pread(fd, plain, n + 1, 0), (ssize_t)n);
        CIO_ASSERT(memcmp(plain, data, n) == 0);
        close(fd);
        free(plain);
        free(data);
    }
    /* write_file truncates what was longer */
    CIO_ASSERT_EQ(cio_fs_write_file(tpath("whole"), "short", 5), 0);
    char *s;
    CIO_ASSERT_EQ(cio_fs_read_file(tpath("whole"), &s, NULL), 0);
    CIO_ASSERT_STREQ(s, "short");
    cio_fs_free(s);
}
CIO_TEST(fs_whole_file_sizes) { FS_BOTH(whole_file_body); }

/* A /proc file is "regular" with size 0 and gives a page per read: it must
 * be read to its real end. */
static void proc_file_body(void) {
    char *s;
    size_t n;
    CIO_ASSERT_EQ(cio_fs_read_file("/proc/self/status", &s, &n), 0);
    CIO_ASSERT(n > 100 && strncmp(s, "Name:", 5) == 0);
    CIO_ASSERT(strstr(s, "\nPid:") != NULL && s[n - 1] == '\n');
    cio_fs_free(s);
}
CIO_TEST(fs_read_file_of_a_proc_file) { FS_BOTH(proc_file_body); }

/* /proc files report a size of 0 and are made as they are read, a page or
 * so per read: read_all and read_file must read on to the real end (the
 * last record of smaps ends with its VmFlags line). */
static bool ends_with_whole_smaps(const char *s, size_t n) {
    if (n < 8192 || s[n - 1] != '\n')
        return false;
    const char *last = s + n - 1;
    while (last > s && last[-1] != '\n')
        last--;
    return strncmp(last, "VmFlags:", 8) == 0;
}
static void proc_read_all_body(void) {
    cio_file *f = cio_file_open("/proc/self/smaps", "r", 0);
    CIO_ASSERT(f != NULL);
    char *s;
    size_t n;
    CIO_ASSERT_EQ(cio_file_read_all(f, &s, &n), 0);
    CIO_ASSERT(ends_with_whole_smaps(s, n));
    CIO_ASSERT_EQ(strlen(s), n);
    cio_fs_free(s);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    CIO_ASSERT_EQ(cio_fs_read_file("/proc/self/smaps", &s, &n), 0);
    CIO_ASSERT(ends_with_whole_smaps(s, n));
    cio_fs_free(s);
}
CIO_TEST(fs_read_all_of_a_large_proc_file_reads_to_the_end) { FS_BOTH(proc_read_all_body); }

struct fifo_writer {
    const char *path;
    size_t n;
    const char *data;
};

static void *write_fifo(void *arg) {
    struct fifo_writer *w = arg;
    int fd = open(w->path, O_WRONLY); /* blocks until the reader opens */
    for (size_t off = 0; fd >= 0 && off < w->n;) {
        size_t chunk = w->n - off < 3000 ? w->n - off : 3000;
        ssize_t r = write(fd, w->data + off, chunk);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* A pipe's data can be read once only: read_file must take all of it,
 * in order, however it arrives. */
static void fifo_body(void) {
    char p[600];
    snprintf(p, sizeof p, "%s", tpath("whole-fifo"));
    CIO_ASSERT_EQ(mkfifo(p, 0600), 0);
    struct fifo_writer w = {p, 100000, pattern(100000, 3)};
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, write_fifo, &w), 0);
    char *s;
    size_t n;
    CIO_ASSERT_EQ(cio_fs_read_file(p, &s, &n), 0);
    pthread_join(th, NULL);
    CIO_ASSERT_EQ(n, w.n);
    CIO_ASSERT(memcmp(s, w.data, n) == 0);
    cio_fs_free(s);
    free((void *)w.data);
    unlink(p);
}
CIO_TEST(fs_read_file_of_a_fifo_loses_nothing) { FS_BOTH(fifo_body); }

static void whole_errors_body(void) {
    char *s = (char *)1;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-dir/f", cio_test_tmpdir());
    CIO_ASSERT_EQ(cio_fs_read_file(missing, &s, NULL), -ENOENT);
    CIO_ASSERT(s == NULL);
    CIO_ASSERT(strstr(cio_errmsg(), missing) != NULL && strstr(cio_errmsg(), "open") != NULL);
    CIO_ASSERT_EQ(cio_fs_write_file(missing, "x", 1), -ENOENT);
    CIO_ASSERT(strstr(cio_errmsg(), missing) != NULL && strstr(cio_errmsg(), "open") != NULL);
    CIO_ASSERT_EQ(cio_fs_write_file(cio_test_tmpdir(), "x", 1), -EISDIR);
    CIO_ASSERT_EQ(cio_fs_read_file(cio_test_tmpdir(), &s, NULL), -EISDIR);
    CIO_ASSERT(strstr(cio_errmsg(), cio_test_tmpdir()) != NULL);
    CIO_ASSERT_EQ(cio_fs_read_file(NULL, &s, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_read_file(tpath("x"), NULL, NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_write_file(NULL, "x", 1), -EINVAL);
    CIO_ASSERT_EQ(cio_fs_write_file(tpath("x"), NULL, 1), -EINVAL);
    for (long k = 1; k <= 3; k++) { /* each allocation of the helpers fails once */
        cio_test_fail_alloc(k);
        int rc = cio_fs_write_file(tpath("oom-whole"), "abc", 3);
        cio_test_fail_alloc(0);
        CIO_ASSERT(rc == 0 || rc == -ENOMEM);
        cio_test_fail_alloc(k);
        rc = cio_fs_read_file(tpath("oom-whole"), &s, NULL);
        cio_test_fail_alloc(0);
        CIO_ASSERT(rc == 0 || rc == -ENOMEM);
        if (rc == 0)
            cio_fs_free(s);
    }
}
CIO_TEST(fs_whole_file_errors) { FS_BOTH(whole_errors_body); }

static int write_big(void *arg) {
    (void)arg;
    size_t n = 1 << 20;
    char *data = pattern(n, 5);
    int rc = cio_fs_write_file(tpath("whole-cancel"), data, n);
    free(data); /* the helper copied it: the abandoned write still has its own */
    return rc;
}

static int read_big(void *arg) {
    (void)arg;
    char *s;
    int rc = cio_fs_read_file(tpath("whole-cancel"), &s, NULL);
    if (rc == 0)
        cio_fs_free(s);
    return rc;
}

/* Cancelled while its operation is out (on the ring or on a worker), the
 * task returns at once; the operation ends on its own, frees its record
 * and leaves no descriptor behind. */
static void whole_cancel_body(void) {
    CIO_ASSERT_EQ(write_big(NULL), 0); /* the backend's own fds exist from here */
    int fds = cio_test_fd_count();
    cio_fn fns[] = {write_big, read_big};
    for (int k = 0; k < 2; k++) {
        cio_task *t = cio_spawn(fns[k], NULL);
        CIO_ASSERT_EQ(cio_yield(), 0); /* t runs to its park */
        cio_cancel(t);
        CIO_ASSERT_EQ(cio_join(t), -ECANCELED);
    }
    /* An abandoned job is taken back before a worker starts it, and a
     * chain holds no descriptor (its file sits in a fixed-file slot). */
    CIO_ASSERT_EQ(write_big(NULL), 0);
    CIO_ASSERT_EQ(read_big(NULL), 0);
    CIO_ASSERT_EQ(cio_test_fd_count(), fds);
}
CIO_TEST(fs_whole_file_cancelled) { FS_BOTH(whole_cancel_body); }

/* ---- errors of the line readers, read_all and pwrite ---- */

static void line_errors_body(void) {
    const char *p = tpath("line-errors");
    CIO_ASSERT_EQ(cio_fs_write_file(p, "alpha\nbeta\n", 11), 0);
    char b[16], *line = NULL, *all = (char *)1;
    size_t len = 0;
    /* Bad arguments and a file not open for reading, each named. */
    CIO_ASSERT_EQ(cio_file_readline(NULL, b, sizeof b), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "readline: file is NULL") != NULL);
    CIO_ASSERT_EQ(cio_file_next_line(NULL, &line, &len), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "next_line: file is NULL") != NULL);
    CIO_ASSERT_EQ(cio_file_read_all(NULL, &all, &len), -EINVAL);
    CIO_ASSERT(strstr(cio_errmsg(), "read_all: file is NULL") != NULL);
    cio_file *f = cio_file_open(p, "a", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_readline(f, b, sizeof b), -EBADF);
    CIO_ASSERT(strstr(cio_errmsg(), "readline") != NULL && strstr(cio_errmsg(), p) != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "not open for reading") != NULL);
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), -EBADF);
    CIO_ASSERT(strstr(cio_errmsg(), "next_line") != NULL && strstr(cio_errmsg(), p) != NULL);
    CIO_ASSERT_EQ(cio_file_read_all(f, &all, &len), -EBADF);
    CIO_ASSERT(strstr(cio_errmsg(), "read_all") != NULL && strstr(cio_errmsg(), p) != NULL);
    CIO_ASSERT(all == (char *)1); /* untouched on an argument error */
    CIO_ASSERT_EQ(cio_file_next_line(f, NULL, &len), -EINVAL);
    CIO_ASSERT_EQ(cio_file_read_all(f, NULL, &len), -EINVAL);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    f = cio_file_open(p, "r", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_pwrite(f, "x", 1, 0), -EBADF);
    CIO_ASSERT(strstr(cio_errmsg(), "pwrite") != NULL && strstr(cio_errmsg(), p) != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "not open for writing") != NULL);
    CIO_ASSERT_EQ(cio_file_pwrite(f, NULL, 1, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_file_close(f), 0);

    /* A read that fails (a directory opened for reading) reaches each
     * reader with its name and the path. */
    const char *d = cio_test_tmpdir();
    f = cio_file_open(d, "r", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_readline(f, b, sizeof b), -EISDIR);
    CIO_ASSERT(strstr(cio_errmsg(), "readline") != NULL && strstr(cio_errmsg(), d) != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "directory") != NULL);
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), -EISDIR);
    CIO_ASSERT(strstr(cio_errmsg(), "next_line") != NULL && strstr(cio_errmsg(), d) != NULL);
    all = (char *)1;
    CIO_ASSERT_EQ(cio_file_read_all(f, &all, &len), -EISDIR);
    CIO_ASSERT(strstr(cio_errmsg(), d) != NULL && strstr(cio_errmsg(), "directory") != NULL);
    CIO_ASSERT(all == NULL);
    CIO_ASSERT_EQ(cio_file_close(f), 0);

    /* A device that is always full: pwrite fails with ENOSPC, named. */
    f = cio_file_open("/dev/full", "w", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_pwrite(f, "abc", 3, 0), -ENOSPC);
    CIO_ASSERT(strstr(cio_errmsg(), "pwrite /dev/full") != NULL);
    CIO_ASSERT(strstr(cio_errmsg(), "No space left") != NULL);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
}
CIO_TEST(fs_line_readers_read_all_and_pwrite_errors) { FS_BOTH(line_errors_body); }

/* Each allocation of the line readers and read_all fails once: -ENOMEM
 * naming the call and the path, nothing read is lost, and the next call
 * goes on where the file was. */
static void line_oom_body(void) {
    const char *p = tpath("line-oom");
    CIO_ASSERT_EQ(cio_fs_write_file(p, "alpha\nbeta\ngamma\n", 17), 0);
    cio_file *f = cio_file_open(p, "r", 0);
    CIO_ASSERT(f != NULL);
    char b[16];
    int failures = 0;
    ssize_t r = 0;
    for (long n = 1; n < 10; n++) {
        cio_test_fail_alloc(n);
        r = cio_file_readline(f, b, sizeof b);
        cio_test_fail_alloc(0);
        if (r >= 0)
            break;
        CIO_ASSERT_EQ(r, -ENOMEM);
        CIO_ASSERT(strstr(cio_errmsg(), "readline") != NULL && strstr(cio_errmsg(), p) != NULL);
        CIO_ASSERT_EQ(cio_file_tell(f), 0);
        failures++;
    }
    CIO_ASSERT_GE(failures, 2); /* the line buffer, then the read itself */
    CIO_ASSERT_EQ(r, 6);
    CIO_ASSERT_STREQ(b, "alpha\n");
    CIO_ASSERT_EQ(cio_file_close(f), 0);

    char *line = NULL;
    size_t len = 0;
    int rc = 0;
    long last = 0; /* the last allocation to fail: the line's own buffer */
    failures = 0;
    for (long n = 1; n < 10; n++) {
        f = cio_file_open(p, "r", 0);
        CIO_ASSERT(f != NULL);
        cio_test_fail_alloc(n);
        rc = cio_file_next_line(f, &line, &len);
        cio_test_fail_alloc(0);
        if (rc == 0)
            break;
        CIO_ASSERT_EQ(cio_file_close(f), 0);
        CIO_ASSERT_EQ(rc, -ENOMEM);
        CIO_ASSERT(strstr(cio_errmsg(), "next_line") != NULL && strstr(cio_errmsg(), p) != NULL);
        failures++;
        last = n;
    }
    CIO_ASSERT_GE(failures, 3); /* the read buffer, the read, the line */
    CIO_ASSERT_EQ(rc, 0);
    CIO_ASSERT_EQ(len, 6);
    CIO_ASSERT_STREQ(line, "alpha\n");
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    /* The line's buffer failing keeps the bytes already read. */
    f = cio_file_open(p, "r", 0);
    CIO_ASSERT(f != NULL);
    cio_test_fail_alloc(last);
    rc = cio_file_next_line(f, &line, &len);
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(rc, -ENOMEM);
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), 0);
    CIO_ASSERT_STREQ(line, "alpha\n");
    CIO_ASSERT_EQ(cio_file_next_line(f, &line, &len), 0);
    CIO_ASSERT_STREQ(line, "beta\n");

    /* read_all after a line: the rest of the file, once memory is back. */
    char *all = (char *)1;
    cio_test_fail_alloc(1);
    rc = cio_file_read_all(f, &all, &len);
    cio_test_fail_alloc(0);
    CIO_ASSERT_EQ(rc, -ENOMEM);
    CIO_ASSERT(strstr(cio_errmsg(), "read_all") != NULL && strstr(cio_errmsg(), p) != NULL);
    CIO_ASSERT(all == NULL);
    CIO_ASSERT_EQ(cio_file_read_all(f, &all, &len), 0);
    CIO_ASSERT_EQ(len, 6);
    CIO_ASSERT_STREQ(all, "gamma\n");
    cio_fs_free(all);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
}
CIO_TEST(fs_line_readers_and_read_all_out_of_memory) { FS_BOTH(line_oom_body); }

/* read_all of a pipe starts with a 64 KiB buffer and grows it when that
 * fills: each of its allocations fails once in turn, always -ENOMEM with
 * the path named and no buffer handed out, until it reads all 64 KiB. */
static void read_all_grow_oom_body(void) {
    char p[600];
    snprintf(p, sizeof p, "%s", tpath("grow-fifo"));
    CIO_ASSERT_EQ(mkfifo(p, 0600), 0);
    enum { N = 65536 }; /* a pipe's default capacity: one read fills the buffer */
    char *data = pattern(N, 5);
    int failures = 0, rc = -1;
    char *all = NULL;
    size_t len = 0;
    for (long n = 1; n < 20 && rc != 0; n++) {
        int wfd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        CIO_ASSERT_GE(wfd, 0);
        CIO_ASSERT_EQ(write(wfd, data, N), N);
        cio_file *f = cio_file_open(p, "r", 0);
        close(wfd); /* the reader sees the N bytes, then the end */
        CIO_ASSERT(f != NULL);
        all = (char *)1;
        cio_test_fail_alloc(n);
        rc = cio_file_read_all(f, &all, &len);
        cio_test_fail_alloc(0);
        CIO_ASSERT_EQ(cio_file_close(f), 0);
        if (rc == 0)
            break;
        CIO_ASSERT_EQ(rc, -ENOMEM);
        CIO_ASSERT(all == NULL);
        CIO_ASSERT(strstr(cio_errmsg(), p) != NULL);
        failures++;
    }
    CIO_ASSERT_EQ(rc, 0);
    CIO_ASSERT_GE(failures, 3); /* the buffer, the read, the growth */
    CIO_ASSERT_EQ(len, (size_t)N);
    CIO_ASSERT(memcmp(all, data, N) == 0);
    cio_fs_free(all);
    free(data);
    unlink(p);
}
CIO_TEST(fs_read_all_of_a_pipe_out_of_memory) { FS_BOTH(read_all_grow_oom_body); }

/* A FIFO has no offsets: every seek is -ESPIPE naming the path and leaves
 * the position alone, and an append-mode write still counts its bytes
 * (lseek cannot report the end there). */
static void fifo_seek_body(void) {
    char p[600];
    snprintf(p, sizeof p, "%s", tpath("seek-fifo"));
    CIO_ASSERT_EQ(mkfifo(p, 0600), 0);
    int rfd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* lets "a" open at once */
    CIO_ASSERT_GE(rfd, 0);
    cio_file *f = cio_file_open(p, "a", 0);
    CIO_ASSERT(f != NULL);
    CIO_ASSERT_EQ(cio_file_tell(f), 0);
    CIO_ASSERT_EQ(cio_file_write(f, "abc", 3), 3);
    CIO_ASSERT_EQ(cio_file_tell(f), 3);
    char want[700];
    snprintf(want, sizeof want, "seek %s: Illegal seek", p);
    const int whence[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_EQ(cio_file_seek(f, 1, whence[i]), -ESPIPE);
        CIO_ASSERT_STREQ(cio_errmsg(), want);
        CIO_ASSERT_EQ(cio_file_tell(f), 3);
    }
    CIO_ASSERT_EQ(cio_file_puts(f, "de"), 2);
    CIO_ASSERT_EQ(cio_file_tell(f), 5);
    CIO_ASSERT_EQ(cio_file_close(f), 0);
    char buf[8] = {0};
    CIO_ASSERT_EQ(read(rfd, buf, sizeof buf), 5);
    CIO_ASSERT_STREQ(buf, "abcde");
    close(rfd);
    unlink(p);
}
CIO_TEST(fs_seek_on_a_fifo_is_espipe_naming_the_path) { FS_BOTH(fifo_seek_body); }
