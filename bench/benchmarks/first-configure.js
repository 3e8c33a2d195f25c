'use strict';
// Benchmark: the FIRST configureKeepalive of a fresh connected socket — what a
// service pays once per connection — against a minimal addon making the same
// setsockopt calls on a fresh socket (bench/minimal-addon, built by node-gyp
// into .bench-tmp at bench time). The first call does more than a repeat one:
// it checks the socket owns its handle, keeps the policy on the socket, wraps
// setKeepAlive and adds the 'connect' listener that re-applies the policy.
//
// Each round, each contender gets `sockets` new connections, made before its
// timer starts; only the loop of calls over them is timed, then every socket
// is read back from the kernel (getKeepalive) and closed with RST. Contenders
// are interleaved (bench/lib/interleave.js), over several fresh processes
// (forks) pooled, like benchmark 1.
//
//   node bench/benchmarks/first-configure.js <json setup>   (a fork; bench/run.js starts them)
const path = require('node:path');
const { execFile: execFileCallback } = require('node:child_process');
const { promisify } = require('node:util');
const { interleave, median, pairedRatio } = require('../lib/interleave');
const { startServer, connectMany, resetAll } = require('../lib/sockets');
const { configurationFor, packageRoot } = require('../lib/per-call');
const report = require('../lib/report');

const execFile = promisify(execFileCallback);
const TARGET = 1.5;

function assertHolds(socket, want, label, getKeepalive) {
  const state = getKeepalive(socket);
  if (!state.enable || state.idle !== want.idle || state.interval !== want.interval || state.count !== want.count) {
    throw new Error(`${label}: kernel holds ${JSON.stringify(state)}, expected ${JSON.stringify(want)}`);
  }
}

const wanted = (i) => {
  const c = configurationFor(i);
  return { idle: c.idleSeconds * 1000, interval: c.intervalSeconds * 1000, count: c.count };
};

/** One fork: every contender interleaved in this process, each round on sockets made for it. */
async function measure({ minimalAddon, plan, sockets: perRound }) {
  const { configureKeepalive, getKeepalive } = require(path.join(packageRoot, 'dist', 'index.js'));
  const minimal = require(minimalAddon);
  const server = await startServer();
  const counter = { configure: 0, minimal: 0, node: 0, second: 0 };

  /** A contender: make `calls` fresh sockets, `prepare` them untimed, time `call` over each, check, close. */
  const onFreshSockets = (name, key, call, check, prepare) => ({
    name,
    calls: perRound,
    run: async (calls) => {
      const sockets = await connectMany(server.port, calls);
      const first = counter[key];
      if (prepare) sockets.forEach((socket, k) => prepare(socket, first + k));
      let i = first;
      const start = process.hrtime.bigint();
      for (const socket of sockets) call(socket, i++);
      const nsPerCall = Number(process.hrtime.bigint() - start) / calls;
      counter[key] = i;
      sockets.forEach((socket, k) => check(socket, first + k));
      await resetAll(sockets);
      return nsPerCall;
    },
  });

  const configure = (socket, i) => {
    configureKeepalive(socket, {
      idle: (1 + (i % 32000)) * 1000,
      interval: (1 + ((i + 16000) % 32000)) * 1000,
      count: 1 + (i % 127),
    });
  };
  const contenders = [
    onFreshSockets('configureKeepalive (idle, interval, count), first call on a fresh socket', 'configure', configure, (socket, i) =>
      assertHolds(socket, wanted(i), 'configureKeepalive', getKeepalive),
    ),
    onFreshSockets(
      'minimal addon: socket._handle.fd, apply(fd, idle, interval, count, -1), on a fresh socket',
      'minimal',
      (socket, i) => {
        minimal.apply(socket._handle.fd, 1 + (i % 32000), 1 + ((i + 16000) % 32000), 1 + (i % 127), -1);
      },
      (socket, i) => assertHolds(socket, wanted(i), 'minimal addon', getKeepalive),
    ),
    onFreshSockets(
      `Node ${process.version} socket.setKeepAlive(true, idle), first call on a fresh socket`,
      'node',
      (socket, i) => socket.setKeepAlive(true, (1 + (i % 32000)) * 1000),
      (socket, i) => assertHolds(socket, { idle: wanted(i).idle, interval: 1000, count: 10 }, 'Node setKeepAlive', getKeepalive),
    ),
    // Same sockets, configured once untimed with other values: the repeat call, on a socket as fresh as the others.
    onFreshSockets(
      'configureKeepalive, second call on a fresh socket (the first one untimed)',
      'second',
      configure,
      (socket, i) => assertHolds(socket, wanted(i), 'configureKeepalive (second call)', getKeepalive),
      (socket, i) => configure(socket, i + 5),
    ),
  ];
  try {
    return await interleave(contenders, plan);
  } finally {
    await server.close();
  }
}

/**
 * Runs `forks` fresh processes one after another, each measuring every
 * contender interleaved, and pools their rounds (paired within each fork).
 */
async function run({ minimalAddon, plan, forks, sockets }) {
  const results = [];
  for (let fork = 0; fork < forks; fork++) {
    const { stdout } = await execFile(process.execPath, [__filename, JSON.stringify({ minimalAddon, plan, sockets })], {
      maxBuffer: 16 * 2 ** 20,
      timeout: 600_000,
    });
    results.push(JSON.parse(stdout));
  }
  const pooled = results[0].map((first, index) => {
    const perRound = results.flatMap((result) => result[index].perRound);
    return { name: first.name, calls: first.calls, perRound, median: median(perRound) };
  });
  const [first, minimal, node, second] = pooled;
  const perFork = results.map((result) => pairedRatio(result[0], result[1]));
  const ratio = pairedRatio(first, minimal);
  return {
    title: '2. First configure of a fresh connected socket',
    body: [
      `Each round, each contender gets ${sockets} new loopback connections, made before its timer starts; only the calls are timed. ` +
        'Then every socket is read back from the kernel and must hold the values written to it, and all are closed (RST). ' +
        'The minimal addon (bench/minimal-addon, built by node-gyp at bench time) is one N-API function making the same ' +
        'four setsockopt calls in the same order, with nothing else: no validation, no ownership check, no policy kept; ' +
        'its timed call includes reading the fd from `socket._handle.fd`, as any addon must.',
      '',
      report.table(report.MEDIAN_HEADER, report.medianRows(pooled)),
      '',
      `Ratios are medians of per-round ratios over ${forks} fresh processes. First configureKeepalive / minimal addon in each fork alone: ` +
        `${perFork.map((r) => report.formatRatio(r)).join(', ')}.`,
      '',
      report.table(
        ['pair', 'median ratio'],
        [
          ['first configureKeepalive / minimal addon', report.formatRatio(ratio)],
          ['first configureKeepalive / second configureKeepalive (both on fresh sockets)', report.formatRatio(pairedRatio(first, second))],
          ['minimal addon / Node setKeepAlive (first call)', report.formatRatio(pairedRatio(minimal, node))],
        ],
      ),
    ].join('\n'),
    targets: [
      report.target(
        `first configureKeepalive ≤ ${TARGET.toFixed(2)} × minimal addon (fresh sockets)`,
        ratio,
        '<=',
        TARGET,
        report.formatRatio,
      ),
    ],
  };
}

if (require.main === module) {
  measure(JSON.parse(process.argv[2]))
    .then((result) => {
      process.stdout.write(JSON.stringify(result));
    })
    .catch((error) => {
      process.stderr.write(`first-configure fork: ${error.stack}\n`);
      process.exitCode = 1;
    });
}

module.exports = { run, measure };
