/**
 * keepaliveServer configures the LISTENING socket once; the kernel copies it
 * into every accepted socket (Linux: sock_copy), so accepting costs nothing.
 * Every assertion reads the kernel of the ACCEPTED (server-side) socket —
 * with getKeepalive and, from outside the process, with the separately
 * compiled reader — including the edges: connections queued before the
 * listener was configured, the server's own keepAlive option, a later
 * setKeepAlive, a listener handed in by fd, cluster workers.
 */
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { configureKeepalive, getKeepalive } from '../../src';
import { applyToFd } from '../../src/core/keepalive';
import { validateOptions } from '../../src/core/options';
import { currentCapabilities } from '../../src/core/platform';
import { keepaliveServer } from '../../src/integrations';
import { type AcceptedHow, attachServerPolicy, CATCH_UP_MARGIN } from '../../src/integrations/server';
import { kernelReader, readFromOutside } from '../helpers/independent-kernel';
import { closeAll, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { apps, assertRegisterBuilt, expectedRaw, readChild, requireOutsideReader, runApp, waitForSockets } from '../register/support';
import { describeWhen } from './support';

jest.setTimeout(60_000);

const POLICY = { idle: 7000, interval: 3000, count: 4, userTimeout: 25000 } as const;
const CONFIGURED = { enable: true, ...POLICY };
const DEFAULTS = { enable: false };
/** POLICY as the internal attach functions take it: validated once by their caller. */
const kernelPolicy = () => validateOptions(POLICY, currentCapabilities());

const linux = process.platform === 'linux';
/** Child processes this test started, ended after each test. */
const running: Array<{ stop(): Promise<unknown> }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.stop()));
  await closeAll();
});

function tcpFd(socket: net.Socket): number {
  type Handle = { fd?: number; _parent?: Handle | null };
  let handle = (socket as unknown as { _handle: Handle | null })._handle;
  while (handle?._parent) handle = handle._parent;
  return handle?.fd ?? -1;
}

/** getKeepalive, and the same read from outside the process where the reader is available. */
function expectKernel(socket: net.Socket, expected: typeof CONFIGURED | typeof DEFAULTS): void {
  if (expected === DEFAULTS) {
    expect(getKeepalive(socket)).toMatchObject(DEFAULTS);
    return;
  }
  expect(getKeepalive(socket)).toEqual(expected);
  const reader = kernelReader();
  if ('binary' in reader) expect(readFromOutside(reader.binary, tcpFd(socket))).toEqual(expectedRaw(POLICY));
}

/** Attaches the policy with the internal hooks, so a test can tell inherited from configured. */
function attach(server: net.Server): Array<[net.Socket, AcceptedHow]> {
  const seen: Array<[net.Socket, AcceptedHow]> = [];
  attachServerPolicy(server, kernelPolicy(), { onAccepted: (socket, how) => seen.push([socket, how]) });
  return seen;
}

async function listening<S extends net.Server>(server: S): Promise<number> {
  track(server);
  server.on('connection', (socket: net.Socket) => track(socket).on('error', () => undefined));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The first CATCH_UP_MARGIN connections after the listener is configured are
 * configured one by one (handshakes that may have raced the setsockopt calls);
 * accepting them first puts a test on the steady path.
 */
async function pastCatchUp(server: net.Server, port: number, seen?: Array<[net.Socket, AcceptedHow]>): Promise<void> {
  const sockets = await acceptFrom(server, port, CATCH_UP_MARGIN);
  sockets.forEach((socket) => expectKernel(socket, CONFIGURED));
  if (seen !== undefined) {
    expect(seen.map(([, how]) => how)).toEqual(Array(CATCH_UP_MARGIN).fill('configured'));
    seen.length = 0;
  }
}

/** Connects `count` clients and resolves with the server-side sockets, in accept order. */
async function acceptFrom(
  server: net.Server,
  port: number,
  count: number,
  connect = (p: number) => net.connect(p, '127.0.0.1'),
): Promise<net.Socket[]> {
  const accepted: net.Socket[] = [];
  const all = new Promise<void>((resolve) => {
    const onConnection = (socket: net.Socket): void => {
      accepted.push(socket);
      if (accepted.length === count) {
        server.removeListener('connection', onConnection);
        resolve();
      }
    };
    server.on('connection', onConnection);
  });
  for (let i = 0; i < count; i++) track(connect(port)).on('error', () => undefined);
  await all;
  await nextCheckPhase(); // the server's own handlers (http's setKeepAlive) have run
  return accepted;
}

describeWhen(
  'keepaliveServer: the listener carries the policy',
  linux ? undefined : `${process.platform}: accepted sockets are configured one by one there`,
  () => {
    test('accepted sockets inherit it: no per-socket configuration, the kernel holds the policy', async () => {
      const server = net.createServer();
      const seen = attach(server);
      const port = await listening(server);
      await pastCatchUp(server, port, seen);
      const accepted = await acceptFrom(server, port, 3);
      expect(seen.map(([, how]) => how)).toEqual(['inherited', 'inherited', 'inherited']);
      accepted.forEach((socket) => expectKernel(socket, CONFIGURED));
    });

    test('the premise, measured: a socket accepted from a configured listener holds its values; one whose handshake came before does not', async () => {
      const server = net.createServer();
      const acceptedSockets: net.Socket[] = [];
      server.on('connection', (socket: net.Socket) => acceptedSockets.push(socket));
      const port = await listening(server);
      const before = track(net.connect(port, '127.0.0.1'));
      await once(before, 'connect'); // handshake done: the kernel has made its accepted socket already
      applyToFd((server as unknown as { _handle: { fd: number } })._handle.fd, validateOptions(POLICY, currentCapabilities()), 'test');
      const after = track(net.connect(port, '127.0.0.1'));
      await once(after, 'connect');
      while (acceptedSockets.length < 2) await nextCheckPhase();
      const acceptedFor = (client: net.Socket): net.Socket => acceptedSockets.find((socket) => socket.remotePort === client.localPort)!;
      expectKernel(acceptedFor(before), DEFAULTS);
      expectKernel(acceptedFor(after), CONFIGURED);
    });

    test('connections whose handshake completed before the listener was configured are configured one by one', async () => {
      const server = net.createServer();
      const port = await listening(server);
      // connect() runs on the next tick for an IP literal and completes on loopback at once: three
      // connections wait in the accept queue, copies of the unconfigured listener, before we configure it.
      for (let i = 0; i < 3; i++) track(net.connect(port, '127.0.0.1')).on('error', () => undefined);
      const accepted = new Promise<net.Socket[]>((resolve) => {
        const sockets: net.Socket[] = [];
        server.on('connection', (socket: net.Socket) => {
          sockets.push(socket);
          if (sockets.length === 3) resolve(sockets);
        });
      });
      const seen: Array<[net.Socket, AcceptedHow]> = [];
      await new Promise<void>((resolve) =>
        process.nextTick(() =>
          process.nextTick(() => {
            attachServerPolicy(server, kernelPolicy(), { onAccepted: (socket, how) => seen.push([socket, how]) });
            resolve();
          }),
        ),
      );
      const sockets = await accepted;
      expect(seen.map(([, how]) => how)).toEqual(['configured', 'configured', 'configured']);
      sockets.forEach((socket) => expectKernel(socket, CONFIGURED));
      // Then the margin, then inherited again.
      seen.length = 0;
      await pastCatchUp(server, port, seen);
      const [later] = await acceptFrom(server, port, 1);
      expect(seen.map(([, how]) => how)).toEqual(['inherited']);
      expectKernel(later!, CONFIGURED);
    });

    test("the server's keepAlive option (setKeepAlive on each accepted handle) is followed by the policy, per socket", async () => {
      for (const options of [{ keepAlive: true, keepAliveInitialDelay: 5000 }, { keepAlive: true }]) {
        const server = http.createServer(options);
        const seen = attach(server);
        const port = await listening(server);
        await pastCatchUp(server, port, seen);
        const [socket] = await acceptFrom(server, port, 1);
        expect(seen.map(([, how]) => how)).toEqual(['configured']);
        expectKernel(socket!, CONFIGURED);
      }
    });

    test("control: without the policy, http's keepAlive option leaves libuv's forced 1 s x 10", async () => {
      const server = http.createServer({ keepAlive: true, keepAliveInitialDelay: 5000 });
      const port = await listening(server);
      const [socket] = await acceptFrom(server, port, 1);
      expect(getKeepalive(socket!)).toMatchObject({ enable: true, idle: 5000, interval: 1000, count: 10 });
    });

    test('a later setKeepAlive on an inherited socket (your code, a library) is followed by the policy', async () => {
      const server = net.createServer((socket) => {
        socket.setKeepAlive(true, 5000);
      });
      const seen = attach(server);
      const port = await listening(server);
      await pastCatchUp(server, port, seen);
      const [socket] = await acceptFrom(server, port, 1);
      expect(seen[0]![1]).toBe('inherited');
      expectKernel(socket!, CONFIGURED);
      socket!.setKeepAlive(true, 9000); // the core's own wrapper from now on
      expectKernel(socket!, CONFIGURED);
    });

    test('a partial configureKeepalive on an inherited socket is merged into the policy it inherited, and kept across setKeepAlive', async () => {
      const server = net.createServer();
      const seen = attach(server);
      const port = await listening(server);
      await pastCatchUp(server, port, seen);
      const [socket] = await acceptFrom(server, port, 1);
      expect(seen.map(([, how]) => how)).toEqual(['inherited']);
      configureKeepalive(socket!, { userTimeout: 40000 }); // only what this caller cares about
      const merged = { ...POLICY, userTimeout: 40000 };
      const expectMerged = (): void => {
        expect(getKeepalive(socket!)).toEqual({ enable: true, ...merged });
        const reader = kernelReader();
        if ('binary' in reader) expect(readFromOutside(reader.binary, tcpFd(socket!))).toEqual(expectedRaw(merged));
      };
      expectMerged();
      socket!.setKeepAlive(true); // libuv: idle 1 s... unless the kept policy follows
      expectMerged();
      socket!.setKeepAlive(true, 5000);
      expectMerged();
    });

    test('a later setKeepAlive on the TLS socket over an inherited socket (it goes straight to the TCP handle) is followed by the policy', async () => {
      const { key, cert } = selfSignedCertificate();
      const server = tls.createServer({ key, cert }, (secure) => secure.on('error', () => undefined));
      const seen = attach(server);
      const port = await listening(server);
      await pastCatchUp(server, port, seen);
      const secureOnServer = once(server, 'secureConnection');
      const client = track(tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }));
      client.on('error', () => undefined);
      const [secure] = (await secureOnServer) as [tls.TLSSocket];
      expect(seen.at(-1)![1]).toBe('inherited');
      const raw = seen.at(-1)![0];
      expectKernel(raw, CONFIGURED);
      secure.setKeepAlive(true, 5000); // libuv: idle 5 s, interval 1 s, count 10 — unless followed
      expectKernel(raw, CONFIGURED);
    });

    test('net, tls, http, https and http2 (h2 and h2c) servers', async () => {
      const { key, cert } = selfSignedCertificate();
      const cases: Array<[string, net.Server, (port: number) => net.Socket]> = [
        ['net', net.createServer(), (port) => net.connect(port, '127.0.0.1')],
        [
          'tls',
          tls.createServer({ key, cert }, (s) => s.on('error', () => undefined)),
          (port) => tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }),
        ],
        ['http', http.createServer(), (port) => net.connect(port, '127.0.0.1')],
        ['https', https.createServer({ key, cert }), (port) => tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })],
        ['http2', http2.createServer(), (port) => net.connect(port, '127.0.0.1')],
        [
          'http2 secure',
          http2.createSecureServer({ key, cert }),
          (port) => tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'] }),
        ],
      ];
      for (const [name, server, connect] of cases) {
        const seen = attach(server);
        const port = await listening(server);
        await pastCatchUp(server, port, seen);
        const [socket] = await acceptFrom(server, port, 1, connect);
        expect([name, seen.map(([, how]) => how)]).toEqual([name, ['inherited']]);
        expectKernel(socket!, CONFIGURED);
      }
    });

    test('keepaliveServer before or after listen(), and again after close() and listen() (a new listening socket)', async () => {
      const early = keepaliveServer(net.createServer(), POLICY);
      const earlyPort = await listening(early);
      await nextCheckPhase();
      expectKernel((await acceptFrom(early, earlyPort, 1))[0]!, CONFIGURED);

      const late = net.createServer();
      const latePort = await listening(late);
      keepaliveServer(late, POLICY);
      await nextCheckPhase();
      expectKernel((await acceptFrom(late, latePort, 1))[0]!, CONFIGURED);

      await closeAll();
      const again = await listening(late);
      await nextCheckPhase();
      expectKernel((await acceptFrom(late, again, 1))[0]!, CONFIGURED);
    });

    test("keepaliveServer adds no listener: the server's listeners, and their order, are the application's", async () => {
      const view = (server: net.Server): string[][] =>
        ['listening', 'connection', 'close', 'error'].map((event) => server.listeners(event).map((listener) => listener.name));
      const server = http.createServer();
      const before = view(server);
      keepaliveServer(server, POLICY);
      expect(view(server)).toEqual(before);
      const port = await listening(server); // listening() adds the test's own 'connection' listener
      const expected = view(server);
      await pastCatchUp(server, port);
      const [socket] = await acceptFrom(server, port, 1);
      expectKernel(socket!, CONFIGURED);
      expect(view(server)).toEqual(expected);
    });

    test('a Unix-domain server is left alone: no error, its connections untouched', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-unix-'));
      const socketPath = path.join(dir, 'server.sock');
      const seen: string[] = [];
      const server = track(net.createServer());
      attachServerPolicy(server, kernelPolicy(), {
        onAccepted: (_socket, how) => seen.push(how),
        onListener: (_server, fd, reason) => seen.push(`listener ${fd} ${reason}`),
      });
      const accepted = once(server, 'connection');
      server.listen(socketPath);
      await once(server, 'listening');
      const client = track(net.connect(socketPath));
      await once(client, 'connect');
      const [socket] = (await accepted) as [net.Socket];
      expect(socket.destroyed).toBe(false);
      expect(seen).toEqual([]);
      await closeAll();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test("control: a plain server's accepted sockets keep the kernel defaults", async () => {
      const server = net.createServer();
      const port = await listening(server);
      expectKernel((await acceptFrom(server, port, 1))[0]!, DEFAULTS);
    });
  },
);

describeWhen('servers in other processes, read from outside', linux ? undefined : 'Linux only (pidfd_getfd)', () => {
  beforeAll(() => assertRegisterBuilt());

  async function accepted(app: { pid: number }, port: number, count: number): Promise<Array<Record<string, number>>> {
    const clients = Array.from({ length: count }, () => track(net.connect(port, '127.0.0.1')).on('error', () => undefined));
    await Promise.all(clients.map((client) => once(client, 'connect')));
    const sockets = await waitForSockets(app.pid, { localPort: port }, count);
    return sockets.map((socket) => readChild(requireOutsideReader(), app.pid, socket.fd) as unknown as Record<string, number>);
  }

  test('a listener handed in by fd (as systemd socket activation does)', async () => {
    const parent = net.createServer();
    const port = await listening(parent);
    const fd = (parent as unknown as { _handle: { fd: number } })._handle.fd;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [path.join(apps, 'fd-server.js')], {
      cwd: path.resolve(__dirname, '..', '..'),
      env: { PATH: process.env.PATH, POLICY: JSON.stringify(POLICY) },
      stdio: ['pipe', 'pipe', 'inherit', fd],
    });
    const app = {
      pid: child.pid!,
      stop: async () => {
        child.kill('SIGKILL');
        await once(child, 'exit').catch(() => undefined);
      },
    };
    running.push(app);
    await once(child.stdout!, 'data'); // READY
    await new Promise<void>((resolve) => parent.close(() => resolve())); // only the child accepts now
    for (const kernel of await accepted(app, port, 2)) expect(kernel).toEqual(expectedRaw(POLICY));
  });

  test('cluster: round-robin workers (the primary accepts) and shared-handle workers', async () => {
    for (const policy of ['rr', 'none']) {
      const app = runApp(path.join(apps, 'cluster-server.js'), { POLICY: JSON.stringify(POLICY), NODE_CLUSTER_SCHED_POLICY: policy });
      running.push(app);
      const [, port, workerPid] = await app.line(/^READY (\d+) (\d+)$/m);
      const clients = Array.from({ length: 2 }, () => track(net.connect(Number(port), '127.0.0.1')).on('error', () => undefined));
      await Promise.all(clients.map((client) => once(client, 'connect')));
      const sockets = await waitForSockets(Number(workerPid), { localPort: Number(port) }, 2);
      for (const socket of sockets)
        expect([policy, readChild(requireOutsideReader(), Number(workerPid), socket.fd)]).toEqual([policy, expectedRaw(POLICY)]);
      await app.stop();
    }
  });
});
