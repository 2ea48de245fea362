/* Seed 001, "ブロッキングな処理を組み合わせたい場合": a blocking function
 * runs on a worker thread while the loop goes on, so gathering it with a
 * one-second sleep takes one second in all, not two.
 *
 *   def blocking_io():
 *       print(f"start blocking_io at {time.strftime('%X')}")
 *       time.sleep(1)
 *       print(f"blocking_io complete at {time.strftime('%X')}")
 *   async def main():
 *       print(f"started main at {time.strftime('%X')}")
 *       await asyncio.gather(
 *           asyncio.to_thread(blocking_io),
 *           asyncio.sleep(1))
 *       print(f"finished main at {time.strftime('%X')}")
 *
 * Prints (the clock times are the current ones, one second apart):
 *   started main at 05:22:01
 *   start blocking_io at 05:22:01
 *   blocking_io complete at 05:22:02
 *   finished main at 05:22:02
 */
#include <cio/core.h>
#include <cio/thread.h>

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *now_hms(char *buf) {
    time_t t = time(NULL);
    struct tm tm;
    strftime(buf, 16, "%X", localtime_r(&t, &tm));
    return buf;
}

/* Runs on a pool thread: blocking here stalls no task. */
static int blocking_io(void *arg) {
    (void)arg;
    char b[16];
    printf("start blocking_io at %s\n", now_hms(b));
    fflush(stdout);
    sleep(1); /* any blocking call: file operations, a C library without async API */
    printf("blocking_io complete at %s\n", now_hms(b));
    fflush(stdout);
    return 0;
}

static int to_thread_task(void *arg) { return cio_to_thread(blocking_io, arg); }
static int sleep_task(void *arg) {
    (void)arg;
    return cio_sleep(1 * CIO_SEC);
}

static int amain(void *arg) {
    (void)arg;
    char b[16];
    printf("started main at %s\n", now_hms(b));
    fflush(stdout);
    cio_task *ts[2] = {cio_spawn(to_thread_task, NULL), cio_spawn(sleep_task, NULL)};
    int rc = cio_gather(ts, 2, NULL);
    printf("finished main at %s\n", now_hms(b));
    return rc;
}

int main(void) { return cio_run(amain, NULL) == 0 ? 0 : 1; }
