/* asyncio.as_completed: results in the order the tasks finish.
 *
 *   async def work(name, delay):
 *       await asyncio.sleep(delay)
 *       return name, delay
 *   async def main():
 *       tasks = [work("A", 0.3), work("B", 0.1), work("C", 0.2)]
 *       for coroutine in asyncio.as_completed(tasks):
 *           a, b = await coroutine
 *           print(a, b)
 */
#include <cio.h>
#include <stdio.h>

typedef struct {
    const char *name;
    int64_t delay;
} work_args;

static int work(void *arg) {
    work_args *w = arg;
    return cio_sleep(w->delay);
}

static int main_task(void *arg) {
    (void)arg;
    work_args args[3] = {{"A", 300 * CIO_MS}, {"B", 100 * CIO_MS}, {"C", 200 * CIO_MS}};
    cio_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = cio_spawn(work, &args[i]);
    cio_as_completed *it = cio_as_completed_new(ts, 3);
    if (!it)
        return -ENOMEM;
    cio_task *done;
    while (cio_as_completed_next(it, &done) == 0) {
        work_args *w = NULL;
        for (int i = 0; i < 3; i++)
            if (ts[i] == done)
                w = &args[i];
        if (cio_join(done) == 0)
            printf("%s %.1f\n", w->name, (double)w->delay / CIO_SEC);
    }
    cio_as_completed_free(it);
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
