/* asyncio.shield(): cancelling the waiter does not cancel the shielded
 * task, which finishes its work; its result can still be collected.
 *
 *   async def save():
 *       await asyncio.sleep(1)
 *       print("saved")
 *       return "ok"
 *   async def waiter(t):
 *       try:
 *           await asyncio.shield(t)
 *       except asyncio.CancelledError:
 *           print("waiter cancelled; save goes on")
 *           raise
 *   async def main():
 *       t = asyncio.create_task(save())
 *       w = asyncio.create_task(waiter(t))
 *       await asyncio.sleep(0.5)
 *       w.cancel()
 *       print("result:", await t)
 */
#include <cio.h>
#include <stdio.h>

static int save(void *arg) {
    (void)arg;
    int rc = cio_sleep(1 * CIO_SEC);
    if (rc < 0)
        return rc;
    printf("saved\n");
    return 200;
}

static int waiter(void *arg) {
    int rc = cio_shield(arg);
    if (rc == -ECANCELED)
        printf("waiter cancelled; save goes on\n");
    return rc;
}

static int main_task(void *arg) {
    (void)arg;
    cio_task *t = cio_spawn(save, NULL);
    cio_task *w = cio_spawn(waiter, t);
    cio_sleep(500 * CIO_MS);
    cio_cancel(w);
    cio_join(w);
    printf("result: %d\n", cio_join(t));
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
