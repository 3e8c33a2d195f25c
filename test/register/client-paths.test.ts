/**
 * Zero-code on the paths a real client takes on its first day, each in an
 * unmodified child application with only NODE_OPTIONS and TCP_KEEPALIVE set,
 * the kernel of its sockets read from outside the child:
 * - a client that starts before its server: the first connect is refused and
 *   the same socket object is reconnected after 'close' (Node's documented
 *   idiom); every later connect of it must carry the policy;
 * - a socket the application made non-extensible: the connection is left
 *   alone, reported, and the application never sees an exception.
 * TCP_KEEPALIVE_CHILD_NODE=/path/to/node runs the children on another Node line.
 */
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { track } from '../helpers/sockets';
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

const running = appsStoppedAfterEach();

/** A port nothing listens on now (bound, then released), for a server that starts later. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The kernel of the child's connection from `localPort`, read from outside the child. */
async function kernelOfLocal(app: RunningApp, localPort: number, port: number): Promise<object> {
  const sockets = await waitForSockets(app.pid, { remotePort: port });
  const socket = sockets.find((candidate) => candidate.localPort === localPort);
  if (socket === undefined) throw new Error(`the child holds no connection from :${localPort} (found ${JSON.stringify(sockets)})`);
  return readChild(requireOutsideReader(), app.pid, socket.fd);
}

const reader = outsideReader();
beforeAll(() => assertRegisterBuilt());

describeWhen('a client that starts before its server', 'binary' in reader ? undefined : reader.unavailable, () => {
  test.each([
    ['--require', 'net'],
    ['--import', 'net'],
    ['--require', 'socket'],
    ['--import', 'socket'],
  ])('%s tcp-keepalive/register, %s: refused first, then every reconnect of the same object holds the policy', async (flag, kind) => {
    const port = await freePort();
    const app = runApp(path.join(apps, 'reconnect.cjs'), {
      NODE_OPTIONS: `${flag} tcp-keepalive/register`,
      TCP_KEEPALIVE: POLICY_ENV,
      PORT: String(port),
      KIND: kind,
    });
    running.push(app);
    await app.line(/^FAILED ECONNREFUSED$/m); // the service started first
    const server = track(net.createServer());
    const accepted: net.Socket[] = [];
    server.on('connection', (socket: net.Socket) => accepted.push(track(socket)));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');

    const [, , firstPort] = await app.line(/^CONNECTED (1) (\d+)$/m);
    expect(await kernelOfLocal(app, Number(firstPort), port)).toEqual(expectedRaw(POLICY));

    // The server drops it; the client reconnects the same object again.
    while (accepted.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    accepted[0]!.destroy();
    const [, , secondPort] = await app.line(/^CONNECTED (2) (\d+)$/m);
    expect(await kernelOfLocal(app, Number(secondPort), port)).toEqual(expectedRaw(POLICY));
    // Many refused attempts left no listeners behind (Node would warn past ten).
    expect(app.stderr()).not.toMatch(/MaxListenersExceeded/);
  });
});

describeWhen('a socket the application made non-extensible', 'binary' in reader ? undefined : reader.unavailable, () => {
  test.each([['--require'], ['--import']])(
    '%s tcp-keepalive/register: the application keeps running; the connection is reported, logged and left alone',
    async (flag) => {
      const server = track(net.createServer((socket) => track(socket)));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as net.AddressInfo;
      const app = runApp(path.join(apps, 'sealed.cjs'), {
        NODE_OPTIONS: `${flag} tcp-keepalive/register`,
        TCP_KEEPALIVE: POLICY_ENV,
        TCP_KEEPALIVE_DEBUG: '1',
        PORT: String(port),
      });
      running.push(app);
      await app.line(/^READY$/m);
      // Reported once, as every connection an integration could not protect is (process 'warning', this code) ...
      await app.stderrLines(/TCP_KEEPALIVE_NOT_APPLIED/, 1);
      // ... and named in the debug log.
      await app.stderrLines(new RegExp(`^tcp-keepalive: left unconfigured: client 127\\.0\\.0\\.1:${port}.*not extensible`), 1);
      const [socket] = await waitForSockets(app.pid, { remotePort: port });
      expect(readChild(requireOutsideReader(), app.pid, socket!.fd)).toMatchObject({ enabled: 0 });
      expect(app.stderr()).not.toMatch(/TypeError|\n\s+at /);
      expect(app.child.exitCode).toBeNull(); // still running
      expect(await app.stop()).toBe(0);
    },
  );
});
