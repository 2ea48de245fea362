/* Seed 000, "@asynccontextmanager デコレータ": a generator-style manager.
 *
 *   @asynccontextmanager
 *   async def async_timer(label):
 *       start = asyncio.get_event_loop().time()
 *       print(f"{label} 開始")
 *       yield
 *       elapsed = asyncio.get_event_loop().time() - start
 *       print(f"{label} 完了: {elapsed:.2f}秒")
 *   async def main():
 *       async with async_timer("データ取得"):
 *           await asyncio.sleep(1)
 *
 * Prints, over 1 second:
 *   データ取得 開始
 *   データ取得 完了: 1.00秒
 */
#include <cio.h>

#include <stdio.h>

static int async_timer(cio_gencm *g, void *label) {
    int64_t start = cio_now();
    printf("%s 開始\n", (const char *)label);
    int status = cio_gencm_yield(g, NULL); /* the body of the with runs here */
    double elapsed = (double)(cio_now() - start) / CIO_SEC;
    printf("%s 完了: %.2f秒\n", (const char *)label, elapsed);
    return status;
}

static int amain(void *arg) {
    (void)arg;
    cio_gencm timer;
    cio_gencm_init(&timer, async_timer, "データ取得");
    int rc;
    CIO_WITH(&timer.cm, rc) {
        rc = cio_sleep(CIO_SEC);
    }
    return rc;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(amain, NULL);
    if (rc < 0)
        fprintf(stderr, "async_timer: %s\n", cio_errmsg());
    return rc < 0;
}
