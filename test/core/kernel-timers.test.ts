/**
 * The kernel timer model (src/core/kernel-timers.ts): its rules on their own,
 * the measurements that motivated it, and the table in docs/kernel-timers.md,
 * which must say exactly what the code computes. (The fault lab checks the
 * model against the kernel: test/faults/kernel-timers.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  deadWithDataInFlightDetection,
  idleDeadPeerDetection,
  kernelTimes,
  retransmissionTimeout,
  survivableStall,
  type TimerPolicy,
} from '../../src/core/kernel-timers';

const s = (seconds: number): number => seconds * 1000;

describe('idle dead peer', () => {
  test('without a user timeout: idle + interval × count', () => {
    expect(idleDeadPeerDetection({ idle: s(30), interval: s(10), count: 3, userTimeout: 0 })).toBe(s(60));
    expect(idleDeadPeerDetection({ idle: s(7200), interval: s(75), count: 9, userTimeout: 0 })).toBe(s(7875));
  });

  test('with one, the count is ignored: the first probe at or after it (measured: 10.2 s and 3.0 s)', () => {
    expect(idleDeadPeerDetection({ idle: s(1), interval: s(1), count: 3, userTimeout: s(10) })).toBe(s(10));
    expect(idleDeadPeerDetection({ idle: s(1), interval: s(1), count: 9, userTimeout: 2500 })).toBe(s(3));
    expect(idleDeadPeerDetection({ idle: s(60), interval: s(20), count: 3, userTimeout: s(90) })).toBe(s(100));
  });

  test('a user timeout below idle + interval still waits for one unanswered probe', () => {
    expect(idleDeadPeerDetection({ idle: s(30), interval: s(10), count: 3, userTimeout: s(5) })).toBe(s(40));
  });
});

describe('dead with data in flight, and the stall a live peer survives', () => {
  test('the user timeout, or tcp_retries2 back-off without one', () => {
    expect(deadWithDataInFlightDetection({ idle: s(30), interval: s(10), count: 3, userTimeout: s(60) })).toBe(s(60));
    expect(deadWithDataInFlightDetection({ idle: s(30), interval: s(10), count: 3, userTimeout: 0 })).toBe(924_600);
    expect(deadWithDataInFlightDetection({ idle: s(30), interval: s(10), count: 3, userTimeout: 0, retries2: 5 })).toBe(12_600);
  });

  test('tcp_model_timeout: doubling from 200 ms, then 120 s per retry past ilog2(120 s / 200 ms) = 9', () => {
    let sum = 0;
    for (let retries = 0; retries <= 30; retries++) {
      sum += Math.min(200 * 2 ** retries, 120_000);
      expect(retransmissionTimeout(retries)).toBe(sum);
    }
  });

  test('a live slow reader: the user timeout, or never', () => {
    expect(survivableStall({ idle: s(30), interval: s(10), count: 3, userTimeout: s(4) })).toBe(s(4));
    expect(survivableStall({ idle: s(30), interval: s(10), count: 3, userTimeout: 0 })).toBe(Infinity);
  });
});

/** The policies docs/kernel-timers.md tabulates, and how each row is written. */
const DOCUMENTED: ReadonlyArray<[string, TimerPolicy]> = [
  ["Linux's defaults", { idle: s(7200), interval: s(75), count: 9, userTimeout: 0 }],
  ['keepalive only', { idle: s(30), interval: s(10), count: 3, userTimeout: 0 }],
  ['redis-cli', { idle: s(15), interval: s(5), count: 3, userTimeout: 0 }],
  ['plan for aws-nlb, 60 s', { idle: s(30), interval: s(10), count: 3, userTimeout: s(60) }],
  ['count 5 under a 60 s user timeout', { idle: s(30), interval: s(10), count: 5, userTimeout: s(60) }],
  ['user timeout 5 min', { idle: s(30), interval: s(10), count: 3, userTimeout: s(300) }],
  ['user timeout between probes', { idle: s(60), interval: s(20), count: 3, userTimeout: s(90) }],
  ['user timeout below the first probe', { idle: s(30), interval: s(10), count: 3, userTimeout: s(5) }],
  ['measured: 1 s / 1 s × 3, 10 s', { idle: s(1), interval: s(1), count: 3, userTimeout: s(10) }],
  ['measured: 1 s / 1 s × 9, 2.5 s', { idle: s(1), interval: s(1), count: 9, userTimeout: 2500 }],
];

const secondsText = (ms: number): string => (ms === Infinity ? 'never' : `${Number((ms / 1000).toFixed(3))} s`);

function documentedRows(): string[][] {
  return DOCUMENTED.map(([what, policy]) => {
    const times = kernelTimes(policy);
    return [
      what,
      secondsText(policy.idle),
      secondsText(policy.interval),
      String(policy.count),
      policy.userTimeout === 0 ? 'not set' : secondsText(policy.userTimeout),
      secondsText(times.idleDeadPeer),
      secondsText(times.deadWithDataInFlight),
      secondsText(times.survivableStall),
    ];
  });
}

const HEADER = ['', 'idle', 'interval', 'count', 'userTimeout', 'idle dead peer', 'dead, data in flight', 'survivable stall'];

/** The first table of the document whose header is HEADER, as trimmed cells (column padding does not matter). */
function tableInDoc(doc: string): string[][] {
  const cells = (line: string): string[] =>
    line
      .trim()
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
  const lines = doc.split('\n');
  const start = lines.findIndex((line) => line.trim().startsWith('|') && JSON.stringify(cells(line)) === JSON.stringify(HEADER));
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    rows.push(cells(line));
  }
  return rows;
}

test('docs/kernel-timers.md shows the table the model computes', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'kernel-timers.md'), 'utf8');
  const expected = documentedRows();
  const line = (row: readonly string[]): string => `| ${row.join(' | ')} |`;
  const table = [line(HEADER), line(HEADER.map(() => '---')), ...expected.map(line)].join('\n');
  // On a mismatch the message is the table to paste (then `npx prettier --write docs/kernel-timers.md`).
  expect({ table: tableInDoc(doc), paste: tableInDoc(doc).length === 0 ? table : 'see the diff' }).toEqual({
    table: expected,
    paste: 'see the diff',
  });
});
