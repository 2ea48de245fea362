/* asyncio.create_task: two tasks run concurrently, so the whole takes
 * about 2 s, not 3.
 *
 *   async def say_after(delay, what):
 *       await asyncio.sleep(delay)
 *       print(what)
 *   async def main():
 *       t1 = asyncio.create_task(say_after(1, "hello"))
 *       t2 = asyncio.create_task(say_after(2, "world"))
 *       print(f"started at {time.strftime('%X')}")
 *       await t1
 *       await t2
 *       print(f"finished at {time.strftime('%X')}")
 */
#include <cio.h>
#include <stdio.h>

typedef struct {
    int64_t delay;
    const char *what;
} say_args;

static int say_after(void *arg) {
    say_args *a = arg;
    int rc = cio_sleep(a->delay);
    if (rc < 0)
        return rc;
    printf("%s\n", a->what);
    return 0;
}

static int main_task(void *arg) {
    (void)arg;
    say_args a1 = {1 * CIO_SEC, "hello"}, a2 = {2 * CIO_SEC, "world"};
    int64_t start = cio_now();
    cio_task *t1 = cio_spawn(say_after, &a1);
    cio_task *t2 = cio_spawn(say_after, &a2);
    printf("started\n");
    cio_join(t1);
    cio_join(t2);
    printf("finished after %.1f s\n", (double)(cio_now() - start) / CIO_SEC);
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
