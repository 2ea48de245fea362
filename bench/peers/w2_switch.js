'use strict';
// W2 switch (Node.js peer): two async functions hand control back and forth
// 1,000,000 times through two promise-based events (set / wait / clear, the
// shape of asyncio.Event): a pinger and a ponger, then two instances of one
// player function. Each shape is measured in rounds of 1,000,000 until 0.5 s
// have been timed and the median round is reported, as in every W2 program.
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

// Rounds until 0.5 s have been timed (at most 25): the median round.
async function report(metric, shape, n) {
  const rounds = [];
  let timed = 0;
  while (rounds.length === 0 || (timed < 0.5 && rounds.length < 25)) {
    rounds.push(await shape(n));
    timed += (rounds[rounds.length - 1] * 2 * n) / 1e9;
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
  result('W2', metric, median.toFixed(2));
  process.stderr.write(
    `w2_switch: ${metric}: ${rounds.length} rounds, ` +
      `${sorted[0].toFixed(2)} to ${sorted[sorted.length - 1].toFixed(2)} ns\n`
  );
}

async function pingPong(n) {
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
  return ((t1 - t0) * 1e9) / (2 * n); // two hand-offs per round
}

// the same hand-off between two instances of one function
async function players(n) {
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
  const t0 = now();
  turn[0].set();
  await Promise.all([player(0), player(1)]);
  const t1 = now();
  check(plays === 2 * n, `plays ${plays}`);
  return ((t1 - t0) * 1e9) / (2 * n);
}

main(async () => {
  const n = argN(1000000);
  await report('ns_per_handoff', pingPong, n);
  await report('ns_per_handoff_one_fn', players, n);
});
