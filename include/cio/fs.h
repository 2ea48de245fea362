/* cio fs: asynchronous files and file-system calls (what aiofiles gives
 * Python). Every call here suspends only the calling task: the work runs
 * on io_uring when the kernel allows it, else on the thread pool (choose
 * with cio_fs_set_backend or CIO_IO=uring|threads). Errors are negative
 * errno values with the path in cio_errmsg(), e.g. "open /x/y: No such
 * file or directory". Cancelling a task inside any call returns
 * -ECANCELED at once and is memory-safe: an operation already handed to
 * the kernel or a worker completes into cio's own buffer, never the
 * caller's. See docs/files.md. */
#ifndef CIO_FS_H
#define CIO_FS_H
#include "cio/core.h"

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- backend ------------------------------------------------------------ */

typedef enum cio_fs_backend_kind {
    CIO_FS_AUTO = 0,    /* io_uring if the kernel allows it, else threads */
    CIO_FS_URING = 1,
    CIO_FS_THREADS = 2
} cio_fs_backend_kind;

/* Chooses the backend for the calls that follow (process-wide; overrides
 * CIO_IO). If io_uring is asked for but unavailable, the thread pool is
 * used and a warning reported. Returns 0 or -EINVAL. Does not suspend. */
CIO_API int cio_fs_set_backend(cio_fs_backend_kind kind);
/* The backend the next call on this thread's loop will use (URING or
 * THREADS; probes io_uring on first use). Does not suspend. */
CIO_API cio_fs_backend_kind cio_fs_backend(void);

/* ---- files -------------------------------------------------------------- */

typedef struct cio_file cio_file;

/* aiofiles.open: opens path with an fopen mode ("r", "w", "a", "r+", "w+",
 * "a+", optional "b" ignored, "x" for O_EXCL, "e" accepted: every file is
 * close-on-exec) plus extra open(2) flags (O_SYNC, O_NOFOLLOW, O_NOATIME …;
 * 0 for none; not O_DIRECT: cio's buffers are not block-aligned). New
 * files get mode 0666 & ~umask. Returns the file, or
 * NULL with errno set (EINVAL for a bad mode or NULL argument) and the
 * path in cio_errmsg(). Suspends. */
CIO_API cio_file *cio_file_open(const char *path, const char *mode, int flags);
/* Reads up to n bytes at the file position into buf; fewer only at end of
 * file (short reads are retried inside). Returns the count (0 at EOF) or
 * a negative errno. Suspends. */
CIO_API ssize_t cio_file_read(cio_file *f, void *buf, size_t n);
/* Writes all n bytes at the file position (the end, in append mode):
 * returns n, or a negative errno (some bytes may then have been written).
 * Suspends. */
CIO_API ssize_t cio_file_write(cio_file *f, const void *buf, size_t n);
/* Writes the NUL-terminated string s (cio_file_write of strlen(s)). */
CIO_API ssize_t cio_file_puts(cio_file *f, const char *s);
/* pread/pwrite: like read/write at offset off; the file position is left
 * unchanged. pwrite writes all n bytes or fails. Suspend. */
CIO_API ssize_t cio_file_pread(cio_file *f, void *buf, size_t n, int64_t off);
CIO_API ssize_t cio_file_pwrite(cio_file *f, const void *buf, size_t n, int64_t off);
/* fgets: reads one line, including its '\n', into buf (NUL-terminated,
 * at most cap - 1 bytes; a longer line comes back in pieces). Returns the
 * length, 0 at EOF, or a negative errno (-EINVAL if cap < 2). Suspends. */
CIO_API ssize_t cio_file_readline(cio_file *f, char *buf, size_t cap);
/* async for line in f: sets *line to the next line (with its '\n' if
 * any, NUL-terminated, any length; owned by f and valid until the next
 * call) and *len to its length. Returns 0, CIO_EEND at EOF, or a negative
 * errno. Suspends.
 *   char *line; size_t len;
 *   while ((rc = cio_file_next_line(f, &line, &len)) == 0) { ... } */
CIO_API int cio_file_next_line(cio_file *f, char **line, size_t *len);
/* f.read(): reads from the position to EOF. *out gets a NUL-terminated
 * buffer (free it with cio_fs_free), *len (may be NULL) its length.
 * Returns 0 or a negative errno (*out then NULL). Suspends. */
CIO_API int cio_file_read_all(cio_file *f, char **out, size_t *len);
/* Moves the position (whence: SEEK_SET, SEEK_CUR, SEEK_END). Returns the
 * new position, or -EINVAL / -ESPIPE (pipes) / another negative errno.
 * Does not suspend. */
CIO_API int64_t cio_file_seek(cio_file *f, int64_t off, int whence);
/* The current position. */
CIO_API int64_t cio_file_tell(const cio_file *f);
/* fsync: flushes the file's data and metadata to the device. Suspends. */
CIO_API int cio_file_sync(cio_file *f);
/* Closes the file and frees f, even on error (returns close's error).
 * NULL is a no-op returning 0. Suspends (shielded: a cancelled task still
 * closes its file). */
CIO_API int cio_file_close(cio_file *f);
/* The file descriptor and the path f was opened with. */
CIO_API int cio_file_fd(const cio_file *f);
CIO_API const char *cio_file_path(const cio_file *f);

/* ---- whole-file helpers ------------------------------------------------- */

/* Reads the whole file at path (open + read_all + close). *out as for
 * cio_file_read_all. Suspends. */
CIO_API int cio_fs_read_file(const char *path, char **out, size_t *len);
/* Creates or truncates path and writes n bytes (open + write + close).
 * Suspends. */
CIO_API int cio_fs_write_file(const char *path, const void *buf, size_t n);

/* ---- file-system calls -------------------------------------------------- */

typedef struct cio_stat {
    uint64_t size;
    uint32_t mode;     /* type and permissions: S_ISDIR(st.mode) … */
    uint32_t nlink;
    uint64_t ino;
    uint32_t uid, gid;
    int64_t atime_ns, mtime_ns, ctime_ns;
} cio_stat;

/* os.stat (follows symlinks). Returns 0 or a negative errno. Suspends. */
CIO_API int cio_fs_stat(const char *path, cio_stat *st);
/* os.unlink, os.rmdir, os.rename (replaces an existing target), os.mkdir
 * (mode & ~umask). 0 or a negative errno. Suspend. */
CIO_API int cio_fs_unlink(const char *path);
CIO_API int cio_fs_rmdir(const char *path);
CIO_API int cio_fs_rename(const char *from, const char *to);
CIO_API int cio_fs_mkdir(const char *path, unsigned mode);
/* os.listdir: the entry names of directory path ("." and ".." left out),
 * sorted bytewise. *names is a NULL-terminated array in one block (free
 * it with cio_fs_free); *n (may be NULL) the count. Suspends. */
CIO_API int cio_fs_listdir(const char *path, char ***names, size_t *n);
/* Frees a buffer returned by this module (read_all, read_file, listdir). */
CIO_API void cio_fs_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
