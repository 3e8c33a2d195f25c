'use strict';
// Benchmark 6: where the time goes, counted rather than timed. callgrind counts
// the user-space instructions of each contender's loop of calls, and nothing
// else: --toggle-collect turns counting on only inside one function — for Node,
// the minimal addon's measured(callback), which the worker calls with the loop
// after a warm-up; for the C floor, run_set / run_get. Unlike wall time this
// does not move when other work shares the machine, and it splits a call into
// JIT-compiled JavaScript, Node/V8 (builtins, N-API, libuv), the addon and
// libc. The kernel's side of the syscalls is not counted (it is the same for
// every contender: the same four setsockopt or five getsockopt calls).
//
// Counts repeat exactly: Node runs single-threaded with --hash-seed=1
// --random-seed=1, so V8's hash tables and the JIT see the same layout in
// every run, and the one piece of work whose count depends on the clock is
// left out: after each garbage collection V8 formats the GC's durations into
// its in-memory trace ring buffer (GCTracer::Output), and how many digits a
// duration has changes the count by a few hundred instructions. The
// configureKeepalive count is taken twice, first and last, and both are shown.
// Per call they are identical; the totals of the 40,000 calls usually are
// too, and otherwise differ by tens of instructions in ~10^8 (glibc's malloc,
// whose work depends on what was allocated before: another environment, or
// what other threads of the process did earlier).
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const report = require('../lib/report');

const run = promisify(execFile);
const WORKER = path.join(__dirname, '..', 'instructions-worker.js');
const CALLS = 40_000;
const CLOCK_DEPENDENT = /GCTracer::Output\(/;

function objectKind(object) {
  if (object === undefined || object === '???') return 'JIT-compiled JavaScript';
  if (object.endsWith('.node')) return 'addon';
  if (/\/node$/.test(object)) return 'Node / V8 (builtins, N-API, libuv)';
  if (/libc\.so|libpthread/.test(object)) return 'libc';
  return 'other';
}

/** callgrind_annotate's lines as [count, function with its object]. */
async function annotatedLines(file, inclusive) {
  const { stdout } = await run('callgrind_annotate', ['--threshold=100', `--inclusive=${inclusive ? 'yes' : 'no'}`, file], {
    maxBuffer: 64 * 2 ** 20,
  });
  const lines = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (match) lines.push([Number(match[1].replace(/,/g, '')), match[2]]);
  }
  return lines;
}

/**
 * Instructions per object kind (and in total) counted inside the measured
 * function, less GCTracer::Output and everything it calls (nearly all of it
 * libc's printf, so it is taken from that column).
 */
async function annotate(file) {
  const byKind = { total: 0 };
  for (const [count, name] of await annotatedLines(file, false)) {
    if (name.includes('PROGRAM TOTALS')) {
      byKind.total = count;
      continue;
    }
    const kind = objectKind(/\[([^\]]*)\]\s*$/.exec(name)?.[1]);
    byKind[kind] = (byKind[kind] ?? 0) + count;
  }
  const clockDependent = (await annotatedLines(file, true))
    .filter(([, name]) => CLOCK_DEPENDENT.test(name))
    .reduce((sum, [count]) => sum + count, 0);
  byKind.total -= clockDependent;
  byKind.libc = (byKind.libc ?? 0) - clockDependent;
  return byKind;
}

/** Instructions per call of one contender: counted inside `measuredFunction` only, divided by the calls. */
async function perCall(directory, label, command, args, measuredFunction, input) {
  const prefix = path.join(directory, label);
  const valgrindArgs = [
    '--tool=callgrind',
    '--separate-threads=yes',
    `--toggle-collect=${measuredFunction}`,
    `--callgrind-out-file=${prefix}`,
    command,
    ...args,
  ];
  const child = execFile('valgrind', valgrindArgs, { maxBuffer: 16 * 2 ** 20, timeout: 240_000 });
  if (input !== undefined) child.stdin.end(input);
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`valgrind ${command} ${args.join(' ')} exited ${code}`))));
  });
  const mainThread = fs.readdirSync(directory).find((name) => name === `${label}-01`) ?? label;
  const counts = await annotate(path.join(directory, mainThread));
  return Object.fromEntries(Object.entries(counts).map(([kind, count]) => [kind, count / CALLS]));
}

function hasValgrind() {
  try {
    execFileSync('sh', ['-c', 'command -v valgrind && command -v callgrind_annotate'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Two counts of the same contender's loop. The per-call counts (what the
 * table shows) must be identical; the loop totals usually are too, and where
 * they are not, the difference (tens of instructions in ~10^8: glibc's malloc,
 * whose work depends on what was allocated before) is shown.
 */
function sameCount(a, b) {
  const difference = Math.round(Math.abs(a - b) * CALLS);
  if (Math.round(a) !== Math.round(b))
    return `**not identical**: they differ by ${difference} instructions over the ${CALLS.toLocaleString('en-US')} calls`;
  return difference === 0
    ? 'identical'
    : `identical per call; the loop totals differ by ${difference} instructions (${(difference / CALLS).toFixed(4)} per call)`;
}

const KINDS = ['JIT-compiled JavaScript', 'Node / V8 (builtins, N-API, libuv)', 'addon', 'libc', 'other'];

async function runInstructions({ floorBinary, minimalAddon }) {
  if (!hasValgrind()) {
    const reason = 'valgrind (callgrind) is not installed: `apt-get install valgrind` to count instructions';
    process.stderr.write(`[bench] SKIPPED instruction counts: ${reason}\n`);
    return { title: '5. Instructions per call (callgrind)', body: `**Skipped**: ${reason}.`, targets: [] };
  }
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-keepalive-callgrind-'));
  try {
    const node = (contender) => [
      process.execPath,
      ['--single-threaded', '--hash-seed=1', '--random-seed=1', WORKER, contender, String(CALLS), minimalAddon],
      'tcpka_bench_measured',
    ];
    const contenders = [
      ['configureKeepalive (idle, interval, count)', 'configure', node('configure')],
      ['minimal addon: socket._handle.fd, apply(fd, idle, interval, count, -1)', 'minimal', node('minimal')],
      [`Node ${process.version} socket.setKeepAlive(true, idle)`, 'nodeSetKeepAlive', node('nodeSetKeepAlive')],
      ['C: 4 × setsockopt (the floor, with its second thread)', 'floorSet', [floorBinary, [], 'run_set', `set ${CALLS}\n`]],
      ['getKeepalive', 'getKeepalive', node('getKeepalive')],
      ['C: 5 × getsockopt (the floor, with its second thread)', 'floorGet', [floorBinary, [], 'run_get', `get ${CALLS}\n`]],
      // Last and alone, minutes after the first count: a repeat that shares nothing with it but the code.
      ['configureKeepalive again (a second count, must be identical)', 'configureAgain', node('configure')],
    ];
    const counted = {};
    // Two at a time: each is one single-threaded valgrind process.
    for (let k = 0; k < contenders.length; k += 2) {
      await Promise.all(
        contenders.slice(k, k + 2).map(async ([, key, [command, args, measuredFunction, input]]) => {
          counted[key] = await perCall(directory, key, command, args, measuredFunction, input);
        }),
      );
    }
    const order = ['configure', 'configureAgain', 'minimal', 'nodeSetKeepAlive', 'floorSet', 'getKeepalive', 'floorGet'];
    const rows = order.map((key) => [contenders.find((c) => c[1] === key)[0], counted[key]]);

    const cell = (n) => (n === undefined || Math.abs(n) < 0.5 ? '–' : String(Math.round(n)));
    const ratio = (a, b) => report.formatRatio(a.total / b.total);
    return {
      title: '5. Instructions per call (callgrind, user space)',
      body: [
        `Counted with \`valgrind --tool=callgrind --toggle-collect=…\` on the main thread (\`node --single-threaded --hash-seed=1 --random-seed=1\`): ` +
          `only the loop of ${CALLS.toLocaleString('en-US')} calls, after a warm-up of as many, divided by ${CALLS.toLocaleString('en-US')}. ` +
          "Left out: V8 formatting each garbage collection's durations into its in-memory trace buffer, whose count depends on the clock. " +
          'The kernel side of the syscalls is not counted; it is the same for every contender of a group. ' +
          'The split by object is indicative (what V8 inlines moves between columns); the total is the measurement.',
        '',
        report.table(
          ['contender', 'total', ...KINDS],
          rows.map(([label, r]) => [label, cell(r.total), ...KINDS.map((k) => cell(r[k]))]),
        ),
        '',
        `configureKeepalive / Node setKeepAlive: ${ratio(counted.configure, counted.nodeSetKeepAlive)} the user-space instructions; ` +
          `configureKeepalive / minimal addon: ${ratio(counted.configure, counted.minimal)}; ` +
          `configureKeepalive / C floor: ${ratio(counted.configure, counted.floorSet)}; getKeepalive / C floor: ${ratio(counted.getKeepalive, counted.floorGet)}. ` +
          `configureKeepalive counted twice: ${Math.round(counted.configure.total * CALLS).toLocaleString('en-US')} and ` +
          `${Math.round(counted.configureAgain.total * CALLS).toLocaleString('en-US')} instructions in ${CALLS.toLocaleString('en-US')} calls ` +
          `(${sameCount(counted.configure.total, counted.configureAgain.total)}).`,
      ].join('\n'),
      targets: [],
    };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

module.exports = { run: runInstructions };
