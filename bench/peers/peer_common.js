'use strict';
// Helpers shared by the Node.js peer programs: --n parsing, RSS figures,
// RESULT lines and result checks.
function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

function argN(def) {
  return Number(arg('n', def));
}

const now = () => performance.now() / 1e3; // seconds

// process.resourceUsage().maxRSS is in KiB.
const peakRssKb = () => process.resourceUsage().maxRSS;
const rssKb = () => Math.round(process.memoryUsage.rss() / 1024);

function result(workload, metric, value) {
  process.stdout.write(`RESULT ${workload} ${metric} ${value}\n`);
}

function check(cond, msg) {
  if (!cond) {
    process.stderr.write(`benchmark result is wrong: ${msg}\n`);
    process.exit(1);
  }
}

// A run that throws must fail loudly (non-zero exit), never print results.
function main(fn) {
  fn().catch((e) => {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}

module.exports = { arg, argN, now, peakRssKb, rssKb, result, check, main };
