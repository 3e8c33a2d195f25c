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
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  configureKeepalive,
  connectionHealth,
  DEAD_CHANNEL,
  type DeadConnectionMessage,
  type HealthReason,
  type KeepaliveOptions,
  tcpInfo,
  type TcpInfo,
  type ZeroWindowStall,
} from '../dist';
import { bringLoopbackUp, dropAllIncoming, takeLoopbackDown } from './inside';
import { runInNamespace, labOutput } from './run';
import { type SsInfo, ssInfoFor } from './ss-info';

export interface VanishedIdleScenario {
  /** The peer vanishes (lo down) right after connect; the client stays idle. */
  name: 'vanished-idle';
  options: KeepaliveOptions;
  observeMs: number;
  /**
   * 'node': keepalive set with Node's own socket.setKeepAlive(true, options.idle) instead of
   * configureKeepalive (libuv then forces interval 1 s × 10): the socket has no policy of ours.
   */
  via?: 'configureKeepalive' | 'node';
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

export interface HealthyLoadScenario {
  /**
   * Healthy connections under load, none of which may ever look suspect: `connections` clients doing
   * request/response with pauses around the keepalive idle (so probes really go out and are answered),
   * plus a slow reader whose peer sits on a zero window (zero-window probes, backoff).
   */
  name: 'healthy-load';
  connections: number;
  durationMs: number;
  options: KeepaliveOptions;
  /** Pause between a response and the next request: uniform in [min, max] ms. */
  pauseMs: [number, number];
  /** Every connection is checked this often, besides the checks before and after each request. */
  sweepMs: number;
}

export interface PeerClosedScenario {
  /**
   * The peer closes (FIN, or RST) while the application is not reading (its readable buffer is over the
   * high-water mark, so Node stopped reading): how soon is the connection dead, and is that before 'end'?
   */
  name: 'peer-closed';
  how: 'end' | 'reset';
}

export interface SlowReaderScenario {
  /**
   * A live peer stops reading at once (its application pauses) while the client keeps writing: the peer's
   * receive buffer fills and it advertises a zero window. After `stallMs` it reads again; null: never.
   */
  name: 'slow-reader';
  options: KeepaliveOptions;
  stallMs: number | null;
  observeMs: number;
}

export interface TlsUpgradeScenario {
  /**
   * A raw socket configured with configureKeepalive, then upgraded with tls.connect({ socket }) (the
   * pg / mysql2 / postgres.js `ssl` path) to a TLS server; then the peer vanishes (lo down) while idle.
   */
  name: 'tls-upgrade-vanished';
  options: KeepaliveOptions;
  /** The TLS server's key and certificate (PEM), made by the test. */
  key: string;
  cert: string;
  observeMs: number;
}

export type HealthScenario =
  | VanishedIdleScenario
  | BlackHoledWriteScenario
  | NormalCloseScenario
  | HealthyLoadScenario
  | PeerClosedScenario
  | SlowReaderScenario
  | TlsUpgradeScenario;

export interface LoadReport {
  checks: number;
  /** Every verdict other than healthy, with its reasons and the numbers it was made from. */
  notHealthy: Array<{ connection: string; verdict: string; reasons: readonly HealthReason[]; info: Partial<TcpInfo> }>;
  requests: number;
  /** Gaps between requests longer than the keepalive idle: each lets the kernel send a probe. */
  gapsOverIdle: number;
  /** TcpExt TCPKeepAlive of this namespace: keepalive probes the kernel sent (all of them answered). */
  keepaliveProbesSent: number;
  /** TcpExt TCPWinProbe: zero-window probes sent to the slow reader. */
  zeroWindowProbesSent: number;
  slowReader: { bytesRead: number; checks: number; stalledChecks: number; maxBackoff: number; sawNotSent: boolean };
  durationMs: number;
}

export interface PeerClosedReport {
  /** ms from the peer's end()/reset to the first 'dead' verdict (connectionHealth polled on every loop turn). */
  deadAfterMs: number | null;
  reasons: readonly HealthReason[];
  state: string;
  /** When the application saw it: 'end' or 'error', ms after the peer closed, once it resumed reading. */
  appSawMs: number | null;
  appSaw: string | null;
  /** The application had seen nothing yet when the verdict was dead. */
  appUnawareAtVerdict: boolean;
}

export interface HealthSample {
  atMs: number;
  verdict: string;
  reasons: readonly HealthReason[];
  probes: number | undefined;
  retransmits: number | undefined;
  /** With reason 'peer-not-reading': the stall's times as connectionHealth gave them. */
  stall: ZeroWindowStall | undefined;
}

export interface DeadMessageSeen {
  atMs: number;
  cause: string;
  reason: string | undefined;
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
  /** The first 'stalled' verdict, ms from the clock start. */
  firstStalledMs: number | null;
  /** The last 'stalled' verdict seen, with its stall. */
  lastStall: { atMs: number; stall: ZeroWindowStall | undefined } | null;
  /** slow-reader: when the peer read again, and when everything we had written had gone out. */
  resumedAtMs: number | null;
  drainedAtMs: number | null;
  /** tls-upgrade-vanished: the dead message's socket is the one the TLS socket was upgraded over (its _parent). */
  deadSocketIsUpgradedOne: boolean | null;
  /** The socket's error, ms from the clock start. */
  error: { code: string; atMs: number } | null;
  dead: DeadMessageSeen[];
  /** black-holed-write: tcpInfo before and after one `ss -tinoe` of the same connection. */
  comparison: { before: TcpInfo; ss: SsInfo | undefined; after: TcpInfo } | null;
  /** normal-close: the ways the connections ended. */
  endings: string[];
  load: LoadReport | null;
  peerClosed: PeerClosedReport | null;
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
      reason: (message as DeadConnectionMessage).reason,
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
    if (health.verdict === 'stalled') {
      if (report.firstStalledMs === null) report.firstStalledMs = atMs;
      report.lastStall = { atMs, stall: health.stall };
    }
    const key = `${health.verdict} ${health.reasons.join(',')}`;
    if (key !== last) {
      last = key;
      report.transitions.push({
        atMs,
        verdict: health.verdict,
        reasons: health.reasons,
        probes: health.info.probes,
        retransmits: health.info.retransmits,
        stall: health.stall,
      });
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
  return {
    scenario,
    watchedByCore: false,
    transitions: [],
    firstSuspectMs: null,
    firstDeadMs: null,
    error: null,
    dead: [],
    comparison: null,
    endings: [],
    load: null,
    peerClosed: null,
    firstStalledMs: null,
    lastStall: null,
    resumedAtMs: null,
    drainedAtMs: null,
    deadSocketIsUpgradedOne: null,
    watchedMs: 0,
  };
}

async function vanishedIdle(scenario: VanishedIdleScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  let startedAt = 0;
  const watched: { socket?: net.Socket } = {};
  report.dead = subscribeDead(
    () => startedAt,
    () => watched.socket,
    () => report.error !== null,
  );
  const { client, connectedAt } = await connectedPair();
  watched.socket = client;
  if (scenario.via === 'node') {
    client.setKeepAlive(true, scenario.options.idle);
  } else {
    configureKeepalive(client, scenario.options);
    report.watchedByCore = watchedByCore(client);
  }
  takeLoopbackDown();
  // The kernel's keepalive clock runs from the last packet received (the handshake), which a busy
  // machine may have taken well before 'connect' was emitted: start the clock where the kernel's does.
  const heard = tcpInfo(client);
  startedAt = Math.min(connectedAt, performance.now() - Math.min(heard.lastDataReceived ?? Infinity, heard.lastAckReceived ?? Infinity));
  await watchHealth(client, startedAt, startedAt + scenario.observeMs, report);
  report.watchedMs = performance.now() - startedAt;
  return report;
}

async function blackHoledWrite(scenario: BlackHoledWriteScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  let startedAt = 0;
  const watched: { socket?: net.Socket } = {};
  report.dead = subscribeDead(
    () => startedAt,
    () => watched.socket,
    () => report.error !== null,
  );
  const { client } = await connectedPair();
  watched.socket = client;
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
  report.dead = subscribeDead(
    () => startedAt,
    () => undefined,
    () => false,
  );
  const endings: Array<[string, (pair: Awaited<ReturnType<typeof connectedPair>>) => Promise<void>]> = [
    [
      'client end()',
      async ({ client }) => {
        client.end();
        await closed(client);
      },
    ],
    [
      'peer end()',
      async ({ client, accepted }) => {
        client.resume();
        accepted.end();
        await closed(client);
      },
    ],
    [
      'client destroy()',
      async ({ client }) => {
        client.destroy();
        await closed(client);
      },
    ],
    [
      'peer reset (ECONNRESET)',
      async ({ client, accepted }) => {
        accepted.resetAndDestroy();
        await closed(client);
      },
    ],
    [
      "a library's own ETIMEDOUT on a live connection",
      async ({ client }) => {
        client.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
        await closed(client);
      },
    ],
  ];
  for (const [name, end] of endings) {
    const pair = await connectedPair();
    configureKeepalive(pair.client, scenario.options);
    report.watchedByCore ||= watchedByCore(pair.client);
    let errorCode = 'no error';
    pair.client.on('error', (error: NodeJS.ErrnoException) => {
      errorCode = String(error.code);
    });
    await end(pair);
    pair.server.close();
    report.endings.push(`${name}: ${errorCode}`);
  }
  await sleep(50);
  report.watchedMs = performance.now() - startedAt;
  return report;
}

/** TcpExt counters of this network namespace (/proc/net/netstat is per namespace). */
function tcpExtCounter(name: string): number {
  const lines = fs
    .readFileSync('/proc/net/netstat', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const index = names.indexOf(name);
  return index < 0 ? Number.NaN : Number(values[index]);
}

const pick = (info: TcpInfo): Partial<TcpInfo> => ({
  state: info.state,
  probes: info.probes,
  retransmits: info.retransmits,
  backoff: info.backoff,
  unacked: info.unacked,
  notSentBytes: info.notSentBytes,
  lastDataSent: info.lastDataSent,
  lastDataReceived: info.lastDataReceived,
  lastAckReceived: info.lastAckReceived,
  rto: info.rto,
});

async function healthyLoad(scenario: HealthyLoadScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  const load: LoadReport = {
    checks: 0,
    notHealthy: [],
    requests: 0,
    gapsOverIdle: 0,
    keepaliveProbesSent: 0,
    zeroWindowProbesSent: 0,
    slowReader: { bytesRead: 0, checks: 0, stalledChecks: 0, maxBackoff: 0, sawNotSent: false },
    durationMs: 0,
  };
  report.load = load;
  const probesAtStart = tcpExtCounter('TCPKeepAlive');
  const windowProbesAtStart = tcpExtCounter('TCPWinProbe');

  // Echo server: answers each request line with a response of the same size.
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => socket.write(chunk));
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;

  const check = (socket: net.Socket, connection: string): void => {
    if (socket.destroyed) return;
    const health = connectionHealth(socket);
    load.checks++;
    if (health.verdict !== 'healthy')
      load.notHealthy.push({ connection, verdict: health.verdict, reasons: health.reasons, info: pick(health.info) });
  };

  const clients: net.Socket[] = [];
  for (let k = 0; k < scenario.connections; k++) {
    const client = net.connect({ port, host: '127.0.0.1', noDelay: true });
    client.on('error', () => undefined);
    await once(client, 'connect');
    configureKeepalive(client, scenario.options);
    clients.push(client);
  }
  const startedAt = performance.now();
  const endAt = startedAt + scenario.durationMs;
  const idle = scenario.options.idle ?? 7_200_000;
  const request = Buffer.alloc(100, 'q');
  const [minPause, maxPause] = scenario.pauseMs;

  const runClient = async (client: net.Socket, index: number): Promise<void> => {
    const name = `client ${index}`;
    // Spread the first requests over one pause, so the load is steady.
    await sleep(Math.random() * maxPause);
    while (performance.now() < endAt) {
      check(client, name); // as a pool would before handing the connection out
      let received = 0;
      const answered = new Promise<void>((resolve) => {
        const onData = (chunk: Buffer): void => {
          received += chunk.length;
          if (received >= request.length) {
            client.removeListener('data', onData);
            resolve();
          }
        };
        client.on('data', onData);
      });
      client.write(request);
      await answered;
      load.requests++;
      check(client, name);
      const pause = minPause + Math.random() * (maxPause - minPause);
      if (pause > idle) load.gapsOverIdle++;
      await sleep(pause);
    }
  };

  // The slow reader: the server pushes far more than the client reads, so the server's socket sits on a zero window.
  const slowServer = net.createServer((socket) => {
    socket.on('error', () => undefined);
    const chunk = Buffer.alloc(64 * 1024, 's');
    const pump = (): void => {
      while (performance.now() < endAt && socket.write(chunk));
      if (performance.now() < endAt) socket.once('drain', pump);
    };
    pump();
  });
  slowServer.listen(0, '127.0.0.1');
  await once(slowServer, 'listening');
  const slowSending = new Promise<net.Socket>((resolve) => slowServer.once('connection', resolve));
  const slowClient = net.connect((slowServer.address() as net.AddressInfo).port, '127.0.0.1');
  slowClient.on('error', () => undefined);
  await once(slowClient, 'connect');
  configureKeepalive(slowClient, scenario.options);
  slowClient.pause();
  const slowSender = await slowSending;
  configureKeepalive(slowSender, scenario.options);
  const slowReading = setInterval(() => {
    const chunk = slowClient.read(1024) as Buffer | null;
    if (chunk !== null) load.slowReader.bytesRead += chunk.length;
  }, 50);
  const slowChecking = setInterval(() => {
    for (const [socket, name] of [
      [slowSender, 'slow reader: sending side'],
      [slowClient, 'slow reader: reading side'],
    ] as const) {
      if (socket.destroyed) continue;
      const health = connectionHealth(socket);
      load.slowReader.checks++;
      load.checks++;
      if (socket === slowSender) {
        load.slowReader.maxBackoff = Math.max(load.slowReader.maxBackoff, health.info.backoff ?? 0);
        if ((health.info.notSentBytes ?? 0) > 0) load.slowReader.sawNotSent = true;
      }
      // The sending side of a slow reader is stalled, and says so; anything else would be a false alarm.
      if (socket === slowSender && health.verdict === 'stalled') load.slowReader.stalledChecks++;
      else if (health.verdict !== 'healthy')
        load.notHealthy.push({ connection: name, verdict: health.verdict, reasons: health.reasons, info: pick(health.info) });
    }
  }, 10);

  const sweeping = setInterval(() => {
    for (let k = 0; k < clients.length; k++) check(clients[k]!, `client ${k}`);
  }, scenario.sweepMs);

  await Promise.all(clients.map(runClient));
  clearInterval(sweeping);
  clearInterval(slowReading);
  clearInterval(slowChecking);
  load.durationMs = performance.now() - startedAt;
  load.keepaliveProbesSent = tcpExtCounter('TCPKeepAlive') - probesAtStart;
  load.zeroWindowProbesSent = tcpExtCounter('TCPWinProbe') - windowProbesAtStart;
  // The full list would be huge if something were wrong; the first ones say enough.
  if (load.notHealthy.length > 50) load.notHealthy.length = 50;
  report.watchedMs = load.durationMs;
  return report;
}

async function peerClosed(scenario: PeerClosedScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  const { client, accepted } = await connectedPair();
  client.on('error', () => undefined);
  let appSaw: string | null = null;
  let appSawAt = 0;
  client.on('end', () => {
    appSaw ??= 'end';
    appSawAt = performance.now();
  });
  client.on('error', (error: NodeJS.ErrnoException) => {
    appSaw ??= `error ${error.code}`;
    appSawAt = performance.now();
  });
  // Over the high-water mark, so Node stops reading: the application is busy elsewhere, or back-pressured.
  client.pause();
  accepted.write(Buffer.alloc(100 * 1024, 'd'));
  await sleep(100);
  const closedAt = performance.now();
  if (scenario.how === 'end') accepted.end();
  else accepted.resetAndDestroy();
  const result: PeerClosedReport = { deadAfterMs: null, reasons: [], state: '', appSawMs: null, appSaw: null, appUnawareAtVerdict: false };
  report.peerClosed = result;
  const until = closedAt + 2000;
  while (performance.now() < until) {
    const health = connectionHealth(client);
    if (health.verdict === 'dead') {
      result.deadAfterMs = performance.now() - closedAt;
      result.reasons = health.reasons;
      result.state = health.info.state;
      result.appUnawareAtVerdict = appSaw === null;
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  client.resume();
  const seen = performance.now() + 2000;
  while (appSaw === null && performance.now() < seen) await sleep(5);
  result.appSaw = appSaw;
  result.appSawMs = appSaw === null ? null : appSawAt - closedAt;
  return report;
}

/**
 * A live peer that stops reading: the client keeps its send buffer full, the
 * peer's window closes and the kernel probes it. Time runs from the first write.
 */
async function slowReader(scenario: SlowReaderScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  let startedAt = 0;
  const watched: { socket?: net.Socket } = {};
  report.dead = subscribeDead(
    () => startedAt,
    () => watched.socket,
    () => report.error !== null,
  );
  const { client, accepted } = await connectedPair();
  watched.socket = client;
  configureKeepalive(client, scenario.options);
  report.watchedByCore = watchedByCore(client);
  accepted.pause();
  let writing = true;
  const chunk = Buffer.alloc(64 * 1024, 's');
  const fill = (): void => {
    while (writing && !client.destroyed && client.write(chunk));
  };
  client.on('drain', fill);
  client.on('error', () => undefined);
  startedAt = performance.now();
  fill();
  const resume =
    scenario.stallMs === null
      ? undefined
      : setTimeout(() => {
          // The reader catches up; we stop adding, so the backlog drains and the window stays open.
          writing = false;
          report.resumedAtMs = performance.now() - startedAt;
          accepted.resume();
          client.once('drain', () => {
            report.drainedAtMs = performance.now() - startedAt;
          });
        }, scenario.stallMs);
  await watchHealth(client, startedAt, startedAt + scenario.observeMs, report);
  clearTimeout(resume);
  report.watchedMs = performance.now() - startedAt;
  return report;
}

/** A configured raw socket upgraded to TLS, then the peer vanishes: the TLS socket gets the ETIMEDOUT. */
async function tlsUpgradeVanished(scenario: TlsUpgradeScenario): Promise<HealthReport> {
  bringLoopbackUp();
  const report = emptyReport(scenario);
  let startedAt = 0;
  const watched: { socket?: net.Socket } = {};
  report.dead = subscribeDead(
    () => startedAt,
    () => watched.socket,
    () => report.error !== null,
  );
  const server = tls.createServer({ key: scenario.key, cert: scenario.cert }, (socket) => socket.on('error', () => undefined));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(raw, 'connect');
  configureKeepalive(raw, scenario.options);
  report.watchedByCore = watchedByCore(raw);
  watched.socket = raw;
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
  await once(secure, 'secureConnect');
  // Let the handshake's last messages (TLS 1.3 session tickets, the ACK of our Finished) land first: with
  // data in flight the kernel retransmits instead of probing, and keepalive has nothing to do.
  await sleep(200);
  for (let tries = 0; tries < 100 && tcpInfo(secure).unacked !== 0; tries++) await sleep(10);
  takeLoopbackDown();
  const heard = tcpInfo(secure);
  startedAt = performance.now() - Math.min(heard.lastDataReceived ?? 0, heard.lastAckReceived ?? 0);
  await watchHealth(secure, startedAt, startedAt + scenario.observeMs, report);
  report.deadSocketIsUpgradedOne =
    report.dead.length === 1 ? report.dead[0]!.sameSocket && (secure as { _parent?: unknown })._parent === raw : null;
  report.watchedMs = performance.now() - startedAt;
  return report;
}

/** Runs inside the namespace (called by health-child.js). */
export function runHealthScenarioHere(scenario: HealthScenario): Promise<HealthReport> {
  switch (scenario.name) {
    case 'vanished-idle':
      return vanishedIdle(scenario);
    case 'black-holed-write':
      return blackHoledWrite(scenario);
    case 'normal-close':
      return normalClose(scenario);
    case 'healthy-load':
      return healthyLoad(scenario);
    case 'peer-closed':
      return peerClosed(scenario);
    case 'slow-reader':
      return slowReader(scenario);
    case 'tls-upgrade-vanished':
      return tlsUpgradeVanished(scenario);
  }
}

export function healthScenarioDeadlineMs(scenario: HealthScenario): number {
  switch (scenario.name) {
    case 'normal-close':
    case 'peer-closed':
      return 5_000 + CHILD_OVERHEAD_MS;
    case 'healthy-load':
      return scenario.durationMs + 20_000 + CHILD_OVERHEAD_MS;
    default:
      return scenario.observeMs + CHILD_OVERHEAD_MS;
  }
}

/** Runs one health scenario in its own namespace (lab-dist/health-child.js, built by `npm run build`). */
export function runHealthScenario(scenario: HealthScenario, nodePath?: string): Promise<HealthReport> {
  return runInNamespace<HealthReport>({
    script: path.join(labOutput, 'health-child.js'),
    args: scenario,
    timeoutMs: healthScenarioDeadlineMs(scenario) + 2_000,
    nodePath,
  });
}
