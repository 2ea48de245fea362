/* mem_settle: run by bench/run.sh before every W1 program, so that each
 * one starts from the same state of the machine's free memory.
 *
 * On a VM whose balloon reports freed memory to the host, a program's
 * first touch of a page costs two to four times more when the host has
 * taken that page back than when it has not, and which it is depends on
 * what ran just before: right after a program that freed a lot, fresh
 * pages are still backed. W1 is mostly first touches, so its figures
 * followed the order of programs more than the programs. This touches and
 * frees the same amount of memory (in huge pages where the kernel gives
 * them) before each of them, whatever they are.
 *
 *   mem_settle [MiB]     default 256; prints nothing, exits 0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 256;
    if (mib < 1 || mib > 65536) {
        fprintf(stderr, "mem_settle: MiB must be 1 to 65536\n");
        return 2;
    }
    size_t len = (size_t)mib << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mem_settle: mmap");
        return 1;
    }
    madvise(p, len, MADV_HUGEPAGE);
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
    munmap(p, len);
    return 0;
}
