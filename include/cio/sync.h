/* cio sync: Lock, Semaphore, BoundedSemaphore, Event, Condition, Barrier.
 *
 * Every primitive is a caller-held value: initialise it with its CIO_*_INIT
 * macro (or the _init function) and it needs no allocation and no destroy.
 * The uncontended path never suspends. Waiters are served in FIFO order.
 * Every wait is a suspension point: it honours cancellation and timeout
 * scopes (returns -ECANCELED / -ETIMEDOUT) and a waiter that gives up holds
 * nothing. A primitive must outlive its waiters and belongs to one loop. */
#ifndef CIO_SYNC_H
#define CIO_SYNC_H
#include "cio/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A FIFO of parked tasks (the core's wait queue). Private. */
typedef struct cio_waitlist {
    void *head_, *tail_;
} cio_waitlist;
#define CIO_WAITLIST_INIT {NULL, NULL}

/* ---- Lock (asyncio.Lock) ------------------------------------------------ */

typedef struct cio_lock {
    int locked;
    cio_waitlist waiters;
} cio_lock;
#define CIO_LOCK_INIT {0, CIO_WAITLIST_INIT}

/* Initialises an unlocked lock (same as CIO_LOCK_INIT). */
CIO_API void cio_lock_init(cio_lock *l);
/* Acquires l, waiting (FIFO) while another task holds it. Returns 0,
 * -EINVAL (NULL), -EPERM (outside a task, when it must wait), -ECANCELED or
 * -ETIMEDOUT (then l is not held; a lock handed over at the instant of the
 * interruption is passed on to the next waiter). Suspends when contended. */
CIO_API int cio_lock_acquire(cio_lock *l);
/* Acquires l only if it is free: 0 or -EAGAIN (-EINVAL for NULL). */
CIO_API int cio_lock_try_acquire(cio_lock *l);
/* Releases l, handing it to the first waiter if any. Any task may release
 * (as in asyncio). Returns 0, -EINVAL (NULL) or -EPERM (not locked). */
CIO_API int cio_lock_release(cio_lock *l);
/* True while l is held. */
CIO_API bool cio_lock_locked(const cio_lock *l);

/* ---- Semaphore and BoundedSemaphore ------------------------------------- */

typedef struct cio_sem {
    long value;
    long bound; /* -1: unbounded; else the start value release may not pass */
    cio_waitlist waiters;
} cio_sem;
#define CIO_SEM_INIT(n) {(n), -1, CIO_WAITLIST_INIT}
#define CIO_BOUNDED_SEM_INIT(n) {(n), (n), CIO_WAITLIST_INIT}

/* Initialises a semaphore with value n (>= 0); bounded: releasing it past
 * n is an error (BoundedSemaphore). Returns 0 or -EINVAL. */
CIO_API int cio_sem_init(cio_sem *s, long n, bool bounded);
/* Takes one unit, waiting (FIFO) while the value is 0. Returns 0, -EINVAL,
 * -EPERM, -ECANCELED or -ETIMEDOUT (then no unit is held). Suspends when
 * it must wait. */
CIO_API int cio_sem_acquire(cio_sem *s);
/* Takes one unit only if available without waiting: 0 or -EAGAIN. */
CIO_API int cio_sem_try_acquire(cio_sem *s);
/* Gives one unit back (to the first waiter if any). Returns 0, -EINVAL
 * (NULL, or a bounded semaphore released more often than acquired). */
CIO_API int cio_sem_release(cio_sem *s);
/* The current value (units available). */
CIO_API long cio_sem_value(const cio_sem *s);
/* True when acquire would wait (asyncio Semaphore.locked()). */
CIO_API bool cio_sem_locked(const cio_sem *s);

/* ---- Event (asyncio.Event) ---------------------------------------------- */

typedef struct cio_event {
    int set;
    cio_waitlist waiters;
} cio_event;
#define CIO_EVENT_INIT {0, CIO_WAITLIST_INIT}

/* Initialises a cleared event. */
CIO_API void cio_event_init(cio_event *e);
/* Waits until e is set (returns at once if it is). Returns 0, -EINVAL,
 * -EPERM, -ECANCELED or -ETIMEDOUT. A waiter woken by set returns 0 even if
 * e is cleared again before it runs. Suspends unless set. */
CIO_API int cio_event_wait(cio_event *e);
/* Sets e and wakes every waiter. Does not suspend. */
CIO_API void cio_event_set(cio_event *e);
/* Clears e: later waits block until the next set. */
CIO_API void cio_event_clear(cio_event *e);
/* True while e is set. */
CIO_API bool cio_event_is_set(const cio_event *e);

/* ---- Condition (asyncio.Condition) -------------------------------------- */

typedef struct cio_cond {
    cio_lock *lock;
    cio_waitlist waiters;
} cio_cond;
/* A condition bound to the lock at lockp (which must outlive it). */
#define CIO_COND_INIT(lockp) {(lockp), CIO_WAITLIST_INIT}

/* Binds c to lock l (NULL: -EINVAL). Returns 0 or -EINVAL. */
CIO_API int cio_cond_init(cio_cond *c, cio_lock *l);
/* Releases the lock, waits for a notify, and re-acquires the lock before
 * returning, always (even on error, as asyncio does). Returns 0, -EINVAL,
 * -EPERM (lock not held, or outside a task), -ECANCELED or -ETIMEDOUT; a
 * notify that arrived at the instant of the interruption is passed on to
 * another waiter. Suspends. */
CIO_API int cio_cond_wait(cio_cond *c);
/* Waits until pred(arg) is true (checked first, and after each notify).
 * Same returns and lock rule as cio_cond_wait. Suspends unless pred holds. */
CIO_API int cio_cond_wait_for(cio_cond *c, bool (*pred)(void *arg), void *arg);
/* Wakes up to n waiters (FIFO). The lock must be held. Returns the number
 * woken, -EINVAL or -EPERM (lock not held). Does not suspend. */
CIO_API int cio_cond_notify(cio_cond *c, int n);
/* Wakes every waiter. Same returns as cio_cond_notify. */
CIO_API int cio_cond_notify_all(cio_cond *c);

/* ---- Barrier (asyncio.Barrier) ------------------------------------------ */

typedef struct cio_barrier {
    unsigned parties;
    unsigned count;  /* tasks waiting in the current round */
    int broken;
    cio_waitlist waiters;
} cio_barrier;
#define CIO_BARRIER_INIT(n) {(n), 0, 0, CIO_WAITLIST_INIT}

/* Initialises a barrier for parties tasks (> 0): 0 or -EINVAL. */
CIO_API int cio_barrier_init(cio_barrier *b, unsigned parties);
/* Waits until `parties` tasks have called wait; then all return, each with
 * its arrival index (0 .. parties-1) and the barrier starts a new round.
 * Returns the index, CIO_EBROKEN (aborted/reset, or broken), -EINVAL,
 * -EPERM, -ECANCELED or -ETIMEDOUT (the waiter leaves; the barrier is not
 * broken). Suspends unless the caller is the last party. */
CIO_API int cio_barrier_wait(cio_barrier *b);
/* Breaks the barrier: current and future waiters get CIO_EBROKEN until
 * cio_barrier_reset. */
CIO_API void cio_barrier_abort(cio_barrier *b);
/* Returns to the empty state; tasks waiting now get CIO_EBROKEN. */
CIO_API void cio_barrier_reset(cio_barrier *b);
/* Tasks currently waiting; the number of parties; whether it is broken. */
CIO_API unsigned cio_barrier_n_waiting(const cio_barrier *b);
CIO_API unsigned cio_barrier_parties(const cio_barrier *b);
CIO_API bool cio_barrier_broken(const cio_barrier *b);

/* ---- blocks: `async with lock:` ----------------------------------------- */

typedef struct cio__held {
    void *prim;
    int (*release)(void *prim);
    int ok;
} cio__held;
static inline void cio__held_end(cio__held *h) {
    if (h->ok) {
        h->ok = 0;
        h->release(h->prim);
    }
}
#define CIO__HELD CIO__CAT(cio__held_, __LINE__)
#define CIO__HELD_BLOCK(p_, acq_, rel_, rc_)                                     \
    for (cio__held CIO__HELD __attribute__((cleanup(cio__held_end))) =           \
             {(p_), (rel_), 0},                                                  \
         *CIO__ONCE = (CIO__HELD.ok = ((rc_) = acq_(CIO__HELD.prim)) == 0)       \
                          ? &CIO__HELD : NULL;                                   \
         CIO__ONCE; CIO__ONCE = NULL)

static inline int cio__lock_release_v(void *l) { return cio_lock_release((cio_lock *)l); }
static inline int cio__sem_release_v(void *s) { return cio_sem_release((cio_sem *)s); }

/* CIO_LOCKED(&lock, rc) { ... } — `async with lock:`. rc (an int lvalue)
 * receives the acquire result; the block runs only if it is 0, and the lock
 * is released when the block is left by any path (break, return, goto). */
#define CIO_LOCKED(lockp, rc) CIO__HELD_BLOCK(lockp, cio_lock_acquire, cio__lock_release_v, rc)
/* CIO_SEM_HELD(&sem, rc) { ... } — `async with semaphore:`. */
#define CIO_SEM_HELD(semp, rc) CIO__HELD_BLOCK(semp, cio_sem_acquire, cio__sem_release_v, rc)

#ifdef __cplusplus
}
#endif
#endif
