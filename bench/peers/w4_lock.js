'use strict';
// W4 lock (Node.js peer): 1,000 async functions each do 1,000 times
// { acquire a mutex; yield; release }. Node has no built-in async mutex, so
// this is the small promise-based FIFO mutex a Node user writes (what npm's
// async-mutex does). The yield is `await new Promise(setImmediate)`: like
// asyncio.sleep(0) it goes once round the event loop (a bare `await` would
// only go round the microtask queue).
const { arg, argN, now, result, check, main } = require('./peer_common');

class Mutex {
  constructor() {
    this.locked = false;
    this.waiters = [];
    this.head = 0;
  }
  acquire() {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release() {
    if (this.head < this.waiters.length) {
      const next = this.waiters[this.head++];
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      next(); // ownership passes straight to the next waiter
    } else {
      this.locked = false;
    }
  }
}

const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));

main(async () => {
  const tasks = argN(1000);
  const rounds = Number(arg('rounds', 1000));
  const lock = new Mutex();
  let inside = 0;
  let count = 0;
  async function worker() {
    for (let i = 0; i < rounds; i++) {
      await lock.acquire();
      try {
        inside++;
        check(inside === 1, 'two tasks inside the lock');
        await yieldOnce();
        inside--;
        count++;
      } finally {
        lock.release();
      }
    }
  }
  const t0 = now();
  const ws = [];
  for (let i = 0; i < tasks; i++) ws.push(worker());
  await Promise.all(ws);
  const t1 = now();
  check(count === tasks * rounds, `count ${count}`);
  result('W4', 'acq_per_sec', (count / (t1 - t0)).toFixed(0));
});
