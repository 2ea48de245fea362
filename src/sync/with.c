/* async with, and generator-style managers. A generator-style manager's
 * function runs as a task of its own that parks at its yield: the body
 * runs on the caller's stack in between, and the same manager can sit in
 * an exit stack while the caller goes on (which a nested call could not). */
#include "cio/with.h"

#include "core/internal.h"

static int check_cm(const cio_cm *cm, const char *fn) {
    if (cio__unlikely(!cm || !cm->enter || !cm->exit))
        return cio_seterr(-EINVAL, "%s: manager or its enter/exit is NULL", fn);
    return 0;
}

int cio_with_enter(const cio_cm *cm, void **as) {
    int rc = check_cm(cm, "cio_with_enter");
    if (rc < 0)
        return rc;
    void *ignored = NULL;
    return cm->enter(cm->self, as ? as : &ignored);
}

int cio_with_exit(const cio_cm *cm, int status) {
    int rc = check_cm(cm, "cio_with_exit");
    if (rc < 0)
        return rc;
    if (!cio__task()) /* nothing to shield outside a task */
        return cm->exit(cm->self, status);
    cio_scope s;
    cio_shield_begin(&s, CIO_CLEANUP_GRACE);
    rc = cm->exit(cm->self, status);
    cio_shield_end(&s);
    return rc;
}

int cio_with(const cio_cm *cm, cio_fn body, void *arg) {
    int rc = check_cm(cm, "cio_with");
    if (rc < 0)
        return rc;
    if (!body)
        return cio_seterr(-EINVAL, "cio_with: body is NULL");
    void *as = NULL;
    if ((rc = cm->enter(cm->self, &as)) < 0)
        return rc;
    return cio_with_exit(cm, body(arg));
}

/* ---- generator-style managers ---- */

enum { IDLE, SETUP, YIELDED, TEARDOWN, DONE };

static int gencm_task(void *arg) {
    cio_gencm *g = arg;
    int r = g->fn(g, g->arg);
    g->state = DONE;
    if (g->caller_waiting)
        cio__wake(g->caller, 0);
    return r;
}

/* Waits, shielded, for the manager task and releases it. */
static int gencm_join(cio_gencm *g) {
    cio_scope s;
    cio_shield_begin(&s, CIO_FOREVER);
    int r = cio_join(g->task);
    cio_shield_end(&s);
    g->task = NULL;
    g->state = IDLE;
    return r;
}

static int gencm_enter(void *self, void **as) {
    cio_gencm *g = self;
    if (g->state != IDLE)
        return cio_seterr(-EINVAL, "generator-style manager entered while already in use");
    int rc = cio__check_in_task("generator-style manager enter");
    if (rc < 0)
        return rc;
    g->caller = cio__task();
    g->state = SETUP;
    g->task = cio_spawn(gencm_task, g);
    if (!g->task) {
        g->state = IDLE;
        return cio_seterr(-ENOMEM, "generator-style manager: cannot spawn its task");
    }
    g->caller_waiting = 1;
    while (g->state == SETUP && rc == 0 && !cio_task_done(g->task))
        rc = cio__park_watching(g->task);
    g->caller_waiting = 0;
    if (g->state == YIELDED) {
        *as = g->value;
        return 0;
    }
    if (g->state == SETUP && cio_task_done(g->task)) { /* it could not start: no stack */
        int r = gencm_join(g);
        return cio__seterr_wrap(r < 0 ? r : -ENOMEM,
                                "generator-style manager: its task could not start");
    }
    if (g->state == SETUP) { /* we were interrupted during setup */
        cio_cancel(g->task);
        gencm_join(g);
        return rc;
    }
    int r = gencm_join(g); /* returned without yielding */
    return r < 0 ? r : cio_seterr(-EINVAL, "generator-style manager returned without yielding");
}

static int gencm_exit(void *self, int status) {
    cio_gencm *g = self;
    if (g->state == YIELDED) {
        g->status = status;
        g->state = TEARDOWN;
        cio__wake(g->task, 0);
    } else if (g->state != DONE) {
        return cio_seterr(-EINVAL, "generator-style manager exited without being entered");
    }
    /* The caller's shield (cio_with_exit) bounds this wait by the grace
     * deadline; when it passes, cio_join cancels the manager task. */
    int r = cio_join(g->task);
    g->task = NULL;
    g->state = IDLE;
    return r;
}

int cio_gencm_init(cio_gencm *g, cio_gencm_fn fn, void *arg) {
    if (!g || !fn)
        return cio_seterr(-EINVAL, "cio_gencm_init: %s is NULL", g ? "function" : "manager");
    *g = (cio_gencm){{gencm_enter, gencm_exit, g}, fn, arg, NULL, NULL, NULL, IDLE, 0, 0};
    return 0;
}

int cio_gencm_yield(cio_gencm *g, void *value) {
    if (!g || cio__task() == NULL || cio__task() != g->task || g->state != SETUP)
        return cio_seterr(-EINVAL, "cio_gencm_yield: not called once from the manager's own task");
    g->value = value;
    g->state = YIELDED;
    if (g->caller_waiting)
        cio__wake(g->caller, 0);
    int rc = 0;
    while (g->state == YIELDED && rc == 0)
        rc = cio__park(CIO_FOREVER);
    return g->state == TEARDOWN ? g->status : rc;
}
