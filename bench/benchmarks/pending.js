'use strict';
// Benchmark 2: configuring a socket before it connects (the 'connect'
// listener path) against a plain connect, per connection, interleaved.
const net = require('node:net');
const { interleave, median, pairedRatio } = require('../lib/interleave');
const { startServer } = require('../lib/sockets');
const { configurationFor, packageRoot } = require('../lib/per-call');
const report = require('../lib/report');

const { configureKeepalive, getKeepalive } = require(packageRoot);

const BATCH = 50;

/**
 * Opens `calls` connections, BATCH at a time, timing each batch from net.connect
 * to its last 'connect'. Returns the median batch's time per connection: one
 * SYN lost to a full accept queue on this shared machine costs a 1 s
 * retransmission, which would otherwise swamp a whole round.
 */
async function connectBatches(port, calls, configure, check) {
  const perConnectionNs = [];
  let made = 0;
  while (made < calls) {
    const size = Math.min(BATCH, calls - made);
    const sockets = [];
    const start = process.hrtime.bigint();
    for (let k = 0; k < size; k++) {
      const socket = net.connect({ port, host: '127.0.0.1' });
      if (configure) configure(socket, made + k);
      sockets.push(socket);
    }
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise((resolve, reject) => {
            socket.once('connect', resolve);
            socket.once('error', reject);
          }),
      ),
    );
    perConnectionNs.push(Number(process.hrtime.bigint() - start) / size);
    sockets.forEach((socket, k) => check(socket, made + k));
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise((resolve) => {
            socket.once('close', resolve);
            // RST rather than FIN: no TIME_WAIT, so 100 000s of connections do not exhaust the ephemeral ports.
            socket.resetAndDestroy();
          }),
      ),
    );
    made += size;
  }
  return median(perConnectionNs);
}

function configureFor(socket, i) {
  const c = configurationFor(i);
  configureKeepalive(socket, { idle: c.idleSeconds * 1000, interval: c.intervalSeconds * 1000, count: c.count });
}

/** The kernel holds what was asked before connect; the socket has our one 'connect' listener (kept for reconnects) and no 'close' listener. */
function assertConfigured(socket, i) {
  const want = configurationFor(i);
  const state = getKeepalive(socket);
  if (
    !state.enable ||
    state.idle !== want.idleSeconds * 1000 ||
    state.interval !== want.intervalSeconds * 1000 ||
    state.count !== want.count
  ) {
    throw new Error(`pending socket ${i}: kernel holds ${JSON.stringify(state)} after connect`);
  }
  if (socket.listenerCount('connect') !== 1 || socket.listenerCount('close') !== 0) {
    throw new Error(
      `pending socket ${i}: ${socket.listenerCount('connect')} 'connect' and ${socket.listenerCount('close')} 'close' listeners after connect, expected 1 and 0`,
    );
  }
}

function assertUntouched(socket, i) {
  if (getKeepalive(socket).enable) throw new Error(`plain socket ${i}: keepalive is on, but nobody asked`);
}

async function run({ plan }) {
  const server = await startServer();
  try {
    const results = await interleave(
      [
        {
          name: 'net.connect, then configureKeepalive while pending',
          minCalls: BATCH,
          run: (n) => connectBatches(server.port, n, configureFor, assertConfigured),
        },
        { name: 'plain net.connect', minCalls: BATCH, run: (n) => connectBatches(server.port, n, undefined, assertUntouched) },
      ],
      plan,
    );
    const [configured, plain] = results;
    const overheadNs = configured.median - plain.median;
    return {
      title: '2. Pending sockets: configure before connect',
      body: [
        `Connections are opened ${BATCH} at a time to a loopback server; the time runs from net.connect to the last 'connect' of the batch, and a round counts its median batch. ` +
          "After connect every configured socket is read back from the kernel, and must have exactly one 'connect' listener (ours, kept for a reconnect of the same object) and no 'close' listener.",
        '',
        report.table(report.MEDIAN_HEADER, report.medianRows(results)),
        '',
        report.table(
          ['pair', 'value'],
          [
            ['configured / plain (median of per-round ratios)', report.formatRatio(pairedRatio(configured, plain))],
            ['overhead per connection (difference of medians)', report.formatNs(overheadNs)],
          ],
        ),
      ].join('\n'),
      targets: [],
    };
  } finally {
    await server.close();
  }
}

module.exports = { run };
