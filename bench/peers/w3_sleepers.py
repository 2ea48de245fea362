#!/usr/bin/python3
"""W3 sleepers (asyncio / uvloop peer): N tasks each sleep a pseudo-random
time uniform in [0, 1000] ms (the same fixed-seed generator as the cio
program), then exit. Reports wall time beyond 1 s, lateness past the last
deadline, and RSS per sleeping task (sampled 50 ms after all have started)."""
import asyncio

from peer_common import check, now, parser, peak_rss_kb, result, rss_kb, run

M64 = (1 << 64) - 1


def delays_ms(n):
    seed, out = 42, []
    for _ in range(n):
        seed = (seed * 6364136223846793005 + 1442695040888963407) & M64
        out.append((seed >> 33) % 1001)
    return out


class State:
    done = 0
    last_deadline = 0.0
    rss_sample_kb = 0


async def sleeper(ms, st):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ms / 1000
    if deadline > st.last_deadline:
        st.last_deadline = deadline
    await asyncio.sleep(ms / 1000)
    st.done += 1


async def sampler(st):
    await asyncio.sleep(0.05)
    st.rss_sample_kb = rss_kb()


async def main(n):
    delays = delays_ms(n)  # the generator is not the workload
    st = State()
    base_kb = rss_kb()
    t0 = now()
    tasks = [asyncio.create_task(sleeper(ms, st)) for ms in delays]
    sample = asyncio.create_task(sampler(st))
    await asyncio.gather(*tasks)
    t1 = now()
    lag = asyncio.get_running_loop().time() - st.last_deadline
    await sample
    check(st.done == n, f"done {st.done}")
    tag = "1m" if n >= 1_000_000 else "100k" if n >= 100_000 else "n"
    result("W3", f"late_ms_{tag}", f"{(t1 - t0 - 1.0) * 1e3:.1f}")
    result("W3", f"lag_after_last_deadline_ms_{tag}", f"{lag * 1e3:.1f}")
    result("W3", f"rss_per_task_b_{tag}", f"{(st.rss_sample_kb - base_kb) * 1024 / n:.0f}")
    result("W3", f"peak_rss_kb_{tag}", peak_rss_kb())


if __name__ == "__main__":
    args = parser(__doc__, 1_000_000).parse_args()
    run(main(args.n), args.uvloop)
