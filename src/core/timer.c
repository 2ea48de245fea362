/* Timers: a binary min-heap of parked tasks keyed by (deadline, seq), with
 * each task's position stored in it for O(log n) cancel. Equal deadlines
 * fire in the order they were armed. */
#include "core/runtime.h"

static inline bool before(const cio_task *a, const cio_task *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline void place(cio__heap *h, size_t i, cio_task *t) {
    h->a[i] = t;
    t->heap_idx = (uint32_t)(i + 1);
}

static void sift_up(cio__heap *h, size_t i) {
    cio_task *t = h->a[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->a[parent]))
            break;
        place(h, i, h->a[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(cio__heap *h, size_t i) {
    cio_task *t = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(h->a[c + 1], h->a[c]))
            c++;
        if (!before(h->a[c], t))
            break;
        place(h, i, h->a[c]);
        i = c;
    }
    place(h, i, t);
}

int cio__timer_arm(cio_loop *L, cio_task *t, int64_t deadline) {
    cio__heap *h = &L->timers;
    if (t->heap_idx)
        cio__timer_cancel(L, t);
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        cio_task **a = cio__realloc(h->a, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    t->deadline = deadline;
    t->seq = h->seq++;
    h->a[h->n] = t;
    sift_up(h, h->n++);
    return 0;
}

void cio__timer_cancel(cio_loop *L, cio_task *t) {
    cio__heap *h = &L->timers;
    size_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    cio_task *last = h->a[--h->n];
    if (i == h->n)
        return;
    h->a[i] = last;
    if (i > 0 && before(last, h->a[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

cio_task *cio__timer_pop(cio_loop *L) {
    cio__heap *h = &L->timers;
    cio_task *t = h->a[0];
    t->heap_idx = 0;
    cio_task *last = h->a[--h->n];
    if (h->n) {
        h->a[0] = last;
        sift_down(h, 0);
    }
    return t;
}

void cio__heap_free(cio__heap *h) {
    cio__free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}
