/**
 * The prom-client exporter: a histogram, counters and collected gauges
 * registered on the Registry given, with the Prometheus names of
 * ./series.ts. Bound children are cached per series, so recording a sample
 * builds no label key.
 */
import type * as PromClient from 'prom-client';
import type { Exporter, Sampler } from './sampler';
import { ATTRIBUTES, CAUSES, INSTRUMENTS, RTT_BUCKETS, type Series, VERDICTS } from './series';
import { requirePeer } from './peer';

type Labels = Record<string, string>;

interface PromSlot {
  readonly labels: Labels;
  readonly rtt: PromClient.Histogram.Internal<string>;
  readonly minRtt: PromClient.Histogram.Internal<string>;
  readonly retransmits: PromClient.Counter.Internal;
  readonly bytesRetransmitted: PromClient.Counter.Internal;
}

const SERIES_LABELS = [ATTRIBUTES.address.prometheus, ATTRIBUTES.port.prometheus, ATTRIBUTES.policy.prometheus];

function labelsOf(series: Series): Labels {
  const labels: Labels = { [ATTRIBUTES.address.prometheus]: series.address };
  if (series.port !== undefined) labels[ATTRIBUTES.port.prometheus] = String(series.port);
  labels[ATTRIBUTES.policy.prometheus] = series.policy;
  return labels;
}

export function prometheusExporter(sampler: Sampler, registry: PromClient.Registry | undefined): Exporter {
  const client = requirePeer<typeof PromClient>('prom-client', "startTelemetry({ exporter: 'prometheus' })");
  const registers = [registry ?? client.register];
  const histogram = (instrument: (typeof INSTRUMENTS)['rtt' | 'minRtt']): PromClient.Histogram<string> =>
    new client.Histogram({
      name: instrument.prometheus,
      help: instrument.description,
      labelNames: SERIES_LABELS,
      buckets: [...RTT_BUCKETS],
      registers,
    });
  const counter = (instrument: (typeof INSTRUMENTS)['retransmits' | 'bytesRetransmitted']): PromClient.Counter<string> =>
    new client.Counter({ name: instrument.prometheus, help: instrument.description, labelNames: SERIES_LABELS, registers });
  const rtt = histogram(INSTRUMENTS.rtt);
  const minRtt = histogram(INSTRUMENTS.minRtt);
  const retransmits = counter(INSTRUMENTS.retransmits);
  const bytesRetransmitted = counter(INSTRUMENTS.bytesRetransmitted);
  const dead = new client.Counter({
    name: INSTRUMENTS.dead.prometheus,
    help: INSTRUMENTS.dead.description,
    labelNames: [...SERIES_LABELS, ATTRIBUTES.cause.prometheus],
    registers,
  });
  const gauge = (instrument: (typeof INSTRUMENTS)['connections' | 'unacked' | 'notSent'], byVerdict: boolean): PromClient.Gauge<string> =>
    new client.Gauge({
      name: instrument.prometheus,
      help: instrument.description,
      labelNames: byVerdict ? [...SERIES_LABELS, ATTRIBUTES.verdict.prometheus] : SERIES_LABELS,
      registers,
      collect(this: PromClient.Gauge<string>): void {
        this.reset();
        sampler.forEachSeries((series) => {
          const labels = slotOf(series).labels;
          if (!byVerdict) {
            this.set(labels, instrument === INSTRUMENTS.unacked ? series.unacked : series.notSent);
            return;
          }
          for (let verdict = 0; verdict < VERDICTS.length; verdict++) {
            this.set({ ...labels, [ATTRIBUTES.verdict.prometheus]: VERDICTS[verdict]! }, series.connections[verdict]!);
          }
        });
      },
    });
  const metrics: Array<{ name: string }> = [
    rtt,
    minRtt,
    retransmits,
    bytesRetransmitted,
    dead,
    gauge(INSTRUMENTS.connections, true),
    gauge(INSTRUMENTS.unacked, false),
    gauge(INSTRUMENTS.notSent, false),
  ].map((metric) => ({ name: (metric as unknown as { name: string }).name }));

  function slotOf(series: Series): PromSlot {
    const existing = series.slot as PromSlot | undefined;
    if (existing !== undefined) return existing;
    const labels = labelsOf(series);
    const slot: PromSlot = {
      labels,
      rtt: rtt.labels(labels),
      minRtt: minRtt.labels(labels),
      retransmits: retransmits.labels(labels),
      bytesRetransmitted: bytesRetransmitted.labels(labels),
    };
    series.slot = slot;
    return slot;
  }

  return {
    record(series, rttSeconds, minRttSeconds, retransmittedSegments, retransmittedBytes): void {
      const slot = slotOf(series);
      if (rttSeconds === rttSeconds) slot.rtt.observe(rttSeconds);
      if (minRttSeconds === minRttSeconds) slot.minRtt.observe(minRttSeconds);
      // inc(0) too: the series exists from the first sample, so rate() has a starting point.
      slot.retransmits.inc(retransmittedSegments);
      if (retransmittedBytes === retransmittedBytes) slot.bytesRetransmitted.inc(retransmittedBytes);
    },
    dead(series, cause): void {
      dead.inc({ ...slotOf(series).labels, [ATTRIBUTES.cause.prometheus]: CAUSES[cause]! });
    },
    stop(): void {
      for (const register of registers) for (const { name } of metrics) register.removeSingleMetric(name);
    },
  };
}
