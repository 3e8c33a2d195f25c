/**
 * The OpenTelemetry exporter: instruments from a Meter of the MeterProvider
 * given, or of the global one. With the global one, a provider the
 * application registers after start-up is picked up on the next tick (the
 * API hands out no-op instruments until then, and offers no proxy for meters).
 */
import type * as OtelApi from '@opentelemetry/api';
import type { Exporter, Sampler } from './sampler';
import { ATTRIBUTES, CAUSES, INSTRUMENTS, RTT_BUCKETS, type Series, VERDICTS } from './series';
import { requirePeer } from './peer';

type Attributes = OtelApi.Attributes;

/** Per-series attribute objects, made once: recording allocates nothing. */
interface OtelSlot {
  readonly base: Attributes;
  readonly byVerdict: readonly Attributes[];
  readonly byCause: readonly Attributes[];
}

function slotOf(series: Series): OtelSlot {
  const existing = series.slot as OtelSlot | undefined;
  if (existing !== undefined) return existing;
  const base: Attributes = { [ATTRIBUTES.address.otel]: series.address };
  if (series.port !== undefined) base[ATTRIBUTES.port.otel] = series.port;
  base[ATTRIBUTES.policy.otel] = series.policy;
  const slot: OtelSlot = {
    base: Object.freeze(base),
    byVerdict: VERDICTS.map((verdict) => Object.freeze({ ...base, [ATTRIBUTES.verdict.otel]: verdict })),
    byCause: CAUSES.map((cause) => Object.freeze({ ...base, [ATTRIBUTES.cause.otel]: cause })),
  };
  series.slot = slot;
  return slot;
}

interface Instruments {
  readonly meter: OtelApi.Meter;
  readonly rtt: OtelApi.Histogram;
  readonly minRtt: OtelApi.Histogram;
  readonly retransmits: OtelApi.Counter;
  readonly bytesRetransmitted: OtelApi.Counter;
  readonly dead: OtelApi.Counter;
  readonly observables: OtelApi.Observable[];
  readonly connections: OtelApi.ObservableUpDownCounter;
  readonly unacked: OtelApi.ObservableUpDownCounter;
  readonly notSent: OtelApi.ObservableUpDownCounter;
}

const SCOPE = 'tcp-keepalive';

function packageVersion(): string | undefined {
  try {
    return (require('../../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export function otelExporter(sampler: Sampler, meterProvider: OtelApi.MeterProvider | undefined): Exporter {
  const api = requirePeer<typeof OtelApi>('@opentelemetry/api', "startTelemetry({ exporter: 'otel' })");
  const version = packageVersion();
  let provider: OtelApi.MeterProvider | undefined;
  let instruments: Instruments | undefined;

  const observe = (result: OtelApi.BatchObservableResult): void => {
    const current = instruments!;
    sampler.forEachSeries((series) => {
      const slot = slotOf(series);
      for (let verdict = 0; verdict < VERDICTS.length; verdict++) {
        result.observe(current.connections, series.connections[verdict]!, slot.byVerdict[verdict]);
      }
      result.observe(current.unacked, series.unacked, slot.base);
      result.observe(current.notSent, series.notSent, slot.base);
    });
  };

  const bind = (next: OtelApi.MeterProvider): void => {
    if (instruments !== undefined) instruments.meter.removeBatchObservableCallback(observe, instruments.observables);
    provider = next;
    const meter = next.getMeter(SCOPE, version);
    const histogram = (instrument: (typeof INSTRUMENTS)['rtt' | 'minRtt']): OtelApi.Histogram =>
      meter.createHistogram(instrument.otel, {
        unit: instrument.unit,
        description: instrument.description,
        advice: { explicitBucketBoundaries: [...RTT_BUCKETS] },
      });
    const counter = (instrument: (typeof INSTRUMENTS)['retransmits' | 'bytesRetransmitted' | 'dead']): OtelApi.Counter =>
      meter.createCounter(instrument.otel, { unit: instrument.unit, description: instrument.description });
    const upDown = (instrument: (typeof INSTRUMENTS)['connections' | 'unacked' | 'notSent']): OtelApi.ObservableUpDownCounter =>
      meter.createObservableUpDownCounter(instrument.otel, { unit: instrument.unit, description: instrument.description });
    const connections = upDown(INSTRUMENTS.connections);
    const unacked = upDown(INSTRUMENTS.unacked);
    const notSent = upDown(INSTRUMENTS.notSent);
    instruments = {
      meter,
      rtt: histogram(INSTRUMENTS.rtt),
      minRtt: histogram(INSTRUMENTS.minRtt),
      retransmits: counter(INSTRUMENTS.retransmits),
      bytesRetransmitted: counter(INSTRUMENTS.bytesRetransmitted),
      dead: counter(INSTRUMENTS.dead),
      observables: [connections, unacked, notSent],
      connections,
      unacked,
      notSent,
    };
    meter.addBatchObservableCallback(observe, instruments.observables);
  };

  bind(meterProvider ?? api.metrics.getMeterProvider());

  return {
    tick(): void {
      if (meterProvider !== undefined) return;
      const global = api.metrics.getMeterProvider();
      if (global !== provider) bind(global);
    },
    record(series, rttSeconds, minRttSeconds, retransmittedSegments, retransmittedBytes): void {
      const current = instruments!;
      const attributes = slotOf(series).base;
      if (rttSeconds === rttSeconds) current.rtt.record(rttSeconds, attributes);
      if (minRttSeconds === minRttSeconds) current.minRtt.record(minRttSeconds, attributes);
      if (retransmittedSegments > 0) current.retransmits.add(retransmittedSegments, attributes);
      if (retransmittedBytes > 0) current.bytesRetransmitted.add(retransmittedBytes, attributes);
    },
    dead(series, cause): void {
      instruments!.dead.add(1, slotOf(series).byCause[cause]);
    },
    stop(): void {
      if (instruments !== undefined) instruments.meter.removeBatchObservableCallback(observe, instruments.observables);
      instruments = undefined;
    },
  };
}
