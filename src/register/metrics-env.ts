/**
 * The register entry's telemetry variables (docs/metrics.md):
 *
 *   TCP_KEEPALIVE_METRICS           otel | prometheus | prometheus:9464 | prometheus:127.0.0.1:9464
 *   TCP_KEEPALIVE_METRICS_INTERVAL  60s (the default) | 500ms | 2m
 *
 * `otel` puts the instruments on the global MeterProvider (also one the
 * application registers later); `prometheus[:[host:]port]` serves /metrics
 * from prom-client's default registry on that port (9464, OpenTelemetry's
 * Prometheus port, when none is given).
 */
import type { MetricsConfig } from '../metrics/environment';
import { parseDuration, RegisterConfigError } from './env';

export type { MetricsConfig } from '../metrics/environment';

export const DEFAULT_METRICS_PORT = 9464;
export const DEFAULT_METRICS_INTERVAL = 60_000;
const MIN_INTERVAL = 100;

function parseInterval(text: string | undefined): number {
  const variable = 'TCP_KEEPALIVE_METRICS_INTERVAL';
  if (text === undefined || text.trim() === '') return DEFAULT_METRICS_INTERVAL;
  const trimmed = text.trim();
  const ms = parseDuration(variable, trimmed, trimmed);
  if (ms < MIN_INTERVAL || ms > 2 ** 31 - 1) {
    throw new RegisterConfigError(variable, `"${trimmed}" is out of range (100ms to 2147483647ms)`);
  }
  return ms;
}

function parsePort(variable: string, value: string, text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new RegisterConfigError(variable, `"${value}": "${text}" is not a port (1-65535)`);
  }
  return Number(text);
}

/** The telemetry the environment asks for, or undefined when TCP_KEEPALIVE_METRICS is unset, empty or 0/off. */
export function parseMetricsEnvironment(env: NodeJS.ProcessEnv): MetricsConfig | undefined {
  const variable = 'TCP_KEEPALIVE_METRICS';
  const value = (env.TCP_KEEPALIVE_METRICS ?? '').trim();
  const off = value === '' || value === '0' || value.toLowerCase() === 'off';
  if (off) {
    if ((env.TCP_KEEPALIVE_METRICS_INTERVAL ?? '').trim() !== '') {
      throw new RegisterConfigError(
        'TCP_KEEPALIVE_METRICS_INTERVAL',
        'is set but TCP_KEEPALIVE_METRICS is not (set it to otel or prometheus:9464)',
      );
    }
    return undefined;
  }
  const interval = parseInterval(env.TCP_KEEPALIVE_METRICS_INTERVAL);
  if (value === 'otel') return { exporter: 'otel', port: 0, host: undefined, interval };
  const prometheus = /^prometheus(?::(.*))?$/.exec(value);
  if (prometheus === null) {
    throw new RegisterConfigError(
      variable,
      `"${value}" is not an exporter (otel, prometheus, prometheus:9464 or prometheus:127.0.0.1:9464)`,
    );
  }
  const where = prometheus[1];
  if (where === undefined) return { exporter: 'prometheus', port: DEFAULT_METRICS_PORT, host: undefined, interval };
  const split = where.lastIndexOf(':');
  if (split < 0) return { exporter: 'prometheus', port: parsePort(variable, value, where), host: undefined, interval };
  const host = where.slice(0, split).replace(/^\[(.*)\]$/, '$1');
  if (host === '' || !/^[A-Za-z0-9_.:-]+$/.test(host))
    throw new RegisterConfigError(variable, `"${value}": "${host}" is not a host name or address`);
  return { exporter: 'prometheus', port: parsePort(variable, value, where.slice(split + 1)), host, interval };
}
