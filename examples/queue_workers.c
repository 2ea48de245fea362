/* Seed 001, "Queues": a worker pool crawling pages through a queue, with
 * task_done per get and join waiting for all of them. The seed crawls
 * Wikipedia; this port crawls a small built-in site so that it runs
 * offline and always prints the same thing. Python equivalent:
 *
 *   SITE = {"/wiki/Python": ["/wiki/Asyncio", "/wiki/CPython"],
 *           "/wiki/Asyncio": ["/wiki/Coroutine", "/wiki/Python"],
 *           "/wiki/CPython": ["/wiki/C", "/wiki/Python"],
 *           "/wiki/Coroutine": ["/wiki/Asyncio"], "/wiki/C": []}
 *   FETCH = {"/wiki/Python": 0.3, "/wiki/Asyncio": 0.2, "/wiki/CPython": 0.5,
 *            "/wiki/Coroutine": 0.1, "/wiki/C": 0.4}
 *   async def worker(task_queue, visited):
 *       while True:
 *           url = await task_queue.get()
 *           if url in visited:
 *               task_queue.task_done(); continue
 *           visited.add(url)
 *           await asyncio.sleep(FETCH[url])  # fetch the page
 *           print(f"取得: {url} (リンク {len(SITE[url])} 件)")
 *           for link in SITE[url]:
 *               await task_queue.put(link)
 *           task_queue.task_done()
 *   async def main():
 *       task_queue = asyncio.Queue(); visited = set()
 *       await task_queue.put("/wiki/Python")
 *       workers = [asyncio.create_task(worker(task_queue, visited)) for _ in range(3)]
 *       await task_queue.join()  # すべてのタスクが終わるまで待つ。
 *       print(f"完了: {len(visited)} ページ")
 *       for w in workers: w.cancel()
 *       await asyncio.gather(*workers, return_exceptions=True)
 *
 * Prints, over 1.2 seconds:
 *   取得: /wiki/Python (リンク 2 件)
 *   取得: /wiki/Asyncio (リンク 2 件)
 *   取得: /wiki/Coroutine (リンク 1 件)
 *   取得: /wiki/CPython (リンク 2 件)
 *   取得: /wiki/C (リンク 0 件)
 *   完了: 5 ページ
 */
#include <cio.h>

#include <stdio.h>
#include <string.h>

#define NPAGES 5
#define WORKERS 3

static const struct page {
    const char *url;
    int64_t fetch_ms;
    const char *links[2];
} site[NPAGES] = {
    {"/wiki/Python", 300, {"/wiki/Asyncio", "/wiki/CPython"}},
    {"/wiki/Asyncio", 200, {"/wiki/Coroutine", "/wiki/Python"}},
    {"/wiki/CPython", 500, {"/wiki/C", "/wiki/Python"}},
    {"/wiki/Coroutine", 100, {"/wiki/Asyncio", NULL}},
    {"/wiki/C", 400, {NULL, NULL}},
};

static cio_queue task_queue;
static bool visited[NPAGES];
static int nvisited;

static const struct page *find(const char *url) {
    for (int i = 0; i < NPAGES; i++)
        if (strcmp(site[i].url, url) == 0)
            return &site[i];
    return NULL;
}

static int worker(void *arg) {
    (void)arg;
    for (;;) {
        void *item;
        int rc = cio_queue_get(&task_queue, &item);
        if (rc < 0)
            return rc == -ECANCELED ? 0 : rc; /* cancelled once the work is done */
        const struct page *p = find(item);
        if (!p || visited[p - site]) {
            cio_queue_task_done(&task_queue);
            continue;
        }
        visited[p - site] = true;
        nvisited++;
        if ((rc = cio_sleep(p->fetch_ms * CIO_MS)) < 0) /* fetch the page */
            return rc == -ECANCELED ? 0 : rc;
        int nlinks = (p->links[0] != NULL) + (p->links[1] != NULL);
        printf("取得: %s (リンク %d 件)\n", p->url, nlinks);
        for (int i = 0; i < nlinks; i++)
            cio_queue_put(&task_queue, (void *)p->links[i]);
        cio_queue_task_done(&task_queue);
    }
}

static int amain(void *arg) {
    (void)arg;
    int rc = cio_queue_init(&task_queue, CIO_QUEUE_FIFO, 0);
    if (rc < 0)
        return rc;
    cio_queue_put(&task_queue, "/wiki/Python");
    cio_task *workers[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        workers[i] = cio_spawn(worker, NULL);
    rc = cio_queue_join(&task_queue); /* every page put has been task_done */
    printf("完了: %d ページ\n", nvisited);
    for (int i = 0; i < WORKERS; i++)
        cio_cancel(workers[i]);
    int st = cio_gather(workers, WORKERS, NULL);
    cio_queue_destroy(&task_queue);
    return rc < 0 ? rc : st;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = cio_run(amain, NULL);
    if (rc < 0)
        fprintf(stderr, "queue_workers: %s\n", cio_errmsg());
    return rc < 0;
}
