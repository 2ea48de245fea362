/* Exceptions with as_completed: handle each failure as it comes.
 *
 *   for coroutine in asyncio.as_completed(coroutines):
 *       try:
 *           await coroutine
 *       except Exception:
 *           print("Exception")
 */
#include <cio.h>
#include <stdio.h>

static int job(void *arg) {
    int n = (int)(intptr_t)arg;
    int rc = cio_sleep(n * 100 * CIO_MS);
    if (rc < 0)
        return rc;
    if (n % 2 == 0)
        return cio_seterr(-EIO, "job %d failed", n);
    return n;
}

static int main_task(void *arg) {
    (void)arg;
    cio_task *ts[4];
    for (int i = 0; i < 4; i++)
        ts[i] = cio_spawn(job, (void *)(intptr_t)(4 - i));
    cio_as_completed *it = cio_as_completed_new(ts, 4);
    if (!it)
        return -ENOMEM;
    cio_task *done;
    while (cio_as_completed_next(it, &done) == 0) {
        int r = cio_join(done);
        if (r < 0)
            printf("Exception: %s\n", cio_errmsg());
        else
            printf("result %d\n", r);
    }
    cio_as_completed_free(it);
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
