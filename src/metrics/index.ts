/**
 * tcp-keepalive/metrics: connection telemetry from TCP_INFO, exported to
 * OpenTelemetry or Prometheus (docs/metrics.md).
 *
 *   const { startTelemetry } = require('tcp-keepalive/metrics');
 *   const telemetry = startTelemetry({ exporter: 'otel' });            // the global MeterProvider
 *   const telemetry = startTelemetry({ exporter: 'prometheus', registry }); // a prom-client Registry
 *   …
 *   telemetry.stop();
 *
 * Importing this module does nothing: no timer, no subscription, no peer
 * dependency loaded. startTelemetry follows every socket the library
 * configures from then on (configureKeepalive, the integrations, keepaliveServer,
 * the register entry) and every connection a configured listener's accepted
 * sockets inherit the policy from.
 */
import type net from 'node:net';
import { invalidArgType, invalidArgValue, outOfRange } from '../core/errors';
import type { KeepaliveOptions } from '../core/options';
import { Sampler } from './sampler';

export { MissingPeerError } from './peer';
export { ATTRIBUTES, CAUSES, INSTRUMENTS, OTHER, RTT_BUCKETS, VERDICTS } from './series';

export interface TelemetryOptions {
  /**
   * 'otel': OpenTelemetry instruments (needs @opentelemetry/api); 'prometheus': prom-client metrics (needs prom-client).
   */
  exporter: 'otel' | 'prometheus';
  /** 'otel': the MeterProvider to use. Default: the global one, also when it is registered after this call. */
  meterProvider?: { getMeter(name: string, version?: string): unknown };
  /** 'prometheus': the prom-client Registry to register the metrics on. Default: prom-client's default registry. */
  registry?: object;
  /** ms between two samples of a connection, on average (each is a random 10–110 % of it). Default 60 000; 100 – 2 147 483 647. */
  interval?: number;
  /**
   * Distinct (peer address, peer port, policy) attribute sets before every new one is counted under
   * one set whose attributes are all `other`. Default 100; 1 – 100 000.
   */
  maxSeries?: number;
  /**
   * The `tcp.keepalive.policy` attribute: a fixed name, or a function of the socket and its policy.
   * Default: the policy itself, e.g. `idle=30s,interval=10s,count=3,userTimeout=60s`.
   */
  policyName?: string | ((socket: net.Socket, policy: Readonly<KeepaliveOptions> | undefined) => string);
}

export interface Telemetry {
  /** ms between two samples of a connection, on average. */
  readonly interval: number;
  /** Connections followed and open now. */
  readonly connections: number;
  /** Attribute sets in use (the `other` set included). */
  readonly series: number;
  /** Stops sampling and following; the metrics are removed from a prom-client registry. Idempotent. */
  stop(): void;
}

const MS_MAX = 2 ** 31 - 1;
const KEYS = ['exporter', 'meterProvider', 'registry', 'interval', 'maxSeries', 'policyName'];

function integer(name: string, value: unknown, min: number, max: number, fallback: number, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidArgType(`options.${name}`, `of type number (${unit})`, value);
  if (!Number.isInteger(value) || value < min || value > max)
    throw outOfRange(`options.${name}`, `an integer >= ${min} && <= ${max} (${unit})`, value);
  return value;
}

/**
 * Starts sampling TCP_INFO of the connections the library configures or
 * inherits from now on, and exports it. Throws ERR_INVALID_ARG_TYPE /
 * ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE for bad options, and
 * ERR_TCP_KEEPALIVE_MISSING_PEER (naming the package) when the exporter's
 * package is not installed.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key) && (options as unknown as Record<string, unknown>)[key] !== undefined) {
      throw invalidArgValue(
        `options.${key}`,
        `is not a telemetry option (known: ${KEYS.join(', ')})`,
        (options as unknown as Record<string, unknown>)[key],
      );
    }
  }
  const { exporter, meterProvider, registry, policyName } = options;
  if (exporter !== 'otel' && exporter !== 'prometheus')
    throw invalidArgValue('options.exporter', "must be 'otel' or 'prometheus'", exporter);
  const interval = integer('interval', options.interval, 100, MS_MAX, 60_000, 'milliseconds');
  const maxSeries = integer('maxSeries', options.maxSeries, 1, 100_000, 100, 'attribute sets');
  if (meterProvider !== undefined && (exporter !== 'otel' || typeof (meterProvider as { getMeter?: unknown }).getMeter !== 'function')) {
    throw invalidArgValue('options.meterProvider', "must be an OpenTelemetry MeterProvider, with exporter 'otel'", meterProvider);
  }
  if (
    registry !== undefined &&
    (exporter !== 'prometheus' || typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function')
  ) {
    throw invalidArgValue('options.registry', "must be a prom-client Registry, with exporter 'prometheus'", registry);
  }
  if (policyName !== undefined && typeof policyName !== 'function' && (typeof policyName !== 'string' || policyName === '')) {
    throw invalidArgType('options.policyName', 'a non-empty string or a function', policyName);
  }
  const sampler = new Sampler({
    interval,
    maxSeries,
    policyName: typeof policyName === 'string' ? () => policyName : policyName,
  });
  const sink =
    exporter === 'otel'
      ? (require('./otel') as typeof import('./otel')).otelExporter(
          sampler,
          meterProvider as Parameters<typeof import('./otel').otelExporter>[1],
        )
      : (require('./prometheus') as typeof import('./prometheus')).prometheusExporter(
          sampler,
          registry as Parameters<typeof import('./prometheus').prometheusExporter>[1],
        );
  sampler.start(sink);
  return {
    interval,
    get connections(): number {
      return sampler.open;
    },
    get series(): number {
      return sampler.seriesCount;
    },
    stop(): void {
      sampler.stop();
    },
  };
}
