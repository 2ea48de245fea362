/* asyncio.Queue / LifoQueue / PriorityQueue with Python 3.13's shutdown.
 *
 * Items hand over directly where a task waits: a put with a parked getter
 * gives the item to that getter (the queue stays empty), and a get from a
 * full queue with a parked putter moves that putter's item in. A woken
 * task therefore never has to compete for what it was woken for, FIFO
 * order among waiters is exact, and the common case costs no switch.
 * A waiter's item travels in its waiter record: ptr = item, data = key. */
#include "cio/queue.h"

#include "sync/waitlist.h"

#include <string.h>

_Static_assert(sizeof(uintptr_t) >= sizeof(int64_t), "priority keys travel in uintptr_t");

/* Bounded queues preallocate up to this many slots, so put never needs
 * memory; beyond it they grow like unbounded ones. */
#define PREALLOC_MAX 65536
#define INITIAL_CAP 16

typedef struct entry {
    int64_t key;
    uint64_t seq;
    void *item;
} entry;

static size_t pow2_at_least(size_t n) {
    size_t c = INITIAL_CAP;
    while (c < n)
        c <<= 1;
    return c;
}

static size_t entry_size(const cio_queue *q) {
    return q->kind == CIO_QUEUE_PRIO ? sizeof(entry) : sizeof(void *);
}

static int reserve(cio_queue *q, size_t cap) {
    void *nb = cio__malloc(cap * entry_size(q));
    if (!nb)
        return cio_seterr(-ENOMEM, "cio_queue: cannot grow the queue to %zu items", cap);
    if (q->kind == CIO_QUEUE_PRIO) {
        if (q->len)
            memcpy(nb, q->buf, q->len * sizeof(entry));
    } else {
        void **old = q->buf, **dst = nb;
        for (size_t i = 0; i < q->len; i++)
            dst[i] = old[(q->head + i) & q->mask];
        q->head = 0;
        q->mask = cap - 1;
    }
    cio__free(q->buf);
    q->buf = nb;
    q->cap = cap;
    return 0;
}

int cio_queue_init(cio_queue *q, cio_queue_kind kind, size_t maxsize) {
    if (!q || (unsigned)kind > CIO_QUEUE_PRIO)
        return cio_seterr(-EINVAL, "cio_queue_init: %s", q ? "unknown queue kind" : "queue is NULL");
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->maxsize = maxsize;
    size_t want = maxsize && maxsize < PREALLOC_MAX ? maxsize : INITIAL_CAP;
    return reserve(q, pow2_at_least(want));
}

void cio_queue_set_drop(cio_queue *q, void (*drop)(void *item)) {
    if (q)
        q->drop = drop;
}

/* ---- storage: ring (FIFO/LIFO) or binary heap (PRIO) ---- */

static bool before(const entry *a, const entry *b) {
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static void heap_push(cio_queue *q, void *item, int64_t key) {
    entry *h = q->buf;
    entry e = {key, q->seq++, item};
    size_t i = q->len++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static void *heap_pop(cio_queue *q, int64_t *key) {
    entry *h = q->buf;
    entry top = h[0], last = h[--q->len];
    size_t i = 0, n = q->len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&h[c + 1], &h[c]))
            c++;
        if (!before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (n)
        h[i] = last;
    *key = top.key;
    return top.item;
}

/* Stores an item; the caller checked maxsize. */
static int push(cio_queue *q, void *item, int64_t key) {
    if (cio__unlikely(q->len == q->cap)) {
        int rc = reserve(q, q->cap * 2);
        if (rc < 0)
            return rc;
    }
    if (q->kind == CIO_QUEUE_PRIO)
        heap_push(q, item, key);
    else
        ((void **)q->buf)[(q->head + q->len++) & q->mask] = item;
    return 0;
}

static void *pop(cio_queue *q, int64_t *key) {
    void **ring = q->buf;
    *key = 0;
    switch (q->kind) {
    case CIO_QUEUE_FIFO: {
        void *item = ring[q->head];
        q->head = (q->head + 1) & q->mask;
        q->len--;
        return item;
    }
    case CIO_QUEUE_LIFO:
        return ring[(q->head + --q->len) & q->mask];
    default:
        return heap_pop(q, key);
    }
}

/* ---- put ---- */

static int closed(const char *fn) { return cio_seterr(CIO_ECLOSED, "%s: the queue is shut down", fn); }

/* put() and get() return -EAGAIN where the caller would have to wait.
 * Waiting is out of line, reached by a tail call from the public functions
 * so that it returns straight to their callers (core/arch/jump_return.h). */
CIO__HIDDEN int cio__queue_put_wait(cio_queue *q, void *item, int64_t key, const char *fn);
CIO__HIDDEN int cio__queue_get_wait(cio_queue *q, void **out, int64_t *prio, const char *fn);

static inline int put(cio_queue *q, void *item, int64_t key, const char *fn) {
    if (cio__unlikely(!q || !q->buf))
        return cio_seterr(-EINVAL, "%s: queue is NULL or not initialised", fn);
    if (cio__unlikely(q->shutdown))
        return closed(fn);
    cio__waitq *gq = cio__wq(&q->getters);
    if (gq->head) { /* a getter waits, so the queue is empty: hand over */
        cio__waiter *g = gq->head;
        g->ptr = item;
        g->data = (uintptr_t)key;
        cio__wake_waiter(g, 0);
        q->unfinished++;
        return 0;
    }
    if (q->maxsize && q->len >= q->maxsize)
        return -EAGAIN;
    int rc = push(q, item, key);
    if (rc == 0)
        q->unfinished++;
    return rc;
}

CIO__JUMP_RETURN_HIDDEN(int, cio__queue_put_wait)(cio_queue *q, void *item, int64_t key,
                                                  const char *fn) {
    cio__waiter w;
    w.ptr = item;
    w.data = (uintptr_t)key;
    int rc = cio__waitq_wait(cio__wq(&q->putters), &w);
    if (rc == CIO_ECLOSED)
        return closed(fn);
    if (rc == -EPERM)
        return cio_seterr(rc, "%s: the queue is full and the caller is not a task", fn);
    return rc; /* 0: a getter moved our item in */
}

int cio_queue_put(cio_queue *q, void *item) {
    int rc = put(q, item, 0, "cio_queue_put");
    return rc != -EAGAIN ? rc : cio__queue_put_wait(q, item, 0, "cio_queue_put");
}
int cio_queue_put_prio(cio_queue *q, void *item, int64_t prio) {
    int rc = put(q, item, prio, "cio_queue_put_prio");
    return rc != -EAGAIN ? rc : cio__queue_put_wait(q, item, prio, "cio_queue_put_prio");
}
/* The _nowait forms name the would-block outcome too, so that a caller
 * printing cio_errmsg() never shows an older, unrelated message. */
static int full(const char *fn) { return cio_seterr(-EAGAIN, "%s: the queue is full", fn); }

int cio_queue_put_nowait(cio_queue *q, void *item) {
    int rc = put(q, item, 0, "cio_queue_put_nowait");
    return rc != -EAGAIN ? rc : full("cio_queue_put_nowait");
}
int cio_queue_put_prio_nowait(cio_queue *q, void *item, int64_t prio) {
    int rc = put(q, item, prio, "cio_queue_put_prio_nowait");
    return rc != -EAGAIN ? rc : full("cio_queue_put_prio_nowait");
}

/* ---- get ---- */

static inline int get(cio_queue *q, void **out, int64_t *prio, const char *fn) {
    if (cio__unlikely(!q || !out || !q->buf))
        return cio_seterr(-EINVAL, "%s: queue or output is NULL, or queue not initialised", fn);
    int64_t key;
    if (cio__likely(q->len > 0)) {
        *out = pop(q, &key);
        if (prio)
            *prio = key;
        cio__waitq *pq = cio__wq(&q->putters);
        if (pq->head) { /* the queue was full: the first putter's item moves in */
            cio__waiter *p = pq->head;
            push(q, p->ptr, (int64_t)p->data); /* cannot fail: a slot just freed */
            q->unfinished++;
            cio__wake_waiter(p, 0);
        }
        return 0;
    }
    if (q->shutdown)
        return closed(fn);
    return -EAGAIN;
}

CIO__JUMP_RETURN_HIDDEN(int, cio__queue_get_wait)(cio_queue *q, void **out, int64_t *prio,
                                                  const char *fn) {
    cio__waiter w;
    int rc = cio__waitq_wait(cio__wq(&q->getters), &w);
    if (rc == 0) {
        *out = w.ptr;
        if (prio)
            *prio = (int64_t)w.data;
        return 0;
    }
    if (rc == CIO_ECLOSED)
        return closed(fn);
    if (rc == -EPERM)
        return cio_seterr(rc, "%s: the queue is empty and the caller is not a task", fn);
    return rc;
}

int cio_queue_get(cio_queue *q, void **out) {
    int rc = get(q, out, NULL, "cio_queue_get");
    return rc != -EAGAIN ? rc : cio__queue_get_wait(q, out, NULL, "cio_queue_get");
}
int cio_queue_get_prio(cio_queue *q, void **out, int64_t *prio) {
    int rc = get(q, out, prio, "cio_queue_get_prio");
    return rc != -EAGAIN ? rc : cio__queue_get_wait(q, out, prio, "cio_queue_get_prio");
}
int cio_queue_get_nowait(cio_queue *q, void **out) {
    int rc = get(q, out, NULL, "cio_queue_get_nowait");
    return rc != -EAGAIN ? rc : cio_seterr(rc, "cio_queue_get_nowait: the queue is empty");
}

/* ---- task_done / join ---- */

int cio_queue_task_done(cio_queue *q) {
    if (!q)
        return cio_seterr(-EINVAL, "cio_queue_task_done: queue is NULL");
    if (q->unfinished == 0)
        return cio_seterr(-EINVAL, "cio_queue_task_done: task_done() called too many times");
    if (--q->unfinished == 0)
        cio__waitq_wake_all(cio__wq(&q->joiners), 0);
    return 0;
}

CIO__JUMP_RETURN(int, cio_queue_join)(cio_queue *q) {
    if (!q)
        return cio_seterr(-EINVAL, "cio_queue_join: queue is NULL");
    if (q->unfinished == 0)
        return 0;
    cio__waiter w;
    int rc = cio__waitq_wait(cio__wq(&q->joiners), &w);
    if (rc == -EPERM)
        return cio_seterr(rc, "cio_queue_join: items are pending and the caller is not a task");
    return rc;
}

/* ---- shutdown, destroy, introspection ---- */

static void drop_all(cio_queue *q) {
    int64_t key;
    while (q->len) {
        void *item = pop(q, &key);
        if (q->drop)
            q->drop(item);
        if (q->unfinished)
            q->unfinished--;
    }
}

void cio_queue_shutdown(cio_queue *q, bool immediate) {
    if (!q || !q->buf)
        return;
    q->shutdown = immediate ? 2 : (q->shutdown ? q->shutdown : 1);
    if (immediate) {
        drop_all(q);
        if (q->unfinished == 0)
            cio__waitq_wake_all(cio__wq(&q->joiners), 0);
    }
    cio__waitq_wake_all(cio__wq(&q->getters), CIO_ECLOSED);
    cio__waitq_wake_all(cio__wq(&q->putters), CIO_ECLOSED);
}

int cio_queue_destroy(cio_queue *q) {
    if (!q)
        return cio_seterr(-EINVAL, "cio_queue_destroy: queue is NULL");
    if (q->getters.head_ || q->putters.head_ || q->joiners.head_)
        return cio_seterr(-EBUSY, "cio_queue_destroy: tasks are still waiting on the queue");
    if (q->buf)
        drop_all(q);
    cio__free(q->buf);
    memset(q, 0, sizeof *q);
    return 0;
}

size_t cio_queue_size(const cio_queue *q) { return q ? q->len : 0; }
size_t cio_queue_maxsize(const cio_queue *q) { return q ? q->maxsize : 0; }
bool cio_queue_empty(const cio_queue *q) { return !q || q->len == 0; }
bool cio_queue_full(const cio_queue *q) { return q && q->maxsize && q->len >= q->maxsize; }
