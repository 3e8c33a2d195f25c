/**
 * Telemetry over 10 000 connections opened and closed (both ends followed,
 * every one sampled, the policy name varied past the cardinality cap): the
 * heap after the last batch is where it was after the first, the series stay
 * at the cap plus the `other` set, nothing is still followed, and the closed
 * sockets are garbage-collected. One child on dist/ (fixtures/telemetry-memory.js).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const TOTAL = 10_000;
const BATCH = 1000;
const MAX_SERIES = 50;
/**
 * Heap growth from the first batch to the last, above the control's (the same connections without telemetry).
 * Measured: about +0.1 MB (docs/performance.md); a 100-byte leak per connection would add 0.9 MB.
 */
const HEAP_GROWTH_MB = 0.75;
const fixture = path.join(__dirname, 'fixtures', 'telemetry-memory.js');
const dist = path.join(__dirname, '..', '..', 'dist', 'metrics', 'index.js');

const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
const fdsNeeded = 2 * BATCH + 200;
const runs = limit >= fdsNeeded || process.env.CI ? test : test.skip;
if (limit < fdsNeeded) console.warn(`telemetry-memory: the soft fd limit is ${limit}, ${fdsNeeded} are needed`);

runs(
  `${TOTAL} connections followed, sampled and closed: a flat heap, the cardinality cap held, nothing retained`,
  () => {
    if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first (npm test does)`);
    interface Result {
      warmHeapMB: number;
      endHeapMB: number;
      series: number;
      connections: number;
      collected: number;
    }
    const run = (...extra: string[]): Result => {
      const output = execFileSync(process.execPath, ['--expose-gc', fixture, String(TOTAL), String(BATCH), String(MAX_SERIES), ...extra], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      return JSON.parse(output.trim().split('\n').at(-1)!) as Result;
    };
    const control = run('control');
    const result = run();
    console.log(`telemetry-memory: control ${JSON.stringify(control)}; telemetry ${JSON.stringify(result)}`);
    expect(result.series).toBe(MAX_SERIES + 1);
    expect(result.connections).toBe(0);
    expect(result.endHeapMB - result.warmHeapMB - (control.endHeapMB - control.warmHeapMB)).toBeLessThan(HEAP_GROWTH_MB);
    // Closed sockets are collected: telemetry holds none strongly. The last batches may still be referenced
    // when the final collections run, with or without telemetry: one to two batches on a quiet machine (Node 26
    // with telemetry: 6 999 or 7 999 in runs of the same code), as many as six on a loaded one (3 999, control
    // and telemetry alike). So telemetry may fall short of the control of the same run by a batch, and of a
    // full collection by four. A done entry waiting in the sampler's backlog that still held its socket through
    // its _destroy wrapper kept 5 999 against the control's 8 000, and fails both.
    expect(control.collected).toBeGreaterThanOrEqual(BATCH);
    expect(result.collected).toBeGreaterThanOrEqual(Math.min(TOTAL - 4 * BATCH, control.collected - 2 * BATCH + 1));
  },
  240_000,
);
