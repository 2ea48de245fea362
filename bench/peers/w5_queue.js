'use strict';
// W5 queue (Node.js peer): 4 producers and 4 consumers through a bounded
// async queue of max size 1,024 (Node has none built in: this is the small
// promise-based one with asyncio.Queue's put/get semantics), 1,000,000
// items in total; consumers stop on a sentinel each. Checks count and sum.
const { argN, now, result, check, main } = require('./peer_common');

class Fifo {
  constructor() {
    this.a = [];
    this.h = 0;
  }
  get length() {
    return this.a.length - this.h;
  }
  push(x) {
    this.a.push(x);
  }
  shift() {
    const x = this.a[this.h++];
    if (this.h > 1024 && this.h * 2 > this.a.length) {
      this.a = this.a.slice(this.h);
      this.h = 0;
    }
    return x;
  }
}

class AsyncQueue {
  constructor(maxsize) {
    this.maxsize = maxsize;
    this.items = new Fifo();
    this.getters = new Fifo();
    this.putters = new Fifo();
  }
  async put(item) {
    while (this.items.length >= this.maxsize)
      await new Promise((resolve) => this.putters.push(resolve));
    this.items.push(item);
    if (this.getters.length) this.getters.shift()();
  }
  async get() {
    while (this.items.length === 0)
      await new Promise((resolve) => this.getters.push(resolve));
    const item = this.items.shift();
    if (this.putters.length) this.putters.shift()();
    return item;
  }
}

main(async () => {
  const P = 4;
  const C = 4;
  const per = Math.floor(argN(1000000) / P);
  const n = per * P;
  const q = new AsyncQueue(1024);
  async function producer(start) {
    for (let i = start; i < start + per; i++) await q.put(i);
  }
  async function consumer() {
    let c = 0;
    let s = 0;
    for (;;) {
      const item = await q.get();
      if (item === null) return [c, s];
      c++;
      s += item;
    }
  }
  const t0 = now();
  const cs = [];
  for (let k = 0; k < C; k++) cs.push(consumer());
  const ps = [];
  for (let k = 0; k < P; k++) ps.push(producer(k * per));
  await Promise.all(ps);
  for (let k = 0; k < C; k++) await q.put(null);
  const got = await Promise.all(cs);
  const t1 = now();
  const total = got.reduce((a, [c]) => a + c, 0);
  const sum = got.reduce((a, [, s]) => a + s, 0);
  check(total === n, `consumed ${total} of ${n}`);
  check(sum === (n * (n - 1)) / 2, `sum ${sum}`);
  result('W5', 'items_per_sec', (n / (t1 - t0)).toFixed(0));
});
