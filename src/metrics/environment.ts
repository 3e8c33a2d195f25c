/**
 * Telemetry started by the register entry from TCP_KEEPALIVE_METRICS
 * (src/register/metrics-env.ts): `otel` on the global MeterProvider, or
 * `prometheus:<port>`, where /metrics is served from prom-client's default
 * registry by a small HTTP server that does not keep the process alive.
 */
import type http from 'node:http';
import type * as PromClient from 'prom-client';
import { startTelemetry, type Telemetry } from './index';
import { requirePeer } from './peer';

/** What the environment asks for (TCP_KEEPALIVE_METRICS, TCP_KEEPALIVE_METRICS_INTERVAL), parsed by tcp-keepalive/register. */
export interface MetricsConfig {
  readonly exporter: 'otel' | 'prometheus';
  /** prometheus: where /metrics is served. */
  readonly port: number;
  readonly host: string | undefined;
  /** ms between two samples of a connection, on average. */
  readonly interval: number;
}

export interface EnvironmentTelemetry {
  readonly telemetry: Telemetry;
  /** prometheus: the /metrics server (listening, or about to). */
  readonly server: http.Server | undefined;
  stop(): void;
}

/**
 * Throws MissingPeerError when the exporter's package is not installed. A port
 * that cannot be listened on is reported on stderr (one line) without stopping
 * the application: its connections are still protected.
 */
export function startFromEnvironment(config: MetricsConfig, log: (line: string) => void): EnvironmentTelemetry {
  if (config.exporter === 'otel') {
    const telemetry = startTelemetry({ exporter: 'otel', interval: config.interval });
    return { telemetry, server: undefined, stop: () => telemetry.stop() };
  }
  const client = requirePeer<typeof PromClient>('prom-client', 'TCP_KEEPALIVE_METRICS=prometheus');
  const telemetry = startTelemetry({ exporter: 'prometheus', interval: config.interval });
  const server = (require('node:http') as typeof http).createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '/').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are served at /metrics\n');
      return;
    }
    client.register.metrics().then(
      (text) => response.writeHead(200, { 'content-type': client.register.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  server.on('error', (error: Error & { code?: string }) => {
    log(`TCP_KEEPALIVE_METRICS: cannot serve /metrics on ${config.host ?? ''}:${config.port}: ${error.code ?? error.message}`);
  });
  server.listen(config.port, config.host);
  server.unref();
  return {
    telemetry,
    server,
    stop(): void {
      telemetry.stop();
      server.close();
    },
  };
}
