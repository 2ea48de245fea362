/* Task stacks: mmap'd with MAP_NORESERVE (pages are committed on first
 * touch), pooled warm for reuse, and checked for overflow.
 *
 * Stacks are carved from slabs of many stacks in one mapping, with an
 * untouched page under each and a canary (the top word of the stack under
 * it) checked at every switch. Where the kernel can make that page a guard
 * page without a mapping of its own (MADV_GUARD_INSTALL, Linux 6.13), it
 * does: every pooled stack then also has a guard page, a fault there is
 * reported with the task's name, and a million stacks still fit in a
 * default vm.max_map_count. On older kernels a guard page needs a mapping of its
 * own (mprotect splits one into two), and 65,530 are allowed by default:
 * the first stacks get separate guarded mappings, within a budget derived
 * from vm.max_map_count, and slab stacks beyond it are protected by a
 * canary checked at every switch. */
#define _GNU_SOURCE /* REG_RSP, for the stack pointer of a fault */
#include "core/runtime.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef CIO__ASAN
#include <sanitizer/asan_interface.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CIO__VALGRIND 1
#endif
#endif

#define SLAB_STACKS 256
#define WARM_MAX 1024 /* free stacks kept fully warm per pool */

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; older headers lack it */
#endif

/* Whether madvise(MADV_GUARD_INSTALL) works here: 1 yes, 0 no, -1 not yet
 * probed. The probe maps a page, advises it, and checks that the kernel
 * now refuses to read it (an emulator may accept the advice and ignore
 * it): once per process. */
static atomic_int slab_guards_known = -1;

static bool slab_guards(void) {
    int known = atomic_load_explicit(&slab_guards_known, memory_order_relaxed);
    if (cio__likely(known >= 0))
        return known;
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    known = 0;
    if (p != MAP_FAILED) {
        char byte;
        struct iovec here = {&byte, 1}, there = {p, 1};
        known = madvise(p, (size_t)page, MADV_GUARD_INSTALL) == 0 &&
                process_vm_readv(getpid(), &here, 1, &there, 1, 0) < 0 && errno == EFAULT;
        munmap(p, (size_t)page);
    }
    atomic_store_explicit(&slab_guards_known, known, memory_order_relaxed);
    return known;
}

/* Used by the tests: whether slab stacks get guard pages here. */
CIO_API bool cio__stack_slab_guards_work(void) { return slab_guards(); }

/* Used by the tests: pretend the kernel has no guard-page advice (0), or
 * probe it again (-1). */
CIO_API void cio__stack_slab_guards(int known) {
    atomic_store_explicit(&slab_guards_known, known, memory_order_relaxed);
}

static long budget_override = -1;

/* Used by the tests: the next loops' budget of separately guarded stacks
 * (-1: derived from vm.max_map_count again). */
CIO_API void cio__stack_guard_budget_override(long n) { budget_override = n; }

size_t cio__stack_guard_budget(void) {
    if (budget_override >= 0)
        return (size_t)budget_override;
    long max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max_maps) != 1)
            max_maps = 65530;
        fclose(f);
    }
    /* Two mappings per guarded stack; leave three quarters for slabs,
     * threads, malloc and the rest of the program. */
    return (size_t)(max_maps / 8);
}

static cio__stack_pool *pool_for(cio_loop *L, size_t size) {
    for (int i = 0; i < CIO__STACK_POOLS; i++) {
        cio__stack_pool *p = &L->pools[i];
        if (p->size == size)
            return p;
        if (p->size == 0) {
            p->size = size;
            return p;
        }
    }
    return NULL; /* unusual sizes: mapped and unmapped each time */
}

/* Writes the descriptor (with its top canary) at the top of a fresh stack
 * occupying [lo, lo + size). The bottom pages stay untouched. below is the
 * canary an overflow would clobber first: the top word of whatever lies
 * under the stack, or NULL for a guarded stack (which checks its own). */
static cio__stack *stack_init(char *lo, size_t size, const uint64_t *below) {
    bool guarded = below == NULL;
    _Static_assert(sizeof(cio__stack) <= 64, "stack descriptor must fit in 64 bytes");
    /* Placed so that top_canary is the very last word of the mapping. */
    cio__stack *s = (cio__stack *)(lo + size - sizeof(cio__stack));
    s->lo = lo;
    s->size = size - 64;
    s->next = NULL;
    s->all = NULL;
    s->guarded = guarded;
    s->top_canary = CIO__CANARY;
    /* Stacks are page-aligned, so every task's body and top frames would
     * share their low 12 address bits: a store to one and a load from the
     * next then collide (4K aliasing), and a thousand tasks' hot lines
     * would crowd a few cache sets. Start each stack at one of 48 cache
     * lines of its top page (the lowest 1 KiB is left for the frames of a
     * parked task, so it still touches one page). */
    static __thread unsigned next_color;
    s->color = (uint16_t)((next_color++ % 48) * 64);
    s->canary = guarded ? &s->top_canary : below;
#ifdef CIO__VALGRIND
    s->valgrind_id = VALGRIND_STACK_REGISTER(lo, lo + size);
#else
    s->valgrind_id = 0;
#endif
    return s;
}

static cio__stack *stack_new_guarded(cio_loop *L, size_t size) {
    char *base = mmap(NULL, size + L->page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mprotect(base, L->page, PROT_NONE) != 0) {
        munmap(base, size + L->page);
        return NULL;
    }
    cio__stack *s = stack_init(base + L->page, size, NULL);
    s->all = L->guarded_all;
    L->guarded_all = s;
    L->guarded_count++;
    return s;
}

static cio__stack *stack_new_slab(cio_loop *L, cio__stack_pool *p, size_t size) {
    /* Slab stacks sit one page further apart than their size: at a stride
     * of exactly 128 KiB every stack's top page would fall in the same few
     * sets of the TLB (indexed by the low bits of the page number), and a
     * loop switching among a few thousand tasks would miss it on each
     * switch. The page in between is never touched (no memory). */
    size_t stride = size + L->page;
    if (!p || p->slab + stride > p->slab_end) {
        /* One sentinel page first, whose top word guards the lowest stack. */
        size_t len = stride * (p ? SLAB_STACKS : 1) + L->page;
        char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED)
            return NULL;
        /* A huge page would commit 2 MiB for a task that touches 4 KiB. */
        madvise(base, len, MADV_NOHUGEPAGE);
        struct cio__slab *slab = cio__malloc(sizeof *slab);
        if (!slab) {
            munmap(base, len);
            return NULL;
        }
        slab->base = base;
        slab->len = len;
        slab->next = L->slabs;
        L->slabs = slab;
        *(uint64_t *)(base + L->page - 8) = CIO__CANARY;
        base += L->page;
        if (!p)
            return stack_init(base, size, (const uint64_t *)(base - 8));
        p->slab = base;
        p->slab_end = base + len - L->page;
    }
    char *slot = p->slab;
    p->slab += stride;
    /* The canary is the word under the slot: the lower neighbour's top
     * word, or the sentinel's. The slot's first page, under the stack,
     * also becomes a guard page if the kernel can; the canary stays, for
     * a frame larger than a page that jumps over the guard into the
     * neighbour's top (C code is often built without stack-clash
     * probes). */
    cio__stack *s = stack_init(slot + L->page, size, (const uint64_t *)(slot - 8));
    if (slab_guards() && madvise(slot, L->page, MADV_GUARD_INSTALL) == 0)
        s->guarded = true;
    return s;
}

/* Free warm stacks sit in an array (the stacks' own list only takes what
 * the array cannot hold), so that taking one can prefetch the descriptor,
 * and the TLB entry, of the one taken a few tasks later: when thousands of
 * parked tasks start in a row, each stack top has left the caches and the
 * TLB, and a linked list could only be walked one miss at a time. */
#define PREFETCH_AHEAD 4

static cio__stack *pop_warm(cio__stack_pool *p) {
    p->nfree--;
    if (p->nwarm == 0) {
        cio__stack *s = p->free;
        p->free = s->next;
        return s;
    }
    cio__stack *s = p->warm[--p->nwarm];
    if (p->nwarm >= PREFETCH_AHEAD)
        __builtin_prefetch(p->warm[p->nwarm - PREFETCH_AHEAD], 1);
    return s;
}

static void push_warm(cio__stack_pool *p, cio__stack *s) {
    p->nfree++;
    if (p->nwarm == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        cio__stack **v = cio__realloc(p->warm, cap * sizeof *v);
        if (!v) { /* keep it on the list instead */
            s->next = p->free;
            p->free = s;
            return;
        }
        p->warm = v;
        p->cap = cap;
    }
    p->warm[p->nwarm++] = s;
}

cio__stack *cio__stack_get(cio_loop *L, size_t size) {
    L->stack_last_get = cio__loop_now(L);
    cio__stack_pool *p = pool_for(L, size);
    if (p && p->nfree)
        return pop_warm(p);
    if (p && p->cold) { /* trimmed earlier: mapped, pages given back */
        cio__stack *s = p->cold;
        p->cold = s->next;
        p->ncold--;
        return s;
    }
    if (L->guarded_count < L->guard_budget && (!slab_guards() || !p))
        return stack_new_guarded(L, size);
    return stack_new_slab(L, p, size);
}

void cio__stack_put(cio_loop *L, cio__stack *s) {
    size_t size = s->size + 64;
#ifdef CIO__ASAN
    /* The task that ended here left its frames' redzones poisoned; the
     * next task on this stack must start from clean shadow memory. */
    __asan_unpoison_memory_region(s->lo, s->size);
#endif
    cio__stack_pool *p = pool_for(L, size);
    if (!p) {
        /* Odd sizes stay mapped until the loop closes; drop their pages. */
        madvise(s->lo, s->size & ~(L->page - 1), MADV_DONTNEED);
        return;
    }
    push_warm(p, s);
    if (p->nfree > WARM_MAX)
        L->trim_due = true;
}

/* Gives the pages of pooled stacks beyond the warm ones back to the kernel,
 * at most `budget` stacks per call. Called when the loop is idle, and only
 * once no stack has been taken for a second: a burst of finishing tasks
 * never pays a syscall each, and a workload that comes back in rounds
 * finds its stacks still warm. Returns how many stacks are still above
 * the warm limit (0 while trimming waits). */
size_t cio__stacks_trim(cio_loop *L, size_t budget) {
    if (cio__likely(!L->trim_due) || cio__loop_now(L) - L->stack_last_get < CIO_SEC)
        return 0;
    size_t left = 0;
    for (int i = 0; i < CIO__STACK_POOLS; i++) {
        cio__stack_pool *p = &L->pools[i];
        while (p->nfree > WARM_MAX && budget > 0) {
            cio__stack *st = pop_warm(p);
            size_t cold = (p->size - L->page) & ~(L->page - 1);
            madvise(st->lo, cold, MADV_DONTNEED);
            st->next = p->cold;
            p->cold = st;
            p->ncold++;
            budget--;
        }
        if (p->nfree > WARM_MAX)
            left += p->nfree - WARM_MAX;
    }
    L->trim_due = left > 0;
    return left;
}

void cio__stacks_free_all(cio_loop *L) {
    for (cio__stack *s = L->guarded_all, *n; s; s = n) {
        n = s->all;
#ifdef CIO__VALGRIND
        VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
        munmap(s->lo - L->page, s->size + 64 + L->page);
    }
    L->guarded_all = NULL;
    for (struct cio__slab *sl = L->slabs, *n; sl; sl = n) {
        n = sl->next;
        munmap(sl->base, sl->len);
        cio__free(sl);
    }
    L->slabs = NULL;
    for (int i = 0; i < CIO__STACK_POOLS; i++)
        cio__free(L->pools[i].warm);
    memset(L->pools, 0, sizeof L->pools);
}

void cio__stack_overflow(cio_task *t) {
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "cio: stack overflow in task '%s' (id %llu, stack %zu bytes); "
                     "give it a larger stack_size in cio_spawn_with\n",
                     cio_task_name(t), (unsigned long long)cio_task_id(t),
                     t->body->stack->size + 64);
    if (write(2, msg, (size_t)n) < 0) {
    }
    abort();
}

/* How far under its stack a task's stack pointer may have run before the
 * fault and still be called its overflow: a canary-only stack runs on
 * through its neighbours' memory, whole slabs of them, until something
 * faults. (Further away, the stack pointer is on some other stack.) */
#define SP_MARGIN ((size_t)1 << 30)

/* The stack pointer of the interrupted code, or NULL where unknown. */
__attribute__((unused)) static char *fault_sp(void *uc) {
    ucontext_t *u = uc;
#if defined(__x86_64__)
    return (char *)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (char *)u->uc_mcontext.sp;
#else
    (void)u;
    return NULL;
#endif
}

/* A fault inside the running task's guard page, or with its stack pointer
 * already under its stack (a slab stack without a guard page that ran on
 * through the memory below until it hit something unmapped), is an
 * overflow: name the task. Anything else is re-raised with the default
 * action. */
__attribute__((unused)) static void on_segv(int sig, siginfo_t *si, void *uc) {
    cio_loop *L = cio__tls_loop;
    cio_task *t = L ? L->cur : NULL;
    if (t && t->state == CIO__RUNNING) {
        char *addr = si->si_addr, *lo = t->body->stack->lo, *sp = fault_sp(uc);
        if (t->body->stack->guarded && addr < lo && addr >= lo - L->page - 4096)
            cio__stack_overflow(t);
        if (sp && sp < lo && (uintptr_t)lo - (uintptr_t)sp <= SP_MARGIN)
            cio__stack_overflow(t);
    }
    signal(sig, SIG_DFL);
}

/* The handler is process-wide and stays once installed (a fault it does not
 * recognise is re-raised with the default action); each loop thread gets
 * its own alternate signal stack, since an overflowed stack cannot run it. */
void cio__guard_handler_install(cio_loop *L) {
#ifndef CIO__ASAN
    struct sigaction old;
    if (sigaction(SIGSEGV, NULL, &old) != 0)
        return;
    bool ours = (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_segv;
    if (!ours && old.sa_handler != SIG_DFL)
        return; /* the program has its own handler: leave it alone */
    size_t alt = 64 * 1024;
    L->altstack = mmap(NULL, alt, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (L->altstack == MAP_FAILED) {
        L->altstack = NULL;
        return;
    }
    stack_t ss = {.ss_sp = L->altstack, .ss_size = alt, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    if (ours)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
#else
    (void)L;
#endif
}

void cio__guard_handler_remove(cio_loop *L) {
    if (!L->altstack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(L->altstack, 64 * 1024);
    L->altstack = NULL;
}

