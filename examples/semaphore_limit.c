/* Seed 001, "Semaphore": at most 5 connections at a time. The seed's
 * sketch, completed so that it runs (12 items, each holds its connection
 * for a second):
 *
 *   connection_semaphore = None; connections = []; limit_connection_num = 5
 *   max_connections = 0
 *   async def some_proc_to_connection(item):
 *       global max_connections
 *       async with connection_semaphore:
 *           connections.append(item)
 *           max_connections = max(max_connections, len(connections))
 *           print(f"接続開始: {item} (接続数 {len(connections)})")
 *           await asyncio.sleep(1)  # 接続を使う
 *           connections.remove(item)
 *   async def main():
 *       global connection_semaphore
 *       connection_semaphore = asyncio.Semaphore(limit_connection_num)
 *       await asyncio.gather(*[some_proc_to_connection(i) for i in range(12)])
 *       print(f"最大同時接続数: {max_connections}")
 *
 * Prints, over 3 seconds: items 0-4 start at 0 s (接続数 1..5), 5-9 at 1 s
 * (1..5), 10-11 at 2 s (1..2), then "最大同時接続数: 5".
 */
#include <cio.h>

#include <stdio.h>

#define ITEMS 12

static cio_sem connection_semaphore;
static int limit_connection_num = 5;
static int connections, max_connections;

static int some_proc_to_connection(void *arg) {
    int item = (int)(intptr_t)arg, rc;
    CIO_SEM_HELD(&connection_semaphore, rc) {
        connections++;
        if (connections > max_connections)
            max_connections = connections;
        printf("接続開始: %d (接続数 %d)\n", item, connections);
        rc = cio_sleep(CIO_SEC); /* use the connection */
        connections--;
    }
    return rc;
}

static int amain(void *arg) {
    (void)arg;
    cio_sem_init(&connection_semaphore, limit_connection_num, false);
    cio_task *t[ITEMS];
    for (int i = 0; i < ITEMS; i++)
        t[i] = cio_spawn(some_proc_to_connection, (void *)(intptr_t)i);
    int rc = cio_gather(t, ITEMS, NULL);
    printf("最大同時接続数: %d\n", max_connections);
    return rc;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(amain, NULL);
    if (rc < 0)
        fprintf(stderr, "semaphore_limit: %s\n", cio_errmsg());
    return rc < 0;
}
