#!/usr/bin/python3
"""W2 switch (asyncio / uvloop peer): two tasks hand control back and forth
1,000,000 times through two asyncio.Events: a pinger and a ponger, then two
instances of one player function."""
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


async def player(n, me, turn, count):
    for _ in range(n):
        await turn[me].wait()
        turn[me].clear()
        count[0] += 1
        turn[1 - me].set()


async def main(n):
    ping, pong, count = asyncio.Event(), asyncio.Event(), [0]
    t0 = now()
    await asyncio.gather(pinger(n, ping, pong), ponger(n, ping, pong, count))
    t1 = now()
    check(count[0] == n, f"count {count[0]}")
    # two hand-offs per round
    result("W2", "ns_per_handoff", f"{(t1 - t0) * 1e9 / (2 * n):.2f}")

    # the same hand-off between two instances of one function
    turn, count = [asyncio.Event(), asyncio.Event()], [0]
    t0 = now()
    turn[0].set()
    await asyncio.gather(player(n, 0, turn, count), player(n, 1, turn, count))
    t1 = now()
    check(count[0] == 2 * n, f"count {count[0]}")
    result("W2", "ns_per_handoff_one_fn", f"{(t1 - t0) * 1e9 / (2 * n):.2f}")


if __name__ == "__main__":
    args = parser(__doc__, 1_000_000).parse_args()
    run(main(args.n), args.uvloop)
