#!/usr/bin/python3
"""Logging peer: the seed's pattern, Python's logging with a QueueHandler in
front and a QueueListener thread writing to a file through a FileHandler.
Tasks log N lines (the listener is busy writing the whole time); each call
is timed with perf_counter_ns. Reports the median cost of one call, then
checks that every line reached the file. Each line carries time, level,
logger name and the asyncio task's name (added by a filter: Python 3.11's
records have no taskName yet), as cio's do."""
import asyncio
import logging
import logging.handlers
import os
import queue
import statistics
import tempfile
import time

from peer_common import check, parser, result, run

TASKS = 10


class TaskName(logging.Filter):
    def filter(self, record):
        task = asyncio.current_task()
        record.task = task.get_name() if task else "-"
        return True


async def main(n):
    fd, path = tempfile.mkstemp(prefix="cio-log-py-", suffix=".log", dir="/tmp")
    os.close(fd)
    q = queue.Queue(-1)
    file_handler = logging.FileHandler(path)
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(task)s] %(message)s"))
    listener = logging.handlers.QueueListener(q, file_handler)
    qh = logging.handlers.QueueHandler(q)
    qh.addFilter(TaskName())
    log = logging.getLogger("bench")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(qh)
    listener.start()
    per = n // TASKS
    costs = []

    async def worker(k):
        clock = time.perf_counter_ns
        for i in range(per):
            t0 = clock()
            log.info("task %d line %d of %d", k, i, per)
            costs.append(clock() - t0)
            if i % 1000 == 999:
                await asyncio.sleep(0)

    try:
        await asyncio.gather(*(asyncio.create_task(worker(k), name=f"w{k}")
                               for k in range(TASKS)))
    finally:
        listener.stop()  # flushes every queued record
        file_handler.close()
    lines, last = 0, [-1] * TASKS
    with open(path) as f:
        for line in f:
            words = line.split()
            k, i = int(words[-5]), int(words[-3])
            check(i == last[k] + 1, f"task {k}: line {i} after {last[k]}")
            last[k] = i
            lines += 1
    os.unlink(path)
    check(lines == per * TASKS, f"{lines} of {per * TASKS} lines in the file")
    result("LOG", "ns_per_call_median", f"{statistics.median(costs):.0f}")


if __name__ == "__main__":
    args = parser(__doc__, 200_000).parse_args()
    run(main(args.n), args.uvloop)
