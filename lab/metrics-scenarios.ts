/**
 * Telemetry scenarios, run inside a namespace by metrics-child.js: what
 * tcp-keepalive/metrics counts while a peer really vanishes, is black-holed,
 * stops reading, or the connection ends normally. The exporter is prom-client
 * with its own Registry, read in the child every READ_MS (loopback itself is
 * taken down or black-holed, so nothing is scraped over the network here;
 * test/integration/metrics.test.ts scrapes over HTTP).
 *
 *   import { runMetricsScenario } from '../../lab/metrics-scenarios';
 *   const report = await runMetricsScenario({ name: 'black-holed-write', options: { idle: 1000, interval: 1000, count: 3, userTimeout: 4000 }, observeMs: 7000 });
 */
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry as RegistryType } from 'prom-client';
import { configureKeepalive, type KeepaliveOptions } from '../dist';
import { startTelemetry } from '../dist/metrics';
import { bringLoopbackUp, dropAllIncoming, takeLoopbackDown } from './inside';
import { labOutput, runInNamespace } from './run';

export interface MetricsScenario {
  /**
   * - vanished-idle: the peer vanishes (lo down) right after connect; the client stays idle;
   * - black-holed-write: every arriving packet is dropped (nft), then the client writes;
   * - slow-reader: the peer stops reading while the client writes 8 MB (a zero window);
   * - normal-close: connections that end every ordinary way.
   */
  name: 'vanished-idle' | 'black-holed-write' | 'slow-reader' | 'normal-close';
  options: KeepaliveOptions;
  observeMs: number;
}

/** One reading of the registry. */
export interface MetricsReading {
  atMs: number;
  retransmittedSegments: number;
  connections: Record<string, number>;
  dead: Record<string, number>;
}

export interface MetricsReport {
  scenario: MetricsScenario;
  readings: MetricsReading[];
  /** The client's error, ms from the start (the write, or the peer vanishing). */
  error: { code: string; atMs: number } | null;
  /** The registry's text at the end. */
  final: string;
}

const READ_MS = 100;
const CHILD_OVERHEAD_MS = 5_000;

function sum(text: string, name: string, label?: string): Record<string, number> | number {
  const byLabel: Record<string, number> = {};
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    total += value;
    if (label !== undefined) {
      const match = new RegExp(`${label}="([^"]*)"`).exec(line);
      if (match !== null) byLabel[match[1]!] = (byLabel[match[1]!] ?? 0) + value;
    }
  }
  return label === undefined ? total : byLabel;
}

async function read(registry: RegistryType, startedAt: number): Promise<MetricsReading> {
  const text = await registry.metrics();
  return {
    atMs: performance.now() - startedAt,
    retransmittedSegments: sum(text, 'tcp_connection_retransmitted_segments_total') as number,
    connections: sum(text, 'tcp_keepalive_connections', 'verdict') as Record<string, number>,
    dead: sum(text, 'tcp_keepalive_dead_connections_total', 'cause') as Record<string, number>,
  };
}

async function connectedPair(): Promise<{ server: net.Server; client: net.Socket; accepted: net.Socket }> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const peer = await accepted;
  peer.on('error', () => undefined);
  peer.resume(); // reads (and drops) what the client sends, so an end is seen; the slow reader pauses it again
  return { server, client, accepted: peer };
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

export async function runMetricsScenarioHere(scenario: MetricsScenario): Promise<MetricsReport> {
  bringLoopbackUp();
  const { Registry } = require('prom-client') as typeof import('prom-client');
  const registry = new Registry();
  const telemetry = startTelemetry({ exporter: 'prometheus', registry, interval: 200 });
  const report: MetricsReport = { scenario, readings: [], error: null, final: '' };
  let startedAt = performance.now();
  if (scenario.name === 'normal-close') {
    const endings: Array<(pair: Awaited<ReturnType<typeof connectedPair>>) => Promise<void>> = [
      async ({ client }) => {
        client.end();
        await closed(client);
      },
      async ({ client, accepted }) => {
        client.resume();
        accepted.end();
        await closed(client);
      },
      async ({ client }) => {
        client.destroy();
        await closed(client);
      },
      async ({ client, accepted }) => {
        accepted.resetAndDestroy();
        await closed(client);
      },
      async ({ client }) => {
        client.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
        await closed(client);
      },
    ];
    for (const end of endings) {
      const pair = await connectedPair();
      pair.client.on('error', () => undefined);
      configureKeepalive(pair.client, scenario.options);
      pair.client.write('hello');
      await sleep(300); // sampled at least once
      report.readings.push(await read(registry, startedAt));
      await end(pair);
      pair.server.close();
    }
    await sleep(50);
    report.readings.push(await read(registry, startedAt));
  } else {
    const { client, accepted } = await connectedPair();
    configureKeepalive(client, scenario.options);
    const failed = once(client, 'error').then(
      ([error]) => (report.error = { code: String((error as NodeJS.ErrnoException).code), atMs: performance.now() - startedAt }),
    );
    if (scenario.name === 'vanished-idle') {
      takeLoopbackDown();
    } else if (scenario.name === 'black-holed-write') {
      dropAllIncoming();
      client.write('PUBLISH sensors/1 {"t":21.5}\n');
    } else {
      accepted.pause();
      client.write(Buffer.alloc(8 * 1024 * 1024));
    }
    startedAt = performance.now();
    const until = startedAt + scenario.observeMs;
    while (report.error === null && performance.now() < until) {
      report.readings.push(await read(registry, startedAt));
      await Promise.race([failed, sleep(READ_MS)]);
    }
    await sleep(50);
    report.readings.push(await read(registry, startedAt));
    client.destroy();
    accepted.destroy();
  }
  report.final = await registry.metrics();
  telemetry.stop();
  return report;
}

export function metricsScenarioDeadlineMs(scenario: MetricsScenario): number {
  return scenario.observeMs + (scenario.name === 'normal-close' ? 5_000 : 0) + CHILD_OVERHEAD_MS;
}

/** Runs one telemetry scenario in its own namespace (lab-dist/metrics-child.js, built by `npm run build`). */
export function runMetricsScenario(scenario: MetricsScenario): Promise<MetricsReport> {
  return runInNamespace<MetricsReport>({
    script: path.join(labOutput, 'metrics-child.js'),
    args: scenario,
    timeoutMs: metricsScenarioDeadlineMs(scenario) + 2_000,
  });
}
