/**
 * The fault scenarios, run inside a namespace by child.js and shared by the
 * fault tests and the demo. From the parent:
 *
 *   import { runScenario } from '../../lab';
 *   const report = await runScenario({ name: 'vanishing-peer', side: 'client', dataInFlight: false,
 *     keepalive: { kind: 'tcp-keepalive', options: { idle: 1000, interval: 1000, count: 2 } }, observeMs: 6000 });
 *
 * Times are measured in the child from the moment the kernel's clock starts:
 * the connection's last received packet for an idle socket (taken at
 * 'connect' / 'connection', where keepalive is configured), the write for data
 * in flight.
 */
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { configureKeepalive, getKeepalive, type KeepaliveOptions, type KeepaliveState } from '../dist';
import {
  bringLoopbackUp,
  dropAllIncoming,
  installLoadBalancer,
  readSocketTimerFor,
  type SocketLine,
  socketTimerFor,
  takeLoopbackDown,
} from './inside';
import { runInNamespace, scenarioRunnerPath } from './run';

/** How the watched socket is kept alive. */
export type KeepaliveChoice =
  | { kind: 'none' }
  /** Node's own socket.setKeepAlive(true, initialDelayMs). */
  | { kind: 'node'; initialDelayMs: number }
  | { kind: 'tcp-keepalive'; options: KeepaliveOptions };

export interface VanishingPeerScenario {
  name: 'vanishing-peer';
  /** Which end is configured and watched; the other end simply vanishes. */
  side: 'client' | 'server';
  keepalive: KeepaliveChoice;
  /** Write into the black hole right after the peer vanishes (scenario 4). */
  dataInFlight: boolean;
  /**
   * How the peer vanishes: 'link-down' takes lo down (no nft needed);
   * 'drop-incoming' drops every arriving packet with nft while transmits still
   * succeed — the faithful black hole for data in flight.
   */
  vanish: 'link-down' | 'drop-incoming';
  /** Give up watching after this long (ms from the clock start). */
  observeMs: number;
}

export interface LoadBalancerScenario {
  name: 'load-balancer-idle';
  keepalive: KeepaliveChoice;
  /** The balancer's idle timeout (conntrack established timeout), whole seconds. */
  balancerIdleSeconds: number;
  /** How long the client stays silent before it writes. */
  silenceMs: number;
  /** Give up watching this long after the write. */
  observeMs: number;
}

export type Scenario = VanishingPeerScenario | LoadBalancerScenario;

export interface Detection {
  /** The error code the watched socket died with (ETIMEDOUT, ECONNRESET, …). */
  code: string;
  /** ms from the clock start. */
  afterMs: number;
}

export interface ScenarioReport {
  scenario: Scenario;
  /** getKeepalive() on the watched socket right after configuring it. */
  kernel: KeepaliveState;
  /** `ss -tino` for the watched socket before the fault. */
  ssBefore: SocketLine | null;
  /** The last `ss -tino` line seen while watching (sampled every 500 ms, and at the end if still open). */
  ssLastSeen: SocketLine | null;
  /** The watched socket's error, or null if it was still open when watching ended. */
  detected: Detection | null;
  /** Load balancer only: when the backend received the write (ms after the write), or null. */
  deliveredAfterMs: number | null;
  /** How long the child watched, ms from the clock start. */
  watchedMs: number;
}

const LB_VIRTUAL_IP = '127.0.0.2';
const LB_VIRTUAL_PORT = 9000;
const BACKEND_PORT = 9001;
const PAYLOAD = 'PUBLISH sensors/1 {"t":21.5}\n';
/** Time for the child to start, set up and report, on top of what it watches. */
const CHILD_OVERHEAD_MS = 5_000;

function applyKeepalive(socket: net.Socket, choice: KeepaliveChoice): void {
  if (choice.kind === 'node') socket.setKeepAlive(true, choice.initialDelayMs);
  else if (choice.kind === 'tcp-keepalive') configureKeepalive(socket, choice.options);
}

function ssLine(socket: net.Socket): SocketLine | null {
  return socketTimerFor(socket.localPort ?? -1, socket.remotePort ?? -1) ?? null;
}

const SS_SAMPLE_MS = 500;

/**
 * Samples the socket's `ss -tino` line while it is open, without blocking the
 * event loop (the measurement is the time the error event is seen);
 * stop() takes a last sample if still open and returns the last line seen.
 */
function sampleSocket(socket: net.Socket): { stop(): Promise<SocketLine | null> } {
  let last: SocketLine | null = null;
  const ports = [socket.localPort ?? -1, socket.remotePort ?? -1] as const;
  let pending: Promise<void> = Promise.resolve();
  const sample = (): Promise<void> => {
    if (socket.destroyed) return pending;
    pending = pending.then(async () => {
      const line = await readSocketTimerFor(...ports).catch(() => undefined);
      // A line read after the socket died would show the kernel's cleanup, not the connection.
      if (line !== undefined && !socket.destroyed) last = line;
    });
    return pending;
  };
  const sampler = setInterval(() => void sample(), SS_SAMPLE_MS);
  return {
    async stop() {
      clearInterval(sampler);
      await sample();
      return last;
    },
  };
}

/** Node timers may fire a fraction of a ms early on performance.now()'s clock; a watch must last its full time. */
async function sleepUntil(untilMs: number): Promise<null> {
  for (let remaining = untilMs - performance.now(); remaining > 0; remaining = untilMs - performance.now()) {
    await sleep(Math.ceil(remaining));
  }
  return null;
}

/** Resolves with the socket's first error, or null when `untilMs` (performance.now()) passes. */
async function watchForError(socket: net.Socket, startedAt: number, untilMs: number): Promise<Detection | null> {
  const timer = sleepUntil(untilMs);
  const failure = once(socket, 'error').then(([error]) => ({
    code: String((error as NodeJS.ErrnoException).code ?? (error as Error).message),
    afterMs: performance.now() - startedAt,
  }));
  return Promise.race([failure, timer]);
}

async function listen(server: net.Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, 'listening');
}

async function vanishingPeer(scenario: VanishingPeerScenario): Promise<ScenarioReport> {
  bringLoopbackUp();
  const server = net.createServer();
  const accepted = new Promise<[net.Socket, number]>((resolve) => {
    server.once('connection', (socket) => {
      const at = performance.now();
      if (scenario.side === 'server') applyKeepalive(socket, scenario.keepalive);
      resolve([socket, at]);
    });
  });
  await listen(server, 0, '127.0.0.1');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const clientConnectedAt = performance.now();
  if (scenario.side === 'client') applyKeepalive(client, scenario.keepalive);
  const [acceptedSocket, acceptedAt] = await accepted;
  const [watched, other] = scenario.side === 'client' ? [client, acceptedSocket] : [acceptedSocket, client];
  other.on('error', () => undefined);
  const kernel = getKeepalive(watched);
  const ssBefore = ssLine(watched);

  const sampler = sampleSocket(watched);
  if (scenario.vanish === 'link-down') takeLoopbackDown();
  else dropAllIncoming();
  let startedAt = scenario.side === 'client' ? clientConnectedAt : acceptedAt;
  if (scenario.dataInFlight) {
    startedAt = performance.now();
    watched.write(PAYLOAD);
  }
  const detected = await watchForError(watched, startedAt, startedAt + scenario.observeMs);
  const watchedMs = performance.now() - startedAt;
  return { scenario, kernel, ssBefore, ssLastSeen: await sampler.stop(), detected, deliveredAfterMs: null, watchedMs };
}

async function loadBalancerIdle(scenario: LoadBalancerScenario): Promise<ScenarioReport> {
  bringLoopbackUp();
  installLoadBalancer({
    virtualIp: LB_VIRTUAL_IP,
    virtualPort: LB_VIRTUAL_PORT,
    backendPort: BACKEND_PORT,
    idleTimeoutSeconds: scenario.balancerIdleSeconds,
  });
  const backend = net.createServer();
  let writtenAt = Number.NaN;
  const delivered = new Promise<number>((resolve) => {
    backend.on('connection', (socket) => {
      socket.on('error', () => undefined);
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('PUBLISH')) resolve(performance.now() - writtenAt);
      });
    });
  });
  await listen(backend, BACKEND_PORT, '127.0.0.1');
  const client = net.connect(LB_VIRTUAL_PORT, LB_VIRTUAL_IP);
  await once(client, 'connect');
  applyKeepalive(client, scenario.keepalive);
  const kernel = getKeepalive(client);

  await sleep(scenario.silenceMs);
  const ssBefore = ssLine(client);
  const sampler = sampleSocket(client);
  writtenAt = performance.now();
  client.write(PAYLOAD);
  const until = writtenAt + scenario.observeMs;
  const outcome = await Promise.race([
    delivered.then((afterMs) => ({ deliveredAfterMs: afterMs, detected: null })),
    watchForError(client, writtenAt, until).then((detected) => ({ deliveredAfterMs: null, detected })),
  ]);
  const watchedMs = performance.now() - writtenAt;
  return { scenario, kernel, ssBefore, ssLastSeen: await sampler.stop(), ...outcome, watchedMs };
}

/** Runs inside the namespace (called by child.js). */
export function runScenarioHere(scenario: Scenario): Promise<ScenarioReport> {
  return scenario.name === 'vanishing-peer' ? vanishingPeer(scenario) : loadBalancerIdle(scenario);
}

/** The longest a scenario may take inside its child, setup included. */
export function scenarioDeadlineMs(scenario: Scenario): number {
  const watching = scenario.name === 'vanishing-peer' ? scenario.observeMs : scenario.silenceMs + scenario.observeMs;
  return watching + CHILD_OVERHEAD_MS;
}

/** Runs one scenario in its own namespace and returns the child's report. */
export function runScenario(scenario: Scenario, nodePath?: string): Promise<ScenarioReport> {
  return runInNamespace<ScenarioReport>({
    script: scenarioRunnerPath(),
    args: scenario,
    // The parent's bound sits above the child's own, so a stuck child is still killed.
    timeoutMs: scenarioDeadlineMs(scenario) + 2_000,
    nodePath,
  });
}
