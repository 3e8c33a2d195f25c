/**
 * configureKeepalive on every kind of socket, asserted by reading the kernel
 * (getKeepalive = getsockopt through the addon; test/core/cross-check.test.ts
 * reads the same values without the addon).
 */
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { configureKeepalive, getKeepalive } from '../../src';
import { closeAll, connection, ipv6Available, listen, tlsServer, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';

afterEach(closeAll);

const policy = { idle: 30_000, interval: 5_000, count: 3, userTimeout: 45_000 };
const expected = { enable: true, ...policy };

describe('on a connected socket', () => {
  test('applies every option, as the kernel reports it', async () => {
    const { client } = await connection();
    expect(configureKeepalive(client, policy)).toBe(client);
    expect(getKeepalive(client)).toEqual(expected);
  });

  test('a fresh socket holds the kernel defaults, not ours (the reading is real)', async () => {
    const { client } = await connection();
    const before = getKeepalive(client);
    expect(before.enable).toBe(false);
    expect(before.userTimeout).toBe(0);
    expect(before).not.toEqual(expected);
  });

  test('rounds idle and interval down to whole seconds, never later than asked', async () => {
    const { client } = await connection();
    configureKeepalive(client, { idle: 1999, interval: 2999.9 });
    expect(getKeepalive(client)).toMatchObject({ idle: 1000, interval: 2000 });
    configureKeepalive(client, { idle: 32_767_000, interval: 1000 });
    expect(getKeepalive(client)).toMatchObject({ idle: 32_767_000, interval: 1000 });
  });

  test('options left out stay as they were', async () => {
    const { client } = await connection();
    configureKeepalive(client, policy);
    configureKeepalive(client, { count: 7 });
    expect(getKeepalive(client)).toEqual({ ...expected, count: 7 });
    configureKeepalive(client, { userTimeout: 0 });
    expect(getKeepalive(client)).toEqual({ ...expected, count: 7, userTimeout: 0 });
  });

  test('enable defaults to true; enable: false turns SO_KEEPALIVE off and keeps the tuning', async () => {
    const { client } = await connection();
    configureKeepalive(client);
    expect(getKeepalive(client).enable).toBe(true);
    configureKeepalive(client, { ...policy, enable: false });
    expect(getKeepalive(client)).toEqual({ ...expected, enable: false });
  });

  test('the extremes of every range', async () => {
    const { client } = await connection();
    configureKeepalive(client, { idle: 1000, interval: 32_767_000, count: 1, userTimeout: 2 ** 31 - 1 });
    expect(getKeepalive(client)).toEqual({ enable: true, idle: 1000, interval: 32_767_000, count: 1, userTimeout: 2 ** 31 - 1 });
    configureKeepalive(client, { count: 127 });
    expect(getKeepalive(client).count).toBe(127);
  });

  test('options are read as properties: a class with getters is honoured, not silently dropped', async () => {
    const { client } = await connection();
    class Policy {
      get idle(): number {
        return 4000;
      }
      get count(): number {
        return 6;
      }
    }
    configureKeepalive(client, new Policy());
    expect(getKeepalive(client)).toMatchObject({ enable: true, idle: 4000, count: 6 });
  });

  test('re-entered from a socket getter while finding the fd: each socket gets its own options', async () => {
    // configureKeepalive validates into a shared object and copies it out at once;
    // a getter that calls it again must not swap the values of the outer call.
    const { client: other } = await connection();
    let armed = false;
    let reentered = false;
    class ReentrantSocket extends net.Socket {}
    const connectingOf = new WeakMap<object, boolean>();
    Object.defineProperty(ReentrantSocket.prototype, 'connecting', {
      get(this: net.Socket): boolean {
        if (armed && !reentered) {
          reentered = true;
          configureKeepalive(other, { idle: 9000, interval: 9000, count: 9 });
        }
        return connectingOf.get(this) ?? false;
      },
      set(this: net.Socket, value: boolean) {
        connectingOf.set(this, value);
      },
    });
    const { port } = await listen();
    const socket = track(new ReentrantSocket());
    socket.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    armed = true; // only from inside our call, not from Node's own reads of socket.connecting
    configureKeepalive(socket, { idle: 4000, interval: 4000, count: 4 });
    expect(reentered).toBe(true);
    expect(getKeepalive(socket)).toMatchObject({ idle: 4000, interval: 4000, count: 4 });
    expect(getKeepalive(other)).toMatchObject({ idle: 9000, interval: 9000, count: 9 });
  });

  test('server-accepted sockets', async () => {
    const { client, accepted } = await connection();
    configureKeepalive(accepted, policy);
    expect(getKeepalive(accepted)).toEqual(expected);
    expect(getKeepalive(client).enable).toBe(false);
  });

  (ipv6Available() ? test : test.skip)('IPv6 (skipped: this machine has no ::1)', async () => {
    const { client, accepted } = await connection('::1');
    configureKeepalive(client, policy);
    configureKeepalive(accepted, { idle: 2000 });
    expect(getKeepalive(client)).toEqual(expected);
    expect(getKeepalive(accepted).idle).toBe(2000);
  });

  test('each socket keeps its own policy', async () => {
    const first = await connection();
    const second = await connection();
    configureKeepalive(first.client, policy);
    configureKeepalive(second.client, { idle: 2000, interval: 1000, count: 9 });
    expect(getKeepalive(first.client)).toEqual(expected);
    expect(getKeepalive(second.client)).toMatchObject({ idle: 2000, interval: 1000, count: 9 });
  });
});

describe('on a socket that is not connected yet', () => {
  test('net.connect(): configured the moment it connects, one listener, kept for a later connect of the same object', async () => {
    const { port } = await listen();
    const client = track(net.connect(port, '127.0.0.1'));
    const listenersBefore = client.listenerCount('connect');
    configureKeepalive(client, policy);
    configureKeepalive(client, { count: 4 }); // merged, no second listener
    expect(client.listenerCount('connect')).toBe(listenersBefore + 1);
    await once(client, 'connect');
    expect(getKeepalive(client)).toEqual({ ...expected, count: 4 });
    expect(client.listenerCount('connect')).toBe(listenersBefore + 1);
    expect(client.listenerCount('close')).toBe(0);
  });

  test('new net.Socket() before connect() (the pg stream factory case)', async () => {
    const { port } = await listen();
    const socket = track(new net.Socket());
    configureKeepalive(socket, policy);
    socket.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    expect(getKeepalive(socket)).toEqual(expected);
  });

  test('"localhost" with autoSelectFamily (Happy Eyeballs replaces the handle per attempt)', async () => {
    const { port } = await listen('127.0.0.1');
    const client = track(net.connect({ port, host: 'localhost', autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 10 }));
    configureKeepalive(client, policy);
    await once(client, 'connect');
    expect(getKeepalive(client)).toEqual(expected);
  });

  test('a socket that closes before connecting: our one listener stays quiet (no error, no warning)', async () => {
    const client = track(net.connect(1, '127.0.0.1')); // nothing listens on port 1
    client.on('error', () => {});
    configureKeepalive(client, policy);
    expect(client.listenerCount('connect')).toBe(1);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    await new Promise((resolve) => client.on('close', resolve)); // events.once would reject on 'error'
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(client.listenerCount('connect')).toBe(1);
    expect(warnings).toEqual([]);
  });

  test('getKeepalive on a connecting socket is ENOTCONN, not a guess', async () => {
    const { port } = await listen();
    const client = track(net.connect(port, '127.0.0.1'));
    expect(() => getKeepalive(client)).toThrow(expect.objectContaining({ code: 'ENOTCONN', syscall: 'getsockopt' }));
    await once(client, 'connect');
  });
});

describe('policy survives the client library calling socket.setKeepAlive', () => {
  test('a later setKeepAlive(true, ms) — which on libuv forces interval 1 s / count 10 — leaves our policy', async () => {
    const control = await connection();
    control.client.setKeepAlive(true, 10_000);
    expect(getKeepalive(control.client)).toMatchObject({ idle: 10_000, interval: 1000, count: 10 }); // what Node does alone

    const { client } = await connection();
    configureKeepalive(client, policy);
    client.setKeepAlive(true, 10_000);
    client.setKeepAlive(true, 20_000);
    expect(getKeepalive(client)).toEqual(expected);
  });

  test('net.connect({ keepAlive: true }) applied by Node at connect, after our call', async () => {
    const { port } = await listen();
    const client = track(net.connect({ port, host: '127.0.0.1', keepAlive: true, keepAliveInitialDelay: 10_000 }));
    configureKeepalive(client, policy);
    await once(client, 'connect');
    expect(getKeepalive(client)).toEqual(expected);
  });

  test('setKeepAlive from a connect listener registered after ours (pg, mysql2)', async () => {
    const { port } = await listen();
    const client = track(net.connect(port, '127.0.0.1'));
    configureKeepalive(client, policy);
    client.on('connect', () => client.setKeepAlive(true, 0));
    await once(client, 'connect');
    await new Promise((resolve) => setImmediate(resolve));
    expect(getKeepalive(client)).toEqual(expected);
  });
});

describe('TLS', () => {
  const { key, cert } = selfSignedCertificate();

  test('tls.connect(): configured through the TLS wrap, before and after connect', async () => {
    const { port } = await tlsServer(key, cert);
    const pending = track(tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }));
    configureKeepalive(pending, policy);
    await once(pending, 'secureConnect');
    expect(getKeepalive(pending)).toEqual(expected);

    const connected = track(tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }));
    await once(connected, 'secureConnect');
    configureKeepalive(connected, { idle: 2000, count: 2 });
    expect(getKeepalive(connected)).toMatchObject({ enable: true, idle: 2000, count: 2 });
    connected.setKeepAlive(true, 60_000);
    expect(getKeepalive(connected)).toMatchObject({ idle: 2000, count: 2 });
  });

  test('tls.connect({ socket }) upgrade: configures the raw socket underneath, either way round', async () => {
    const { port } = await tlsServer(key, cert);
    const raw = track(net.connect(port, '127.0.0.1'));
    await once(raw, 'connect');
    const upgraded = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
    configureKeepalive(upgraded, policy);
    await once(upgraded, 'secureConnect');
    expect(getKeepalive(upgraded)).toEqual(expected);
    expect(getKeepalive(raw)).toEqual(expected);
    raw.setKeepAlive(true, 60_000); // a client holding the raw socket
    expect(getKeepalive(upgraded)).toEqual(expected);
  });

  test('upgrade over a socket that is still connecting waits for it', async () => {
    const { port } = await tlsServer(key, cert);
    const raw = track(net.connect(port, '127.0.0.1'));
    const upgraded = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
    configureKeepalive(upgraded, policy);
    await once(upgraded, 'secureConnect');
    expect(getKeepalive(upgraded)).toEqual(expected);
  });
});
