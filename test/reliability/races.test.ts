/**
 * configureKeepalive at the awkward moments: inside 'close' and 'end',
 * during destroy, after the fd number went to another socket, from many
 * sockets at once, and over and over on one pending socket. Every assertion
 * reads the kernel; "the other socket" is always read too, from outside the
 * process when the fd matters (kernel-reader: pidfd_getfd + getsockopt).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { configureKeepalive, getKeepalive, type KeepaliveState } from '../../src';
import { kernelReader, readFromOutside, type RawKernelState } from '../helpers/independent-kernel';
import { closeAll, connection, listen, track } from '../helpers/sockets';
import { within } from '../helpers/wait';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { assertCoded } from './support/outcome';

afterEach(closeAll);
jest.setTimeout(20_000);

const policy = { idle: 30_000, interval: 5_000, count: 3, userTimeout: 45_000 };
const applied: KeepaliveState = { enable: true, ...policy };

const fdOf = (socket: net.Socket): number => (socket as unknown as { _handle: { fd: number } })._handle.fd;

/** What configureKeepalive threw, checked to be a documented coded Error. */
function refusal(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    assertCoded(error, 'refusal');
    return error.code;
  }
  throw new Error('expected a coded refusal, but the call succeeded');
}

const reader = kernelReader();
const outsideRead = (fd: number): RawKernelState => {
  if ('unavailable' in reader) throw new Error(`kernel-reader unavailable: ${reader.unavailable}`);
  return readFromOutside(reader.binary, fd);
};
if ('unavailable' in reader) console.warn(`races: reading fds from outside is SKIPPED: ${reader.unavailable}`);
const withOutsideReader = 'unavailable' in reader ? test.skip : test;

/** 'close', whether or not an 'error' came first (events.once would reject on the error). */
const closed = (socket: net.Socket): Promise<void> => new Promise((resolve) => socket.once('close', () => resolve()));

describe("inside 'close' and 'end' handlers", () => {
  test("in 'close': a coded ERR_SOCKET_CLOSED, the peer untouched, the sticky wrapper silent", async () => {
    const { client, accepted } = await connection();
    configureKeepalive(client, { idle: 2000 });
    const peerBefore = getKeepalive(accepted);
    const seen: string[] = [];
    client.on('close', () => {
      seen.push(refusal(() => configureKeepalive(client, policy)));
      seen.push(refusal(() => getKeepalive(client)));
      client.setKeepAlive(true, 60_000); // a client library tidying up: our wrapper must not throw
      seen.push('setKeepAlive returned');
    });
    client.destroy();
    await within(2000, "'close'", once(client, 'close'));
    expect(seen).toEqual(['ERR_SOCKET_CLOSED', 'ERR_SOCKET_CLOSED', 'setKeepAlive returned']);
    expect(getKeepalive(accepted)).toEqual(peerBefore);
  });

  test.each([false, true])("in 'end' (allowHalfOpen %s): the fd is still open and the policy is applied exactly", async (allowHalfOpen) => {
    const { server, port } = await listen();
    server.on('connection', (socket) => socket.end());
    const client = track(net.connect({ port, host: '127.0.0.1', allowHalfOpen }));
    const inEnd = new Promise<KeepaliveState>((resolve, reject) => {
      client.on('end', () => {
        try {
          configureKeepalive(client, policy);
          resolve(getKeepalive(client));
        } catch (error) {
          reject(error);
        }
      });
    });
    client.resume();
    expect(await within(2000, "'end'", inEnd)).toEqual(applied);
  });
});

describe('during destroy', () => {
  withOutsideReader('from _destroy (destroyed, fd still open): refused, and the kernel state of that fd is unchanged', async () => {
    const { client } = await connection();
    configureKeepalive(client, { idle: 2000, count: 2 });
    const fd = fdOf(client);
    const before = outsideRead(fd);
    let during: { code: string; state: RawKernelState } | undefined;
    const nodeDestroy = client._destroy.bind(client);
    client._destroy = (error, callback) => {
      during = { code: refusal(() => configureKeepalive(client, policy)), state: outsideRead(fd) };
      nodeDestroy(error, callback);
    };
    client.destroy();
    await within(2000, "'close'", once(client, 'close'));
    expect(during).toEqual({ code: 'ERR_SOCKET_CLOSED', state: before });
    expect(before).toMatchObject({ enabled: 1, idle: 2, count: 2 });
  });

  test("from the 'error' handler of destroy(error): refused with a code, nothing thrown at the emitter", async () => {
    const { client } = await connection();
    const codes: string[] = [];
    client.on('error', () => codes.push(refusal(() => configureKeepalive(client, policy))));
    client.destroy(new Error('application gave up'));
    await within(2000, "'close'", closed(client));
    expect(codes).toEqual(['ERR_SOCKET_CLOSED']);
  });

  test("a pending socket destroyed by an earlier 'connect' listener: our listener stays quiet", async () => {
    const { port } = await listen();
    const client = track(net.connect(port, '127.0.0.1'));
    client.once('connect', () => client.destroy()); // registered before ours, so it runs first
    configureKeepalive(client, policy);
    expect(client.listenerCount('connect')).toBe(2);
    await within(2000, "'close'", once(client, 'close'));
    // Ours stays with the object (a reconnect re-applies the policy); it added no 'close' listener.
    expect(client.listenerCount('connect')).toBe(1);
    expect(client.listenerCount('close')).toBe(0);
  });

  test('destroy() right after configuring a pending socket: nothing applied later, later calls refused', async () => {
    const { port } = await listen();
    const client = track(net.connect(port, '127.0.0.1'));
    configureKeepalive(client, policy);
    client.destroy();
    await within(2000, "'close'", once(client, 'close'));
    expect(client.listenerCount('close')).toBe(0);
    expect(refusal(() => configureKeepalive(client, policy))).toBe('ERR_SOCKET_CLOSED');
  });
});

describe('an fd number reused by another socket', () => {
  /** Opens connections until one gets `fd` (Linux hands out the lowest free number). */
  async function connectionOnFd(port: number, fd: number): Promise<net.Socket> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const socket = track(net.connect(port, '127.0.0.1'));
      await once(socket, 'connect');
      if (fdOf(socket) === fd) return socket;
    }
    throw new Error(`no new connection got fd ${fd} in 20 attempts: cannot stage the reuse`);
  }

  withOutsideReader('a destroyed, configured socket cannot reach the new owner of its fd number', async () => {
    const { client: old, port } = await connection();
    configureKeepalive(old, { idle: 2000, count: 2 });
    const oldHandle = (old as unknown as { _handle: unknown })._handle;
    const fd = fdOf(old);
    old.destroy();
    const reuser = await connectionOnFd(port, fd);
    const reuserBefore = outsideRead(fd);

    expect(refusal(() => configureKeepalive(old, policy))).toBe('ERR_SOCKET_CLOSED');
    expect(refusal(() => getKeepalive(old))).toBe('ERR_SOCKET_CLOSED');
    old.setKeepAlive(true, 60_000); // the sticky wrapper of the dead socket
    const impostor = Object.create(net.Socket.prototype) as net.Socket & { _handle: unknown };
    impostor._handle = oldHandle; // the old, real, closed handle
    refusal(() => configureKeepalive(impostor, policy));

    expect(outsideRead(fd)).toEqual(reuserBefore);
    expect(getKeepalive(reuser)).toMatchObject({ enable: false, userTimeout: 0 });
  });

  withOutsideReader('a configured pending socket whose connect fails: the next owner of its fd is untouched', async () => {
    const refusedPort = await (async () => {
      const { server, port } = await listen();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    })();
    const { port } = await listen();
    const doomed = track(net.connect(refusedPort, '127.0.0.1'));
    doomed.on('error', () => {});
    configureKeepalive(doomed, policy);
    await new Promise((resolve) => setImmediate(resolve)); // connect() issued: the fd exists
    const fd = fdOf(doomed);
    await within(2000, "the refused socket's 'close'", closed(doomed));
    const reuser = await connectionOnFd(port, fd);
    await new Promise((resolve) => setTimeout(resolve, 20)); // any late 'connect' of the dead socket would land here
    expect(outsideRead(fd)).toMatchObject({ enabled: 0, userTimeout: 0 });
    expect(getKeepalive(reuser).enable).toBe(false);
    expect(doomed.listenerCount('close')).toBe(0);
  });

  test('Happy Eyeballs attempts closing while other sockets open: each socket holds only its own settings', async () => {
    const { port } = await listen('127.0.0.1'); // ::1 refuses: the first attempt's fd is closed and reused
    const eyeballs = Array.from({ length: 20 }, () => {
      const socket = track(net.connect({ port, host: 'localhost', autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 10 }));
      return configureKeepalive(socket, policy);
    });
    const bystanders = Array.from({ length: 20 }, () => track(net.connect(port, '127.0.0.1')));
    await within(5000, 'connects', Promise.all([...eyeballs, ...bystanders].map((socket) => once(socket, 'connect'))));
    for (const socket of eyeballs) expect(getKeepalive(socket)).toEqual(applied);
    for (const socket of bystanders) expect(getKeepalive(socket)).toMatchObject({ enable: false, userTimeout: 0 });
  });
});

test('many sockets at once, client and server side, pending and connected: each holds exactly its own policy', async () => {
  const { server, port } = await listen();
  const total = 300;
  const policyFor = (i: number, side: number) => ({
    idle: (i + 1) * 1000,
    interval: (side + 1) * 1000,
    count: (i % 127) + 1,
    userTimeout: i * 7 + side,
  });
  const acceptedAll = new Promise<net.Socket[]>((resolve) => {
    const accepted: net.Socket[] = [];
    server.on('connection', (socket) => {
      // The server learns which client this is from its first byte.
      socket.once('data', (data) => {
        configureKeepalive(socket, policyFor(data.readUInt16BE(0), 1));
        accepted[data.readUInt16BE(0)] = socket;
        if (accepted.filter(Boolean).length === total) resolve(accepted);
      });
    });
  });
  const clients = Array.from({ length: total }, (_, i) => {
    const client = track(net.connect(port, '127.0.0.1'));
    const id = Buffer.alloc(2);
    id.writeUInt16BE(i);
    client.write(id);
    if (i % 2 === 0)
      configureKeepalive(client, policyFor(i, 0)); // still pending
    else client.once('connect', () => configureKeepalive(client, policyFor(i, 0)));
    return client;
  });
  const accepted = await within(10_000, 'all accepted and configured', acceptedAll);
  await within(5000, 'connects', Promise.all(clients.map((c) => (c.connecting ? once(c, 'connect') : undefined))));
  clients.forEach((client, i) => expect(getKeepalive(client)).toEqual({ enable: true, ...policyFor(i, 0) }));
  accepted.forEach((socket, i) => expect(getKeepalive(socket)).toEqual({ enable: true, ...policyFor(i, 1) }));
});

describe('over and over on the same pending socket', () => {
  /**
   * Whether Node emitted MaxListenersExceededWarning for this event: events.js
   * marks the listener array `warned` when it does. (Jest's sandboxed `process`
   * does not see the real process's 'warning' events, so we read the mark.)
   */
  function maxListenersWarned(emitter: net.Socket, event: string): boolean {
    const events = (emitter as unknown as { _events?: Record<string, unknown> })._events;
    return (events?.[event] as { warned?: boolean } | undefined)?.warned === true;
  }

  test('10 000 configure calls and 1 000 setKeepAlive calls: one listener, no warning, the last values win', async () => {
    const { port } = await listen();
    const client = track(net.connect(port, '127.0.0.1'));
    const base = { connect: client.listenerCount('connect'), close: client.listenerCount('close') };
    for (let i = 1; i <= 10_000; i++) configureKeepalive(client, { idle: 1000 + (i % 100) * 1000, count: (i % 127) + 1 });
    configureKeepalive(client, { idle: 123_000, userTimeout: 4567 }); // the last word, distinct from every earlier one
    for (let i = 0; i < 1000; i++) client.setKeepAlive(true, 1000 + i); // a client library; each call re-applies our policy
    expect(client.listenerCount('connect')).toBe(base.connect + 1);
    expect(client.listenerCount('close')).toBe(base.close);
    await within(2000, "'connect'", once(client, 'connect'));
    // count comes from the last call that set it (i = 10 000); idle and userTimeout from the final call.
    expect(getKeepalive(client)).toMatchObject({ enable: true, idle: 123_000, count: (10_000 % 127) + 1, userTimeout: 4567 });
    expect(client.listenerCount('connect')).toBe(base.connect + 1);
    expect(client.listenerCount('close')).toBe(base.close);
    expect(maxListenersWarned(client, 'connect') || maxListenersWarned(client, 'close')).toBe(false);
  });

  test('the probe works: 11 plain listeners are marked, and Node warns once', () => {
    // In a child process, whose own 'warning' listener captures the warning Node would print
    // (Jest's sandboxed `process` cannot see it): asserted here, never shown on the console.
    const script = `
      const net = require('node:net');
      const maxListenersWarned = ${maxListenersWarned.toString()};
      const warnings = [];
      process.removeAllListeners('warning');
      process.on('warning', (warning) => warnings.push(warning.name));
      const client = new net.Socket();
      for (let i = 0; i < 10; i++) client.on('connect', () => {});
      const before = maxListenersWarned(client, 'connect');
      client.on('connect', () => {});
      const after = maxListenersWarned(client, 'connect');
      setImmediate(() => console.log(JSON.stringify({ before, after, warnings })));`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect({ stderr: child.stderr, result: JSON.parse(child.stdout) }).toEqual({
      stderr: '',
      result: { before: false, after: true, warnings: ['MaxListenersExceededWarning'] },
    });
  });

  test('1 000 calls on a TLS upgrade over a connecting socket: one listener on the raw socket', async () => {
    const { key, cert } = selfSignedCertificate();
    const secure = tls.createServer({ key, cert }, (socket) => track(socket).on('error', () => {}));
    const { port } = await listen('127.0.0.1', secure);
    const raw = track(net.connect(port, '127.0.0.1'));
    const base = raw.listenerCount('connect');
    const upgraded = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
    const afterTls = raw.listenerCount('connect');
    for (let i = 0; i < 1000; i++) configureKeepalive(upgraded, policy);
    expect(raw.listenerCount('connect') - afterTls).toBeLessThanOrEqual(1);
    await within(5000, "'secureConnect'", once(upgraded, 'secureConnect'));
    expect(getKeepalive(upgraded)).toEqual(applied);
    expect(raw.listenerCount('connect')).toBeLessThanOrEqual(base + 1);
    expect(maxListenersWarned(raw, 'connect') || maxListenersWarned(raw, 'close')).toBe(false);
  });
});
