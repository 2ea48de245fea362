/* Seed 001, "Logging": logging is blocking, so under load put a queue in
 * front of it. The seed's recipe:
 *
 *   logger = logging.getLogger("asyncio")
 *   log_queue = queue.SimpleQueue()
 *   queue_handler = logging.handlers.QueueHandler(log_queue)
 *   file_handler = logging.FileHandler("log_file.txt")
 *   listener = logging.handlers.QueueListener(log_queue, file_handler)
 *   listener.start()
 *   logging.addhandler(queue_handler)
 *   logger.setLevel(logging.DEBUG)
 *
 * In cio the queue and the listener are built in: cio_log only formats
 * the record into a queue slot; a writer thread writes the file. Three
 * tasks log a few lines each; at the end (cio_run flushes the queue) the
 * program prints the file, one line per record:
 *   <date> <time>.<ms> DEBUG    asyncio [worker-1] worker-1 step 1 of 3
 *   ...
 *   <date> <time>.<ms> WARNING  asyncio [main] all workers done
 * (9 worker lines interleaved in the order the tasks ran, then main's;
 * examples/expected/logging_queue.txt has them without the time stamps.) */
#include <cio/core.h>
#include <cio/log.h>

#include <stdio.h>

static cio_logger *logger;
static const int64_t periods[3] = {10, 25, 40}; /* ms: no two steps coincide */

static int worker(void *arg) {
    const char *name = cio_task_name(NULL);
    for (int i = 1; i <= 3; i++) {
        int level = i == 1 ? CIO_LOG_DEBUG : CIO_LOG_INFO;
        cio_log(logger, level, "%s step %d of 3", name, i);
        int rc = cio_sleep(periods[(intptr_t)arg] * CIO_MS);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    cio_task *ts[3];
    for (long i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "worker-%ld", i + 1);
        ts[i] = cio_spawn_with(worker, (void *)(intptr_t)i, &(cio_spawn_opts){.name = name});
    }
    int rc = cio_gather(ts, 3, NULL);
    cio_log_warning(logger, "all workers done");
    return rc;
}

int main(void) {
    remove("log_file.txt");
    logger = cio_log_get("asyncio");
    if (cio_log_add_file("log_file.txt", CIO_LOG_DEBUG) < 0) { /* FileHandler */
        fprintf(stderr, "%s\n", cio_errmsg());
        return 1;
    }
    cio_log_set_level(logger, CIO_LOG_DEBUG);
    int rc = cio_run(amain, NULL); /* returns once every line is written */
    FILE *f = fopen("log_file.txt", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        fputs(line, stdout);
    if (f)
        fclose(f);
    cio_log_shutdown();
    return rc == 0 ? 0 : 1;
}
