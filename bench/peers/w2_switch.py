#!/usr/bin/python3
"""W2 switch (asyncio / uvloop peer): two tasks hand control back and forth
1,000,000 times through two asyncio.Events: a pinger and a ponger, then two
instances of one player function. Each shape is measured in rounds of
1,000,000 until 0.5 s have been timed and the median round is reported, as
in every W2 program (a round here takes longer, so it is one round)."""
import asyncio
import statistics
import sys

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


async def ping_pong(n):
    ping, pong, count = asyncio.Event(), asyncio.Event(), [0]
    t0 = now()
    await asyncio.gather(pinger(n, ping, pong), ponger(n, ping, pong, count))
    t1 = now()
    check(count[0] == n, f"count {count[0]}")
    return (t1 - t0) * 1e9 / (2 * n)  # two hand-offs per round


async def players(n):
    """The same hand-off between two instances of one function."""
    turn, count = [asyncio.Event(), asyncio.Event()], [0]
    t0 = now()
    turn[0].set()
    await asyncio.gather(player(n, 0, turn, count), player(n, 1, turn, count))
    t1 = now()
    check(count[0] == 2 * n, f"count {count[0]}")
    return (t1 - t0) * 1e9 / (2 * n)


async def report(metric, shape, n):
    """Rounds until 0.5 s have been timed (at most 25): the median round."""
    rounds, timed = [], 0.0
    while not rounds or (timed < 0.5 and len(rounds) < 25):
        rounds.append(await shape(n))
        timed += rounds[-1] * 2 * n / 1e9
    result("W2", metric, f"{statistics.median(rounds):.2f}")
    print(f"w2_switch: {metric}: {len(rounds)} rounds, {min(rounds):.2f} to "
          f"{max(rounds):.2f} ns", file=sys.stderr)


async def main(n):
    await report("ns_per_handoff", ping_pong, n)
    await report("ns_per_handoff_one_fn", players, n)


if __name__ == "__main__":
    args = parser(__doc__, 1_000_000).parse_args()
    run(main(args.n), args.uvloop)
