'use strict';
// W2 switch (Node.js peer): two async functions hand control back and forth
// 1,000,000 times through two promise-based events (set / wait / clear, the
// shape of asyncio.Event): a pinger and a ponger, then two instances of one
// player function.
const { argN, now, result, check, main } = require('./peer_common');

class Event {
  constructor() {
    this.flag = false;
    this.waiters = [];
  }
  set() {
    this.flag = true;
    if (this.waiters.length === 0) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
  clear() {
    this.flag = false;
  }
  wait() {
    if (this.flag) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

main(async () => {
  const n = argN(1000000);
  const ping = new Event();
  const pong = new Event();
  let count = 0;
  async function pinger() {
    for (let i = 0; i < n; i++) {
      ping.set();
      await pong.wait();
      pong.clear();
    }
  }
  async function ponger() {
    for (let i = 0; i < n; i++) {
      await ping.wait();
      ping.clear();
      count++;
      pong.set();
    }
  }
  const t0 = now();
  await Promise.all([pinger(), ponger()]);
  const t1 = now();
  check(count === n, `count ${count}`);
  result('W2', 'ns_per_handoff', (((t1 - t0) * 1e9) / (2 * n)).toFixed(2));

  // the same hand-off between two instances of one function
  const turn = [new Event(), new Event()];
  let plays = 0;
  async function player(me) {
    for (let i = 0; i < n; i++) {
      await turn[me].wait();
      turn[me].clear();
      plays++;
      turn[1 - me].set();
    }
  }
  const t2 = now();
  turn[0].set();
  await Promise.all([player(0), player(1)]);
  const t3 = now();
  check(plays === 2 * n, `plays ${plays}`);
  result('W2', 'ns_per_handoff_one_fn', (((t3 - t2) * 1e9) / (2 * n)).toFixed(2));
});
