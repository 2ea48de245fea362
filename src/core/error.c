/* Error codes, per-task error messages, and cio's own reports. */
#include "core/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERRMSG_SIZE 256

static __thread char thread_errmsg[ERRMSG_SIZE];

const char *cio_version(void) { return "0.1.0"; }

const char *cio_strerror(int code) {
    switch (code) {
    case 0: return "Success";
    case CIO_EEND: return "End of iteration";
    case CIO_ECLOSED: return "Closed or shut down";
    case CIO_EBROKEN: return "Barrier broken";
    case CIO_EHTTP: return "HTTP protocol error";
    case CIO_ETLS: return "TLS error";
    case CIO_EDNS: return "Name resolution failed";
    case CIO_EPARSE: return "Malformed input";
    case CIO_ELIMIT: return "Limit exceeded";
    case CIO_EPARTIAL: return "Incomplete read: end of stream";
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "Unknown error";
}

/* The buffer of the running task, or of the thread outside tasks. NULL if
 * the task's buffer cannot be allocated (the message is then dropped, the
 * code still returned). */
static char *errbuf(void) {
    cio_task *t = cio__tls_loop ? cio__tls_loop->cur : NULL;
    if (!t)
        return thread_errmsg;
    cio__extra *x = cio__task_extra(t);
    if (x && !x->errmsg)
        x->errmsg = cio__malloc(ERRMSG_SIZE);
    return x ? x->errmsg : NULL;
}

void cio__errmsg_clear(void) {
    cio_task *t = cio__tls_loop ? cio__tls_loop->cur : NULL;
    if (!t)
        thread_errmsg[0] = 0;
    else if (cio__task_msg(t))
        cio_seterr(0, "%s", "");
}

const char *cio_errmsg(void) {
    cio_task *t = cio__tls_loop ? cio__tls_loop->cur : NULL;
    if (t) {
        const char *m = cio__task_msg(t);
        return m ? m : "";
    }
    return thread_errmsg;
}

int cio__vseterr(int code, const char *fmt, va_list ap) {
    char *b = errbuf();
    if (b)
        vsnprintf(b, ERRMSG_SIZE, fmt, ap);
    return code;
}

int cio_seterr(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cio__vseterr(code, fmt, ap);
    va_end(ap);
    return code;
}

int cio__seterr_wrap(int code, const char *fmt, ...) {
    char prev[ERRMSG_SIZE], head[ERRMSG_SIZE];
    snprintf(prev, sizeof prev, "%s", cio_errmsg());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    return cio_seterr(code, "%s: %s", head, prev);
}

int cio__seterr_code(int code, const char *what) {
    return cio_seterr(code, "%s: %s", what, cio_strerror(code));
}

/* Copies a finished task's message to the collecting task (the C form of an
 * exception travelling up through await). */
void cio__errmsg_propagate(const cio_task *from) {
    const char *m = cio__task_msg(from);
    if (m && m[0] && (!cio__tls_loop || cio__tls_loop->cur != from))
        cio_seterr(0, "%s", m);
}

static cio__report_fn report_hook;

void cio__set_report_hook(cio__report_fn fn) { report_hook = fn; }

void cio__report(int level, const char *fmt, ...) {
    static const char *names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (report_hook) {
        report_hook(level, msg);
        return;
    }
    fprintf(stderr, "cio %s: %s\n", names[level & 3], msg);
}

/* A programming error (double join, use of a released handle, a handle of
 * another thread's loop, suspending outside a task): in debug mode it
 * aborts with the message, otherwise the caller returns code. */
int cio__misuse(int code, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cio_loop *L = cio__tls_loop;
    const char *env = getenv("CIO_DEBUG");
    if ((L && L->debug) || (env && env[0] == '1')) {
        fprintf(stderr, "cio: misuse: %s (debug mode aborts)\n", msg);
        abort();
    }
    return cio_seterr(code, "%s", msg);
}
