/**
 * The kernel timer model (src/core/kernel-timers.ts) against the kernel: real
 * network namespaces where the peer vanishes (lo down) or every arriving packet
 * is dropped (an nft black hole), and the watched socket's death timed in the
 * child. The expected times come from the model, never from literals; the
 * `ss -tino` timer column, read outside our addon, shows which timer ran and
 * how many probes or retransmissions it counted.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import type { KeepaliveOptions } from '../../src';
import { deadWithDataInFlightDetection, idleDeadPeerDetection, RTO_MIN_MS } from '../../src/core/kernel-timers';
import type { ScenarioReport } from '../../lab';
import { describeInLab, ensureBuilt, ScenarioBatch } from './lab';

const batch = new ScenarioBatch();
jest.setTimeout(30_000);

beforeAll(() => {
  ensureBuilt();
  batch.startAll();
}, 120_000);

/** CONFIG_HZ of the running kernel, or 100 (the coarsest common value) when its config is not readable. */
function kernelHz(): number {
  const sources: Array<() => string> = [
    () => zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8'),
    () => fs.readFileSync(`/boot/config-${require('node:os').release() as string}`, 'utf8'),
  ];
  for (const read of sources) {
    try {
      const match = /^CONFIG_HZ=(\d+)$/m.exec(read());
      if (match) return Number(match[1]);
    } catch {
      // try the next source
    }
  }
  return 100;
}

/**
 * One "kernel tick" for a timer of `ms`: the timer wheel's granularity at that length (kernel/time/timer.c:
 * 64 buckets a level, each level 8 times coarser, level n from (64 − 1) × 8^(n−1) jiffies). A timer fires
 * up to this much late: at HZ 250, 32 ms for a 1 s keepalive interval, 256 ms for a 2–16 s timer.
 */
function timerTick(ms: number, hz = kernelHz()): number {
  const jiffies = Math.ceil((ms * hz) / 1000);
  let level = 0;
  while (level < 8 && jiffies >= 63 * 8 ** level) level++;
  return (8 ** level * 1000) / hz;
}

/** Measured within 5 % plus `slack` after the model's time, and never before it. */
function expectNear(measuredMs: number, modelMs: number, slackMs: number): void {
  expect(measuredMs).toBeGreaterThanOrEqual(modelMs);
  expect(measuredMs).toBeLessThanOrEqual(modelMs * 1.05 + slackMs);
}

function idlePeerVanishes(options: Required<Omit<KeepaliveOptions, 'enable'>>): () => Promise<ScenarioReport> {
  return batch.add({
    name: 'vanishing-peer',
    side: 'client',
    vanish: 'link-down',
    dataInFlight: false,
    keepalive: { kind: 'tcp-keepalive', options },
    observeMs: idleDeadPeerDetection(options) * 1.2 + 1000,
  });
}

describeInLab('namespaces', 'idle dead peer: the model, with and without TCP_USER_TIMEOUT', () => {
  const withoutUserTimeout = { idle: 1000, interval: 1000, count: 3, userTimeout: 0 };
  // 1 s + 1 s × 3 reads as 4 s; with userTimeout 10 s Linux keeps probing until 10 s.
  const countIgnored = { idle: 1000, interval: 1000, count: 3, userTimeout: 10_000 };
  // × 9 reads as 10 s; userTimeout 2.5 s ends it at the first probe after 2.5 s: 3 s.
  const countCutShort = { idle: 1000, interval: 1000, count: 9, userTimeout: 2500 };
  const cases = [withoutUserTimeout, countIgnored, countCutShort].map((options) => [options, idlePeerVanishes(options)] as const);

  test.each(cases)('%o: ETIMEDOUT within 5 % + one kernel tick of idleDeadPeerDetection()', async (options, report) => {
    const { kernel, detected } = await report();
    expect(kernel).toEqual({ enable: true, ...options });
    expect(detected?.code).toBe('ETIMEDOUT');
    expectNear(detected!.afterMs, idleDeadPeerDetection(options), timerTick(options.interval));
  });

  test('the kernel ran the keepalive timer, and with a user timeout its probe count is not the configured count', async () => {
    const [[, plain], [, ignored], [, cutShort]] = cases;
    for (const report of [plain, ignored, cutShort]) expect((await report()).ssLastSeen?.timer?.name).toBe('keepalive');
    // ss -tino's timer:(keepalive,<left>,<probes sent>), sampled every 500 ms until the abort.
    expect((await ignored()).ssLastSeen!.timer!.attempts).toBeGreaterThan(countIgnored.count);
    expect((await cutShort()).ssLastSeen!.timer!.attempts).toBeLessThan(countCutShort.count);
  });
});

describeInLab('loadBalancer', 'dead peer with data in flight: TCP_USER_TIMEOUT from the first retransmission', () => {
  const policies = [
    { idle: 1000, interval: 1000, count: 3, userTimeout: 3000 },
    { idle: 1000, interval: 1000, count: 3, userTimeout: 5000 },
  ];
  const cases = policies.map(
    (options) =>
      [
        options,
        batch.add({
          name: 'vanishing-peer',
          side: 'client',
          vanish: 'drop-incoming',
          dataInFlight: true,
          keepalive: { kind: 'tcp-keepalive', options },
          observeMs: options.userTimeout * 1.2 + 1500,
        }),
      ] as const,
  );

  // The clock is the write; the kernel's starts at the first retransmission (tcp_retransmit_skb() sets
  // retrans_stamp then): on loopback the tail loss probe, 2 × srtt + 200 ms (tcp_rto_min) after the write,
  // itself on a timer. The last retransmission timer, clamped to what is left of the user timeout, may fire
  // one tick late. So: 5 % + the first retransmission (200 ms + its tick) + one tick of the user timeout.
  test.each(cases)(
    '%o: ETIMEDOUT within 5 % + the first retransmission + a tick of deadWithDataInFlightDetection()',
    async (options, report) => {
      const { kernel, detected, ssLastSeen } = await report();
      expect(kernel).toEqual({ enable: true, ...options });
      expect(detected?.code).toBe('ETIMEDOUT');
      const firstRetransmission = RTO_MIN_MS + timerTick(RTO_MIN_MS);
      expectNear(detected!.afterMs, deadWithDataInFlightDetection(options), firstRetransmission + timerTick(options.userTimeout));
      // The retransmission timer ("on"), not keepalive, owned the socket.
      expect(ssLastSeen?.timer?.name).toBe('on');
      expect(ssLastSeen!.timer!.attempts).toBeGreaterThanOrEqual(1);
    },
  );
});
