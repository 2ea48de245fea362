/* task.cancel(): the task sees the cancellation at its next await, may
 * clean up, and whoever awaits it learns it was cancelled.
 *
 *   async def worker():
 *       try:
 *           while True:
 *               print("working")
 *               await asyncio.sleep(0.4)
 *       except asyncio.CancelledError:
 *           print("worker: cancelled, cleaning up")
 *           raise
 *   async def main():
 *       task = asyncio.create_task(worker())
 *       await asyncio.sleep(1)
 *       task.cancel()
 *       try:
 *           await task
 *       except asyncio.CancelledError:
 *           print("main: worker is cancelled")
 */
#include <cio.h>
#include <stdio.h>

static int worker(void *arg) {
    (void)arg;
    for (;;) {
        printf("working\n");
        int rc = cio_sleep(400 * CIO_MS);
        if (rc == -ECANCELED) {
            printf("worker: cancelled, cleaning up\n");
            return rc;
        }
    }
}

static int main_task(void *arg) {
    (void)arg;
    cio_task *task = cio_spawn(worker, NULL);
    cio_sleep(1 * CIO_SEC);
    cio_cancel(task);
    if (cio_join(task) == -ECANCELED)
        printf("main: worker is cancelled\n");
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
