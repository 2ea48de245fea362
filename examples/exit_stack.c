/* Seed 000, "AsyncExitStack": resources entered dynamically, released LIFO.
 *
 *   @asynccontextmanager
 *   async def resource(name):
 *       print(f"{name} 確保"); yield name; print(f"{name} 解放")
 *   async def main():
 *       async with AsyncExitStack() as stack:
 *           r1 = await stack.enter_async_context(resource("A"))
 *           r2 = await stack.enter_async_context(resource("B"))
 *           print(f"使用中: {r1}, {r2}")
 *
 * Prints:
 *   A 確保
 *   B 確保
 *   使用中: A, B
 *   B 解放
 *   A 解放
 */
#include <cio.h>

#include <stdio.h>

static int resource(cio_gencm *g, void *name) {
    printf("%s 確保\n", (const char *)name);
    int status = cio_gencm_yield(g, name);
    printf("%s 解放\n", (const char *)name);
    return status;
}

static int amain(void *arg) {
    (void)arg;
    cio_gencm a, b;
    cio_gencm_init(&a, resource, "A");
    cio_gencm_init(&b, resource, "B");
    cio_exitstack stack = CIO_EXITSTACK_INIT;
    void *r1, *r2;
    int rc = cio_exitstack_enter(&stack, &a.cm, &r1);
    if (rc == 0)
        rc = cio_exitstack_enter(&stack, &b.cm, &r2);
    if (rc == 0)
        printf("使用中: %s, %s\n", (const char *)r1, (const char *)r2);
    /* closes whatever was entered, on success and on error alike */
    return cio_exitstack_close(&stack, rc);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(amain, NULL);
    if (rc < 0)
        fprintf(stderr, "exit_stack: %s\n", cio_errmsg());
    return rc < 0;
}
