/* The one allocation wrapper of libcio: a user hook, a live-block count for
 * the tests' leak check, and fault injection (fail the n-th allocation). */
#include "core/internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *(*user_malloc)(size_t) = malloc;
static void *(*user_realloc)(void *, size_t) = realloc;
static void (*user_free)(void *) = free;
static atomic_long live;
static atomic_long fail_countdown; /* > 0: the allocation reaching 0 fails */

void cio_set_allocator(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *)) {
    user_malloc = m ? m : malloc;
    user_realloc = r ? r : realloc;
    user_free = f ? f : free;
}

/* Used by the test harness (cio_test_fail_alloc). */
CIO_API void cio__alloc_fail_after(long n) { atomic_store(&fail_countdown, n); }

static bool injected_failure(void) {
    if (cio__likely(atomic_load_explicit(&fail_countdown, memory_order_relaxed) == 0))
        return false;
    return atomic_fetch_sub(&fail_countdown, 1) == 1;
}

void *cio__malloc(size_t n) {
    if (injected_failure())
        return NULL;
    void *p = user_malloc(n ? n : 1);
    if (p)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *cio__calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = cio__malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *cio__realloc(void *p, size_t n) {
    if (!p)
        return cio__malloc(n);
    if (injected_failure())
        return NULL;
    return user_realloc(p, n ? n : 1);
}

void cio__free(void *p) {
    if (!p)
        return;
    atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    user_free(p);
}

char *cio__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = cio__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

long cio__alloc_live(void) { return atomic_load(&live); }
CIO_API long cio__alloc_live_count(void) { return cio__alloc_live(); }
