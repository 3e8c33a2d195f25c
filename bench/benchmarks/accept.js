'use strict';
// Benchmark: accepting connections through a server with the keepalive policy.
//   plain       net.createServer, nothing configured (the baseline)
//   kernel only the policy written on the listening fd directly (applyToFd), no JavaScript per connection:
//               what having keepalive on costs the kernel per connection (timers), whoever sets it
//   listener    keepaliveServer: the policy set once on the listening socket, inherited by accepted sockets
//   per-socket  configureKeepalive on each accepted socket in 'connection' (the path before the listener one)
// Each server runs in its own process; this process is the load: CONCURRENCY connections in flight, each
// accepted, answered with one byte and closed by the server. Contenders are interleaved (bench/lib/interleave),
// the ratio is the median of per-round ratios. Reported per contender: accepted connections/s (wall) and the
// server's CPU time per accepted connection (process.cpuUsage in the server).
// Then setsockopt calls per accepted connection, counted by strace -c on the server process: the difference
// between a run of SMALL and one of LARGE connections, so start-up (the listener's own calls, the catch-up
// of the first few connections) cancels out.
//
//   node bench/benchmarks/accept.js            (after npm run build; strace must be installed for the count)
//   BENCH_QUICK=1 node bench/benchmarks/accept.js
const { execFileSync, fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { interleave, median, pairedRatio } = require('../lib/interleave');

const root = path.resolve(__dirname, '..', '..');
const POLICY = { idle: 30_000, interval: 10_000, count: 3, userTimeout: 60_000 };
const MODES = ['plain', 'kernel only', 'listener', 'per-socket'];
const CONCURRENCY = 32;

// ---------------------------------------------------------------- server process
function serve(mode) {
  const { keepaliveServer } = require(path.join(root, 'dist', 'integrations'));
  const { configureKeepalive } = require(path.join(root, 'dist'));
  let accepted = 0;
  const answer = (socket) => {
    accepted += 1;
    socket.on('error', () => undefined);
    socket.end('x');
  };
  const server =
    mode === 'per-socket'
      ? net.createServer((socket) => {
          configureKeepalive(socket, POLICY);
          answer(socket);
        })
      : net.createServer(answer);
  if (mode === 'listener') keepaliveServer(server, POLICY);
  if (mode === 'kernel only') {
    const { applyToFd } = require(path.join(root, 'dist', 'core', 'keepalive'));
    const { validateOptions } = require(path.join(root, 'dist', 'core', 'options'));
    const { currentCapabilities } = require(path.join(root, 'dist', 'core', 'platform'));
    server.on('listening', () => applyToFd(server._handle.fd, validateOptions(POLICY, currentCapabilities()), 'bench'));
  }
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (message) => {
    if (message === 'usage') {
      const { user, system } = process.cpuUsage();
      process.send({ accepted, cpuUs: user + system });
    } else if (message === 'exit') {
      server.close();
      process.disconnect();
      setImmediate(() => process.exit(0));
    }
  });
}

// ---------------------------------------------------------------- load (this process)
/** A server process for `mode`, optionally run under a tool (`[command, ...args]` put before node). */
function startServer(mode, tool) {
  const script = __filename;
  const child =
    tool === undefined
      ? fork(script, ['--server', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn(tool[0], [...tool.slice(1), process.execPath, '--hash-seed=1', '--random-seed=1', script, '--server', mode], {
          stdio: ['ignore', 'inherit', 'ignore', 'ipc'],
        });
  const ask = (message) =>
    new Promise((resolve) => {
      child.once('message', resolve);
      child.send(message);
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', ({ port }) =>
      resolve({
        port,
        usage: () => ask('usage'),
        stop: () =>
          new Promise((done) => {
            child.once('exit', done);
            child.send('exit');
          }),
      }),
    );
  });
}

/** Opens `count` connections, CONCURRENCY at a time; each ends when the server's byte and FIN arrive. */
function connectMany(port, count) {
  return new Promise((resolve, reject) => {
    let started = 0;
    let finished = 0;
    const next = () => {
      if (started === count) return;
      started += 1;
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', reject);
      socket.resume();
      socket.on('end', () => {
        socket.destroy();
        finished += 1;
        if (finished === count) resolve();
        else next();
      });
    };
    for (let i = 0; i < Math.min(CONCURRENCY, count); i++) next();
  });
}

async function rates({ rounds, perRound }) {
  const servers = {};
  for (const mode of MODES) servers[mode] = await startServer(mode);
  const cpu = Object.fromEntries(MODES.map((mode) => [mode, []]));
  const contenders = MODES.map((mode) => ({
    name: mode,
    minCalls: perRound,
    async run(calls) {
      const before = await servers[mode].usage();
      const start = process.hrtime.bigint();
      await connectMany(servers[mode].port, calls);
      const ns = Number(process.hrtime.bigint() - start);
      const after = await servers[mode].usage();
      cpu[mode].push(((after.cpuUs - before.cpuUs) * 1000) / (after.accepted - before.accepted));
      return ns / calls;
    },
  }));
  // calibrate would grow the call count; a fixed count per round keeps the port use bounded (TIME_WAIT).
  for (const contender of contenders)
    contender.run = (
      (run) => (calls) =>
        run(Math.min(calls, perRound))
    )(contender.run);
  const results = await interleave(contenders, { rounds, warmupRounds: 1, roundMs: 1 });
  for (const mode of MODES) await servers[mode].stop();
  return results.map((result) => {
    const cpuPerRound = cpu[result.name].slice(-rounds);
    return { ...result, cpuPerRound, cpuNs: median(cpuPerRound) };
  });
}

function available(tool) {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** User-space instructions (callgrind, all threads) of a server process serving `count` connections. */
async function instructions(mode, count) {
  const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-callgrind-')), 'callgrind.out');
  const server = await startServer(mode, ['valgrind', '--tool=callgrind', `--callgrind-out-file=${output}`]);
  await connectMany(server.port, count);
  await server.stop();
  const totals = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(output, 'utf8'));
  fs.rmSync(path.dirname(output), { recursive: true, force: true });
  return Number(totals[1]);
}

/** setsockopt calls the server made (strace -c summary), serving `count` connections. */
async function setsockoptCalls(mode, count) {
  const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-strace-')), 'summary');
  const server = await startServer(mode, ['strace', '-f', '-c', '-e', 'trace=setsockopt', '-o', output]);
  await connectMany(server.port, count);
  await server.stop();
  const summary = fs.readFileSync(output, 'utf8');
  fs.rmSync(path.dirname(output), { recursive: true, force: true });
  const line = summary.split('\n').find((row) => /\ssetsockopt$/.test(row.trim()) || / setsockopt\s*$/.test(row));
  if (line === undefined) return 0; // strace lists only syscalls that were made
  const fields = line.trim().split(/\s+/);
  return Number(fields[3]); // % time, seconds, usecs/call, calls, [errors], syscall
}

async function main() {
  const quick = process.env.BENCH_QUICK === '1';
  const plan = quick ? { rounds: 3, perRound: 500 } : { rounds: 15, perRound: 1000 };
  const lines = [];
  const say = (line) => {
    lines.push(line);
    process.stdout.write(`${line}\n`);
  };
  say(
    `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${os.type()} ${os.release()}; ` +
      `${plan.rounds} interleaved rounds of ${plan.perRound} connections per contender, ${CONCURRENCY} in flight`,
  );
  const results = await rates(plan);
  const plain = results.find((result) => result.name === 'plain');
  say('');
  const kernelOnly = results.find((result) => result.name === 'kernel only');
  say(
    '| server | accepted/s (median) | rate vs plain | server CPU per accepted connection (median) | CPU capacity vs plain | CPU capacity vs kernel only |',
  );
  say('|---|---|---|---|---|---|');
  // Ratios are medians of per-round ratios against the other's run in the same round; the CPU ones are the
  // steadier on a shared machine (wall time includes the load generator and every other process).
  const capacity = (result, base) => (1 / median(result.cpuPerRound.map((ns, round) => ns / base.cpuPerRound[round]))).toFixed(3);
  for (const result of results) {
    const rate = result === plain ? '1' : (1 / pairedRatio(result, plain)).toFixed(3);
    say(
      `| ${result.name} | ${Math.round(1e9 / result.median)} | ${rate} | ${(result.cpuNs / 1000).toFixed(1)} µs | ` +
        `${capacity(result, plain)} | ${capacity(result, kernelOnly)} |`,
    );
  }
  if (available('strace')) {
    const small = 200;
    const large = quick ? 1200 : 3200;
    say('');
    say(
      `setsockopt calls per accepted connection (strace -f -c -e trace=setsockopt on the server; (calls at ${large} − calls at ${small}) / ${large - small}):`,
    );
    say('');
    say(`| server | calls serving ${small} | calls serving ${large} | per accepted connection |`);
    say('|---|---|---|---|');
    for (const mode of MODES.filter((name) => name !== 'kernel only')) {
      const a = await setsockoptCalls(mode, small);
      const b = await setsockoptCalls(mode, large);
      say(`| ${mode} | ${a} | ${b} | ${((b - a) / (large - small)).toFixed(3)} |`);
    }
  } else {
    say('');
    say('setsockopt count skipped: strace is not installed (apt-get install -y strace)');
  }
  if (available('valgrind')) {
    // Counted, not timed: does not move with the machine's load. The kernel's side is not included.
    // Past JIT warm-up (the first thousand connections), over 4000 more: one major GC more or less moves the count ~1 %.
    const small = quick ? 200 : 1000;
    const large = quick ? 1200 : 5000;
    say('');
    say(
      `User-space instructions per accepted connection (callgrind on the server, node --hash-seed=1 --random-seed=1; ` +
        `(instructions at ${large} − at ${small}) / ${large - small}):`,
    );
    say('');
    say('| server | instructions per accepted connection | vs plain |');
    say('|---|---|---|');
    const perConnection = {};
    for (const mode of MODES) {
      const a = await instructions(mode, small);
      const b = await instructions(mode, large);
      perConnection[mode] = (b - a) / (large - small);
      say(`| ${mode} | ${Math.round(perConnection[mode])} | ${(perConnection[mode] / perConnection.plain).toFixed(4)} |`);
    }
  }
  return lines;
}

if (process.argv[2] === '--server') {
  serve(process.argv[3]);
} else if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  });
}

module.exports = { run: main };
