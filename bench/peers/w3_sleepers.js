'use strict';
// W3 sleepers (Node.js peer): N async functions each await a setTimeout
// promise of a pseudo-random time uniform in [0, 1000] ms (the same
// fixed-seed generator as the cio program), then exit. Reports wall time
// beyond 1 s, lateness past the last deadline, and RSS per sleeping task
// (sampled 50 ms after all have started).
const { argN, now, peakRssKb, rssKb, result, check, main } = require('./peer_common');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function delaysMs(n) {
  const out = new Uint16Array(n);
  let seed = 42n;
  const M = (1n << 64n) - 1n;
  for (let i = 0; i < n; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & M;
    out[i] = Number((seed >> 33n) % 1001n);
  }
  return out;
}

main(async () => {
  const n = argN(1000000);
  const delays = delaysMs(n); // the generator is not the workload
  let done = 0;
  let lastDeadline = 0;
  let sampleKb = 0;
  async function sleeper(ms) {
    const deadline = performance.now() + ms;
    if (deadline > lastDeadline) lastDeadline = deadline;
    await sleep(ms);
    done++;
  }
  async function sampler() {
    await sleep(50);
    sampleKb = rssKb();
  }
  const baseKb = rssKb();
  const t0 = now();
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = sleeper(delays[i]);
  const sample = sampler();
  await Promise.all(ps);
  const t1 = now();
  const lag = performance.now() - lastDeadline;
  await sample;
  check(done === n, `done ${done}`);
  const tag = n >= 1000000 ? '1m' : n >= 100000 ? '100k' : 'n';
  result('W3', `late_ms_${tag}`, ((t1 - t0 - 1) * 1e3).toFixed(1));
  result('W3', `lag_after_last_deadline_ms_${tag}`, lag.toFixed(1));
  result('W3', `rss_per_task_b_${tag}`, (((sampleKb - baseKb) * 1024) / n).toFixed(0));
  result('W3', `peak_rss_kb_${tag}`, peakRssKb());
});
