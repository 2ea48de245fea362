#!/usr/bin/python3
"""W8 files (asyncio / uvloop + aiofiles peer): write 10,000 files of 4 KiB
into a fresh directory under /tmp, at most 64 in flight (a Semaphore), then
read every one back and verify it. Reports files per second each way;
removes the directory afterwards, unless W8_DIR names the parent directory
(then its caller removes it: see bench/run.sh)."""
import asyncio
import os
import shutil
import tempfile

import aiofiles

from peer_common import check, now, parser, result, run

FILE_SIZE = 4096
IN_FLIGHT = 64


def content(i):
    return (b"%08d" % i) * (FILE_SIZE // 8)


async def main(n):
    keep = bool(os.environ.get("W8_DIR"))
    d = tempfile.mkdtemp(prefix="cio-w8-py-", dir=os.environ.get("W8_DIR") or "/tmp")
    try:
        sem = asyncio.Semaphore(IN_FLIGHT)
        paths = [os.path.join(d, f"f{i}") for i in range(n)]

        async def write_one(i):
            async with sem:
                async with aiofiles.open(paths[i], "wb") as f:
                    await f.write(content(i))

        async def read_one(i):
            async with sem:
                async with aiofiles.open(paths[i], "rb") as f:
                    data = await f.read()
            check(data == content(i), f"contents of {paths[i]}")

        t0 = now()
        await asyncio.gather(*(write_one(i) for i in range(n)))
        t1 = now()
        await asyncio.gather(*(read_one(i) for i in range(n)))
        t2 = now()
        check(len(os.listdir(d)) == n, "file count")
        result("W8", "write_files_per_sec", f"{n / (t1 - t0):.0f}")
        result("W8", "read_files_per_sec", f"{n / (t2 - t1):.0f}")
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    args = parser(__doc__, 10_000).parse_args()
    run(main(args.n), args.uvloop)
