'use strict';
// Import cost: loading the package (dist + prebuilt addon) in a fresh Node
// process, against require('net') in a fresh process, interleaved.
//
// Each process runs a small entry script, as a service starts from its main
// file, and times one require() with process.hrtime. The end time is taken in
// its own statement before anything is printed: in
// `process.stdout.write(String(process.hrtime.bigint() - start))` the getter
// process.stdout runs first and sets up the stdout stream (node:net and more
// for a pipe, about 3 ms), which earlier runs of this benchmark wrongly
// counted as import time.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { interleave, pairedRatio } = require('../lib/interleave');
const { packageRoot } = require('../lib/per-call');
const report = require('../lib/report');

/** Source that requires `before` untimed, then times require(`specifier`) and prints the ns. */
function program(specifier, before) {
  return [
    ...(before ? [`require(${JSON.stringify(before)});`] : []),
    'const start = process.hrtime.bigint();',
    `require(${JSON.stringify(specifier)});`,
    'const end = process.hrtime.bigint();',
    'process.stdout.write(String(end - start));',
  ].join('\n');
}

async function run({ plan }) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-keepalive-import-'));
  const entry = (name, specifier, before) => {
    const file = path.join(directory, `${name}.js`);
    fs.writeFileSync(file, program(specifier, before));
    return () => Number(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
  };
  const evalEntry = (specifier) => () => Number(execFileSync(process.execPath, ['-e', program(specifier)], { encoding: 'utf8' }));
  // One require per round and contender: a second require in the same process would hit the module cache.
  const processPlan = { ...plan, roundMs: 0 };
  try {
    const results = await interleave(
      [
        { name: 'require(package root) → dist/index.js + prebuild', minCalls: 1, run: entry('package', packageRoot) },
        { name: "require('net')", minCalls: 1, run: entry('net', 'net') },
        {
          name: "require(package root) after require('net') (what a service pays)",
          minCalls: 1,
          run: entry('after-net', packageRoot, 'net'),
        },
        { name: 'require(package root) from `node -e` (the first require of the process)', minCalls: 1, run: evalEntry(packageRoot) },
        { name: "require('net') from `node -e`", minCalls: 1, run: evalEntry('net') },
      ],
      processPlan,
    );
    const [ours, net, afterNet, oursEval, netEval] = results;
    return {
      title: 'Import cost in a fresh process',
      body: [
        'Each round starts a new Node process per contender. Each process runs an entry script (as a service starts ' +
          'from its main file) that times its one require() with process.hrtime, taking the end time before it ' +
          'prints anything. The planner (planKeepalive and its presets) is loaded on first use, not at import.',
        '',
        'Under `node -e` the timed require is the first file the process loads, so it also pays for warming ' +
          `Node's CommonJS file loader (${report.formatNs(oursEval.median - ours.median)} here; a built-in like net ` +
          'never goes through it). Those two rows are shown for comparison; the target is on the entry-script row.',
        '',
        report.table(
          ['contender', 'median', 'rounds'],
          results.map((r) => [r.name, report.formatNs(r.median), String(r.perRound.length)]),
        ),
        '',
        `Ratios (median of per-round ratios): package / require('net') ${report.formatRatio(pairedRatio(ours, net))}; ` +
          `under \`node -e\` ${report.formatRatio(pairedRatio(oursEval, netEval))}.`,
      ].join('\n'),
      targets: [
        report.target('import ≤ 5 ms', ours.median / 1e6, '<=', 5, (ms) => `${ms.toFixed(2)} ms`),
        report.target("import after require('net') ≤ 5 ms", afterNet.median / 1e6, '<=', 5, (ms) => `${ms.toFixed(2)} ms`),
        report.target("require(package) ≤ 1.6 × require('net'), fresh processes", pairedRatio(ours, net), '<=', 1.6, report.formatRatio),
      ],
    };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

module.exports = { run };
