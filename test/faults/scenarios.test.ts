/**
 * Five fault scenarios, each in its own network namespace
 * (lab/): peers really vanish (lo down, or every arriving packet dropped)
 * and a real nftables DNAT + conntrack balancer really forgets idle flows.
 * Times come from the child's clock; what the socket holds comes from the
 * kernel (getKeepalive, `ss -tino`). All scenarios start together, so the file
 * takes as long as its longest scenario (Node's fixed 11 s).
 */
import type { KeepaliveOptions } from '../../src';
import { planKeepalive } from '../../src/planner';
import type { KeepaliveChoice, ScenarioReport, VanishingPeerScenario } from '../../lab';
import { describeInLab, ensureBuilt, expectWithinDeadline, ScenarioBatch } from './lab';

const batch = new ScenarioBatch();
// Tests wait for scenarios started together; the longest (Node's 11 s) is bounded by its child.
jest.setTimeout(30_000);

beforeAll(() => {
  ensureBuilt();
  batch.startAll();
}, 120_000);

const withKeepalive = (options: KeepaliveOptions): KeepaliveChoice => ({ kind: 'tcp-keepalive', options });

function keepaliveDeadline(report: ScenarioReport): number {
  return report.kernel.idle + report.kernel.interval * report.kernel.count;
}

/** The kernel's own evidence that keepalive probes (not something else) ended the connection. */
function expectProbesCounted(report: ScenarioReport): void {
  expect(report.ssBefore?.timer?.name).toBe('keepalive');
  expect(report.ssBefore!.timer!.expiresInMs).toBeLessThanOrEqual(report.kernel.idle);
  expect(report.ssLastSeen?.timer?.name).toBe('keepalive');
  expect(report.ssLastSeen?.timer?.attempts).toBeGreaterThanOrEqual(1);
}

function vanishingPeer(side: VanishingPeerScenario['side'], options: KeepaliveOptions): () => Promise<ScenarioReport> {
  const deadline = (options.idle ?? 0) + (options.interval ?? 0) * (options.count ?? 0);
  return batch.add({
    name: 'vanishing-peer',
    side,
    vanish: 'link-down',
    dataInFlight: false,
    keepalive: withKeepalive(options),
    observeMs: deadline * 1.1 + 1_000,
  });
}

describeInLab('namespaces', '1. vanished peer, client side: ETIMEDOUT after idle + interval × count', () => {
  const configurations = [
    { idle: 1000, interval: 1000, count: 2 },
    { idle: 2000, interval: 1000, count: 3 },
  ].map((options) => [options, vanishingPeer('client', options)] as const);
  test.each(configurations)('configured %o', async (options, report) => {
    const { kernel, detected } = await report();
    expect(kernel).toEqual({ enable: true, userTimeout: 0, ...options });
    expect(detected?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(detected!.afterMs, options.idle! + options.interval! * options.count!);
  });

  test('the kernel ran the keepalive timer and counted unanswered probes', async () => {
    // `ss -tino`'s timer column, the modern `netstat -o`: timer:(keepalive,<left>,<probes sent>).
    for (const [, report] of configurations) expectProbesCounted(await report());
  });
});

describeInLab('namespaces', '2. vanished client, server side: the accepted socket detects it', () => {
  const options = { idle: 2000, interval: 1000, count: 1 };
  const report = vanishingPeer('server', options);

  test('accepted socket configured in the connection handler dies with ETIMEDOUT on time', async () => {
    const result = await report();
    expect(result.kernel).toEqual({ enable: true, userTimeout: 0, ...options });
    expect(result.detected?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(result.detected!.afterMs, 3000);
    expectProbesCounted(result);
  });
});

describeInLab('loadBalancer', '3. load balancer forgets idle flows (an MQ server behind a load balancer)', () => {
  const balancerIdleSeconds = 2;
  const silenceMs = 4000; // twice the balancer's idle timeout
  const userTimeout = 8000; // the kernel adds ~0.4–0.6 s of retransmission granularity: +10 % holds from ~6 s
  const scenario = (keepalive: KeepaliveChoice, observeMs: number) =>
    batch.add({ name: 'load-balancer-idle', keepalive, balancerIdleSeconds, silenceMs, observeMs });
  const control = scenario({ kind: 'none' }, 3000);
  const keptAlive = scenario(withKeepalive({ idle: 1000, interval: 1000, count: 3 }), 3000);
  const userTimeoutOnly = scenario(withKeepalive({ enable: false, userTimeout }), userTimeout * 1.1 + 1000);

  test('control, no keepalive: the write is silently lost and the client hears nothing (a zombie)', async () => {
    const result = await control();
    expect(result.kernel.enable).toBe(false);
    expect(result.deliveredAfterMs).toBeNull();
    expect(result.detected).toBeNull();
    expect(result.watchedMs).toBeGreaterThanOrEqual(3000);
    // Still ESTABLISHED, retransmitting into the void (timer "on"), for ~15 minutes.
    expect(result.ssLastSeen?.state).toBe('ESTAB');
    expect(result.ssLastSeen?.timer?.name).toBe('on');
  });

  test('keepalive idle (1 s) below the balancer timeout (2 s): probes keep the flow, the write is delivered', async () => {
    const result = await keptAlive();
    expect(result.kernel).toMatchObject({ enable: true, idle: 1000, interval: 1000, count: 3 });
    expect(result.detected).toBeNull();
    expect(result.deliveredAfterMs).not.toBeNull();
    expect(result.deliveredAfterMs!).toBeLessThan(1000);
  });

  test('userTimeout only: the unacknowledged write ends in ETIMEDOUT within +10 % of userTimeout', async () => {
    const result = await userTimeoutOnly();
    expect(result.kernel).toMatchObject({ enable: false, userTimeout });
    expect(result.deliveredAfterMs).toBeNull();
    expect(result.detected?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(result.detected!.afterMs, userTimeout);
  });
});

describeInLab('loadBalancer', '4. data in flight into a black hole', () => {
  const keepalive = { idle: 1000, interval: 1000, count: 1 };
  const userTimeout = 8000;
  const inFlight = (options: KeepaliveOptions, observeMs: number) =>
    batch.add({
      name: 'vanishing-peer',
      side: 'client',
      vanish: 'drop-incoming',
      dataInFlight: true,
      keepalive: withKeepalive(options),
      observeMs,
    });
  const keepaliveAlone = inFlight(keepalive, 6000);
  const withUserTimeout = inFlight({ ...keepalive, userTimeout }, userTimeout * 1.1 + 1000);

  test('keepalive alone does not fire while the write is unacknowledged (3× its 2 s deadline)', async () => {
    const result = await keepaliveAlone();
    expect(keepaliveDeadline(result)).toBe(2000);
    expect(result.detected).toBeNull();
    expect(result.watchedMs).toBeGreaterThanOrEqual(6000);
    // The retransmission timer owns the socket; the keepalive timer never runs.
    expect(result.ssLastSeen?.timer?.name).toBe('on');
    expect(result.ssLastSeen?.timer?.attempts).toBeGreaterThanOrEqual(3);
  });

  test('userTimeout ends it: ETIMEDOUT within +10 % of userTimeout after the write', async () => {
    const result = await withUserTimeout();
    expect(result.kernel).toEqual({ enable: true, ...keepalive, userTimeout });
    expect(result.detected?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(result.detected!.afterMs, userTimeout);
  });
});

describeInLab('namespaces', "5. Node's own setKeepAlive(true, 1000), same vanished peer", () => {
  const report = batch.add({
    name: 'vanishing-peer',
    side: 'client',
    vanish: 'link-down',
    dataInFlight: false,
    keepalive: { kind: 'node', initialDelayMs: 1000 },
    observeMs: 14_000,
  });
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const nodeFixesIntervalAndCount = major < 26 || (major === 26 && minor < 4);

  test('detection follows what the kernel holds (on Node < 26.4: interval 1 s × 10, nobody can change it)', async () => {
    const result = await report();
    expect(result.kernel).toMatchObject({ enable: true, idle: 1000 });
    if (nodeFixesIntervalAndCount) expect(result.kernel).toMatchObject({ interval: 1000, count: 10 });
    expect(result.detected?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(result.detected!.afterMs, keepaliveDeadline(result));
    expectProbesCounted(result);
  });
});

describeInLab('loadBalancer', '6. a planKeepalive() plan, end to end behind the balancer', () => {
  // A 10 s balancer and "notice a dead peer within 8 s": the planner's answer is put through all three faults.
  const balancerIdleSeconds = 10;
  const plan = planKeepalive({ path: { name: 'simulated L4 balancer', idleTimeout: balancerIdleSeconds * 1000 }, detectWithin: 8000 });
  const keepalive = withKeepalive(plan.options);
  const observeMs = plan.worstCaseDetection * 1.1 + 1000;
  const behindBalancer = batch.add({ name: 'load-balancer-idle', keepalive, balancerIdleSeconds, silenceMs: 12_000, observeMs: 2000 });
  const idlePeerVanishes = batch.add({
    name: 'vanishing-peer',
    side: 'client',
    vanish: 'link-down',
    dataInFlight: false,
    keepalive,
    observeMs,
  });
  const inFlight = batch.add({ name: 'vanishing-peer', side: 'client', vanish: 'drop-incoming', dataInFlight: true, keepalive, observeMs });

  test('the plan itself: whole seconds, idle below the balancer with margin, userTimeout = the 8 s budget with a probe on it', () => {
    // The stall a live peer survives defaults to the budget: userTimeout 8 s, and with it set Linux ends an idle
    // connection at the first probe at or after 8 s, so the probes run until then (4 s + 1 s × 4).
    expect(plan.options).toEqual({ enable: true, idle: 4000, interval: 1000, count: 4, userTimeout: 8000 });
    expect(plan.worstCaseDetection).toBeLessThanOrEqual(8000);
  });

  test('the kernel holds it, and the flow survives 12 s of silence behind a 10 s balancer', async () => {
    const result = await behindBalancer();
    const { enable, ...numbers } = plan.options;
    expect(result.kernel).toEqual({ enable: enable, ...numbers });
    expect(result.detected).toBeNull();
    expect(result.deliveredAfterMs).not.toBeNull();
  });

  test('an idle peer that vanishes is noticed within the planned worst case (+10 %)', async () => {
    const result = await idlePeerVanishes();
    expect(result.detected?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(result.detected!.afterMs, plan.worstCaseDetection);
  });

  test('a peer that vanishes under unacknowledged data is noticed within the planned worst case (+10 %)', async () => {
    const result = await inFlight();
    expect(result.detected?.code).toBe('ETIMEDOUT');
    expectWithinDeadline(result.detected!.afterMs, plan.worstCaseDetection);
  });
});
