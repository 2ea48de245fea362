/* cio queue: asyncio.Queue, LifoQueue and PriorityQueue (Python 3.13
 * semantics, shutdown included).
 *
 * Items are `void *` (cast integers through intptr_t). A priority queue
 * orders by an int64_t key, lowest first, FIFO among equal keys. The queue
 * is a caller-held value: cio_queue_init allocates its buffer (a bounded
 * queue never allocates again; an unbounded one grows by doubling) and
 * cio_queue_destroy frees it. An item put while a getter waits goes straight
 * to that getter; a get from a full queue pulls the first waiting putter's
 * item in. Waiters are served FIFO. A cancelled get loses no item, a
 * cancelled put adds none. */
#ifndef CIO_QUEUE_H
#define CIO_QUEUE_H
#include "cio/sync.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cio_queue_kind {
    CIO_QUEUE_FIFO = 0, /* asyncio.Queue */
    CIO_QUEUE_LIFO = 1, /* asyncio.LifoQueue */
    CIO_QUEUE_PRIO = 2  /* asyncio.PriorityQueue, keyed by int64_t */
} cio_queue_kind;

/* Fields are private. */
typedef struct cio_queue {
    void *buf;          /* ring of void * (FIFO/LIFO) or heap of entries (PRIO) */
    size_t mask;        /* ring capacity - 1 (a power of two) */
    size_t cap;         /* allocated entries */
    size_t head, len;
    size_t maxsize;     /* 0 = unbounded */
    size_t unfinished;  /* put but not yet task_done */
    uint64_t seq;       /* PRIO: FIFO tie-break */
    int kind;
    int shutdown;       /* 1: shut down; 2: immediately */
    void (*drop)(void *item);
    cio_waitlist getters, putters, joiners;
} cio_queue;

/* Initialises q of the given kind; maxsize 0 = unbounded. Returns 0,
 * -EINVAL (NULL, bad kind) or -ENOMEM. Does not suspend. */
CIO_API int cio_queue_init(cio_queue *q, cio_queue_kind kind, size_t maxsize);
/* Frees q's buffer. Items still in it are passed to the drop function if
 * one was set. Returns 0, -EINVAL, or -EBUSY if tasks still wait on q. */
CIO_API int cio_queue_destroy(cio_queue *q);
/* Sets a function called with every item the queue itself discards
 * (shutdown(immediate) and destroy), e.g. free. */
CIO_API void cio_queue_set_drop(cio_queue *q, void (*drop)(void *item));

/* Puts item, waiting while the queue is full. Returns 0, -EINVAL,
 * CIO_ECLOSED (shut down, also while waiting), -ENOMEM (the buffer could
 * not grow), -EPERM, -ECANCELED or -ETIMEDOUT (on any error nothing was
 * added). Suspends only when full. */
CIO_API int cio_queue_put(cio_queue *q, void *item);
/* Put with a priority key (PRIO queues; other kinds ignore the key). */
CIO_API int cio_queue_put_prio(cio_queue *q, void *item, int64_t prio);
/* Puts without waiting: 0, -EAGAIN (full), CIO_ECLOSED, -EINVAL or
 * -ENOMEM (an unbounded queue could not grow). */
CIO_API int cio_queue_put_nowait(cio_queue *q, void *item);
CIO_API int cio_queue_put_prio_nowait(cio_queue *q, void *item, int64_t prio);
/* Takes the next item into *out, waiting while the queue is empty. Returns
 * 0, -EINVAL, CIO_ECLOSED (shut down and empty, also while waiting), -EPERM,
 * -ECANCELED or -ETIMEDOUT (then no item was taken). Suspends only when
 * empty. */
CIO_API int cio_queue_get(cio_queue *q, void **out);
/* Same, also storing the item's priority key in *prio (may be NULL). */
CIO_API int cio_queue_get_prio(cio_queue *q, void **out, int64_t *prio);
/* Takes an item without waiting: 0, -EAGAIN (empty), CIO_ECLOSED, -EINVAL. */
CIO_API int cio_queue_get_nowait(cio_queue *q, void **out);
/* Marks one item taken by get as processed. Returns 0, or -EINVAL when
 * called more often than items were put ("task_done() called too many
 * times"). Does not suspend. */
CIO_API int cio_queue_task_done(cio_queue *q);
/* Waits until every item put has been marked task_done. Returns 0,
 * -EINVAL, -EPERM, -ECANCELED or -ETIMEDOUT. Suspends unless none pending. */
CIO_API int cio_queue_join(cio_queue *q);
/* Shuts q down (Python 3.13): put fails with CIO_ECLOSED from now on, and
 * get once q is empty; waiting putters and (empty-queue) getters wake with
 * CIO_ECLOSED. immediate: also drops every queued item (see set_drop),
 * counts them done, and so releases join. Does not suspend. */
CIO_API void cio_queue_shutdown(cio_queue *q, bool immediate);

/* Items in q; its maxsize (0 = unbounded); full/empty tests. */
CIO_API size_t cio_queue_size(const cio_queue *q);
CIO_API size_t cio_queue_maxsize(const cio_queue *q);
CIO_API bool cio_queue_empty(const cio_queue *q);
CIO_API bool cio_queue_full(const cio_queue *q);

#ifdef __cplusplus
}
#endif
#endif
