/**
 * The prom-client exporter: one collector per series name, registered on the
 * Registry given (prom-client's default registry otherwise), with the
 * Prometheus names of ./series.ts. A sample only adds to numbers kept per
 * series (bucket counts, sums, totals); prom-client reads them when scraped,
 * through each collector's get(), so recording builds no label key and
 * allocates nothing — prom-client's own Histogram and Counter hash their
 * labels on every observe.
 */
import type * as PromClient from 'prom-client';
import { invalidArgValue } from '../core/errors';
import type { Exporter, Sampler } from './sampler';
import { ATTRIBUTES, CAUSES, INSTRUMENTS, RTT_BUCKETS, type Series, VERDICTS } from './series';
import { requirePeer } from './peer';

type Labels = Record<string, string>;

/** One histogram's numbers for one series: per-bucket counts (the last is +Inf), sum and count. */
interface Buckets {
  readonly counts: number[];
  sum: number;
  count: number;
}

interface PromSlot {
  readonly labels: Labels;
  readonly rtt: Buckets;
  readonly minRtt: Buckets;
  retransmits: number;
  bytesRetransmitted: number;
  /** The kernel reports retransmitted bytes (Linux 4.19+). */
  bytesKnown: boolean;
  readonly dead: number[];
}

interface Value {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** What prom-client's Registry needs of a metric: a name, a type and a get() it awaits at scrape time. */
interface Collector {
  name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  get(): { name: string; help: string; type: string; values: Value[]; aggregator: 'sum' };
  reset(): void;
}

function buckets(): Buckets {
  return { counts: new Array<number>(RTT_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
}

/** The bounds as a plain array: a frozen one is read through V8's generic keyed load on every comparison. */
const BOUNDS: number[] = [...RTT_BUCKETS];

function observe(histogram: Buckets, value: number): void {
  let index = 0;
  while (index < BOUNDS.length && value > BOUNDS[index]!) index++;
  histogram.counts[index]! += 1;
  histogram.sum += value;
  histogram.count += 1;
}

function labelsOf(series: Series): Labels {
  const labels: Labels = { [ATTRIBUTES.address.prometheus]: series.address };
  if (series.port !== undefined) labels[ATTRIBUTES.port.prometheus] = String(series.port);
  labels[ATTRIBUTES.policy.prometheus] = series.policy;
  return labels;
}

function slotOf(series: Series): PromSlot {
  const existing = series.slot as PromSlot | undefined;
  if (existing !== undefined) return existing;
  const slot: PromSlot = {
    labels: labelsOf(series),
    rtt: buckets(),
    minRtt: buckets(),
    retransmits: 0,
    bytesRetransmitted: 0,
    bytesKnown: false,
    dead: CAUSES.map(() => 0),
  };
  series.slot = slot;
  return slot;
}

export function prometheusExporter(sampler: Sampler, registry: PromClient.Registry | undefined): Exporter {
  const client = requirePeer<typeof PromClient>('prom-client', "startTelemetry({ exporter: 'prometheus' })");
  const target = registry ?? client.register;

  /** Every series that has been recorded into (has a slot). */
  const recorded = (each: (slot: PromSlot, series: Series) => void): void => {
    sampler.forEachSeries((series) => {
      if (series.slot !== undefined) each(series.slot as PromSlot, series);
    });
  };

  const collector = (
    instrument: (typeof INSTRUMENTS)[keyof typeof INSTRUMENTS],
    type: Collector['type'],
    values: () => Value[],
  ): Collector => ({
    name: instrument.prometheus,
    help: instrument.description,
    type,
    aggregator: 'sum',
    get() {
      return { name: this.name, help: this.help, type, values: values(), aggregator: 'sum' };
    },
    reset(): void {
      // Counters and histograms count from when telemetry started; a registry reset does not rewrite history.
    },
  });

  const histogram = (instrument: (typeof INSTRUMENTS)['rtt' | 'minRtt'], pick: (slot: PromSlot) => Buckets): Collector =>
    collector(instrument, 'histogram', () => {
      const values: Value[] = [];
      recorded((slot) => {
        const numbers = pick(slot);
        let cumulative = 0;
        for (let index = 0; index <= RTT_BUCKETS.length; index++) {
          cumulative += numbers.counts[index]!;
          const le = index < RTT_BUCKETS.length ? String(RTT_BUCKETS[index]) : '+Inf';
          values.push({ labels: { ...slot.labels, le }, value: cumulative, metricName: `${instrument.prometheus}_bucket` });
        }
        values.push({ labels: slot.labels, value: numbers.sum, metricName: `${instrument.prometheus}_sum` });
        values.push({ labels: slot.labels, value: numbers.count, metricName: `${instrument.prometheus}_count` });
      });
      return values;
    });

  const collectors: Collector[] = [
    histogram(INSTRUMENTS.rtt, (slot) => slot.rtt),
    histogram(INSTRUMENTS.minRtt, (slot) => slot.minRtt),
    collector(INSTRUMENTS.retransmits, 'counter', () => {
      const values: Value[] = [];
      recorded((slot) => values.push({ labels: slot.labels, value: slot.retransmits }));
      return values;
    }),
    collector(INSTRUMENTS.bytesRetransmitted, 'counter', () => {
      const values: Value[] = [];
      recorded((slot) => {
        if (slot.bytesKnown) values.push({ labels: slot.labels, value: slot.bytesRetransmitted });
      });
      return values;
    }),
    collector(INSTRUMENTS.dead, 'counter', () => {
      const values: Value[] = [];
      recorded((slot) => {
        for (let cause = 0; cause < CAUSES.length; cause++) {
          if (slot.dead[cause]! > 0) {
            values.push({ labels: { ...slot.labels, [ATTRIBUTES.cause.prometheus]: CAUSES[cause]! }, value: slot.dead[cause]! });
          }
        }
      });
      return values;
    }),
    collector(INSTRUMENTS.connections, 'gauge', () => {
      const values: Value[] = [];
      sampler.forEachSeries((series) => {
        const labels = slotOf(series).labels;
        for (let verdict = 0; verdict < VERDICTS.length; verdict++) {
          values.push({ labels: { ...labels, [ATTRIBUTES.verdict.prometheus]: VERDICTS[verdict]! }, value: series.connections[verdict]! });
        }
      });
      return values;
    }),
    collector(INSTRUMENTS.unacked, 'gauge', () => {
      const values: Value[] = [];
      sampler.forEachSeries((series) => values.push({ labels: slotOf(series).labels, value: series.unacked }));
      return values;
    }),
    collector(INSTRUMENTS.notSent, 'gauge', () => {
      const values: Value[] = [];
      sampler.forEachSeries((series) => values.push({ labels: slotOf(series).labels, value: series.notSent }));
      return values;
    }),
  ];
  // Checked before any is registered: a name taken by another metric leaves the registry as it was.
  for (const metric of collectors) {
    if (target.getSingleMetric(metric.name) !== undefined) {
      throw invalidArgValue(
        'options.registry',
        `already has a metric named ${metric.name} (telemetry started twice on one registry? stop() the first)`,
        target,
      );
    }
  }
  for (const metric of collectors) target.registerMetric(metric as unknown as PromClient.Metric);

  return {
    record(series, rttSeconds, minRttSeconds, retransmittedSegments, retransmittedBytes): void {
      const slot = slotOf(series);
      if (rttSeconds === rttSeconds) observe(slot.rtt, rttSeconds);
      if (minRttSeconds === minRttSeconds) observe(slot.minRtt, minRttSeconds);
      slot.retransmits += retransmittedSegments;
      if (retransmittedBytes === retransmittedBytes) {
        slot.bytesKnown = true;
        slot.bytesRetransmitted += retransmittedBytes;
      }
    },
    dead(series, cause): void {
      slotOf(series).dead[cause]! += 1;
    },
    stop(): void {
      for (const metric of collectors)
        if (target.getSingleMetric(metric.name) === (metric as unknown)) target.removeSingleMetric(metric.name);
    },
  };
}
