/**
 * The doctor's rules on their own (the end-to-end tests read real sockets):
 * every reason, every note, and what is never concluded from missing values.
 */
import { parseDuration, parsePath, UsageError } from '../../src/cli/args';
import { duration } from '../../src/cli/format';
import { fixPlan, judge, type Policy, planRequest, resolveHops, retransmissionLimit } from '../../src/cli/judge';
import { kernelTimes, retransmissionTimeout } from '../../src/core/kernel-timers';
import { IDLE_TIMEOUT_PRESETS, planKeepalive } from '../../src/planner';

const presetNames = Object.keys(IDLE_TIMEOUT_PRESETS);
const policy = (path: string | undefined, detectWithin: number): Policy => ({
  hops: resolveHops(path === undefined ? [] : parsePath(path, presetNames, 'doctor'), IDLE_TIMEOUT_PRESETS),
  detectWithin,
  retransmissionGiveUp: 924_600,
  tcpRetries2: 15,
});
const kernel = (idle: number, interval: number, count: number, userTimeout: number, enable = true) => ({
  enable,
  idle,
  interval,
  count,
  userTimeout,
});
const read = (k: ReturnType<typeof kernel>) => ({ kernel: k, keepaliveFromTimer: null, keepaliveTimerLeft: null, sendQueue: 0 });

describe('judge', () => {
  test("the planner's own plan is ok on its path", () => {
    expect(judge(read(kernel(30_000, 10_000, 3, 60_000)), policy('aws-nlb', 60_000))).toEqual({
      verdict: 'ok',
      reasons: [],
      notes: [],
      worstCaseDetection: 60_000,
      worstCaseDetectionAtLeast: null,
      times: { idleDeadPeer: 60_000, deadWithDataInFlight: 60_000, survivableStall: 60_000 },
    });
  });

  test('with TCP_USER_TIMEOUT set the count is ignored: the column shows the first probe at or after it', () => {
    // 30 s + 10 s × 3 reads as 1 m, but with userTimeout 5 m Linux keeps probing until 5 m.
    const late = judge(read(kernel(30_000, 10_000, 3, 300_000)), policy(undefined, 120_000));
    expect(late.worstCaseDetection).toBe(300_000);
    expect(late.reasons[0]).toBe(
      'a dead peer is noticed only after up to 5m, more than --detect-within 2m: with TCP_USER_TIMEOUT 5m set, Linux ignores ' +
        'count 3 and ends an idle connection at the first probe at or after it (idle 30s, then every 10s)',
    );
    // The measured cases: 1 s/1 s × 3 with userTimeout 10 s → 10 s; userTimeout 2.5 s with × 9 → 3 s.
    expect(judge(read(kernel(1000, 1000, 3, 10_000)), policy(undefined, 60_000)).worstCaseDetection).toBe(10_000);
    expect(judge(read(kernel(1000, 1000, 9, 2500)), policy(undefined, 60_000)).worstCaseDetection).toBe(3000);
    // And the other way: count 5 reads as 80 s, but userTimeout 60 s ends it at the 60 s probe: within a 60 s budget.
    const early = judge(read(kernel(30_000, 10_000, 5, 60_000)), policy(undefined, 60_000));
    expect(early).toMatchObject({ verdict: 'ok', worstCaseDetection: 60_000 });
  });

  test('each rule, in plain words', () => {
    const off = judge(read(kernel(7_200_000, 75_000, 9, 0, false)), policy('aws-nlb', 60_000));
    expect(off.verdict).toBe('at-risk');
    expect(off.reasons).toEqual([
      expect.stringMatching(/^keepalive is off/),
      expect.stringMatching(/^no TCP_USER_TIMEOUT.*about 15m25s \(tcp_retries2 15\)/),
    ]);
    expect(off.worstCaseDetection).toBeNull();

    const tooIdle = judge(read(kernel(400_000, 10_000, 3, 60_000)), policy('aws-nlb', 600_000));
    expect(tooIdle.reasons).toEqual([
      'idle 6m40s is not below the 5m50s idle timeout of AWS Network Load Balancer: it forgets the flow before the first probe',
    ]);

    const slow = judge(read(kernel(30_000, 10_000, 5, 0)), policy(undefined, 70_000));
    expect(slow.reasons[0]).toBe('a dead peer is noticed only after up to 1m20s (idle 30s + 10s × 5), more than --detect-within 1m10s');

    const longUserTimeout = judge(read(kernel(30_000, 10_000, 3, 90_000)), policy(undefined, 60_000));
    expect(longUserTimeout.reasons).toEqual([
      expect.stringMatching(
        /^a dead peer is noticed only after up to 1m30s, more than --detect-within 1m: with TCP_USER_TIMEOUT 1m30s set/,
      ),
      expect.stringMatching(/^TCP_USER_TIMEOUT 1m30s is longer than --detect-within 1m/),
    ]);

    const inFlight = judge({ ...read(kernel(30_000, 10_000, 3, 0)), sendQueue: 512 }, policy(undefined, 60_000));
    expect(inFlight.reasons[0]).toMatch(/\(512 bytes are unacknowledged right now\)$/);
  });

  test('no TCP_USER_TIMEOUT is fine when the kernel gives up within the budget anyway', () => {
    expect(judge(read(kernel(30_000, 10_000, 3, 0)), policy(undefined, 1_000_000)).verdict).toBe('ok');
  });

  test('notes, not risks: one lost probe from a forgotten flow; a hop that only counts data', () => {
    const fragile = judge(read(kernel(300_000, 60_000, 3, 60_000)), policy('aws-nlb', 600_000));
    expect(fragile.verdict).toBe('ok');
    expect(fragile.notes).toEqual([
      expect.stringMatching(/^one lost probe lets AWS Network Load Balancer forget the flow \(idle \+ interval = 6m/),
    ]);
    const proxy = judge(read(kernel(30_000, 10_000, 3, 60_000)), policy('aws-alb', 60_000));
    expect(proxy.verdict).toBe('ok');
    expect(proxy.notes).toEqual([expect.stringMatching(/^AWS Application Load Balancer counts application data only.*every 1m$/)]);
  });

  test('unread values are never guessed: off from the timer is at risk, on is unknown unless the timer alone exceeds the budget', () => {
    const unread = { kernel: null, sendQueue: 0 };
    expect(judge({ ...unread, keepaliveFromTimer: false, keepaliveTimerLeft: null }, policy(undefined, 60_000)).verdict).toBe('at-risk');
    const on = judge({ ...unread, keepaliveFromTimer: true, keepaliveTimerLeft: 20_000 }, policy('aws-nlb', 60_000));
    expect(on).toMatchObject({ verdict: 'unknown', worstCaseDetection: null, worstCaseDetectionAtLeast: 20_000 });
    const late = judge({ ...unread, keepaliveFromTimer: true, keepaliveTimerLeft: 7_000_000 }, policy(undefined, 60_000));
    expect(late).toMatchObject({ verdict: 'at-risk', worstCaseDetectionAtLeast: 7_000_000 });
    expect(judge({ ...unread, keepaliveFromTimer: null, keepaliveTimerLeft: null }, policy(undefined, 60_000)).verdict).toBe('unknown');
  });

  test('the retransmission limit follows tcp_retries2 (924.6 s for 15)', () => {
    const { retries2, giveUpMs } = retransmissionLimit();
    expect(giveUpMs).toBe(retransmissionTimeout(retries2));
    if (retries2 === 15) expect(giveUpMs).toBe(924_600);
  });
});

describe('the plan that fixes what is at risk never weakens a stronger setting', () => {
  test('redis-cli at 15 s / 5 s × 3 without userTimeout keeps 15 s / 5 s × 3 and gains a userTimeout within the budget', () => {
    const doctorPolicy = policy(undefined, 120_000);
    const redisCli = kernel(15_000, 5000, 3, 0);
    expect(judge(read(redisCli), doctorPolicy).verdict).toBe('at-risk'); // no userTimeout: 15m25s with data in flight
    const plan = planKeepalive(planRequest([], 120_000));
    expect(plan.options).toMatchObject({ idle: 60_000, interval: 20_000 }); // what it was told before
    const fixed = fixPlan(plan, [redisCli], doctorPolicy);
    expect(fixed.options).toEqual({ enable: true, idle: 15_000, interval: 5000, count: 3, userTimeout: 120_000 });
    expect(fixed.times).toEqual(kernelTimes({ ...fixed.options }));
    expect(fixed.times).toEqual({ idleDeadPeer: 120_000, deadWithDataInFlight: 120_000, survivableStall: 120_000 });
    expect(fixed.notes[0]).toMatch(/^kept from the connections at risk, already stronger than the plan's: idle 15s, interval 5s/);
    // The fix is itself ok by the doctor's rules.
    expect(judge(read(fixed.options), doctorPolicy).verdict).toBe('ok');
  });

  test('nothing stronger held: the plan as planned; a probe past the budget moves userTimeout back within it', () => {
    const doctorPolicy = policy(undefined, 60_000);
    const plan = planKeepalive(planRequest([], 60_000));
    expect(fixPlan(plan, [kernel(7_200_000, 75_000, 9, 0), null], doctorPolicy)).toBe(plan);
    // idle 16 s, every 7 s: probes at 23, 30, …, 58, 65 s: the one after 60 s is past the budget.
    const fixed = fixPlan(plan, [kernel(16_000, 7000, 9, 0)], doctorPolicy);
    expect(fixed.options).toMatchObject({ idle: 16_000, interval: 7000, count: 3, userTimeout: 58_000 });
    expect(judge(read(fixed.options), doctorPolicy).verdict).toBe('ok');
  });
});

describe('durations and paths', () => {
  test.each([
    ['60000', 60_000],
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
  ])('%s', (text, ms) => {
    expect(parseDuration('detect-within', text, 'doctor')).toBe(ms);
  });
  test.each(['0', '-5s', '5 s', '1d', 's', ''])('refused: %j', (text) => {
    expect(() => parseDuration('detect-within', text, 'doctor')).toThrow(UsageError);
  });
  test('presets, timeouts and configured presets', () => {
    expect(parsePath('aws-nlb,350s,haproxy=30s', presetNames, 'plan')).toEqual([
      'aws-nlb',
      350_000,
      { preset: 'haproxy', idleTimeout: 30_000 },
    ]);
    expect(() => resolveHops(['haproxy'], IDLE_TIMEOUT_PRESETS, 'plan')).toThrow(/haproxy has no default idle timeout/);
    expect(() => parsePath('aws', presetNames, 'plan')).toThrow(/neither a preset/);
  });
  test('durations for people', () => {
    expect([500, 17_000, 28_790, 131_000, 7_200_000, 7_875_000].map(duration)).toEqual([
      '500ms',
      '17s',
      '28.8s',
      '2m11s',
      '2h',
      '2h11m15s',
    ]);
  });
});
