/**
 * Connection-health scenarios, run inside a namespace by health-child.js:
 * what connectionHealth() says while a peer vanishes, and what the
 * `tcp-keepalive:dead` channel publishes when the kernel ends the connection.
 *
 *   import { runHealthScenario } from '../../lab/health-scenarios';
 *   const report = await runHealthScenario({ name: 'vanished-idle', options: { idle: 1000, interval: 1000, count: 3 }, observeMs: 6000 });
 *
 * Times are ms from the moment the kernel's clock starts: 'connect' (where the
 * socket is configured, and the peer vanishes) for an idle socket, the write
 * for data in flight. connectionHealth() is polled every POLL_MS.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  configureKeepalive, connectionHealth, DEAD_CHANNEL, type DeadConnectionMessage, type HealthReason, type KeepaliveOptions, tcpInfo,
  type TcpInfo,
} from '../dist';
import { bringLoopbackUp, dropAllIncoming, takeLoopbackDown } from './inside';
import { runInNamespace, labOutput } from './run';
import { type SsInfo, ssInfoFor } from './ss-info';

export interface VanishedIdleScenario {
  /** The peer vanishes (lo down) right after connect; the client stays idle. */
  name: 'vanished-idle';
  options: KeepaliveOptions;
  observeMs: number;
}

export interface BlackHoledWriteScenario {
  /** Every arriving packet is dropped (nft), then the client writes: data in flight. */
  name: 'black-holed-write';
  options: KeepaliveOptions;
  observeMs: number;
  /** When to read tcpInfo and ss side by side while retransmitting, ms after the write. */
  compareAtMs: number;
}

export interface NormalCloseScenario {
  /** Subscribed, configured connections that end without the kernel timing out: nothing may be published. */
  name: 'normal-close';
  options: KeepaliveOptions;
}

export type HealthScenario = VanishedIdleScenario | BlackHoledWriteScenario | NormalCloseScenario;

export interface HealthSample {
  atMs: number;
  verdict: string;
  reasons: readonly HealthReason[];
  probes: number | undefined;
  retransmits: number | undefined;
}

export interface DeadMessageSeen {
  atMs: number;
  cause: string;
  policy: Readonly<KeepaliveOptions> | undefined;
  lastInfo: TcpInfo | undefined;
  errorCode: string | undefined;
  /** The message's socket is the watched one. */
  sameSocket: boolean;
  /** The socket's 'error' had not been emitted yet when the message came. */
  beforeErrorEvent: boolean;
}

export interface HealthReport {
  scenario: HealthScenario;
  /** Whether configureKeepalive itself set up the death watch (src/core's hook), seen as an own _destroy on the socket. */
  watchedByCore: boolean;
  /** Every verdict change seen while polling (the first sample, then each change). */
  transitions: HealthSample[];
  firstSuspectMs: number | null;
  firstDeadMs: number | null;
  /** The socket's error, ms from the clock start. */
  error: { code: string; atMs: number } | null;
  dead: DeadMessageSeen[];
  /** black-holed-write: tcpInfo before and after one `ss -tinoe` of the same connection. */
  comparison: { before: TcpInfo; ss: SsInfo | undefined; after: TcpInfo } | null;
  /** normal-close: the ways the connections ended. */
  endings: string[];
  watchedMs: number;
}

const POLL_MS = 10;
const CHILD_OVERHEAD_MS = 5_000;

async function connectedPair(): Promise<{ server: net.Server; client: net.Socket; accepted: net.Socket; connectedAt: number }> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const connectedAt = performance.now();
  const peer = await accepted;
  peer.on('error', () => undefined);
  return { server, client, accepted: peer, connectedAt };
}

function subscribeDead(startedAt: () => number, watched: () => net.Socket | undefined, errorSeen: () => boolean): DeadMessageSeen[] {
  const seen: DeadMessageSeen[] = [];
  diagnosticsChannel.subscribe(DEAD_CHANNEL, (message) => {
    const { socket, cause, policy, lastInfo, error } = message as DeadConnectionMessage;
    seen.push({
      atMs: performance.now() - startedAt(),
      cause,
      policy,
      lastInfo,
      errorCode: (error as NodeJS.ErrnoException | undefined)?.code,
      sameSocket: socket === watched(),
      beforeErrorEvent: !errorSeen(),
    });
  });
  return seen;
}

/**
 * Whether src/core's hook watched the socket when it was configured (it gives
 * the socket an own _destroy). If not, the scenario watches it itself through
 * the same function, so the cause logic is still exercised; the report says which.
 */
function watchedByCore(socket: net.Socket): boolean {
  if (Object.prototype.hasOwnProperty.call(socket, '_destroy')) return true;
  const { watchForDeath } = require('../dist/health/dead-channel') as typeof import('../dist/health/dead-channel');
  const { policyOf } = require('../dist/core/keepalive') as typeof import('../dist/core/keepalive');
  watchForDeath(socket, policyOf);
  return false;
}

/** Polls connectionHealth until the socket errors or `untilMs` passes. */
async function watchHealth(socket: net.Socket, startedAt: number, untilMs: number, report: HealthReport): Promise<void> {
  let last = '';
  let errored = false;
  const failed = once(socket, 'error').then(([error]) => {
    errored = true;
    report.error = { code: String((error as NodeJS.ErrnoException).code), atMs: performance.now() - startedAt };
  });
  const poll = (): void => {
    if (errored || socket.destroyed) return;
    const health = connectionHealth(socket);
    const atMs = performance.now() - startedAt;
    if (health.verdict === 'suspect' && report.firstSuspectMs === null) report.firstSuspectMs = atMs;
    if (health.verdict === 'dead' && report.firstDeadMs === null) report.firstDeadMs = atMs;
    const key = `${health.verdict} ${health.reasons.join(',')}`;
    if (key !== last) {
      last = key;
      report.transitions.push({ atMs, verdict: health.verdict, reasons: health.reasons, probes: health.info.probes, retransmits: health.info.retransmits });
    }
  };
  poll();
  const poller = setInterval(poll, POLL_MS);
  await Promise.race([failed, sleep(Math.max(0, untilMs - performance.now()))]);
  clearInterval(poller);
  // The dead message and the error are both in; let any straggler land.
  await sleep(20);
}

function emptyReport(scenario: HealthScenario): HealthReport {
  return { scenario, watchedByCore: false, transitions: [], firstSuspectMs: null, firstDeadMs: null, error: null, dead: [], comparison: null, endings: [], watchedMs: 0 };
}

async function vanishedIdle(scenario: VanishedIdleScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  let startedAt = 0;
  let watched: net.Socket | undefined;
  report.dead = subscribeDead(() => startedAt, () => watched, () => report.error !== null);
  const { client, connectedAt } = await connectedPair();
  watched = client;
  startedAt = connectedAt;
  configureKeepalive(client, scenario.options);
  report.watchedByCore = watchedByCore(client);
  takeLoopbackDown();
  await watchHealth(client, startedAt, startedAt + scenario.observeMs, report);
  report.watchedMs = performance.now() - startedAt;
  return report;
}

async function blackHoledWrite(scenario: BlackHoledWriteScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  let startedAt = 0;
  let watched: net.Socket | undefined;
  report.dead = subscribeDead(() => startedAt, () => watched, () => report.error !== null);
  const { client } = await connectedPair();
  watched = client;
  configureKeepalive(client, scenario.options);
  report.watchedByCore = watchedByCore(client);
  dropAllIncoming();
  startedAt = performance.now();
  client.write('PUBLISH sensors/1 {"t":21.5}\n');
  const compare = sleep(scenario.compareAtMs).then(() => {
    if (client.destroyed) return;
    const before = tcpInfo(client);
    const ss = ssInfoFor(client.localPort!, client.remotePort!);
    const after = tcpInfo(client);
    report.comparison = { before, ss, after };
  });
  await watchHealth(client, startedAt, startedAt + scenario.observeMs, report);
  await compare;
  report.watchedMs = performance.now() - startedAt;
  return report;
}

/** 'close', without events.once's rejection on 'error' (an ending may well be an error). */
function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Connections that end every ordinary way, each configured with a subscriber listening. */
async function normalClose(scenario: NormalCloseScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  const startedAt = performance.now();
  report.dead = subscribeDead(() => startedAt, () => undefined, () => false);
  const endings: Array<[string, (pair: Awaited<ReturnType<typeof connectedPair>>) => Promise<void>]> = [
    ['client end()', async ({ client }) => {
      client.end();
      await closed(client);
    }],
    ['peer end()', async ({ client, accepted }) => {
      client.resume();
      accepted.end();
      await closed(client);
    }],
    ['client destroy()', async ({ client }) => {
      client.destroy();
      await closed(client);
    }],
    ['peer reset (ECONNRESET)', async ({ client, accepted }) => {
      accepted.resetAndDestroy();
      await closed(client);
    }],
    ['a library\'s own ETIMEDOUT on a live connection', async ({ client }) => {
      client.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
      await closed(client);
    }],
  ];
  for (const [name, end] of endings) {
    const pair = await connectedPair();
    configureKeepalive(pair.client, scenario.options);
    report.watchedByCore ||= watchedByCore(pair.client);
    let errorCode = 'no error';
    pair.client.on('error', (error: NodeJS.ErrnoException) => { errorCode = String(error.code); });
    await end(pair);
    pair.server.close();
    report.endings.push(`${name}: ${errorCode}`);
  }
  await sleep(50);
  report.watchedMs = performance.now() - startedAt;
  return report;
}

/** Runs inside the namespace (called by health-child.js). */
export function runHealthScenarioHere(scenario: HealthScenario): Promise<HealthReport> {
  switch (scenario.name) {
    case 'vanished-idle': return vanishedIdle(scenario);
    case 'black-holed-write': return blackHoledWrite(scenario);
    case 'normal-close': return normalClose(scenario);
  }
}

export function healthScenarioDeadlineMs(scenario: HealthScenario): number {
  return (scenario.name === 'normal-close' ? 5_000 : scenario.observeMs) + CHILD_OVERHEAD_MS;
}

/** Runs one health scenario in its own namespace (lab-dist/health-child.js, built by `npm run build`). */
export function runHealthScenario(scenario: HealthScenario): Promise<HealthReport> {
  return runInNamespace<HealthReport>({
    script: path.join(labOutput, 'health-child.js'),
    args: scenario,
    timeoutMs: healthScenarioDeadlineMs(scenario) + 2_000,
  });
}
