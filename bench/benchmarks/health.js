'use strict';
// Benchmark: tcpInfo(socket) and connectionHealth(socket) against one raw
// getsockopt(TCP_INFO) from C (bench/tcp-info-floor.c, its own process and
// socket), interleaved in rounds like benchmark 1, over several fresh
// processes (forks) pooled. The raw addon call (the same getsockopt plus the
// N-API trampoline and decoding into its Float64Array, no JS object) is shown too,
// to split the cost between the binding and the JS layer; so are the decode into
// the returned object without the socket checks (readTcpInfo(fd)), and the
// minimal addon's tcpInfo(fd) (bench/minimal-addon: one getsockopt through one
// N-API call, nothing decoded), the least any addon pays.
//
//   node bench/benchmarks/health.js            # builds the C floor if needed, prints a markdown section
//   BENCH_QUICK=1 node bench/benchmarks/health.js
// From bench/run.js: require('./benchmarks/health').run({ plan, forks }) → { title, body, targets }.
const { execFile: execFileCallback, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');
const { interleave, median, pairedRatio } = require('../lib/interleave');
const { RemoteProcess } = require('../lib/remote');
const { withConnectedSockets } = require('../lib/sockets');
const report = require('../lib/report');

const execFile = promisify(execFileCallback);
const root = path.resolve(__dirname, '..', '..');
const scratch = path.join(root, '.bench-tmp');
const floorSource = path.join(__dirname, '..', 'tcp-info-floor.c');
const floorBinary = path.join(scratch, 'tcp-info-floor');
const TARGET = 1.3;
const defaultMinimalAddon = path.join(scratch, 'minimal-addon', 'build', 'Release', 'minimal.node');

/** Compiles the C floor when missing or older than its source. */
function buildFloor() {
  const stale = !fs.existsSync(floorBinary) || fs.statSync(floorBinary).mtimeMs < fs.statSync(floorSource).mtimeMs;
  if (stale) {
    fs.mkdirSync(scratch, { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', floorBinary, floorSource], { stdio: 'inherit' });
  }
  return floorBinary;
}

/**
 * BENCH_CLOCK=cpu measures CPU time (user + system, this process; the C floor its own) instead of wall
 * time: on a machine shared with other work, time spent waiting for a CPU is not the call's cost.
 */
const cpuClock = process.env.BENCH_CLOCK === 'cpu';
function now() {
  if (!cpuClock) return process.hrtime.bigint();
  const { user, system } = process.cpuUsage();
  return BigInt(user + system) * 1000n;
}

function elapsedNsPerCall(start, calls) {
  return Number(now() - start) / calls;
}

/** One fork: every contender interleaved in this process. */
async function measure({ plan, minimalAddon }) {
  const { tcpInfo, connectionHealth } = require(path.join(root, 'dist', 'index.js'));
  const { readTcpInfo } = require(path.join(root, 'dist', 'health', 'tcp-info.js'));
  const { addon } = require(path.join(root, 'dist', 'native', 'load.js'));
  const native = addon();
  const minimal = require(minimalAddon);
  const floor = new RemoteProcess(floorBinary, cpuClock ? ['cpu'] : [], 'TCP_INFO floor');
  let sink = 0;
  // Every result is kept for a while, as a caller would keep it: a result used for one field only could
  // be optimised away whole (escape analysis), which would measure less than any real use costs.
  const kept = new Array(1024);
  let keptAt = 0;
  try {
    return await withConnectedSockets(['info', 'health', 'raw'], async (sockets) => {
      const rawFd = sockets.raw._handle.fd;
      const infoFd = sockets.info._handle.fd;
      const values = native.tcpInfoValues;
      const contenders = [
        {
          name: 'tcpInfo(socket)',
          run: (calls) => {
            const start = now();
            for (let k = 0; k < calls; k++) sink += (kept[keptAt++ & 1023] = tcpInfo(sockets.info)).rtt;
            return elapsedNsPerCall(start, calls);
          },
        },
        {
          name: 'connectionHealth(socket)',
          run: (calls) => {
            const start = now();
            for (let k = 0; k < calls; k++) sink += (kept[keptAt++ & 1023] = connectionHealth(sockets.health)).info.rtt;
            return elapsedNsPerCall(start, calls);
          },
        },
        {
          name: 'addon().tcpInfo(fd) (the binding alone: decoded into its Float64Array, no object)',
          run: (calls) => {
            const start = now();
            for (let k = 0; k < calls; k++) {
              native.tcpInfo(rawFd);
              sink += values[17];
            }
            return elapsedNsPerCall(start, calls);
          },
        },
        {
          name: 'readTcpInfo(fd): the binding and the decode into the returned object, no socket checks',
          run: (calls) => {
            const start = now();
            for (let k = 0; k < calls; k++) sink += (kept[keptAt++ & 1023] = readTcpInfo(infoFd, 'tcpInfo')).rtt;
            return elapsedNsPerCall(start, calls);
          },
        },
        {
          name: 'minimal addon: tcpInfo(fd), one getsockopt through one N-API call, nothing decoded',
          run: (calls) => {
            const start = now();
            for (let k = 0; k < calls; k++) minimal.tcpInfo(rawFd);
            return elapsedNsPerCall(start, calls);
          },
        },
        floor.contender('C: getsockopt(TCP_INFO) (the floor)', 'info'),
      ];
      const rounds = await interleave(contenders, plan);
      const verified = await floor.request('verify 0');
      if (verified !== 'ok') throw new Error(`C floor: ${verified}`);
      // The reads were real: a connected socket's state is established, and connectionHealth agrees.
      if (tcpInfo(sockets.info).state !== 'established' || connectionHealth(sockets.health).verdict !== 'healthy' || !(sink > 0)) {
        throw new Error('health benchmark: the sockets were not read as established and healthy');
      }
      return rounds;
    });
  } finally {
    await floor.close();
  }
}

/** Runs `forks` fresh processes one after another and pools their rounds (pairs stay within a fork). */
async function run({ plan, forks, minimalAddon = defaultMinimalAddon }) {
  buildFloor();
  if (!fs.existsSync(minimalAddon)) throw new Error(`${minimalAddon} is missing: npm run bench builds it`);
  const results = [];
  for (let fork = 0; fork < forks; fork++) {
    const { stdout } = await execFile(process.execPath, [__filename, '--fork', JSON.stringify({ plan, minimalAddon })], {
      maxBuffer: 16 * 2 ** 20,
      timeout: 600_000,
      env: process.env,
    });
    results.push(JSON.parse(stdout));
  }
  const pooled = results[0].map((first, index) => {
    const perRound = results.flatMap((result) => result[index].perRound);
    return { name: first.name, calls: first.calls, perRound, median: median(perRound) };
  });
  const [info, health, binding, decoded, minimal, floor] = pooled;
  const FLOOR = pooled.indexOf(floor);
  const perFork = (a, b) => results.map((result) => report.formatRatio(pairedRatio(result[a], result[b]))).join(', ');
  // On a shared machine the rounds are noisy in both directions; the fastest round of each contender is the
  // least disturbed one, so the ratio of the fastest rounds is shown next to the paired median.
  const fastest = (result) => Math.min(...result.perRound);
  const ratios = [
    ['tcpInfo / C floor', pairedRatio(info, floor), perFork(0, FLOOR), fastest(info) / fastest(floor)],
    ['connectionHealth / C floor', pairedRatio(health, floor), perFork(1, FLOOR), fastest(health) / fastest(floor)],
    ['addon().tcpInfo / C floor', pairedRatio(binding, floor), perFork(2, FLOOR), fastest(binding) / fastest(floor)],
    ['readTcpInfo(fd) / C floor', pairedRatio(decoded, floor), perFork(3, FLOOR), fastest(decoded) / fastest(floor)],
    ['minimal addon tcpInfo(fd) / C floor', pairedRatio(minimal, floor), perFork(4, FLOOR), fastest(minimal) / fastest(floor)],
  ];
  return {
    title: 'Health: tcpInfo and connectionHealth per call',
    body: [
      'One TCP_INFO read per call on a connected, idle loopback socket; the C floor reads the same struct with one ' +
        'getsockopt on a socket of its own, in its own process, interleaved round by round with the Node contenders.',
      '',
      report.table(report.MEDIAN_HEADER, report.medianRows(pooled)),
      '',
      `Ratios are medians of the per-round ratios over ${forks} fresh processes (forks) run one after another. ` +
        `Clock: ${cpuClock ? 'CPU time of each process (BENCH_CLOCK=cpu)' : 'wall time'}.`,
      '',
      report.table(
        ['pair', 'median ratio', 'each fork', 'fastest rounds'],
        ratios.map(([pair, ratio, each, best]) => [pair, report.formatRatio(ratio), each, report.formatRatio(best)]),
      ),
    ].join('\n'),
    targets: [
      report.target(`tcpInfo ≤ ${TARGET} × C getsockopt(TCP_INFO)`, ratios[0][1], '<=', TARGET, report.formatRatio),
      report.target(`connectionHealth ≤ ${TARGET} × C getsockopt(TCP_INFO)`, ratios[1][1], '<=', TARGET, report.formatRatio),
    ],
  };
}

module.exports = { run, measure, buildFloor };

if (require.main === module) {
  if (process.argv[2] === '--fork') {
    measure(JSON.parse(process.argv[3]))
      .then((result) => process.stdout.write(JSON.stringify(result)))
      .catch((error) => {
        process.stderr.write(`health fork: ${error.stack}\n`);
        process.exitCode = 1;
      });
  } else {
    const quick = process.env.BENCH_QUICK === '1';
    const plan = quick ? { rounds: 5, warmupRounds: 1, roundMs: 20 } : { rounds: 21, warmupRounds: 3, roundMs: 20 };
    run({ plan, forks: quick ? 2 : 5 })
      .then((section) => {
        process.stdout.write(
          `## ${section.title}\n\n${section.body}\n\n${report.table(report.TARGET_HEADER, report.targetRows(section.targets))}\n`,
        );
        if (process.env.BENCH_STRICT === '1' && section.targets.some((t) => !t.pass)) process.exitCode = 1;
      })
      .catch((error) => {
        process.stderr.write(`[bench] health failed: ${error.stack}\n`);
        process.exitCode = 1;
      });
  }
}
