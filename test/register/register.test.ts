/**
 * `tcp-keepalive/register` as operators use it: an unmodified application in
 * a child process, with only NODE_OPTIONS and TCP_KEEPALIVE* set; the kernel
 * of each of its client sockets read from outside the child. Loopback servers
 * only (the client libraries against real services: test/integration/register-clients.test.ts).
 * TCP_KEEPALIVE_CHILD_NODE=/path/to/node runs the children on another Node line.
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { describeWhen } from '../integration/support';
import {
  apps,
  appsStoppedAfterEach,
  assertRegisterBuilt,
  expectedRaw,
  outsideReader,
  POLICY,
  POLICY_ENV,
  readChild,
  requireOutsideReader,
  runApp,
  type RunningApp,
  waitForSockets,
} from './support';

jest.setTimeout(60_000);

const UNCONFIGURED = { enabled: 0 };
const CJS = path.join(apps, 'clients.cjs');
const ESM = path.join(apps, 'clients.mjs');

type Kind = 'net' | 'socket' | 'tls' | 'http' | 'https' | 'fetch';
const ALL_KINDS: Kind[] = ['net', 'socket', 'tls', 'http', 'https', 'fetch'];

const running = appsStoppedAfterEach();

/** One loopback server per kind (so each child socket is known by its peer port), holding connections open. */
async function serverFor(kind: Kind): Promise<number> {
  const { key, cert } = (tlsPair ??= selfSignedCertificate());
  const respond = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    request.resume();
    response.end('ok');
  };
  const server: net.Server =
    kind === 'net' || kind === 'socket'
      ? net.createServer()
      : kind === 'tls'
        ? tls.createServer({ key, cert })
        : kind === 'http'
          ? http.createServer({ keepAliveTimeout: 30_000 }, respond)
          : https.createServer({ key, cert, keepAliveTimeout: 30_000 }, respond);
  track(server);
  server.on('connection', (socket: net.Socket) => track(socket).on('error', () => undefined));
  server.on('secureConnection', (socket: net.Socket) => track(socket).on('error', () => undefined));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}
let tlsPair: { key: string; cert: string } | undefined;

type Env = Record<string, string>;

async function start(
  app: string,
  kinds: Kind[],
  env: Env | ((ports: Map<Kind, number>) => Env),
): Promise<{ app: RunningApp; ports: Map<Kind, number> }> {
  const ports = new Map<Kind, number>();
  for (const kind of kinds) ports.set(kind, await serverFor(kind));
  const child = runApp(app, {
    TARGETS: JSON.stringify(kinds.map((kind) => ({ kind, port: ports.get(kind) }))),
    NODE_TLS_REJECT_UNAUTHORIZED: '0', // fetch to the throwaway certificate
    NODE_NO_WARNINGS: '1',
    ...(typeof env === 'function' ? env(ports) : env),
  });
  running.push(child);
  await child.line(/^READY$/m);
  return { app: child, ports };
}

/** The kernel of the child's one socket to `port`, read from outside the child. */
async function kernelOf(app: RunningApp, port: number): Promise<object> {
  const [socket] = await waitForSockets(app.pid, { remotePort: port });
  return readChild(requireOutsideReader(), app.pid, socket!.fd);
}

const reader = outsideReader();

beforeAll(() => assertRegisterBuilt());

// Skips loudly without the outside reader (no C compiler, not Linux); fails on CI, which must run it.
describeWhen('every outbound TCP socket of an unmodified application', 'binary' in reader ? undefined : reader.unavailable, () => {
  test.each([
    ['--require', 'a CommonJS app', CJS],
    ['--import', 'an ES module app', ESM],
  ])('%s tcp-keepalive/register, %s: net.connect, new Socket().connect, tls.connect, http, https, fetch', async (flag, _what, app) => {
    const { app: child, ports } = await start(app, ALL_KINDS, {
      NODE_OPTIONS: `${flag} tcp-keepalive/register`,
      TCP_KEEPALIVE: POLICY_ENV,
    });
    for (const kind of ALL_KINDS) {
      expect([kind, await kernelOf(child, ports.get(kind)!)]).toEqual([kind, expectedRaw(POLICY)]);
    }
  });

  test('control: the same application without the environment keeps the kernel defaults', async () => {
    const { app: child, ports } = await start(CJS, ALL_KINDS, {});
    for (const kind of ALL_KINDS) {
      const kernel = await kernelOf(child, ports.get(kind)!);
      // http(s).Agent({ keepAlive: true }) calls setKeepAlive(true, 1000) itself, undici setKeepAlive(true, 60 s): libuv then forces 1 s x 10.
      if (kind === 'http' || kind === 'https')
        expect([kind, kernel]).toEqual([kind, { enabled: 1, idle: 1, interval: 1, count: 10, userTimeout: 0 }]);
      else if (kind === 'fetch') expect([kind, kernel]).toEqual([kind, { enabled: 1, idle: 60, interval: 1, count: 10, userTimeout: 0 }]);
      else expect([kind, kernel]).toEqual([kind, expect.objectContaining(UNCONFIGURED)]);
    }
  });

  test('a plan: TCP_KEEPALIVE="path=aws-nlb,detectWithin=60s" gives the planner\'s 30 s / 10 s / 3 / 60 s', async () => {
    const { app: child, ports } = await start(ESM, ['tls'], {
      NODE_OPTIONS: '--import tcp-keepalive/register',
      TCP_KEEPALIVE: 'path=aws-nlb,detectWithin=60s',
    });
    expect(await kernelOf(child, ports.get('tls')!)).toEqual({ enabled: 1, idle: 30, interval: 10, count: 3, userTimeout: 60000 });
  });

  test("unset TCP_KEEPALIVE: Go's dialer default, 15 s / 15 s / 9, and the debug log says it is the default", async () => {
    const { app: child, ports } = await start(CJS, ['socket'], {
      NODE_OPTIONS: '--require tcp-keepalive/register',
      TCP_KEEPALIVE_DEBUG: '1',
    });
    expect(await kernelOf(child, ports.get('socket')!)).toEqual({ enabled: 1, idle: 15, interval: 15, count: 9, userTimeout: 0 });
    await child.stderrLines(/^tcp-keepalive: configured client /, 1);
    expect(child.stderr()).toMatch(
      /^tcp-keepalive: policy idle=15s,interval=15s,count=9 from the default, because TCP_KEEPALIVE is unset \(Go's dialer default; set TCP_KEEPALIVE to choose\);/m,
    );
  });

  test('TCP_KEEPALIVE_MATCH: only the matching connections are configured (a port, host:port, !host)', async () => {
    const byPort = await start(CJS, ['net', 'tls'], (ports) => ({
      NODE_OPTIONS: '--require tcp-keepalive/register',
      TCP_KEEPALIVE: POLICY_ENV,
      TCP_KEEPALIVE_MATCH: `9,${ports.get('tls')}`,
    }));
    expect(await kernelOf(byPort.app, byPort.ports.get('tls')!)).toEqual(expectedRaw(POLICY));
    expect(await kernelOf(byPort.app, byPort.ports.get('net')!)).toEqual(expect.objectContaining(UNCONFIGURED));

    const byHostPort = await start(ESM, ['net', 'socket'], (ports) => ({
      NODE_OPTIONS: '--import tcp-keepalive/register',
      TCP_KEEPALIVE: POLICY_ENV,
      TCP_KEEPALIVE_MATCH: `127.0.0.1:${ports.get('socket')}`,
    }));
    expect(await kernelOf(byHostPort.app, byHostPort.ports.get('socket')!)).toEqual(expectedRaw(POLICY));
    expect(await kernelOf(byHostPort.app, byHostPort.ports.get('net')!)).toEqual(expect.objectContaining(UNCONFIGURED));

    const excluded = await start(CJS, ['net', 'tls'], {
      NODE_OPTIONS: '--require tcp-keepalive/register',
      TCP_KEEPALIVE: POLICY_ENV,
      TCP_KEEPALIVE_MATCH: '!127.0.0.1',
    });
    for (const kind of ['net', 'tls'] as const) {
      expect(await kernelOf(excluded.app, excluded.ports.get(kind)!)).toEqual(expect.objectContaining(UNCONFIGURED));
    }
  });

  test('TCP_KEEPALIVE_DEBUG=1: one line per configured connection, with what the kernel holds; both flags register once', async () => {
    const { app: child, ports } = await start(ESM, ['net', 'socket', 'tls'], {
      NODE_OPTIONS: '--require tcp-keepalive/register --import tcp-keepalive/register',
      TCP_KEEPALIVE: POLICY_ENV,
      TCP_KEEPALIVE_DEBUG: '1',
    });
    // READY on stdout does not mean this process has read the child's stderr up to the same point.
    await child.stderrLines(/^tcp-keepalive: configured client /, 3);
    const lines = child
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('tcp-keepalive: '));
    expect(lines.filter((line) => line.startsWith('tcp-keepalive: policy '))).toHaveLength(1);
    for (const kind of ['net', 'socket', 'tls'] as const) {
      const mine = lines.filter((line) => line.includes(`configured client 127.0.0.1:${ports.get(kind)!} `));
      expect([kind, mine.length]).toEqual([kind, 1]);
      expect(mine[0]).toMatch(/kernel: keepalive on, idle 7s, interval 3s, count 4, userTimeout 25000ms$/);
    }
  });
});

describe('a malformed environment stops the process before the application runs', () => {
  test.each([
    [
      '--require',
      'clients.cjs',
      { TCP_KEEPALIVE: 'idle=30x' },
      /^tcp-keepalive\/register: TCP_KEEPALIVE: "idle=30x": "30x" is not a duration/,
    ],
    [
      '--import',
      'clients.mjs',
      { TCP_KEEPALIVE: 'idle=500ms' },
      /^tcp-keepalive\/register: TCP_KEEPALIVE: "idle=500ms": .*options\.idle.*out of range/,
    ],
    [
      '--require',
      'clients.cjs',
      { TCP_KEEPALIVE_MATCH: 'db.internal:pg' },
      /^tcp-keepalive\/register: TCP_KEEPALIVE_MATCH: "db.internal:pg": "pg" is not a port/,
    ],
    [
      '--require',
      'clients.cjs',
      { TCP_KEEPALIVE_MATCH: '6379,10.0.0.256:5432' },
      /^tcp-keepalive\/register: TCP_KEEPALIVE_MATCH: "10.0.0.256:5432": "10.0.0.256" is not an IPv4 address/,
    ],
    [
      '--import',
      'clients.mjs',
      { TCP_KEEPALIVE: 'idle=30,interval=10s' },
      /^tcp-keepalive\/register: TCP_KEEPALIVE: .*out of range.* did you mean idle=30s\?\)/,
    ],
    [
      '--import',
      'clients.mjs',
      { TCP_KEEPALIVE_SERVER: 'yes please' },
      /^tcp-keepalive\/register: TCP_KEEPALIVE_SERVER: "yes please" is not a switch/,
    ],
  ])('%s (%s): %j', async (flag, app, env, expected) => {
    const child = runApp(path.join(apps, app), { TARGETS: '[]', NODE_OPTIONS: `${flag} tcp-keepalive/register`, ...env });
    running.push(child);
    const code = await child.stop();
    expect(code).toBe(9);
    expect(child.stdout()).toBe(''); // the application never ran
    const stderr = child.stderr();
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(expected);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
