#!/usr/bin/python3
"""W7 to_thread (asyncio / uvloop peer): 10,000 sequential
asyncio.to_thread calls of a trivial function, then 10,000 concurrent ones
(gathered; one warm-up round, then rounds until 0.5 s have been timed, at
most 25, and the median round, as the cio program does). Checks every result; reports microseconds per call."""
import asyncio
import statistics

from peer_common import check, now, parser, result, run


def trivial(x):
    return x + 1


async def main(n):
    await asyncio.to_thread(trivial, 0)  # the pool starts its threads lazily
    t0 = now()
    s = 0
    for i in range(n):
        s += await asyncio.to_thread(trivial, i)
    t1 = now()
    check(s == n * (n + 1) // 2, f"sequential sum {s}")

    async def concurrent():
        t2 = now()
        res = await asyncio.gather(*(asyncio.to_thread(trivial, i) for i in range(n)))
        t3 = now()
        check(sum(res) == n * (n + 1) // 2, f"concurrent sum {sum(res)}")
        return (t3 - t2) * 1e6 / n

    # as the cio program: one warm-up round, then rounds until 0.5 s have
    # been timed (at most 25): the median round
    await concurrent()
    rounds, timed = [], 0.0
    while not rounds or (timed < 0.5 and len(rounds) < 25):
        rounds.append(await concurrent())
        timed += rounds[-1] * n / 1e6
    conc = statistics.median(rounds)
    result("W7", "us_per_call_seq", f"{(t1 - t0) * 1e6 / n:.3f}")
    result("W7", "us_per_call_conc", f"{conc:.3f}")


if __name__ == "__main__":
    args = parser(__doc__, 10_000).parse_args()
    run(main(args.n), args.uvloop)
