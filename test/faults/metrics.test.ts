/**
 * tcp-keepalive/metrics in the fault lab: what the exported series say while
 * a peer really vanishes, is black-holed with data in flight, or stops
 * reading, and when connections end normally (each scenario in its own
 * network namespace; the registry is read in the child).
 */
import { type MetricsReport, type MetricsScenario, runMetricsScenario } from '../../lab/metrics-scenarios';
import { describeInLab, ensureBuilt } from './lab';

jest.setTimeout(60_000);

const reports = new Map<string, Promise<MetricsReport>>();
function start(scenario: MetricsScenario): () => Promise<MetricsReport> {
  return () => {
    let report = reports.get(scenario.name);
    if (report === undefined) {
      report = runMetricsScenario(scenario);
      report.catch(() => undefined); // a test filtered out by -t never awaits it
      reports.set(scenario.name, report);
    }
    return report;
  };
}

const blackHoled = start({
  name: 'black-holed-write',
  options: { idle: 1000, interval: 1000, count: 3, userTimeout: 4000 },
  observeMs: 8000,
});
const vanished = start({ name: 'vanished-idle', options: { idle: 1000, interval: 1000, count: 3 }, observeMs: 7000 });
// userTimeout 20 s: the zero-window stall is survivable for the whole observation (the kernel would abort at 20 s).
const slowReader = start({ name: 'slow-reader', options: { idle: 1000, interval: 1000, count: 3, userTimeout: 20_000 }, observeMs: 3000 });
const normalClose = start({ name: 'normal-close', options: { idle: 1000, interval: 1000, count: 3 }, observeMs: 0 });

const total = (values: Record<string, number>): number => Object.values(values).reduce((sum, value) => sum + value, 0);

describeInLab('namespaces', 'telemetry in the fault lab', () => {
  beforeAll(() => {
    ensureBuilt();
    void vanished();
    void slowReader();
    void normalClose();
  });

  test('an idle peer that vanished: one dead_connections{cause="keepalive"}, and the connection leaves the gauge', async () => {
    const report = await vanished();
    expect(report.error?.code).toBe('ETIMEDOUT');
    const last = report.readings.at(-1)!;
    expect(last.dead).toEqual({ keepalive: 1 });
    expect(total(last.connections)).toBe(0);
    expect(last.retransmittedSegments).toBe(0);
  });

  // Needs the 'stalled' verdict of connectionHealth (reason 'peer-not-reading').
  test('a slow reader (zero window) is counted stalled, not dead', async () => {
    const report = await slowReader();
    expect(report.error).toBeNull();
    const last = report.readings.at(-1)!;
    expect(last.connections.stalled).toBe(1);
    expect(last.connections.dead ?? 0).toBe(0);
    expect(total(last.dead)).toBe(0);
  });

  test('connections that end normally (end, peer end, destroy, reset, a library ETIMEDOUT) change no death counter', async () => {
    const report = await normalClose();
    for (const reading of report.readings.slice(0, -1)) expect(total(reading.connections)).toBe(1);
    const last = report.readings.at(-1)!;
    expect(total(last.dead)).toBe(0);
    expect(total(last.connections)).toBe(0);
  });
});

describeInLab('loadBalancer', 'telemetry in the fault lab: data written into a black hole', () => {
  beforeAll(() => {
    ensureBuilt();
    void blackHoled();
  });

  test('a black-holed peer with data in flight: retransmits rise, then one dead_connections{cause="user-timeout"}', async () => {
    const report = await blackHoled();
    expect(report.error?.code).toBe('ETIMEDOUT');
    const beforeDeath = report.readings.filter((reading) => reading.atMs < report.error!.atMs);
    const retransmits = beforeDeath.map((reading) => reading.retransmittedSegments);
    // Rising while the connection is open (RTO back-off: 0.2, 0.6, 1.4, 3.0 s …), never falling.
    expect(Math.max(...retransmits)).toBeGreaterThanOrEqual(3);
    expect(retransmits).toEqual([...retransmits].sort((a, b) => a - b));
    // Counted suspect (retransmitting) before the kernel ended it.
    expect(beforeDeath.some((reading) => (reading.connections.suspect ?? 0) === 1)).toBe(true);
    const last = report.readings.at(-1)!;
    expect(last.dead).toEqual({ 'user-timeout': 1 });
    expect(total(last.connections)).toBe(0);
    // The close sample counted the retransmissions up to the end.
    expect(last.retransmittedSegments).toBeGreaterThanOrEqual(Math.max(...retransmits));
  });
});
