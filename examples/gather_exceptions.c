/* gather(..., return_exceptions=True): one failure does not stop the
 * others; each result or error comes back in input order.
 *
 *   async def ok(x):   await asyncio.sleep(0.1); return x
 *   async def bad():   await asyncio.sleep(0.05); raise ValueError("bad input")
 *   async def main():
 *       results = await asyncio.gather(ok(1), bad(), ok(3), return_exceptions=True)
 *       for r in results:
 *           print(type(r).__name__, r)
 */
#include <cio.h>
#include <stdio.h>

static int ok(void *arg) {
    int rc = cio_sleep(100 * CIO_MS);
    return rc < 0 ? rc : (int)(intptr_t)arg;
}

static int bad(void *arg) {
    (void)arg;
    int rc = cio_sleep(50 * CIO_MS);
    if (rc < 0)
        return rc;
    return cio_seterr(-EINVAL, "bad input");
}

static int main_task(void *arg) {
    (void)arg;
    cio_task *ts[3] = {cio_spawn(ok, (void *)1), cio_spawn(bad, NULL), cio_spawn(ok, (void *)3)};
    int status[3];
    int first = cio_gather(ts, 3, status);
    for (int i = 0; i < 3; i++) {
        if (status[i] >= 0)
            printf("int %d\n", status[i]);
        else
            printf("error %s\n", cio_strerror(status[i]));
    }
    printf("first error: %s (%s)\n", cio_strerror(first), cio_errmsg());
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
