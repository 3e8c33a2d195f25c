'use strict';
// Benchmark 3, in a process of its own (node --expose-gc): SOCKETS connections
// in batches that fit the fd limit, half configured while still connecting and
// half once connected, every one read back from the kernel, then closed. Prints
// one JSON line: time per socket, memory before and after, listeners left.
// Mode "plain" runs the same connections with no configureKeepalive: the
// control that tells Node's own memory drift from anything we retain.
const net = require('node:net');
const { startServer } = require('./lib/sockets');
const { configurationFor, packageRoot } = require('./lib/per-call');
const { median } = require('./lib/interleave');

const { configureKeepalive, getKeepalive } = require(packageRoot);

const SOCKETS = Number(process.argv[2] ?? 100_000);
const BATCH = Number(process.argv[3] ?? 1000);
const CONFIGURE = process.argv[4] !== 'plain';
const WARMUP_BATCHES = 5;
/** Heap samples taken along the run; retention shows as a slope, table resizes and bytecode flushing as noise. */
const HEAP_SAMPLES = 10;

/** Every client socket, once closed, must be collectable: nothing of ours may keep it. */
let socketsCollected = 0;
let socketsRegistered = 0;
const collection = new FinalizationRegistry(() => {
  socketsCollected++;
});

function optionsFor(i) {
  const c = configurationFor(i);
  return { idle: c.idleSeconds * 1000, interval: c.intervalSeconds * 1000, count: c.count };
}

/** The socket's listeners by event, as text; `extraConnect` 'connect' listeners added to what it has. */
function listenerCounts(socket, extraConnect = 0) {
  const counts = new Map(socket.eventNames().map((name) => [String(name), socket.listenerCount(name)]));
  if (extraConnect !== 0) counts.set('connect', (counts.get('connect') ?? 0) + extraConnect);
  return [...counts]
    .map(([name, count]) => `${name}:${count}`)
    .sort()
    .join(',');
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return covariance / variance;
}

/** Forces GCs and lets finalizers run until every registered socket is collected (or gives up). */
async function collectClosedSockets() {
  for (let round = 0; round < 50 && socketsCollected < socketsRegistered; round++) {
    global.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return socketsRegistered - socketsCollected;
}

function settledMemory() {
  for (let k = 0; k < 6; k++) global.gc();
  const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
  return { heapUsed, rss, external, arrayBuffers };
}

/**
 * One batch: connect, configure (pending or connected), verify, close. Returns
 * the ns spent inside configureKeepalive on connected sockets and the ns from
 * the first net.connect to the last 'close'.
 */
async function batch(port, first, size, problems) {
  const batchStart = process.hrtime.bigint();
  const sockets = [];
  const before = [];
  let configureNs = 0n;
  for (let k = 0; k < size; k++) {
    const i = first + k;
    const socket = net.connect({ port, host: '127.0.0.1' });
    collection.register(socket, undefined);
    socketsRegistered++;
    socket.on('error', (error) => problems.push(`socket ${i}: ${error.code ?? error.message}`));
    // A configured socket keeps one 'connect' listener for as long as it lives (it re-applies the
    // policy if the same object connects again); nothing else may be left.
    before.push(listenerCounts(socket, CONFIGURE ? 1 : 0));
    if (CONFIGURE && i % 2 === 0) configureKeepalive(socket, optionsFor(i));
    sockets.push(socket);
  }
  await Promise.all(sockets.map((socket) => (socket.connecting ? new Promise((resolve) => socket.once('connect', resolve)) : undefined)));
  for (let k = 0; k < size; k++) {
    const i = first + k;
    if (!CONFIGURE) continue;
    if (i % 2 === 1) {
      const start = process.hrtime.bigint();
      configureKeepalive(sockets[k], optionsFor(i));
      configureNs += process.hrtime.bigint() - start;
    }
    const want = configurationFor(i);
    const state = getKeepalive(sockets[k]);
    if (
      !state.enable ||
      state.idle !== want.idleSeconds * 1000 ||
      state.interval !== want.intervalSeconds * 1000 ||
      state.count !== want.count
    ) {
      problems.push(`socket ${i}: kernel holds ${JSON.stringify(state)}`);
    }
  }
  // RST rather than FIN: no TIME_WAIT, so the ephemeral ports last for every batch.
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise((resolve) => {
          socket.once('close', resolve);
          socket.resetAndDestroy();
        }),
    ),
  );
  sockets.forEach((socket, k) => {
    const after = listenerCounts(socket);
    if (after !== before[k]) problems.push(`socket ${first + k}: listeners ${after} after close, expected ${before[k]}`);
  });
  return { configureNs, batchNs: Number(process.hrtime.bigint() - batchStart) };
}

async function main() {
  const server = await startServer();
  const problems = [];
  try {
    // Warm-up: the JIT's code and feedback, the addon and the WeakMaps reach their steady size before the baseline.
    for (let k = 0; k < WARMUP_BATCHES; k++) await batch(server.port, SOCKETS + k * BATCH, BATCH, problems);
    const baseline = settledMemory();
    const heapSamples = [[0, baseline.heapUsed]];
    const batches = Math.ceil(SOCKETS / BATCH);
    const sampleEvery = Math.max(1, Math.floor(batches / HEAP_SAMPLES));
    let samplingNs = 0;
    const start = process.hrtime.bigint();
    let configureNs = 0n;
    const batchNsPerSocket = [];
    for (let index = 0, first = 0; first < SOCKETS; index++, first += BATCH) {
      const size = Math.min(BATCH, SOCKETS - first);
      const timing = await batch(server.port, first, size, problems);
      configureNs += timing.configureNs;
      batchNsPerSocket.push(timing.batchNs / size);
      if ((index + 1) % sampleEvery === 0 && first + size < SOCKETS) {
        const sampleStart = process.hrtime.bigint();
        heapSamples.push([first + size, settledMemory().heapUsed]);
        samplingNs += Number(process.hrtime.bigint() - sampleStart);
      }
    }
    const wallNs = Number(process.hrtime.bigint() - start) - samplingNs;
    const final = settledMemory();
    heapSamples.push([SOCKETS, final.heapUsed]);
    const notCollected = await collectClosedSockets();
    process.stdout.write(
      `${JSON.stringify({
        mode: CONFIGURE ? 'configured' : 'plain',
        sockets: SOCKETS,
        batch: BATCH,
        wallNsPerSocket: wallNs / SOCKETS,
        // A batch whose SYN hit a full accept queue waits the 1 s retransmission; the median batch does not.
        medianBatchNsPerSocket: median(batchNsPerSocket),
        stalledBatches: batchNsPerSocket.filter((ns) => ns * BATCH > 0.9e9).length,
        configureNsPerConnectedSocket: Number(configureNs) / Math.ceil(SOCKETS / 2),
        baseline,
        final,
        heapSlopeBytesPerSocket: slope(heapSamples),
        socketsRegistered,
        notCollected,
        problems: problems.slice(0, 10),
        problemCount: problems.length,
      })}\n`,
    );
  } finally {
    await server.close();
  }
}

main().catch((error) => {
  process.stderr.write(`scale-worker: ${error.stack}\n`);
  process.exitCode = 1;
});
