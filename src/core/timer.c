/* Timers: a 4-ary min-heap of (deadline, task body) entries, with each
 * task's position stored in its body for O(log n) cancel. Deadlines sit in
 * the heap itself and the four children of a node share one cache line, so
 * comparing reads no task; each entry a sift moves writes its new position
 * into its task's body (with a million sleepers, a cache and TLB miss per
 * level: most of a pop's cost). Equal deadlines fire in the order they were
 * armed (a sequence number breaks ties). */
#include "core/runtime.h"

#include <string.h>

static inline bool before(const cio__heap_entry *a, const cio__heap_entry *b) {
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->body->seq < b->body->seq);
}

static inline void place(cio__heap *h, size_t i, cio__heap_entry e) {
    h->a[i] = e;
    e.body->heap_idx = (uint32_t)(i + 1);
}

static void sift_up(cio__heap *h, size_t i) {
    cio__heap_entry e = h->a[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(&e, &h->a[parent]))
            break;
        place(h, i, h->a[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(cio__heap *h, size_t i) {
    cio__heap_entry e = h->a[i];
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= h->n)
            break;
        size_t best = c, end = c + 4 < h->n ? c + 4 : h->n;
        for (size_t k = c + 1; k < end; k++)
            if (before(&h->a[k], &h->a[best]))
                best = k;
        if (!before(&h->a[best], &e))
            break;
        place(h, i, h->a[best]);
        i = best;
    }
    place(h, i, e);
}

static int grow(cio__heap *h) {
    size_t cap = h->cap ? h->cap * 2 : 256;
    /* Children 4i+1..4i+4 start a 64-byte line when a[1] does. */
    char *mem = cio__malloc(cap * sizeof(cio__heap_entry) + 64 + 48);
    if (!mem)
        return -ENOMEM;
    uintptr_t line = ((uintptr_t)mem + 63) & ~(uintptr_t)63;
    cio__heap_entry *a = (cio__heap_entry *)(line + 48);
    if (h->n)
        memcpy(a, h->a, h->n * sizeof *a);
    cio__free(h->mem);
    h->mem = mem;
    h->a = a;
    h->cap = cap;
    return 0;
}

int cio__timer_arm(cio_loop *L, cio__body *t, int64_t deadline) {
    cio__heap *h = &L->timers;
    if (t->heap_idx)
        cio__timer_cancel(L, t);
    if (h->n == h->cap && grow(h) < 0)
        return -ENOMEM;
    t->deadline = deadline;
    t->seq = h->seq++;
    h->a[h->n] = (cio__heap_entry){deadline, t};
    sift_up(h, h->n++);
    return 0;
}

void cio__timer_cancel(cio_loop *L, cio__body *t) {
    cio__heap *h = &L->timers;
    size_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    cio__heap_entry last = h->a[--h->n];
    if (i == h->n)
        return;
    h->a[i] = last;
    if (i > 0 && before(&last, &h->a[(i - 1) / 4]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

cio__body *cio__timer_pop(cio_loop *L) {
    cio__heap *h = &L->timers;
    cio__body *t = h->a[0].body;
    t->heap_idx = 0;
    cio__heap_entry last = h->a[--h->n];
    if (h->n) {
        h->a[0] = last;
        sift_down(h, 0);
    }
    return t;
}

void cio__heap_free(cio__heap *h) {
    cio__free(h->mem);
    h->mem = NULL;
    h->a = NULL;
    h->n = h->cap = 0;
}
