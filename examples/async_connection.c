/* Seed 000, "クラスベースの実装": a class-style async context manager.
 *
 *   class AsyncConnection:
 *       async def __aenter__(self):
 *           print(f"{self.host} に接続中..."); await asyncio.sleep(1); print("接続完了")
 *           return self
 *       async def __aexit__(self, exc_type, exc_val, exc_tb):
 *           print("切断中..."); await asyncio.sleep(0.5); print("切断完了")
 *       async def fetch(self, path):
 *           await asyncio.sleep(0.5); return f"Data from {self.host}{path}"
 *   async def main():
 *       async with AsyncConnection("example.com") as conn:
 *           data = await conn.fetch("/api/data"); print(data)
 *
 * Prints, over 2 seconds:
 *   example.com に接続中...
 *   接続完了
 *   Data from example.com/api/data
 *   切断中...
 *   切断完了
 */
#include <cio.h>

#include <stdio.h>

typedef struct async_connection {
    const char *host;
} async_connection;

static int conn_enter(void *self, void **as) {
    async_connection *c = self;
    printf("%s に接続中...\n", c->host);
    int rc = cio_sleep(CIO_SEC); /* simulate connecting */
    if (rc < 0)
        return rc;
    printf("接続完了\n");
    *as = c;
    return 0;
}

/* Runs even when the body failed or was cancelled; status is its result. */
static int conn_exit(void *self, int status) {
    (void)self;
    printf("切断中...\n");
    cio_sleep(CIO_SEC / 2); /* simulate disconnecting */
    printf("切断完了\n");
    return status;
}

static int conn_fetch(async_connection *c, const char *path, char *out, size_t n) {
    int rc = cio_sleep(CIO_SEC / 2);
    if (rc < 0)
        return rc;
    snprintf(out, n, "Data from %s%s", c->host, path);
    return 0;
}

static int body(void *arg) {
    char data[256];
    int rc = conn_fetch(arg, "/api/data", data, sizeof data);
    if (rc < 0)
        return rc;
    printf("%s\n", data);
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    async_connection conn = {"example.com"};
    cio_cm cm = {conn_enter, conn_exit, &conn};
    return cio_with(&cm, body, &conn);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(amain, NULL);
    if (rc < 0)
        fprintf(stderr, "async_connection: %s\n", cio_errmsg());
    return rc < 0;
}
