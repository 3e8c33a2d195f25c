'use strict';
// Benchmark 5: where the time goes, counted rather than timed. callgrind counts
// the user-space instructions of each contender (V8 single-threaded, main thread
// only): a long run minus a short run, divided by the extra calls. Unlike wall
// time this does not move when other work shares the machine, and it splits a
// call into JIT-compiled JavaScript, Node/V8 (builtins, N-API, libuv), the
// addon and libc. The kernel's side of the syscalls is not counted (it is the
// same for every contender: the same four setsockopt or five getsockopt calls).
// Node runs with --hash-seed=1 --random-seed=1, so V8's hash tables and the
// JIT see the same layout in every run and the per-call counts repeat: the
// configureKeepalive count is taken twice and both are shown.
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const report = require('../lib/report');

const run = promisify(execFile);
const WORKER = path.join(__dirname, '..', 'instructions-worker.js');
const SHORT_RUN = 20_000;
const LONG_RUN = 60_000;

function objectKind(object) {
  if (object === undefined || object === '???') return 'JIT-compiled JavaScript';
  if (object.endsWith('.node')) return 'addon';
  if (/\/node$/.test(object)) return 'Node / V8 (builtins, N-API, libuv)';
  if (/libc\.so|libpthread/.test(object)) return 'libc';
  return 'other';
}

/** Instructions per object kind (and in total) of the main thread, from callgrind_annotate. */
async function annotate(file) {
  const { stdout } = await run('callgrind_annotate', ['--threshold=100', '--inclusive=no', file], { maxBuffer: 64 * 2 ** 20 });
  const byKind = { total: 0 };
  for (const line of stdout.split('\n')) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!match) continue;
    const count = Number(match[1].replace(/,/g, ''));
    if (match[2].includes('PROGRAM TOTALS')) {
      byKind.total = count;
      continue;
    }
    const object = /\[([^\]]*)\]\s*$/.exec(match[2])?.[1];
    const kind = objectKind(object);
    byKind[kind] = (byKind[kind] ?? 0) + count;
  }
  return byKind;
}

async function countOnce(directory, label, command, args, input) {
  const prefix = path.join(directory, `${label}`);
  const valgrindArgs = ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${prefix}`, command, ...args];
  const child = execFile('valgrind', valgrindArgs, { maxBuffer: 16 * 2 ** 20, timeout: 240_000 });
  if (input !== undefined) child.stdin.end(input);
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`valgrind ${command} ${args.join(' ')} exited ${code}`))));
  });
  const mainThread = fs.readdirSync(directory).find((name) => name === `${label}-01`) ?? label;
  return annotate(path.join(directory, mainThread));
}

/** Instructions per call: (long run − short run) / extra calls, per object kind. */
async function perCall(directory, name, command, argsFor, inputFor) {
  const [short, long] = await Promise.all([
    countOnce(directory, `${name}.short`, command, argsFor(SHORT_RUN), inputFor?.(SHORT_RUN)),
    countOnce(directory, `${name}.long`, command, argsFor(LONG_RUN), inputFor?.(LONG_RUN)),
  ]);
  const result = {};
  for (const kind of new Set([...Object.keys(short), ...Object.keys(long)])) {
    result[kind] = ((long[kind] ?? 0) - (short[kind] ?? 0)) / (LONG_RUN - SHORT_RUN);
  }
  return result;
}

function hasValgrind() {
  try {
    execFileSync('sh', ['-c', 'command -v valgrind && command -v callgrind_annotate'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Two counts of the same contender: identical, or by how much they differ (a whole instruction or more is reported as a problem). */
function sameCount(a, b) {
  const difference = Math.abs(a - b);
  if (difference === 0) return 'identical';
  return difference < 0.5 ? `the same to ${difference.toFixed(2)} of an instruction` : `**they differ by ${difference.toFixed(1)}**`;
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
    const node = (contender) => (calls) => ['--single-threaded', '--hash-seed=1', '--random-seed=1', WORKER, contender, String(calls), minimalAddon];
    const rows = [];
    const counted = {};
    for (const [label, contender] of [
      ['configureKeepalive (idle, interval, count)', 'configure'],
      ['configureKeepalive again (a second count: must repeat)', 'configure'],
      ['minimal addon: socket._handle.fd, apply(fd, idle, interval, count, -1)', 'minimal'],
      [`Node ${process.version} socket.setKeepAlive(true, idle)`, 'nodeSetKeepAlive'],
      ['getKeepalive', 'getKeepalive'],
    ]) {
      const result = await perCall(directory, `${contender}-${rows.length}`, process.execPath, node(contender));
      if (counted[contender] === undefined) counted[contender] = result;
      else counted.configureAgain = result;
      rows.push([label, result]);
    }
    counted.floorSet = await perCall(directory, 'floor-set', floorBinary, () => [], (calls) => `set ${calls}\n`);
    rows.splice(4, 0, ['C: 4 × setsockopt (the floor, with its second thread)', counted.floorSet]);
    counted.floorGet = await perCall(directory, 'floor-get', floorBinary, () => [], (calls) => `get ${calls}\n`);
    rows.push(['C: 5 × getsockopt (the floor, with its second thread)', counted.floorGet]);

    const cell = (n) => (n === undefined || Math.abs(n) < 0.5 ? '–' : String(Math.round(n)));
    const ratio = (a, b) => report.formatRatio(a.total / b.total);
    return {
      title: '5. Instructions per call (callgrind, user space)',
      body: [
        `Counted with \`valgrind --tool=callgrind\` on the main thread (\`node --single-threaded --hash-seed=1 --random-seed=1\`), ` +
          `(${LONG_RUN.toLocaleString('en-US')} calls − ${SHORT_RUN.toLocaleString('en-US')} calls) / ${(LONG_RUN - SHORT_RUN).toLocaleString('en-US')}. ` +
          'The kernel side of the syscalls is not counted; it is the same for every contender of a group. ' +
          'The split by object is indicative (code V8 inlines or tiers up differently between the short and the long run moves between columns); the total is the measurement.',
        '',
        report.table(['contender', 'total', ...KINDS], rows.map(([label, r]) => [label, cell(r.total), ...KINDS.map((k) => cell(r[k]))])),
        '',
        `configureKeepalive / Node setKeepAlive: ${ratio(counted.configure, counted.nodeSetKeepAlive)} the user-space instructions; ` +
          `configureKeepalive / minimal addon: ${ratio(counted.configure, counted.minimal)}; ` +
          `configureKeepalive / C floor: ${ratio(counted.configure, counted.floorSet)}; getKeepalive / C floor: ${ratio(counted.getKeepalive, counted.floorGet)}. ` +
          `configureKeepalive counted twice: ${counted.configure.total.toFixed(2)} and ${counted.configureAgain.total.toFixed(2)} per call ` +
          `(${sameCount(counted.configure.total, counted.configureAgain.total)}).`,
      ].join('\n'),
      targets: [],
    };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

module.exports = { run: runInstructions };
