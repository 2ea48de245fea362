'use strict';
// W8 files (Node.js peer): write 10,000 files of 4 KiB with fs.promises
// into a fresh directory under /tmp, 64 in flight (64 async workers taking
// the next index), then read every one back and verify it. Reports files
// per second each way; removes the directory afterwards. Node's thread pool
// keeps its default size (UV_THREADPOOL_SIZE unset), as a user's would.
const fsp = require('fs/promises');
const os = require('os');
const path = require('path');
const { argN, now, result, check, main } = require('./peer_common');

const FILE_SIZE = 4096;
const IN_FLIGHT = 64;

const content = (i) => Buffer.from(String(i).padStart(8, '0').repeat(FILE_SIZE / 8));

async function pool(n, fn) {
  let next = 0;
  async function worker() {
    while (next < n) await fn(next++);
  }
  const ws = [];
  for (let k = 0; k < IN_FLIGHT; k++) ws.push(worker());
  await Promise.all(ws);
}

main(async () => {
  const n = argN(10000);
  // W8_DIR: the parent directory, whose owner (bench/run.sh) removes it.
  const keep = !!process.env.W8_DIR;
  const dir = await fsp.mkdtemp(path.join(process.env.W8_DIR || os.tmpdir(), 'cio-w8-node-'));
  try {
    const p = (i) => path.join(dir, `f${i}`);
    const t0 = now();
    await pool(n, (i) => fsp.writeFile(p(i), content(i)));
    const t1 = now();
    await pool(n, async (i) => {
      const data = await fsp.readFile(p(i));
      check(data.equals(content(i)), `contents of ${p(i)}`);
    });
    const t2 = now();
    check((await fsp.readdir(dir)).length === n, 'file count');
    result('W8', 'write_files_per_sec', (n / (t1 - t0)).toFixed(0));
    result('W8', 'read_files_per_sec', (n / (t2 - t1)).toFixed(0));
  } finally {
    if (!keep) await fsp.rm(dir, { recursive: true, force: true });
  }
});
