'use strict';
// Benchmark 4: loading the package (dist + prebuilt addon) in a fresh Node
// process, against require('net') in a fresh process, interleaved.
const { execFileSync } = require('node:child_process');
const { interleave, pairedRatio } = require('../lib/interleave');
const { packageRoot } = require('../lib/per-call');
const report = require('../lib/report');

/** ns spent in require(specifier), measured inside a new process. */
function freshRequireNs(specifier) {
  const program = `const start = process.hrtime.bigint(); require(${JSON.stringify(specifier)}); ` +
    'process.stdout.write(String(process.hrtime.bigint() - start));';
  return Number(execFileSync(process.execPath, ['-e', program], { encoding: 'utf8' }));
}

async function run({ plan }) {
  // One require per round and contender: a second require in the same process would hit the module cache.
  const processPlan = { ...plan, roundMs: 0 };
  const results = await interleave([
    { name: `require(package root) → dist/index.js + prebuild`, minCalls: 1, run: () => freshRequireNs(packageRoot) },
    { name: "require('net')", minCalls: 1, run: () => freshRequireNs('net') },
  ], processPlan);
  const [ours, net] = results;
  return {
    title: '4. Import cost in a fresh process',
    body: [
      'Each round starts two new Node processes; each times its one require() with process.hrtime.',
      '',
      report.table(['contender', 'median', 'rounds'], results.map((r) => [r.name, report.formatNs(r.median), String(r.perRound.length)])),
      '',
      `Ratio (median of per-round ratios): ${report.formatRatio(pairedRatio(ours, net))} require('net').`,
    ].join('\n'),
    targets: [report.target('import ≤ 5 ms', ours.median / 1e6, '<=', 5, (ms) => `${ms.toFixed(2)} ms`)],
  };
}

module.exports = { run };
