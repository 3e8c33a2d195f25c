/**
 * A live peer that stops reading, in the fault lab, under a planKeepalive()
 * plan: the kernel lets it stall for survivableStall() of the plan (the kernel
 * timer model), connectionHealth says 'stalled' (peer-not-reading) all along,
 * never healthy; past that stall the kernel ends the connection with
 * ETIMEDOUT and tcp-keepalive:dead says 'user-timeout'. And a configured socket
 * upgraded with tls.connect({ socket }) whose peer vanishes is published too.
 * The times come from the plan and the model, never from literals.
 */
import { survivableStall, type TimerPolicy } from '../../src/core/kernel-timers';
import { planKeepalive } from '../../src/planner';
import { type HealthReport, runHealthScenario, type HealthScenario } from '../../lab/health-scenarios';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { describeInLab, ensureBuilt, expectWithinDeadline } from './lab';

jest.setTimeout(60_000);

// A 10 s balancer on the path and "notice a dead peer within 8 s", as in the end-to-end plan scenario.
const plan = planKeepalive({ path: { name: 'simulated L4 balancer', idleTimeout: 10_000 }, detectWithin: 8000 });
const wholeSeconds = (ms: number | undefined): number => Math.floor((ms ?? 0) / 1000) * 1000;
const held: TimerPolicy = {
  idle: wholeSeconds(plan.options.idle),
  interval: wholeSeconds(plan.options.interval),
  count: plan.options.count ?? 0,
  userTimeout: plan.options.userTimeout ?? 0,
};
/** What the kernel lets a live, non-reading peer stall under this plan. */
const survivable = survivableStall(held);
/** A stall well inside what the plan lets a peer survive. */
const shortStall = Math.round(survivable * 0.6);

const reports = new Map<string, Promise<HealthReport>>();
function start(key: string, scenario: () => HealthScenario): () => Promise<HealthReport> {
  return () => {
    let report = reports.get(key);
    if (report === undefined) {
      report = runHealthScenario(scenario());
      report.catch(() => undefined); // a test filtered out by -t never awaits it
      reports.set(key, report);
    }
    return report;
  };
}

const survives = start('short stall', () => ({
  name: 'slow-reader',
  options: plan.options,
  stallMs: shortStall,
  observeMs: shortStall + 3000,
}));
const killed = start('endless stall', () => ({
  name: 'slow-reader',
  options: plan.options,
  stallMs: null,
  observeMs: survivable * 1.1 + 2000,
}));
const upgraded = start('tls upgrade, peer vanishes', () => {
  const { key, cert } = selfSignedCertificate();
  return { name: 'tls-upgrade-vanished', options: { idle: 1000, interval: 1000, count: 3 }, key, cert, observeMs: 6000 };
});

function verdictsBetween(report: HealthReport, fromMs: number, toMs: number): string[] {
  // The verdict in force at fromMs (the last transition before it), then every change until toMs.
  const before = report.transitions.filter((sample) => sample.atMs <= fromMs).at(-1);
  const during = report.transitions.filter((sample) => sample.atMs > fromMs && sample.atMs < toMs);
  return [...(before === undefined ? [] : [before]), ...during].map((sample) => `${sample.verdict} ${sample.reasons.join(',')}`.trim());
}

describeInLab('namespaces', 'a live peer that stops reading, under a planKeepalive() plan', () => {
  beforeAll(() => {
    ensureBuilt();
    void survives();
    void killed();
  });

  test('the plan sets a user timeout, so the kernel bounds the stall (survivableStall of the plan is finite)', () => {
    expect(held.userTimeout).toBeGreaterThan(0);
    expect(Number.isFinite(survivable)).toBe(true);
  });

  test("survives a stall shorter than survivableStall(plan): 'stalled' (peer-not-reading) throughout, never healthy, then healthy", async () => {
    const report = await survives();
    console.log(
      `short stall: ${JSON.stringify({ plan: plan.options, survivable, shortStall, transitions: report.transitions.map((s) => [Math.round(s.atMs), s.verdict]) })}`,
    );
    expect(report.error).toBeNull();
    expect(report.dead).toEqual([]);
    expect(report.firstStalledMs).not.toBeNull();
    // The kernel sends its first zero-window probe one retransmission timeout after the window closed.
    expect(report.firstStalledMs!).toBeLessThan(2000);
    expect(report.resumedAtMs).not.toBeNull();
    expect(verdictsBetween(report, report.firstStalledMs!, report.resumedAtMs!)).toEqual(['stalled peer-not-reading']);
    expect(report.transitions.map((sample) => sample.verdict)).not.toContain('suspect');
    expect(report.transitions.map((sample) => sample.verdict)).not.toContain('dead');
    expect(report.lastStall?.stall).toMatchObject({ userTimeout: held.userTimeout, survivable });
    expect(report.transitions.at(-1)?.verdict).toBe('healthy');
  });

  test("past the stall the kernel ends it (ETIMEDOUT at survivableStall(plan), +10 %), 'stalled' until then, published as user-timeout / peer-not-reading", async () => {
    const report = await killed();
    console.log(`endless stall: ${JSON.stringify({ survivable, error: report.error, lastStall: report.lastStall, dead: report.dead })}`);
    expect(report.error?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(report.error!.atMs, survivable);
    expect(report.firstStalledMs).not.toBeNull();
    expect(verdictsBetween(report, report.firstStalledMs!, report.error!.atMs)).toEqual(['stalled peer-not-reading']);
    // abortsIn is a lower bound: the kernel never ended it sooner than it said.
    const { atMs, stall } = report.lastStall!;
    expect(stall?.abortsIn).toBeLessThanOrEqual(report.error!.atMs - atMs);
    expect(report.dead).toHaveLength(1);
    expect(report.dead[0]).toMatchObject({
      cause: 'user-timeout',
      reason: 'peer-not-reading',
      errorCode: 'ETIMEDOUT',
      sameSocket: true,
      beforeErrorEvent: true,
    });
    expect(report.dead[0]!.lastInfo).toMatchObject({ state: 'closed', sendWindow: 0, retransmits: 0, unacked: 0 });
    expect(report.dead[0]!.lastInfo!.notSentBytes).toBeGreaterThan(0);
  });
});

describeInLab('namespaces', 'a configured socket upgraded with tls.connect({ socket }), whose peer vanishes', () => {
  beforeAll(() => {
    ensureBuilt();
    void upgraded();
  });

  test('the TLS socket gets ETIMEDOUT; tcp-keepalive:dead publishes once, for the configured socket, cause keepalive', async () => {
    const report = await upgraded();
    console.log(`tls upgrade: ${JSON.stringify({ error: report.error, dead: report.dead })}`);
    expect(report.error?.code).toBe('ETIMEDOUT');
    expect(report.dead).toHaveLength(1);
    expect(report.dead[0]).toMatchObject({
      cause: 'keepalive',
      reason: 'keepalive-unanswered',
      errorCode: 'ETIMEDOUT',
      sameSocket: true,
      beforeErrorEvent: true,
    });
    expect(report.deadSocketIsUpgradedOne).toBe(true);
    expect(report.dead[0]!.lastInfo).toMatchObject({ state: 'closed', probes: 3, retransmits: 0 });
  });
});
