'use strict';
// W1 spawn (Node.js peer): start 1,000,000 async functions that each return
// their index, wait for all with Promise.all, check the sum.
const { argN, now, peakRssKb, result, check, main } = require('./peer_common');

async function retIndex(i) {
  return i;
}

main(async () => {
  const n = argN(1000000);
  const t0 = now();
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = retIndex(i);
  const res = await Promise.all(ps);
  const t1 = now();
  let sum = 0;
  for (const r of res) sum += r;
  check(sum === (n * (n - 1)) / 2, `sum ${sum}`);
  result('W1', 'ns_per_task', (((t1 - t0) * 1e9) / n).toFixed(1));
  result('W1', 'peak_rss_kb', peakRssKb());
});
