#!/usr/bin/python3
"""W1 spawn (asyncio / uvloop peer): create 1,000,000 tasks that each return
their index, wait for all with gather, check the sum."""
import asyncio

from peer_common import check, now, parser, peak_rss_kb, result, run


async def ret_index(i):
    return i


async def main(n):
    t0 = now()
    tasks = [asyncio.create_task(ret_index(i)) for i in range(n)]
    results = await asyncio.gather(*tasks)
    t1 = now()
    check(sum(results) == n * (n - 1) // 2, f"sum {sum(results)}")
    result("W1", "ns_per_task", f"{(t1 - t0) * 1e9 / n:.1f}")
    result("W1", "peak_rss_kb", peak_rss_kb())


if __name__ == "__main__":
    args = parser(__doc__, 1_000_000).parse_args()
    run(main(args.n), args.uvloop)
