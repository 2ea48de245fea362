/* Seed 001, "コンテキスト変数": each task sees its own value.
 *
 *   id_var = contextvars.ContextVar("Var", default="blank")
 *   async def func_c(id):
 *       print(id_var.get()); id_var.set(id); print(id_var.get())
 *   async def func_b(id):
 *       id_var.set(id); print(id_var.get())
 *       await asyncio.gather(func_c((id, 1)), func_c((id, 2)))
 *       print(id_var.get())   # still id: the children's sets do not leak up
 *   async def func_a():
 *       await asyncio.gather(func_b(1), func_b(2))
 *
 * Prints (values as Python prints them):
 *   1 / 2 / 1 / (1, 1) / 1 / (1, 2) / 2 / (2, 1) / 2 / (2, 2) / 1 / 2
 * one per line.
 */
#include <cio.h>

#include <stdio.h>

static cio_ctxvar id_var = CIO_CTXVAR_INIT("Var", "blank");

static int func_c(void *id) {
    printf("%s\n", (const char *)cio_ctxvar_get(&id_var));
    cio_ctxvar_set(&id_var, id, NULL);
    printf("%s\n", (const char *)cio_ctxvar_get(&id_var));
    return 0;
}

static int func_b(void *id) {
    cio_ctxvar_set(&id_var, id, NULL);
    printf("%s\n", (const char *)cio_ctxvar_get(&id_var));
    char c1[16], c2[16]; /* outlive the children: gather waits for them */
    snprintf(c1, sizeof c1, "(%s, 1)", (const char *)id);
    snprintf(c2, sizeof c2, "(%s, 2)", (const char *)id);
    cio_task *t[2] = {cio_spawn(func_c, c1), cio_spawn(func_c, c2)};
    int rc = cio_gather(t, 2, NULL);
    printf("%s\n", (const char *)cio_ctxvar_get(&id_var));
    return rc;
}

static int func_a(void *arg) {
    (void)arg;
    cio_task *t[2] = {cio_spawn(func_b, "1"), cio_spawn(func_b, "2")};
    return cio_gather(t, 2, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(func_a, NULL);
    if (rc < 0)
        fprintf(stderr, "contextvars: %s\n", cio_errmsg());
    return rc < 0;
}
