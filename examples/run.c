/* asyncio.run(main()) — the entry point.
 *
 *   async def main():
 *       print("hello")
 *       await asyncio.sleep(1)
 *       print("world")
 *   asyncio.run(main())
 */
#include <cio.h>
#include <stdio.h>

static int main_task(void *arg) {
    (void)arg;
    printf("hello\n");
    int rc = cio_sleep(1 * CIO_SEC);
    if (rc < 0)
        return rc;
    printf("world\n");
    return 0;
}

int main(void) {
    int rc = cio_run(main_task, NULL);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", cio_errmsg());
    return rc < 0 ? 1 : 0;
}
