/* Context switch between a task and the loop or another task.
 *
 * The switch is hand-written inline assembly: it stores the stack pointer,
 * frame pointer and a resume address, then jumps (not `ret`s) to the other
 * side's resume address. Every other register is declared clobbered, so
 * the compiler saves only what is live at the single place the switch is
 * inlined. A jump keeps the return-address predictor in step, which a
 * push/pop/ret switch on another stack does not (see docs/decisions.md).
 * CIO_SWITCH=ucontext at configure time selects swapcontext instead. */
#ifndef CIO_ARCH_SWITCH_H
#define CIO_ARCH_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#if defined(CIO_SWITCH_ASM) && (defined(__x86_64__) || defined(__aarch64__))

typedef struct cio__ctx {
    void *sp;
    void *pc;
    void *fp;
} cio__ctx;

/* Prepares ctx so that switching to it calls entry() on the stack
 * [lo, lo + size), with no return address to go back to. */
static inline void cio__ctx_make(cio__ctx *ctx, void *lo, size_t size, void (*entry)(void)) {
    uintptr_t sp = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    sp -= 8; /* as if entry had been called: rsp % 16 == 8 at its start */
    *(void **)sp = NULL;
#endif
    ctx->sp = (void *)sp;
    ctx->pc = (void *)entry;
    ctx->fp = NULL;
}

/* The saved stack pointer (for prefetching the frames a switch resumes). */
static inline void *cio__ctx_sp(const cio__ctx *ctx) { return ctx->sp; }

#if defined(__x86_64__)
static inline __attribute__((always_inline)) void cio__ctx_switch(cio__ctx *from,
                                                                  cio__ctx *to) {
    __asm__ __volatile__("leaq 1f(%%rip), %%rax\n\t"
                         "movq %%rsp, 0(%[from])\n\t"
                         "movq %%rax, 8(%[from])\n\t"
                         "movq %%rbp, 16(%[from])\n\t"
                         "movq 16(%[to]), %%rbp\n\t"
                         "movq 0(%[to]), %%rsp\n\t"
                         "jmpq *8(%[to])\n"
                         "1:\n\t"
                         : [from] "+D"(from), [to] "+S"(to)
                         :
                         : "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12",
                           "r13", "r14", "r15", "memory", "cc", "xmm0", "xmm1", "xmm2",
                           "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                           "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st",
                           "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
}
#else /* aarch64 */
static inline __attribute__((always_inline)) void cio__ctx_switch(cio__ctx *from,
                                                                  cio__ctx *to) {
    register cio__ctx *f __asm__("x0") = from;
    register cio__ctx *t __asm__("x1") = to;
    __asm__ __volatile__("adr x9, 1f\n\t"
                         "mov x10, sp\n\t"
                         "str x10, [%[from], #0]\n\t"
                         "str x9, [%[from], #8]\n\t"
                         "str x29, [%[from], #16]\n\t"
                         "ldr x29, [%[to], #16]\n\t"
                         "ldr x10, [%[to], #0]\n\t"
                         "mov sp, x10\n\t"
                         "ldr x9, [%[to], #8]\n\t"
                         "br x9\n"
                         "1:\n\t"
                         : [from] "+r"(f), [to] "+r"(t)
                         :
                         : "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
                           "x12", "x13", "x14", "x15", "x16", "x17", "x19", "x20", "x21",
                           "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x30",
                           "memory", "cc", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7",
                           "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16",
                           "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25",
                           "v26", "v27", "v28", "v29", "v30", "v31");
}
#endif

#else /* portable fallback */
#define CIO_SWITCH_UCONTEXT 1
#include <ucontext.h>

typedef struct cio__ctx {
    ucontext_t uc;
} cio__ctx;

static inline void cio__ctx_make(cio__ctx *ctx, void *lo, size_t size, void (*entry)(void)) {
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, entry, 0);
}
static inline void cio__ctx_switch(cio__ctx *from, cio__ctx *to) {
    swapcontext(&from->uc, &to->uc);
}
static inline void *cio__ctx_sp(const cio__ctx *ctx) { return (void *)ctx; }
#endif

#endif
