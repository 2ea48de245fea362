/* Suspending public functions return to their caller by an indirect jump.
 *
 * Why: the CPU predicts a `ret` from its return-address stack, which after
 * a switch holds the addresses the *other* task's calls pushed. A task
 * resumed inside cio_event_wait returns to its own call site, so when two
 * tasks hand off from different places (a pinger and a ponger, a producer
 * and a consumer) that return is mispredicted on every switch: about 14 ns,
 * as much as the whole rest of a hand-off. An indirect jump is predicted
 * from the recent branch history instead, which tells the two tasks apart.
 *
 *     CIO__JUMP_RETURN(int, cio_event_wait)(cio_event *e) { ... }
 *
 * defines the C body as cio_event_wait__body (hidden) and cio_event_wait
 * as a small stub that calls the body with every argument register
 * untouched and returns with `pop; jmp` (x86_64) or `br x30` (aarch64),
 * leaving the result registers alone. Only for functions whose arguments
 * all travel in registers (at most six integer ones).
 *
 * The stub costs about a nanosecond, so a function with a fast path that
 * does not suspend (an uncontended lock, a queue with items) keeps that
 * path in an ordinary public function and tail-calls a stubbed slow path
 * declared CIO__HIDDEN and defined with CIO__JUMP_RETURN_HIDDEN: the slow
 * path then returns straight to the public function's caller.
 *
 * Without the assembly switch, or where control-flow protection (CET, BTI,
 * pointer authentication) expects every return to be a `ret`, the macro is
 * an ordinary definition. */
#ifndef CIO_ARCH_JUMP_RETURN_H
#define CIO_ARCH_JUMP_RETURN_H

#if defined(CIO_SWITCH_ASM) && defined(__x86_64__) && !defined(__CET__)
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
/* A frame-pointer frame, for the frame-pointer unwinders of the sanitizers
 * and of builds that keep frame pointers. */
#define CIO__JR_ENTER                                                                     \
    "pushq %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset %rbp, -16\n"                        \
    "movq %rsp, %rbp\n.cfi_def_cfa_register %rbp\n"
#define CIO__JR_LEAVE "popq %rbp\n.cfi_def_cfa %rsp, 8\n.cfi_restore %rbp\n"
#else
/* Only the alignment the call needs (the rest of the build omits frame
 * pointers too); debuggers unwind through the CFI. */
#define CIO__JR_ENTER "subq $8, %rsp\n.cfi_def_cfa_offset 16\n"
#define CIO__JR_LEAVE "addq $8, %rsp\n.cfi_def_cfa_offset 8\n"
#endif
#define CIO__JUMP_RETURN_STUB(name, vis)                                                  \
    __asm__(".text\n"                                                                     \
            ".p2align 4\n"                                                                \
            ".globl " #name "\n" vis                                                      \
            ".type " #name ", @function\n" #name ":\n"                                    \
            ".cfi_startproc\n" CIO__JR_ENTER "call " #name "__body\n" CIO__JR_LEAVE       \
            "popq %rcx\n"                                                                 \
            ".cfi_def_cfa_offset 0\n"                                                     \
            ".cfi_register 16, 2\n" /* the return address is in rcx */                  \
            "jmpq *%rcx\n"                                                                \
            ".cfi_endproc\n"                                                              \
            ".size " #name ", .-" #name "\n");
#elif defined(CIO_SWITCH_ASM) && defined(__aarch64__) && !defined(__ARM_FEATURE_BTI_DEFAULT) && \
    !defined(__ARM_FEATURE_PAC_DEFAULT)
#define CIO__JUMP_RETURN_STUB(name, vis)                                                  \
    __asm__(".text\n"                                                                     \
            ".p2align 2\n"                                                                \
            ".globl " #name "\n" vis                                                      \
            ".type " #name ", %function\n" #name ":\n"                                    \
            ".cfi_startproc\n"                                                            \
            "stp x29, x30, [sp, #-16]!\n"                                                 \
            ".cfi_def_cfa_offset 16\n"                                                    \
            ".cfi_offset x29, -16\n"                                                      \
            ".cfi_offset x30, -8\n"                                                       \
            "mov x29, sp\n"                                                               \
            "bl " #name "__body\n"                                                        \
            "ldp x29, x30, [sp], #16\n"                                                   \
            ".cfi_def_cfa_offset 0\n"                                                     \
            ".cfi_restore x29\n"                                                          \
            ".cfi_restore x30\n"                                                          \
            "br x30\n"                                                                    \
            ".cfi_endproc\n"                                                              \
            ".size " #name ", .-" #name "\n");
#endif

#ifdef CIO__JUMP_RETURN_STUB
/* noclone (GCC): the body keeps the calling convention the stub assumes. */
#ifdef __clang__
#define CIO__JR_BODY_ATTRS __attribute__((visibility("hidden"), noinline, used))
#else
#define CIO__JR_BODY_ATTRS __attribute__((visibility("hidden"), noinline, noclone, used))
#endif
#define CIO__JUMP_RETURN(type, name)                                                      \
    CIO__JUMP_RETURN_STUB(name, "") CIO__JR_BODY_ATTRS type name##__body
#define CIO__JUMP_RETURN_HIDDEN(type, name)                                               \
    CIO__JUMP_RETURN_STUB(name, ".hidden " #name "\n") CIO__JR_BODY_ATTRS type name##__body
#else
#define CIO__JUMP_RETURN(type, name) type name
#define CIO__JUMP_RETURN_HIDDEN(type, name) type name
#endif

#endif
