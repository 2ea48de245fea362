/* cio gen: async generators and `async for`.
 *
 *   static int count_to(cio_gen *g, void *arg) {      // the producer
 *       for (intptr_t i = 1; i <= (intptr_t)arg; i++) {
 *           cio_sleep(CIO_MS);                         // may await between yields
 *           if (cio_gen_yield(g, (void *)i) < 0)       // closed or cancelled:
 *               break;                                 //   clean up and return
 *       }
 *       return 0;
 *   }
 *   cio_gen g;
 *   cio_gen_init(&g, count_to, (void *)3);
 *   void *v; int rc;
 *   while ((rc = cio_gen_next(&g, &v)) == 0) printf("%ld\n", (long)(intptr_t)v);
 *   // rc == CIO_EEND when the producer returned 0
 *   cio_gen_close(&g);                                 // always: like free
 *
 * The producer runs in a task of its own, started by the first next (as a
 * Python async generator starts at its first __anext__), and inherits the
 * consumer's context variables. Values are `void *`. The generator is a
 * caller-held value; one consumer at a time. */
#ifndef CIO_GEN_H
#define CIO_GEN_H
#include "cio/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_gen cio_gen;
typedef int (*cio_gen_fn)(cio_gen *g, void *arg);
/* Fields are private. */
struct cio_gen {
    cio_gen_fn fn;
    void *arg;
    void *value;
    cio_task *task;
    cio_task *consumer;
    int state;
    int result;
    int consumer_waiting;
    int closing;
};

/* Prepares g to run fn(g, arg) as the producer (nothing runs yet).
 * Returns 0 or -EINVAL. */
CIO_API int cio_gen_init(cio_gen *g, cio_gen_fn fn, void *arg);
/* __anext__: runs the producer to its next yield and stores the value in
 * *out. Returns 0; CIO_EEND once the producer returned 0 (again on every
 * later call); the producer's own error if it returned one (-ECANCELED
 * once if the producer task was cancelled, CIO_EEND after); -EINVAL;
 * -EBUSY (another task is in next); -EPERM; or -ECANCELED/-ETIMEDOUT, in
 * which case the generator is closed (the producer is cancelled and waited
 * for, shielded, within CIO_CLEANUP_GRACE). Suspends. */
CIO_API int cio_gen_next(cio_gen *g, void **out);
/* Called by the producer: hands value to the consumer and waits for the
 * next next(). Returns 0 to go on, CIO_ECLOSED when the consumer closed
 * the generator, -ECANCELED/-ETIMEDOUT when the producer task itself was
 * interrupted: on any error the producer must clean up and return.
 * -EINVAL if not called from g's producer task. Suspends. */
CIO_API int cio_gen_yield(cio_gen *g, void *value);
/* aclose(): if the producer is suspended at a yield, that yield returns
 * CIO_ECLOSED and the producer's cleanup runs (shielded, bounded by
 * CIO_CLEANUP_GRACE, after which the producer is cancelled). Waits for it
 * to end and releases it. Returns 0, or the producer's error (other than
 * CIO_ECLOSED/-ECANCELED), -EINVAL, or -EBUSY (a next is in progress).
 * Idempotent; call it once the consumer is done, even after CIO_EEND. */
CIO_API int cio_gen_close(cio_gen *g);

/* CIO_GEN_FOREACH(&g, v, rc) { ... } — `async for v in g:`; v is a
 * `void *` declared by the macro; rc (int lvalue) holds the code that
 * ended the loop (CIO_EEND at the normal end; not set by a break). */
#define CIO_GEN_FOREACH(g, v, rc) for (void *v; ((rc) = cio_gen_next((g), &v)) == 0;)

#ifdef __cplusplus
}
#endif
#endif
