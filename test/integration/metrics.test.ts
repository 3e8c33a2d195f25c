/**
 * tcp-keepalive/metrics against real services, scraped over HTTP as
 * Prometheus would: the OpenTelemetry SDK with its Prometheus exporter, a
 * prom-client Registry served by a plain HTTP server, and the register entry's
 * TCP_KEEPALIVE_METRICS=prometheus:<port> in an unmodified application.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import Redis from 'ioredis';
import { Client } from 'pg';
import { Registry } from 'prom-client';
import { configureKeepalive } from '../../src';
import { withKeepalive } from '../../src/integrations';
import { startTelemetry, type Telemetry } from '../../src/metrics';
import { assertBuilt, describeService, POLICY, within } from './support';

jest.setTimeout(40_000);

const PG_PORT = 5432;
const REDIS_PORT = 6379;
const root = path.resolve(__dirname, '..', '..');
const POLICY_NAME = 'idle=7s,interval=3s,count=4,userTimeout=25s';

function get(port: number, pathname = '/metrics'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Every sample line of `name` whose labels include all of `labels`, as numbers. */
function values(text: string, name: string, labels: Record<string, string> = {}): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    out.push(Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** Polls an asynchronous probe (a scrape) until it returns a value, bounded by `ms`. */
async function eventually<T>(ms: number, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const total = (numbers: number[]): number => numbers.reduce((sum, value) => sum + value, 0);

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let telemetry: Telemetry | undefined;
afterEach(() => {
  telemetry?.stop();
  telemetry = undefined;
  metrics.disable();
});

describeService('OpenTelemetry SDK + Prometheus exporter, PostgreSQL 127.0.0.1:5432', PG_PORT, () => {
  test('a pg client configured through withKeepalive is counted healthy with its RTT; the scrape shows the OpenTelemetry names', async () => {
    const port = await freePort();
    const exporter = new PrometheusExporter({ port, host: '127.0.0.1', preventServerStart: false });
    await within(5000, 'exporter listening', exporter.startServer());
    const provider = new MeterProvider({ readers: [exporter] });
    metrics.setGlobalMeterProvider(provider);
    telemetry = startTelemetry({ exporter: 'otel', interval: 300 });
    const client = new Client({
      host: '127.0.0.1',
      port: PG_PORT,
      user: 'postgres',
      database: 'postgres',
      stream: withKeepalive(() => new net.Socket(), POLICY),
    });
    try {
      await within(10_000, 'pg connect', client.connect());
      await client.query('SELECT 1');
      const labels = { network_peer_address: '127.0.0.1', network_peer_port: String(PG_PORT), tcp_keepalive_policy: POLICY_NAME };
      const text = await eventually(10_000, 'a healthy pg connection in the scrape', async () => {
        const { body } = await get(port);
        return total(values(body, 'tcp_keepalive_connections', { ...labels, verdict: 'healthy' })) === 1 ? body : undefined;
      });
      // @opentelemetry/exporter-prometheus translates names without appending the unit (docs/metrics.md).
      expect(text).toContain('# TYPE tcp_connection_rtt histogram');
      expect(total(values(text, 'tcp_connection_rtt_count', labels))).toBeGreaterThanOrEqual(1);
      expect(values(text, 'tcp_connection_rtt_sum', labels)[0]).toBeLessThan(0.05);
      expect(text).toContain('# TYPE tcp_keepalive_connections gauge');
      expect(text).toContain('# TYPE tcp_connection_unacked gauge');
    } finally {
      await client.end().catch(() => undefined);
      await exporter.shutdown();
    }
  });
});

describeService('prom-client Registry served over HTTP, Redis 127.0.0.1:6379', REDIS_PORT, () => {
  test('an ioredis connection: connections, RTT and retransmits in the scrape; closing it changes no death counter', async () => {
    const registry = new Registry();
    telemetry = startTelemetry({ exporter: 'prometheus', registry, interval: 300, policyName: 'redis' });
    const server = http.createServer((_request, response) => {
      void registry.metrics().then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const redis = new Redis({ host: '127.0.0.1', port: REDIS_PORT, lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('connect', () => configureKeepalive((redis as unknown as { stream: net.Socket }).stream, POLICY));
    try {
      await within(10_000, 'ioredis connect', redis.connect());
      await redis.ping();
      const labels = { network_peer_address: '127.0.0.1', network_peer_port: String(REDIS_PORT), tcp_keepalive_policy: 'redis' };
      const text = await eventually(10_000, 'a healthy redis connection in the scrape', async () => {
        const { body } = await get(port);
        return total(values(body, 'tcp_keepalive_connections', { ...labels, verdict: 'healthy' })) === 1 ? body : undefined;
      });
      expect(total(values(text, 'tcp_connection_rtt_seconds_count', labels))).toBeGreaterThanOrEqual(1);
      expect(values(text, 'tcp_connection_retransmitted_segments_total', labels)).toEqual([0]);
      redis.disconnect();
      await eventually(10_000, 'the closed connection leaves the gauge', async () => {
        const { body } = await get(port);
        return total(values(body, 'tcp_keepalive_connections', labels)) === 0 ? body : undefined;
      });
      expect(total(values((await get(port)).body, 'tcp_keepalive_dead_connections_total'))).toBe(0);
    } finally {
      redis.disconnect();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describeService('zero-code: TCP_KEEPALIVE_METRICS=prometheus:<port>, PostgreSQL 127.0.0.1:5432', PG_PORT, () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.stdin?.end();
    child?.stdout?.destroy();
    child?.kill();
    child = undefined;
  });

  test('an unmodified application serves /metrics with its pg connection counted', async () => {
    assertBuilt();
    const port = await freePort();
    const app = `
      const { Client } = require('pg');
      const client = new Client({ host: '127.0.0.1', port: ${PG_PORT}, user: 'postgres', database: 'postgres' });
      client.connect().then(() => client.query('SELECT 1')).then(() => process.stdout.write('READY\\n'));
      process.stdin.resume();
      process.stdin.on('end', () => client.end().then(() => process.exit(0)));
    `;
    child = spawn(process.execPath, ['-e', app], {
      cwd: root,
      env: {
        ...process.env,
        NODE_OPTIONS: `--require ${path.join(root, 'dist', 'register', 'index.js')}`,
        TCP_KEEPALIVE: 'idle=7s,interval=3s,count=4,userTimeout=25s',
        TCP_KEEPALIVE_MATCH: String(PG_PORT),
        TCP_KEEPALIVE_METRICS: `prometheus:127.0.0.1:${port}`,
        TCP_KEEPALIVE_METRICS_INTERVAL: '300ms',
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await within(15_000, 'the app ready', once(child.stdout!, 'data'));
    const text = await eventually(10_000, 'the pg connection in /metrics', async () => {
      const { body } = await get(port);
      const labels = { network_peer_address: '127.0.0.1', network_peer_port: String(PG_PORT), tcp_keepalive_policy: POLICY_NAME };
      return total(values(body, 'tcp_keepalive_connections', { ...labels, verdict: 'healthy' })) === 1 ? body : undefined;
    });
    expect(text).toContain('# TYPE tcp_connection_rtt_seconds histogram');
    expect((await get(port, '/')).status).toBe(404);
  });
});

describe('zero-code: TCP_KEEPALIVE_METRICS=otel, a MeterProvider the application registers after start-up', () => {
  test('the provider registered later receives the instruments, with the loopback connection counted', async () => {
    assertBuilt();
    const app = `
      const net = require('node:net');
      const { metrics } = require('@opentelemetry/api');
      const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
      class Reader extends MetricReader { onForceFlush() { return Promise.resolve(); } onShutdown() { return Promise.resolve(); } }
      const server = net.createServer((socket) => socket.resume()).listen(0, '127.0.0.1', () => {
        const client = net.connect(server.address().port, '127.0.0.1', async () => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          const reader = new Reader();
          metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
          await new Promise((resolve) => setTimeout(resolve, 1000));
          const { resourceMetrics } = await reader.collect();
          const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === 'tcp.keepalive.connections');
          const points = (metric ? metric.dataPoints : []).map((point) => [point.attributes.verdict, point.value, point.attributes['network.peer.port']]);
          process.stdout.write(JSON.stringify({ port: server.address().port, points }) + '\\n');
          process.exit(0);
        });
      });
    `;
    const child = spawn(process.execPath, ['-e', app], {
      cwd: root,
      env: {
        ...process.env,
        NODE_OPTIONS: `--require ${path.join(root, 'dist', 'register', 'index.js')}`,
        TCP_KEEPALIVE: 'idle=30s',
        TCP_KEEPALIVE_METRICS: 'otel',
        TCP_KEEPALIVE_METRICS_INTERVAL: '200ms',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const [code] = (await within(15_000, 'the app to report', once(child, 'exit'))) as [number];
    expect(code).toBe(0);
    const { port, points } = JSON.parse(stdout.trim()) as { port: number; points: Array<[string, number, number]> };
    expect(points).toContainEqual(['healthy', 1, port]);
  });
});
