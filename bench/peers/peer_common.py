"""Helpers shared by the Python peer programs (run with Debian's
/usr/bin/python3): argument parsing, running under asyncio or uvloop,
RSS figures, RESULT lines and result checks."""
import argparse
import asyncio
import resource
import sys
import time


def parser(doc, n_default):
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--n", type=int, default=n_default,
                   help="workload size (default: the BENCHMARKS.md size)")
    p.add_argument("--uvloop", action="store_true",
                   help="run on uvloop's event loop instead of asyncio's")
    return p


def run(coro, use_uvloop):
    """asyncio.run(), or the same on a uvloop loop."""
    if use_uvloop:
        import uvloop
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


def now():
    return time.perf_counter()


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (resource.getpagesize() // 1024)


def result(workload, metric, value):
    print(f"RESULT {workload} {metric} {value}", flush=True)


def check(cond, msg):
    if not cond:
        print(f"benchmark result is wrong: {msg}", file=sys.stderr)
        sys.exit(1)
