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
  const retainedHeapSlope = configured.heapSlopeBytesPerSocket - plain.heapSlopeBytesPerSocket;
  const retainedRss = (grows(configured, 'rss') - grows(plain, 'rss')) / sockets;
  const row = (r) => [
    r.mode,
    report.formatNs(r.medianBatchNsPerSocket),
    report.formatNs(r.wallNsPerSocket),
    String(r.stalledBatches),
    r.mode === 'configured' ? report.formatNs(r.configureNsPerConnectedSocket) : '–',
    perSocket(grows(r, 'heapUsed'), sockets),
    `${r.heapSlopeBytesPerSocket.toFixed(2)} B`,
    perSocket(grows(r, 'rss'), sockets),
    `${r.notCollected} of ${r.socketsRegistered}`,
    String(r.problemCount),
  ];
  const problems = [...configured.problems, ...plain.problems];
  return {
    title: `3. Scale and memory: ${sockets.toLocaleString('en-US')} sockets`,
    body: [
      `Batches of ${batch} connections (fd limit ${limit}); in the configured run even sockets are configured while ` +
        'connecting and odd ones once connected, every socket is read back from the kernel, then all are closed (RST, so ' +
        'no TIME_WAIT). The listeners of every socket after close must equal those before configureKeepalive plus the one ' +
        "'connect' listener a configured socket keeps for its lifetime (it re-applies the policy at a reconnect). Every client " +
        'socket is registered in a FinalizationRegistry: after close and forced GCs each must have been collected, so nothing ' +
        'we keep (policy, listeners, wrapped setKeepAlive) holds on to it. The heap is read after 6 forced GCs after 5 ' +
        'warm-up batches, then 10 times along the run; retention per socket is the slope of those samples (end − start ' +
        'alone moves by ±1 MB between identical runs: hash-table resizes, bytecode flushing).',
      '',
      report.table(
        [
          'run',
          'per socket (median batch)',
          'per socket (wall)',
          'batches stalled by a SYN retransmission',
          'configureKeepalive on a connected socket',
          'heap growth per socket (end − start)',
          'heap slope per socket (least squares)',
          'RSS growth per socket',
          'closed sockets not collectable',
          'problems',
        ],
        [row(configured), row(plain)],
      ),
      '',
      `Retained by configureKeepalive per closed socket (configured − plain): heap slope ${retainedHeapSlope.toFixed(2)} B, RSS growth ${retainedRss.toFixed(2)} B.`,
      ...problems.map((p) => `- problem: ${p}`),
    ].join('\n'),
    targets: [
      report.target('closed sockets not collectable (configured run)', configured.notCollected, '<=', 0, String),
      // One object kept per socket would be at least 16 B (two words); the slope's noise at 100 000 sockets is a few B.
      report.target(
        'heap retained per closed socket (slope, configured − plain; < one 16 B object)',
        retainedHeapSlope,
        '<=',
        16,
        (n) => `${n.toFixed(2)} B`,
      ),
      report.target('sockets whose kernel state or listeners were wrong', configured.problemCount + plain.problemCount, '<=', 0, String),
    ],
  };
}

module.exports = { run };
