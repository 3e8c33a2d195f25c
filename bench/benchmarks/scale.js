'use strict';
// Benchmark 3: 100 000 sockets configured and closed (bench/scale-worker.js),
// against the same 100 000 connections never configured, each in a fresh
// process with --expose-gc. Retained memory is the configured run's growth
// minus the plain run's.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const report = require('../lib/report');

const WORKER = path.join(__dirname, '..', 'scale-worker.js');

/** Open fds allowed: each connection holds two (client and accepted side), plus Node's own. */
function batchSizeForFdLimit() {
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  const fitting = Number.isFinite(limit) ? Math.floor((limit - 200) / 2) : 1000;
  return { limit, batch: Math.max(50, Math.min(1000, fitting)) };
}

function runWorker(sockets, batch, mode) {
  const output = execFileSync(process.execPath, ['--expose-gc', WORKER, String(sockets), String(batch), mode], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 240_000,
  });
  return JSON.parse(output.trim().split('\n').pop());
}

function perSocket(bytes, sockets) {
  return `${(bytes / sockets).toFixed(2)} B`;
}

async function run({ sockets }) {
  const { limit, batch } = batchSizeForFdLimit();
  const configured = runWorker(sockets, batch, 'configured');
  const plain = runWorker(sockets, batch, 'plain');
  const grows = (r, key) => r.final[key] - r.baseline[key];
  const retainedHeap = (grows(configured, 'heapUsed') - grows(plain, 'heapUsed')) / sockets;
  const retainedRss = (grows(configured, 'rss') - grows(plain, 'rss')) / sockets;
  const row = (r) => [
    r.mode,
    report.formatNs(r.medianBatchNsPerSocket),
    report.formatNs(r.wallNsPerSocket),
    String(r.stalledBatches),
    r.mode === 'configured' ? report.formatNs(r.configureNsPerConnectedSocket) : '–',
    perSocket(grows(r, 'heapUsed'), sockets),
    perSocket(grows(r, 'rss'), sockets),
    String(r.problemCount),
  ];
  const problems = [...configured.problems, ...plain.problems];
  return {
    title: `3. Scale and memory: ${sockets.toLocaleString('en-US')} sockets`,
    body: [
      `Batches of ${batch} connections (fd limit ${limit}); in the configured run even sockets are configured while ` +
        'connecting and odd ones once connected, every socket is read back from the kernel, then all are closed (RST, so ' +
        'no TIME_WAIT). The listeners of every socket after close must equal those before configureKeepalive. Memory is ' +
        `read after ${6} forced GCs, once after 5 warm-up batches and once at the end.`,
      '',
      report.table(
        ['run', 'per socket (median batch)', 'per socket (wall)', 'batches stalled by a SYN retransmission', 'configureKeepalive on a connected socket', 'heap growth per socket', 'RSS growth per socket', 'problems'],
        [row(configured), row(plain)],
      ),
      '',
      `Retained by configureKeepalive per closed socket (configured growth − plain growth): heap ${retainedHeap.toFixed(2)} B, RSS ${retainedRss.toFixed(2)} B.`,
      ...problems.map((p) => `- problem: ${p}`),
    ].join('\n'),
    targets: [
      // Any object kept per socket would cost at least 16 bytes; under 1 byte per socket over 100 000 is zero within noise.
      report.target('heap retained per closed socket (zero within noise: < 1 B)', retainedHeap, '<=', 1, (n) => `${n.toFixed(2)} B`),
      report.target('sockets whose kernel state or listeners were wrong', configured.problemCount + plain.problemCount, '<=', 0, String),
    ],
  };
}

module.exports = { run };
