/* cio ctxvar: contextvars.ContextVar for tasks.
 *
 * A context variable is a module-level key with a name and a default:
 *     static cio_ctxvar request_id = CIO_CTXVAR_INIT("request_id", NULL);
 * Each task sees its own values. A spawned task starts from a snapshot of
 * its parent's values at spawn time (copy-on-write: spawning shares the
 * parent's map and bumps a count; the first set in either task copies it),
 * and a set in a child never reaches its parent. Values are `void *`, not
 * owned by cio (use cio_ctxvar_geti/seti for integers). Outside any task,
 * get returns the default and set fails with -EPERM. */
#ifndef CIO_CTXVAR_H
#define CIO_CTXVAR_H
#include "cio/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fields are private; keep the variable static (it must outlive tasks). */
typedef struct cio_ctxvar {
    const char *name;
    void *def;
    unsigned idx; /* assigned on first use */
} cio_ctxvar;
#define CIO_CTXVAR_INIT(name, def) {(name), (void *)(def), 0}

/* Returned by set; reset(token) restores the value the variable had before
 * that set (contextvars.Token). Caller-held; one reset per token. */
typedef struct cio_ctxtoken {
    cio_ctxvar *var;
    void *old;      /* previous value, or the private "unset" marker */
    uint64_t task;  /* id of the task whose context made it */
    int used;
} cio_ctxtoken;

/* The variable's value in the current task, or its default. Never fails
 * (NULL var: NULL). Does not suspend. */
CIO_API void *cio_ctxvar_get(cio_ctxvar *v);
/* Sets the variable in the current task's context; if tok is not NULL it
 * receives a token for cio_ctxvar_reset. Returns 0, -EINVAL (NULL var),
 * -EPERM (outside a task) or -ENOMEM. Does not suspend. */
CIO_API int cio_ctxvar_set(cio_ctxvar *v, void *value, cio_ctxtoken *tok);
/* Restores the value before the set that made tok. Returns 0, or -EINVAL
 * (NULL, token already used, or made in another task's context). */
CIO_API int cio_ctxvar_reset(cio_ctxtoken *tok);
/* True if the variable has a value of its own in the current context
 * (not just the default). */
CIO_API bool cio_ctxvar_isset(cio_ctxvar *v);
/* The variable's name. */
CIO_API const char *cio_ctxvar_name(const cio_ctxvar *v);

/* Integer forms. */
static inline intptr_t cio_ctxvar_geti(cio_ctxvar *v) { return (intptr_t)cio_ctxvar_get(v); }
static inline int cio_ctxvar_seti(cio_ctxvar *v, intptr_t value, cio_ctxtoken *tok) {
    return cio_ctxvar_set(v, (void *)value, tok);
}

#ifdef __cplusplus
}
#endif
#endif
