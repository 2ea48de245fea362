#!/usr/bin/python3
"""W2 switch (asyncio / uvloop peer): two tasks hand control back and forth
1,000,000 times through two asyncio.Events."""
import asyncio

from peer_common import check, now, parser, result, run


async def pinger(n, ping, pong):
    for _ in range(n):
        ping.set()
        await pong.wait()
        pong.clear()


async def ponger(n, ping, pong, count):
    for _ in range(n):
        await ping.wait()
        ping.clear()
        count[0] += 1
        pong.set()


async def main(n):
    ping, pong, count = asyncio.Event(), asyncio.Event(), [0]
    t0 = now()
    await asyncio.gather(pinger(n, ping, pong), ponger(n, ping, pong, count))
    t1 = now()
    check(count[0] == n, f"count {count[0]}")
    # two hand-offs per round
    result("W2", "ns_per_handoff", f"{(t1 - t0) * 1e9 / (2 * n):.2f}")


if __name__ == "__main__":
    args = parser(__doc__, 1_000_000).parse_args()
    run(main(args.n), args.uvloop)
