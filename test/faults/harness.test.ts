/**
 * The lab harness keeps its promises: a child really runs in a private
 * namespace, is killed at its hard bound, and its failures reach the test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInNamespace } from '../../lab';
import { parseSsDuration } from '../../lab/inside';
import { describeInLab, ensureBuilt } from './lab';

const insideModule = path.resolve(__dirname, '..', '..', 'lab-dist', 'inside.js');
let scratch: string;

function script(name: string, body: string): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, `const lab = require(${JSON.stringify(insideModule)});\n${body}\n`);
  return file;
}

beforeAll(() => {
  ensureBuilt();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-lab-'));
}, 120_000);

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describeInLab('namespaces', 'runInNamespace', () => {
  test('the child has its own network namespace and returns its JSON report', async () => {
    const file = script(
      'netns.js',
      `
      lab.runInside(async (args) => {
        lab.bringLoopbackUp();
        return { echoed: args, netns: require('node:fs').readlinkSync('/proc/self/ns/net') };
      }, { deadlineMs: 5000 });`,
    );
    const report = await runInNamespace<{ echoed: unknown; netns: string }>({ script: file, args: { n: 1 }, timeoutMs: 10_000 });
    expect(report.echoed).toEqual({ n: 1 });
    expect(report.netns).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
  });

  test('a child that hangs is killed at the hard bound (ERR_LAB_TIMEOUT)', async () => {
    const file = script('hang.js', 'setInterval(() => undefined, 1000);');
    const started = Date.now();
    await expect(runInNamespace({ script: file, timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_LAB_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('a child that throws rejects with its error (ERR_LAB_CHILD_FAILED)', async () => {
    const file = script(
      'throws.js',
      `
      lab.runInside(async () => { throw Object.assign(new Error('backend refused'), { code: 'ECONNREFUSED' }); }, { deadlineMs: 5000 });`,
    );
    await expect(runInNamespace({ script: file, timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'ERR_LAB_CHILD_FAILED',
      message: expect.stringContaining('[ECONNREFUSED] backend refused'),
    });
  });

  test('a child that exits without reporting rejects (ERR_LAB_NO_REPORT)', async () => {
    const file = script('silent.js', 'console.error("crashed early"); process.exit(3);');
    await expect(runInNamespace({ script: file, timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'ERR_LAB_NO_REPORT',
      stderr: expect.stringContaining('crashed early'),
    });
  });
});

describe('parseSsDuration (ss print_ms_timer format)', () => {
  test.each([
    ['1.996ms', 1996],
    ['008ms', 8],
    ['12sec', 12_000],
    ['119min', 7_140_000],
    ['1min30sec', 90_000],
    ['', 0],
  ])('%j → %d ms', (text, ms) => expect(parseSsDuration(text)).toBe(ms));

  test('anything else is NaN, never a guess', () => expect(parseSsDuration('soon')).toBeNaN());
});
