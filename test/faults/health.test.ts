/**
 * Connection health in the fault lab: a peer really vanishes (lo down) or
 * every arriving packet is really dropped (nft), inside a private network
 * namespace. connectionHealth() is polled every 10 ms in the child; the
 * `tcp-keepalive:dead` channel is subscribed there.
 */
import { type HealthReport, runHealthScenario, type HealthScenario } from '../../lab/health-scenarios';
import { describeInLab, ensureBuilt } from './lab';

jest.setTimeout(60_000);

const reports = new Map<string, Promise<HealthReport>>();
function start(key: string, scenario: HealthScenario): () => Promise<HealthReport> {
  return () => {
    let report = reports.get(key);
    if (report === undefined) {
      report = runHealthScenario(scenario);
      report.catch(() => undefined); // a test filtered out by -t never awaits it
      reports.set(key, report);
    }
    return report;
  };
}

const vanishedFast = start('vanished 1+1×3', { name: 'vanished-idle', options: { idle: 1000, interval: 1000, count: 3 }, observeMs: 6000 });
const vanishedSlow = start('vanished 2+1×2', { name: 'vanished-idle', options: { idle: 2000, interval: 1000, count: 2 }, observeMs: 6000 });
const blackHoled = start('black-holed write', {
  name: 'black-holed-write',
  options: { idle: 1000, interval: 1000, count: 3, userTimeout: 4000 },
  observeMs: 7000,
  compareAtMs: 1500,
});
const nodeOwn = start('node setKeepAlive 1 s', { name: 'vanished-idle', via: 'node', options: { idle: 1000 }, observeMs: 3000 });
const normalClose = start('normal close', { name: 'normal-close', options: { idle: 1000, interval: 1000, count: 3 } });

function verdictsBefore(report: HealthReport, ms: number): string[] {
  return report.transitions.filter((sample) => sample.atMs < ms).map((sample) => sample.verdict);
}

describeInLab('namespaces', 'connection health: a vanished idle peer', () => {
  beforeAll(() => {
    ensureBuilt();
    void vanishedFast();
    void vanishedSlow();
    void nodeOwn();
    void normalClose();
  });

  test.each([
    ['idle 1 s + 1 s × 3', vanishedFast, { idle: 1000, interval: 1000, count: 3 }],
    ['idle 2 s + 1 s × 2', vanishedSlow, { idle: 2000, interval: 1000, count: 2 }],
  ])(
    '%s: suspect within idle + interval (+10 %%), (count − 1) × interval before ETIMEDOUT, healthy until the first probe',
    async (_name, run, options) => {
      const report = await run();
      const { idle, interval, count } = options;
      // Before the first probe is due nothing is known yet: the blind spot keepalive exists for.
      expect(verdictsBefore(report, idle)).toEqual(['healthy']);
      expect(report.firstSuspectMs).not.toBeNull();
      expect(report.firstSuspectMs!).toBeGreaterThanOrEqual(idle);
      expect(report.firstSuspectMs!).toBeLessThanOrEqual((idle + interval) * 1.1);
      expect(report.transitions.find((sample) => sample.verdict === 'suspect')?.reasons).toEqual(['keepalive-unanswered']);
      expect(report.error?.code).toBe('ETIMEDOUT');
      const deadline = idle + interval * count;
      expect(report.error!.atMs).toBeGreaterThanOrEqual(deadline);
      expect(report.error!.atMs).toBeLessThanOrEqual(deadline * 1.1);
      expect(report.error!.atMs - report.firstSuspectMs!).toBeGreaterThanOrEqual((count - 1) * interval);
      // Still ESTABLISHED to the kernel until the last probe goes unanswered. The kernel's close and Node's
      // 'error' event are not one step: a poll between them (every 10 ms) sees the socket closed, after the deadline.
      expect(report.firstDeadMs ?? Infinity).toBeGreaterThanOrEqual(deadline);
    },
  );

  test.each([
    ['idle 1 s + 1 s × 3', vanishedFast, 3],
    ['idle 2 s + 1 s × 2', vanishedSlow, 2],
  ])('%s: tcp-keepalive:dead publishes once, cause keepalive, before the error event', async (_name, run, count) => {
    const report = await run();
    expect(report.dead).toHaveLength(1);
    const [message] = report.dead;
    expect(message).toMatchObject({ cause: 'keepalive', errorCode: 'ETIMEDOUT', sameSocket: true, beforeErrorEvent: true });
    expect(message!.policy).toEqual(expect.objectContaining((report.scenario as { options: object }).options));
    expect(message!.lastInfo).toMatchObject({ state: 'closed', probes: count, retransmits: 0 });
  });

  test("a socket with Node's own setKeepAlive(true, 1000) (idle unknown to us): suspect at the second probe, idle + interval", async () => {
    const report = await nodeOwn();
    // libuv: idle 1 s, then 1 s × 10. Without the idle, one unanswered probe cannot be told from one in flight.
    expect(verdictsBefore(report, 1000)).toEqual(['healthy']);
    expect(report.firstSuspectMs).not.toBeNull();
    expect(report.firstSuspectMs!).toBeGreaterThanOrEqual(2000);
    expect(report.firstSuspectMs!).toBeLessThanOrEqual(2000 * 1.1);
    expect(report.transitions.find((sample) => sample.verdict === 'suspect')).toMatchObject({
      reasons: ['keepalive-unanswered'],
      probes: 2,
    });
    expect(report.dead).toEqual([]); // not configured by us: not watched
  });

  test("a connection that ends any other way publishes nothing (end, peer end, destroy, reset, a library's own ETIMEDOUT)", async () => {
    const report = await normalClose();
    expect(report.endings).toEqual([
      'client end(): no error',
      'peer end(): no error',
      'client destroy(): no error',
      'peer reset (ECONNRESET): ECONNRESET',
      "a library's own ETIMEDOUT on a live connection: ETIMEDOUT",
    ]);
    expect(report.dead).toEqual([]);
  });

  test('configureKeepalive sets up the death watch itself while the channel has a subscriber', async () => {
    const report = await vanishedFast();
    expect(report.watchedByCore).toBe(true);
  });
});

describeInLab('loadBalancer', 'connection health: data written into a black hole', () => {
  beforeAll(() => {
    ensureBuilt();
    void blackHoled();
  });

  test('suspect at the first retransmission timeout, long before TCP_USER_TIMEOUT ends it; dead channel says user-timeout', async () => {
    const report = await blackHoled();
    expect(verdictsBefore(report, 150)).toEqual(['healthy']); // just written: unacknowledged, but not yet for long
    expect(report.firstSuspectMs).not.toBeNull();
    expect(report.firstSuspectMs!).toBeLessThanOrEqual(1000);
    expect(report.transitions.find((sample) => sample.verdict === 'suspect')?.reasons).toContain('retransmitting');
    expect(report.error?.code).toBe('ETIMEDOUT');
    expect(report.error!.atMs).toBeGreaterThanOrEqual(4000);
    expect(report.error!.atMs).toBeLessThanOrEqual(5000);
    expect(report.dead).toHaveLength(1);
    expect(report.dead[0]).toMatchObject({ cause: 'user-timeout', errorCode: 'ETIMEDOUT', sameSocket: true, beforeErrorEvent: true });
    expect(report.dead[0]!.lastInfo?.state).toBe('closed');
    expect(report.dead[0]!.lastInfo?.retransmits).toBeGreaterThan(0);
  });

  test('while retransmitting, tcpInfo agrees with ss -tinoe on unacked, retrans, backoff, rto, rtt, lastsnd, lastrcv, lastack', async () => {
    const { comparison } = await blackHoled();
    expect(comparison).not.toBeNull();
    const { before, ss, after } = comparison!;
    expect(ss).toBeDefined();
    const f = ss!.fields;
    expect(ss!.state).toBe('ESTAB');
    expect(after.unacked).toBe(f.unacked);
    expect(after.unacked).toBeGreaterThan(0);
    expect(after.retransOut).toBe(f.retransOut);
    expect(after.totalRetransmits).toBe(f.totalRetrans);
    expect(after.totalRetransmits).toBeGreaterThan(0);
    expect(after.backoff).toBe(f.backoff);
    expect(after.rto).toBe(f.rto);
    expect(Math.abs(after.rtt! - f.rtt!)).toBeLessThanOrEqual(0.0005 + 1e-9);
    for (const [ours, name] of [
      ['lastDataSent', 'lastsnd'],
      ['lastDataReceived', 'lastrcv'],
      ['lastAckReceived', 'lastack'],
    ] as const) {
      expect(f[name]).toBeGreaterThanOrEqual(before[ours]! - 1);
      expect(f[name]).toBeLessThanOrEqual(after[ours]! + 1);
    }
    // The counters did not move between the two reads (no retransmission fell between them), so they compare exactly.
    expect(before.totalRetransmits).toBe(after.totalRetransmits);
  });
});
