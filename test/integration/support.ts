/**
 * Shared by the client integration tests: the policy under test, the kernel
 * read-back assertion, service probes that skip loudly (or fail on CI), hard
 * time bounds, and an independent observer of client sockets.
 */
import { spawnSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { getKeepalive } from '../../src';
import { kernelReader, readFromOutside } from '../helpers/independent-kernel';

/** CI must run everything (same reading of CI as test/faults/lab.ts). */
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** Deliberately unlike every default (Linux 7200/75/9, libuv's forced 1 s × 10, clients' 30–120 s). */
export const POLICY = { idle: 7000, interval: 3000, count: 4, userTimeout: 25000 } as const;

/** What the kernel must hold for a configured socket. */
export const CONFIGURED = { enable: true, ...POLICY };

/** The TCP fd under a socket (through TLSWrap's _parent), for the outside reader. */
function tcpFd(socket: net.Socket): number {
  type Handle = { fd?: number; _parent?: Handle | null };
  let handle = (socket as unknown as { _handle: Handle | null })._handle;
  while (handle?._parent) handle = handle._parent;
  return handle?.fd ?? -1;
}

let outsideReaderNoticeShown = false;

/**
 * Reads the kernel and compares with the policy — twice: through getKeepalive
 * (our addon's getsockopt) and from outside the process (a separately
 * compiled reader using pidfd_getfd + getsockopt, test/helpers), so a bug in
 * the addon's read-back cannot make a test pass.
 */
export function expectConfigured(socket: net.Socket | undefined): void {
  expect(socket).toBeInstanceOf(net.Socket);
  expect(getKeepalive(socket!)).toEqual(CONFIGURED);
  const reader = kernelReader();
  if ('binary' in reader) {
    expect(readFromOutside(reader.binary, tcpFd(socket!))).toEqual({
      enabled: 1,
      idle: POLICY.idle / 1000,
      interval: POLICY.interval / 1000,
      count: POLICY.count,
      userTimeout: POLICY.userTimeout,
    });
  } else if (inCi) {
    throw new Error(`the outside kernel reader is required on CI: ${reader.unavailable}`);
  } else if (!outsideReaderNoticeShown) {
    outsideReaderNoticeShown = true;
    process.stderr.write(`\nNOTE: only getKeepalive checked; outside reader unavailable: ${reader.unavailable}\n`);
  }
}

/** What a client's own setKeepAlive(true, delay) leaves on libuv: interval forced to 1 s, count to 10. */
export function expectLibuvDefaults(socket: net.Socket | undefined): void {
  expect(socket).toBeInstanceOf(net.Socket);
  expect(getKeepalive(socket!)).toMatchObject({ enable: true, interval: 1000, count: 10 });
}

const serviceCache = new Map<number, boolean>();

/** Synchronous TCP probe (jest decides describe vs skip at collection time). */
export function serviceUp(port: number, host = '127.0.0.1'): boolean {
  const cached = serviceCache.get(port);
  if (cached !== undefined) return cached;
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `
    const s = require('net').connect(${port}, ${JSON.stringify(host)});
    s.on('connect', () => process.exit(0)); s.on('error', () => process.exit(1));
    setTimeout(() => process.exit(2), 1500);`,
    ],
    { timeout: 5000 },
  );
  const up = probe.status === 0;
  serviceCache.set(port, up);
  return up;
}

/**
 * A describe block that needs a local service: runs if it answers; otherwise
 * skips LOUDLY — and on CI (process.env.CI set) fails, because CI must run it.
 */
export function describeService(name: string, port: number, body: () => void): void {
  const down = serviceUp(port)
    ? undefined
    : `${name} does not answer on 127.0.0.1:${port} (start it: .ci/services.sh starts every local service)`;
  describeWhen(name, down, body);
}

import { eventually, within } from '../helpers/wait';

export { eventually, within };

/**
 * Records every client socket Node reports on `net.client.socket`, on its own
 * subscription — independent of the helper under test — so a test can find
 * the client's actual socket to a given server port.
 */
export function observeClientSockets(): { connectedTo(port: number): net.Socket[]; stop(): void } {
  const seen: net.Socket[] = [];
  const record = (message: unknown): void => {
    const socket = (message as { socket?: unknown }).socket;
    if (socket instanceof net.Socket) seen.push(socket);
  };
  diagnosticsChannel.subscribe('net.client.socket', record);
  return {
    connectedTo: (port) => seen.filter((socket) => !socket.destroyed && !socket.connecting && socket.remotePort === port),
    stop: () => diagnosticsChannel.unsubscribe('net.client.socket', record),
  };
}

/** The one live socket to `port` among those observed; undefined while there is none or several. */
export function onlySocketTo(observer: ReturnType<typeof observeClientSockets>, port: number): net.Socket | undefined {
  const live = observer.connectedTo(port);
  return live.length === 1 ? live[0] : undefined;
}

/** Whether openssl can make a throwaway certificate; the reason it cannot, otherwise. */
export function opensslMissing(): string | undefined {
  const found = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return found.status === 0 ? undefined : 'openssl is not installed (apt-get install -y openssl): no throwaway TLS certificate';
}

/** A describe block needing a tool or service: skips loudly locally, fails on CI. */
export function describeWhen(name: string, missing: string | undefined, body: () => void): void {
  if (missing === undefined) {
    describe(name, body);
  } else if (inCi) {
    describe(name, () =>
      test(`${name} can run (required on CI)`, () => {
        throw new Error(missing);
      }),
    );
  } else {
    // Straight to stderr: jest drops the console output of a file whose tests are all skipped.
    process.stderr.write(`\nSKIPPED ${name}: ${missing}\n`);
    describe(name, () => {
      test.skip(`${name} (SKIPPED: ${missing})`, () => undefined);
    });
  }
}

/**
 * A local HTTP(S) server whose every response body is the client's local
 * port as the server sees it — so a test can tell which client socket the
 * server really talked to. `dropIdle()` closes idle keep-alive connections
 * (forcing the client's next request onto a new socket).
 */
export async function portEchoServer(tlsPair?: { key: string; cert: string }): Promise<{
  url: string;
  port: number;
  dropIdle(): void;
  close(): Promise<void>;
}> {
  const handler = (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse): void => {
    request.resume();
    response.end(String(request.socket.remotePort));
  };
  const server =
    tlsPair === undefined
      ? (await import('node:http')).createServer({ keepAliveTimeout: 30_000 }, handler)
      : (await import('node:https')).createServer({ ...tlsPair, keepAliveTimeout: 30_000 }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${tlsPair === undefined ? 'http' : 'https'}://127.0.0.1:${port}/`,
    port,
    dropIdle: () => server.closeIdleConnections(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Child processes require dist/: fail clearly when it is missing or older than src/. */
export function assertBuilt(): void {
  const fs = require('node:fs') as typeof import('node:fs');
  const path = require('node:path') as typeof import('node:path');
  const root = path.join(__dirname, '..', '..');
  const built = path.join(root, 'dist', 'integrations', 'index.js');
  const newestSource = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
      const full = path.join(dir, entry.name);
      return Math.max(newest, entry.isDirectory() ? newestSource(full) : fs.statSync(full).mtimeMs);
    }, 0);
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < newestSource(path.join(root, 'src', 'integrations'))) {
    throw new Error('dist/ is missing or older than src/integrations: run `npm run build` first (npm test does)');
  }
}

/**
 * A local listener standing in for a server we do not have (Kafka, MongoDB):
 * it accepts and holds connections, never answering, so the client's socket
 * stays open long enough to be read. `accepted(n)` waits for the n-th one.
 */
export async function holdingListener(): Promise<{
  port: number;
  accepted(index: number): Promise<net.Socket>;
  close(): Promise<void>;
}> {
  const sockets: net.Socket[] = [];
  const waiters: Array<() => void> = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    sockets.push(socket);
    waiters.splice(0).forEach((wake) => wake());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: (index) =>
      within(
        10_000,
        `connection #${index + 1} to the listener`,
        new Promise<net.Socket>((resolve) => {
          const check = (): void => {
            if (sockets[index] !== undefined) resolve(sockets[index]!);
            else waiters.push(check);
          };
          check();
        }),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

/** The client-side socket (among `candidates`) whose local port is the peer port of `accepted`. */
export function clientEndOf(accepted: net.Socket, candidates: readonly net.Socket[]): net.Socket | undefined {
  return candidates.find(
    (socket) => !socket.destroyed && socket.localPort === accepted.remotePort && socket.remotePort === accepted.localPort,
  );
}

/** How a test drives one client library's pool. */
export interface PoolUnderTest<C> {
  checkout(): Promise<C>;
  socketOf(connection: C): net.Socket;
  release(connection: C): void;
  /** Ends `victim`'s connection for good (returning both to the pool); `other` is a second checked-out connection. */
  drop(victim: C, other: C): Promise<void>;
  query(connection: C): Promise<unknown>;
}

/**
 * Two pool connections, each on its own configured socket; one dropped; the
 * two the pool hands out next are configured too, neither on the dropped socket.
 */
export async function expectEveryPoolConnectionConfigured<C>(pool: PoolUnderTest<C>): Promise<void> {
  const a = await within(10_000, 'pool connection a', pool.checkout());
  const b = await within(10_000, 'pool connection b', pool.checkout());
  expect(pool.socketOf(a)).not.toBe(pool.socketOf(b));
  expectConfigured(pool.socketOf(a));
  expectConfigured(pool.socketOf(b));
  const dropped = pool.socketOf(a);
  await pool.drop(a, b);
  const c = await within(10_000, 'pool connection c', pool.checkout());
  const d = await within(10_000, 'pool connection d', pool.checkout());
  try {
    const sockets = [pool.socketOf(c), pool.socketOf(d)];
    expect(sockets).not.toContain(dropped);
    sockets.forEach(expectConfigured);
    await pool.query(c);
  } finally {
    pool.release(c);
    pool.release(d);
  }
}
