/* cio log: Python's logging with a QueueHandler + QueueListener built in.
 * A task's cio_log call only formats the message into a slot of a bounded
 * queue (no lock, no system call when the writer is busy); one writer
 * thread turns records into lines and writes them to the handlers (stderr,
 * files). Each line carries the time, level, logger name and the name of
 * the task (or thread) that logged:
 *   2026-11-21 05:17:03.123 INFO    app.db [fetcher] connected to 10.0.0.7
 * When the queue is full the policy decides: block the caller (a task is
 * parked until there is room, cancellably; a thread waits) or drop the
 * record and count it. Every queued line is written before cio_run returns
 * and at exit: nothing is lost. Once a handler is added, cio's own reports
 * (unretrieved task errors, debug-mode warnings) go through the logger
 * named "cio". See docs/logging.md. */
#ifndef CIO_LOG_H
#define CIO_LOG_H
#include "cio/core.h"

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Levels, numbered as in Python's logging module. */
enum {
    CIO_LOG_NOTSET = 0, /* a logger's level: use its parent's */
    CIO_LOG_DEBUG = 10,
    CIO_LOG_INFO = 20,
    CIO_LOG_WARNING = 30,
    CIO_LOG_ERROR = 40,
    CIO_LOG_CRITICAL = 50
};

typedef struct cio_logger cio_logger;

/* logging.getLogger(name): the logger called name, created on first use
 * (NULL or "" = the root logger, level WARNING by default). Dotted names
 * form a hierarchy: "app.db" inherits the level of "app". Loggers live
 * until cio_log_shutdown. NULL with errno ENOMEM. Does not suspend. */
CIO_API cio_logger *cio_log_get(const char *name);
/* Sets lg's level (NULL = root; CIO_LOG_NOTSET = inherit). 0 or -EINVAL. */
CIO_API int cio_log_set_level(cio_logger *lg, int level);
/* The level lg really uses (its own, or the nearest ancestor's). */
CIO_API int cio_log_effective_level(const cio_logger *lg);
/* True if a record of level would be logged by lg. Cheap. */
CIO_API bool cio_log_enabled(const cio_logger *lg, int level);
CIO_API const char *cio_log_name(const cio_logger *lg);

/* Logs a printf-style message at level through lg (NULL = root). Returns
 * 0 (logged, or below the level), -EAGAIN if the queue was full and the
 * policy is DROP (counted), or -ECANCELED/-ETIMEDOUT if a task blocked on
 * a full queue was interrupted. Suspends only when the queue is full and
 * the policy is BLOCK. */
CIO_API int cio_log(cio_logger *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
CIO_API int cio_vlog(cio_logger *lg, int level, const char *fmt, va_list ap);

#define cio_log_debug(lg, ...) cio_log((lg), CIO_LOG_DEBUG, __VA_ARGS__)
#define cio_log_info(lg, ...) cio_log((lg), CIO_LOG_INFO, __VA_ARGS__)
#define cio_log_warning(lg, ...) cio_log((lg), CIO_LOG_WARNING, __VA_ARGS__)
#define cio_log_error(lg, ...) cio_log((lg), CIO_LOG_ERROR, __VA_ARGS__)
#define cio_log_critical(lg, ...) cio_log((lg), CIO_LOG_CRITICAL, __VA_ARGS__)

/* ---- handlers and the queue ---------------------------------------------- */

/* Adds a handler writing lines of level >= level to stderr. Returns a
 * handler id (>= 0), or -ENOSPC (8 handlers at most). Does not suspend. */
CIO_API int cio_log_add_stderr(int level);
/* logging.FileHandler: appends lines of level >= level to path (created
 * 0666 & ~umask). Returns a handler id, or a negative errno with the path
 * in cio_errmsg(). Opens the file on the calling thread. */
CIO_API int cio_log_add_file(const char *path, int level);
/* Removes handler id after writing out every line queued before the call
 * (closes its file). 0 or -EINVAL. Blocks the thread until written. */
CIO_API int cio_log_remove_handler(int id);
/* With no handler at all, lines go to stderr (Python's "last resort"). */

typedef enum cio_log_policy {
    CIO_LOG_BLOCK = 0, /* a full queue makes the caller wait (default) */
    CIO_LOG_DROP = 1   /* a full queue drops the record and counts it */
} cio_log_policy;

/* Sets the queue's capacity (records, rounded up to a power of two;
 * default 8192; applies when the writer next starts) and the full-queue
 * policy (at once). 0 or -EINVAL. */
CIO_API int cio_log_configure(size_t queue_size, cio_log_policy policy);
/* Records dropped so far under CIO_LOG_DROP. */
CIO_API uint64_t cio_log_dropped(void);
/* Waits until every record queued before the call is written to the
 * handlers. In a task it suspends (the wait runs on the thread pool);
 * elsewhere it blocks the thread. 0 or a negative errno. */
CIO_API int cio_log_flush(void);
/* Flushes, stops the writer thread, closes the handlers' files and frees
 * every logger (pointers from cio_log_get become invalid). Logging again
 * later starts afresh. Blocks the thread until done. */
CIO_API void cio_log_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
