/* Timeouts: asyncio.timeout() around a block, and asyncio.wait_for().
 *
 *   async def slow():
 *       await asyncio.sleep(10)
 *   async def main():
 *       try:
 *           async with asyncio.timeout(1):
 *               await slow()
 *       except TimeoutError:
 *           print("timeout: slow() took too long")
 *       try:
 *           await asyncio.wait_for(slow(), timeout=0.5)
 *       except TimeoutError:
 *           print("wait_for: gave up after 0.5 s")
 */
#include <cio.h>
#include <stdio.h>

static int slow(void *arg) {
    (void)arg;
    return cio_sleep(10 * CIO_SEC);
}

static int main_task(void *arg) {
    (void)arg;
    int64_t t0 = cio_now();
    int rc = 0;
    CIO_TIMEOUT(1 * CIO_SEC) {
        rc = slow(NULL);
    }
    if (rc == -ETIMEDOUT)
        printf("timeout: slow() took too long (%.1f s)\n", (double)(cio_now() - t0) / CIO_SEC);

    t0 = cio_now();
    rc = cio_wait_for(cio_spawn(slow, NULL), 500 * CIO_MS);
    if (rc == -ETIMEDOUT)
        printf("wait_for: gave up after %.1f s\n", (double)(cio_now() - t0) / CIO_SEC);
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
