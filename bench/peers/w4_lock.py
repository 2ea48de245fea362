#!/usr/bin/python3
"""W4 lock (asyncio / uvloop peer): 1,000 tasks each do 1,000 times
{ acquire an asyncio.Lock; yield with sleep(0); release }."""
import asyncio

from peer_common import check, now, parser, result, run


class State:
    inside = 0
    count = 0


async def worker(lock, rounds, st):
    for _ in range(rounds):
        async with lock:
            st.inside += 1
            check(st.inside == 1, "two tasks inside the lock")
            await asyncio.sleep(0)
            st.inside -= 1
            st.count += 1


async def main(tasks, rounds):
    lock, st = asyncio.Lock(), State()
    t0 = now()
    await asyncio.gather(*(worker(lock, rounds, st) for _ in range(tasks)))
    t1 = now()
    check(st.count == tasks * rounds, f"count {st.count}")
    result("W4", "acq_per_sec", f"{st.count / (t1 - t0):.0f}")


if __name__ == "__main__":
    p = parser(__doc__, 1000)
    p.add_argument("--rounds", type=int, default=1000)
    args = p.parse_args()
    run(main(args.n, args.rounds), args.uvloop)
