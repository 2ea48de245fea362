#!/usr/bin/python3
"""W5 queue (asyncio / uvloop peer): 4 producers and 4 consumers through an
asyncio.Queue(maxsize=1024), 1,000,000 items in total; consumers stop on a
sentinel each. Checks the count and the sum of the items consumed."""
import asyncio

from peer_common import check, now, parser, result, run

PRODUCERS = CONSUMERS = 4


async def producer(q, start, count):
    for i in range(start, start + count):
        await q.put(i)


async def consumer(q, got):
    n = s = 0
    while True:
        item = await q.get()
        if item is None:
            break
        n += 1
        s += item
    got.append((n, s))


async def main(n):
    q, got = asyncio.Queue(maxsize=1024), []
    per = n // PRODUCERS
    n = per * PRODUCERS
    t0 = now()
    consumers = [asyncio.create_task(consumer(q, got)) for _ in range(CONSUMERS)]
    await asyncio.gather(*(producer(q, k * per, per) for k in range(PRODUCERS)))
    for _ in range(CONSUMERS):
        await q.put(None)
    await asyncio.gather(*consumers)
    t1 = now()
    total = sum(c for c, _ in got)
    check(total == n, f"consumed {total} of {n}")
    check(sum(s for _, s in got) == n * (n - 1) // 2, "sum of items")
    result("W5", "items_per_sec", f"{n / (t1 - t0):.0f}")


if __name__ == "__main__":
    args = parser(__doc__, 1_000_000).parse_args()
    run(main(args.n), args.uvloop)
