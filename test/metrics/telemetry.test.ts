/**
 * tcp-keepalive/metrics on real loopback connections, with the real SDKs in
 * process: @opentelemetry/sdk-metrics read by a MetricReader, and a
 * prom-client Registry. (Scraped over HTTP, against real services and in the
 * fault lab: test/integration/metrics.test.ts, test/faults/metrics.test.ts.)
 */
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { metrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { configureKeepalive, connectionHealth } from '../../src';
import { following } from '../../src/core/follow';
import { keepaliveServer } from '../../src/integrations';
import { startTelemetry, type Telemetry } from '../../src/metrics';
import { closeAll, connection, listen, track } from '../helpers/sockets';

const onLinux = process.platform === 'linux' ? test : test.skip;

class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  attributes: Record<string, unknown>;
  value: number;
  count?: number;
}

async function read(reader: TestReader): Promise<Map<string, Point[]>> {
  const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
  const out = new Map<string, Point[]>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const points = (metric.dataPoints as Array<{ attributes: Record<string, unknown>; value: unknown }>).map((point) =>
        metric.dataPointType === DataPointType.HISTOGRAM
          ? { attributes: point.attributes, value: (point.value as { sum: number }).sum, count: (point.value as { count: number }).count }
          : { attributes: point.attributes, value: point.value as number },
      );
      out.set(metric.descriptor.name, points);
    }
  }
  return out;
}

function sumOf(points: Point[] | undefined, filter: Record<string, unknown> = {}): number {
  return (points ?? [])
    .filter((point) => Object.entries(filter).every(([key, value]) => point.attributes[key] === value))
    .reduce((total, point) => total + point.value, 0);
}

async function until(condition: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

let telemetry: Telemetry | undefined;
afterEach(async () => {
  telemetry?.stop();
  telemetry = undefined;
  metrics.disable();
  await closeAll();
});

onLinux('stop() lets go of every followed socket: closing them afterwards samples nothing', async () => {
  const registry = new Registry();
  // A long interval: every socket waits in the wheel, several to a slot.
  telemetry = startTelemetry({ exporter: 'prometheus', registry, interval: 60_000 });
  const { port } = await listen();
  const sockets = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const socket = track(net.connect(port, '127.0.0.1'));
      await once(socket, 'connect');
      configureKeepalive(socket, { idle: 30_000 });
      return socket;
    }),
  );
  telemetry.stop();
  // A socket still followed would take its last sample at close: a series and a connection count again.
  await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve).destroy())));
  expect(telemetry.connections).toBe(0);
  expect(telemetry.series).toBe(0);
});

describe('startTelemetry with OpenTelemetry', () => {
  onLinux('a configured connection is counted healthy, its RTT recorded in seconds; a normal close counts no death', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    telemetry = startTelemetry({ exporter: 'otel', meterProvider: provider, interval: 200 });
    const { client, accepted, port } = await connection();
    configureKeepalive(client, { idle: 30_000, interval: 10_000, count: 3, userTimeout: 60_000 });
    accepted.on('data', (chunk: Buffer) => accepted.write(chunk));
    client.write('ping');
    await once(client, 'data');
    await until(async () => sumOf((await read(reader)).get('tcp.keepalive.connections')) === 1);
    const seen = await read(reader);
    const attributes = {
      'network.peer.address': '127.0.0.1',
      'network.peer.port': port,
      'tcp.keepalive.policy': 'idle=30s,interval=10s,count=3,userTimeout=60s',
    };
    expect(sumOf(seen.get('tcp.keepalive.connections'), { ...attributes, verdict: 'healthy' })).toBe(1);
    expect(sumOf(seen.get('tcp.keepalive.connections'), { verdict: 'dead' })).toBe(0);
    const rtt = seen.get('tcp.connection.rtt')!;
    expect(rtt[0]!.attributes).toEqual(attributes);
    expect(rtt[0]!.count).toBeGreaterThanOrEqual(1);
    // Loopback: well under 10 ms, and above zero (seconds, not ms or µs).
    expect(rtt[0]!.value / rtt[0]!.count!).toBeGreaterThan(0);
    expect(rtt[0]!.value / rtt[0]!.count!).toBeLessThan(0.01);
    expect(seen.get('tcp.connection.min_rtt')?.[0]?.count).toBeGreaterThanOrEqual(1);
    expect(telemetry.connections).toBe(1);

    client.destroy();
    await once(client, 'close');
    const after = await read(reader);
    expect(sumOf(after.get('tcp.keepalive.connections'))).toBe(0);
    expect(sumOf(after.get('tcp.keepalive.dead_connections'))).toBe(0);
    expect(telemetry.connections).toBe(0);
  });

  onLinux(
    'every sample agrees with connectionHealth: a peer that closed (close-wait) counts dead, then leaves the gauge at close',
    async () => {
      const reader = new TestReader();
      telemetry = startTelemetry({ exporter: 'otel', meterProvider: new MeterProvider({ readers: [reader] }), interval: 200 });
      const { client, accepted } = await connection();
      configureKeepalive(client, { idle: 5000 });
      await until(async () => sumOf((await read(reader)).get('tcp.keepalive.connections'), { verdict: 'healthy' }) === 1);
      client.pause();
      accepted.write(Buffer.alloc(100 * 1024)); // over the high-water mark: Node stops reading, so the end stays unread
      await sleep(50);
      accepted.end();
      await until(async () => sumOf((await read(reader)).get('tcp.keepalive.connections'), { verdict: 'dead' }) === 1);
      expect(connectionHealth(client).verdict).toBe('dead');
      client.destroy();
      await until(async () => sumOf((await read(reader)).get('tcp.keepalive.connections')) === 0);
    },
  );

  onLinux('a MeterProvider registered globally after start-up receives the instruments', async () => {
    telemetry = startTelemetry({ exporter: 'otel', interval: 200 });
    const { client } = await connection();
    configureKeepalive(client, { idle: 5000 });
    await sleep(100);
    const reader = new TestReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    await until(async () => sumOf((await read(reader)).get('tcp.keepalive.connections'), { verdict: 'healthy' }) === 1);
  });

  onLinux('connections accepted by a keepaliveServer (inheriting the listener policy) are followed', async () => {
    const reader = new TestReader();
    telemetry = startTelemetry({ exporter: 'otel', meterProvider: new MeterProvider({ readers: [reader] }), interval: 200 });
    const server = keepaliveServer(net.createServer(), { idle: 20_000, interval: 5000, count: 4 });
    const { port } = await listen('127.0.0.1', server);
    const client = track(net.connect(port, '127.0.0.1'));
    await once(client, 'connect');
    await until(
      async () =>
        sumOf((await read(reader)).get('tcp.keepalive.connections'), { 'tcp.keepalive.policy': 'idle=20s,interval=5s,count=4' }) === 1,
    );
  });

  onLinux('the cardinality cap holds: past maxSeries attribute sets, connections count under one `other` set', async () => {
    const reader = new TestReader();
    let n = 0;
    telemetry = startTelemetry({
      exporter: 'otel',
      meterProvider: new MeterProvider({ readers: [reader] }),
      interval: 200,
      maxSeries: 2,
      policyName: () => `p${n++}`,
    });
    const { server, port } = await listen();
    server.on('connection', () => undefined);
    for (let i = 0; i < 5; i++) {
      const client = track(net.connect(port, '127.0.0.1'));
      await once(client, 'connect');
      configureKeepalive(client, { idle: 5000 });
    }
    await until(async () => sumOf((await read(reader)).get('tcp.keepalive.connections')) === 5);
    const points = (await read(reader)).get('tcp.keepalive.connections')!;
    const addresses = new Set(
      points.map((point) => `${point.attributes['network.peer.address']}/${point.attributes['tcp.keepalive.policy']}`),
    );
    expect(addresses.size).toBe(3);
    expect(sumOf(points, { 'network.peer.address': 'other', 'tcp.keepalive.policy': 'other' })).toBe(3);
    expect(telemetry.series).toBe(3);
  });
});

describe('startTelemetry with prom-client', () => {
  onLinux('the series are registered on the given Registry with Prometheus names, and removed on stop()', async () => {
    const registry = new Registry();
    telemetry = startTelemetry({ exporter: 'prometheus', registry, interval: 200, policyName: 'api' });
    const { client, accepted, port } = await connection();
    configureKeepalive(client, { idle: 10_000 });
    accepted.on('data', (chunk: Buffer) => accepted.write(chunk));
    client.write('ping');
    await once(client, 'data');
    const labels = `network_peer_address="127.0.0.1",network_peer_port="${port}",tcp_keepalive_policy="api"`;
    await until(async () => (await registry.metrics()).includes(`tcp_keepalive_connections{${labels},verdict="healthy"} 1`));
    const text = await registry.metrics();
    expect(text).toContain('# TYPE tcp_connection_rtt_seconds histogram');
    expect(text).toMatch(new RegExp(`tcp_connection_rtt_seconds_count\\{${labels}\\} [1-9]`));
    expect(text).toContain(`tcp_connection_retransmitted_segments_total{${labels}} 0`);
    expect(text).toContain(`tcp_connection_unacked{${labels}} 0`);
    expect(text).toContain('# TYPE tcp_keepalive_dead_connections_total counter');
    telemetry.stop();
    telemetry = undefined;
    expect(await registry.metrics()).not.toContain('tcp_');
  });
});

describe('startTelemetry with prom-client, OpenMetrics', () => {
  onLinux('a registry in OpenMetrics format gets the counters as OpenMetrics names them', async () => {
    const registry = new (Registry as unknown as new (contentType: string) => Registry)(Registry.OPENMETRICS_CONTENT_TYPE);
    telemetry = startTelemetry({ exporter: 'prometheus', registry, interval: 200, policyName: 'api' });
    const { client } = await connection();
    configureKeepalive(client, { idle: 10_000 });
    await until(async () => (await registry.metrics()).includes('verdict="healthy"} 1'));
    const text = await registry.metrics();
    expect(text).toContain('# TYPE tcp_connection_retransmitted_segments counter');
    expect(text).toMatch(/^tcp_connection_retransmitted_segments_total\{network_peer_address="127\.0\.0\.1",.*\} 0$/m);
    expect(text.trimEnd().endsWith('# EOF')).toBe(true);
  });
});

describe('startTelemetry options and cost when off', () => {
  test('importing the entry starts nothing; the core hook is set only while telemetry runs', () => {
    expect(following.socket).toBeUndefined();
    const handle = startTelemetry({ exporter: 'prometheus', registry: new Registry() });
    expect(following.socket).toBeInstanceOf(Function);
    handle.stop();
    handle.stop();
    expect(following.socket).toBeUndefined();
  });

  test.each([
    ['an unknown exporter', { exporter: 'statsd' }, 'ERR_INVALID_ARG_VALUE', /options\.exporter/],
    ['interval 50', { exporter: 'otel', interval: 50 }, 'ERR_OUT_OF_RANGE', /options\.interval.*>= 100/],
    ["interval '60s'", { exporter: 'otel', interval: '60s' }, 'ERR_INVALID_ARG_TYPE', /options\.interval/],
    ['maxSeries 0', { exporter: 'otel', maxSeries: 0 }, 'ERR_OUT_OF_RANGE', /options\.maxSeries/],
    ['a registry with otel', { exporter: 'otel', registry: new Registry() }, 'ERR_INVALID_ARG_VALUE', /options\.registry/],
    ['a meterProvider with prometheus', { exporter: 'prometheus', meterProvider: {} }, 'ERR_INVALID_ARG_VALUE', /options\.meterProvider/],
    ['a misspelt key', { exporter: 'otel', intervall: 1000 }, 'ERR_INVALID_ARG_VALUE', /options\.intervall.*not a telemetry option/],
    ['policyName 7', { exporter: 'otel', policyName: 7 }, 'ERR_INVALID_ARG_TYPE', /options\.policyName/],
  ])('%s is refused with %s', (_name, options, code, message) => {
    expect(() => startTelemetry(options as never)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    expect(following.socket).toBeUndefined();
  });

  test('a second telemetry on the same prom-client registry is refused, the first left as it was', () => {
    const registry = new Registry();
    telemetry = startTelemetry({ exporter: 'prometheus', registry });
    expect(() => startTelemetry({ exporter: 'prometheus', registry })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringContaining('already has a metric named tcp_connection_rtt_seconds'),
      }),
    );
    expect(registry.getSingleMetric('tcp_keepalive_connections')).toBeDefined();
    telemetry.stop();
    telemetry = undefined;
    expect(following.socket).toBeUndefined();
  });

  test('a missing exporter package is a coded error naming it', () => {
    jest.isolateModules(() => {
      jest.doMock('prom-client', () => {
        throw Object.assign(new Error("Cannot find module 'prom-client' from 'src/metrics/peer.ts'"), { code: 'MODULE_NOT_FOUND' });
      });
      const { startTelemetry: start } = require('../../src/metrics') as typeof import('../../src/metrics');
      expect(() => start({ exporter: 'prometheus' })).toThrow(
        expect.objectContaining({
          code: 'ERR_TCP_KEEPALIVE_MISSING_PEER',
          package: 'prom-client',
          message: expect.stringContaining('npm install prom-client'),
        }),
      );
      jest.dontMock('prom-client');
    });
    expect(following.socket).toBeUndefined();
  });
});
