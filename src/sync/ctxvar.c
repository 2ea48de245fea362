/* Context variables: a refcounted array of values per task, indexed by the
 * variable's number. Spawning shares the parent's array (the core calls
 * our inherit hook: one store and one increment), and a set copies the
 * array only when it is shared, so a task that never sets pays nothing.
 * Arrays belong to one loop (tasks never migrate), so counts need no
 * atomics; variable numbers are process-wide and assigned atomically. */
#include "cio/ctxvar.h"

#include "core/internal.h"

#include <stdatomic.h>
#include <string.h>

typedef struct ctxmap {
    long refs;
    unsigned n;
    void *vals[];
} ctxmap;

/* Marks "no value of its own" (distinct from a stored NULL). */
static char unset_marker;
#define UNSET ((void *)&unset_marker)

static atomic_uint next_idx;

static unsigned var_idx(cio_ctxvar *v) {
    unsigned i = atomic_load_explicit((_Atomic unsigned *)&v->idx, memory_order_acquire);
    if (cio__likely(i))
        return i - 1;
    unsigned mine = atomic_fetch_add(&next_idx, 1) + 1, expected = 0;
    if (!atomic_compare_exchange_strong((_Atomic unsigned *)&v->idx, &expected, mine))
        return expected - 1; /* another thread numbered it first */
    return mine - 1;
}

static void map_unref(ctxmap *m) {
    if (m && --m->refs == 0)
        cio__free(m);
}

static void inherit(void **child, void *parent) {
    ((ctxmap *)parent)->refs++;
    *child = parent;
}

static void release(void *value) { map_unref(value); }

static ctxmap *current_map(void) {
    return cio__task_ctx(cio__task());
}

void *cio_ctxvar_get(cio_ctxvar *v) {
    if (!v)
        return NULL;
    ctxmap *m = current_map();
    if (m) {
        unsigned i = var_idx(v);
        if (i < m->n && m->vals[i] != UNSET)
            return m->vals[i];
    }
    return v->def;
}

bool cio_ctxvar_isset(cio_ctxvar *v) {
    ctxmap *m = current_map();
    if (!v || !m)
        return false;
    unsigned i = var_idx(v);
    return i < m->n && m->vals[i] != UNSET;
}

const char *cio_ctxvar_name(const cio_ctxvar *v) { return v && v->name ? v->name : ""; }

/* Makes the current task's map private and able to hold index i. */
static ctxmap *writable_map(void **slot, unsigned i) {
    ctxmap *m = *slot;
    if (m && m->refs == 1 && i < m->n)
        return m;
    unsigned n = m ? m->n : 0;
    unsigned want = i + 1 > n ? i + 1 + 4 : n;
    ctxmap *c = cio__malloc(sizeof *c + want * sizeof(void *));
    if (!c)
        return NULL;
    c->refs = 1;
    c->n = want;
    for (unsigned k = 0; k < want; k++)
        c->vals[k] = k < n ? m->vals[k] : UNSET;
    map_unref(m);
    *slot = c;
    return c;
}

static int store(cio_ctxvar *v, void *value, const char *fn) {
    cio_task *t = cio__task();
    if (!t)
        return cio_seterr(-EPERM, "%s('%s'): no task (context variables live in tasks)", fn,
                          cio_ctxvar_name(v));
    if (cio__unlikely(!cio__ctx_inherit_hook)) {
        cio__ctx_inherit_hook = inherit;
        cio__ctx_release_hook = release;
    }
    unsigned i = var_idx(v);
    ctxmap *m = writable_map(cio__task_ctx_slot(t), i);
    if (!m)
        return cio_seterr(-ENOMEM, "%s('%s'): out of memory", fn, cio_ctxvar_name(v));
    m->vals[i] = value;
    return 0;
}

int cio_ctxvar_set(cio_ctxvar *v, void *value, cio_ctxtoken *tok) {
    if (!v)
        return cio_seterr(-EINVAL, "cio_ctxvar_set: variable is NULL");
    ctxmap *m = current_map();
    unsigned i = var_idx(v);
    void *old = m && i < m->n ? m->vals[i] : UNSET;
    int rc = store(v, value, "cio_ctxvar_set");
    if (rc == 0 && tok)
        *tok = (cio_ctxtoken){v, old, cio_task_id(NULL), 0};
    return rc;
}

int cio_ctxvar_reset(cio_ctxtoken *tok) {
    if (!tok || !tok->var)
        return cio_seterr(-EINVAL, "cio_ctxvar_reset: token is NULL");
    if (tok->used)
        return cio_seterr(-EINVAL, "cio_ctxvar_reset('%s'): token has already been used",
                          cio_ctxvar_name(tok->var));
    if (tok->task != cio_task_id(NULL))
        return cio_seterr(-EINVAL, "cio_ctxvar_reset('%s'): token was created in a different context",
                          cio_ctxvar_name(tok->var));
    int rc = store(tok->var, tok->old, "cio_ctxvar_reset");
    if (rc == 0)
        tok->used = 1;
    return rc;
}
