/* asyncio.gather: waits for every task and returns their results in the
 * order the tasks were given, whatever order they finish in.
 *
 *   async def square(x, delay):
 *       await asyncio.sleep(delay)
 *       print(f"square({x}) done")
 *       return x * x
 *   async def main():
 *       results = await asyncio.gather(square(2, 0.3), square(3, 0.1), square(4, 0.2))
 *       print(results)
 */
#include <cio.h>
#include <stdio.h>

typedef struct {
    int x;
    int64_t delay;
} square_args;

static int square(void *arg) {
    square_args *a = arg;
    int rc = cio_sleep(a->delay);
    if (rc < 0)
        return rc;
    printf("square(%d) done\n", a->x);
    return a->x * a->x;
}

static int main_task(void *arg) {
    (void)arg;
    square_args args[3] = {{2, 300 * CIO_MS}, {3, 100 * CIO_MS}, {4, 200 * CIO_MS}};
    cio_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = cio_spawn(square, &args[i]);
    int results[3];
    int rc = cio_gather(ts, 3, results);
    if (rc < 0)
        return rc;
    printf("[%d, %d, %d]\n", results[0], results[1], results[2]);
    return 0;
}

int main(void) { return cio_run(main_task, NULL) < 0 ? 1 : 0; }
