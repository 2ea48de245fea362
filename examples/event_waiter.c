/* Seed 001, "Events": a task waits until main sets the event.
 *
 *   async def waiter(event):
 *       print('waiting for it ...'); await event.wait(); print('... got it!')
 *   async def main():
 *       event = asyncio.Event()
 *       waiter_task = asyncio.create_task(waiter(event))
 *       await asyncio.sleep(1)
 *       event.set()
 *       await waiter_task
 *
 * Prints, over 1 second:
 *   waiting for it ...
 *   ... got it!
 */
#include <cio.h>

#include <stdio.h>

static int waiter(void *arg) {
    printf("waiting for it ...\n");
    int rc = cio_event_wait(arg);
    if (rc < 0)
        return rc;
    printf("... got it!\n");
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    cio_event event = CIO_EVENT_INIT;
    cio_task *waiter_task = cio_spawn(waiter, &event);
    cio_sleep(CIO_SEC);
    cio_event_set(&event);
    return cio_join(waiter_task);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(amain, NULL);
    if (rc < 0)
        fprintf(stderr, "event_waiter: %s\n", cio_errmsg());
    return rc < 0;
}
