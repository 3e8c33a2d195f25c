/**
 * Every rejected call: the coded error, its message (field, value, range), and
 * proof from the kernel that nothing was changed.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { once } from 'node:events';
import { configureKeepalive, getKeepalive, type KeepaliveOptions } from '../../src';
import { closeAll, connection, track } from '../helpers/sockets';

afterEach(closeAll);

const applied = { idle: 30_000, interval: 5_000, count: 3, userTimeout: 45_000 };

function thrown(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('bad options are refused before anything is applied', () => {
  const cases: Array<[string, unknown]> = [
    ['idle below 1 s', { idle: 999 }],
    ['idle above 32767 s', { idle: 32_768_000 }],
    ['idle NaN', { idle: Number.NaN }],
    ['idle Infinity', { idle: Infinity }],
    ['idle -0', { idle: -0 }],
    ['idle as a string', { idle: '30000' }],
    ['interval null', { interval: null }],
    ['count 0', { count: 0 }],
    ['count 128', { count: 128 }],
    ['count fractional', { count: 2.5 }],
    ['count bigint', { count: 3n }],
    ['userTimeout negative', { userTimeout: -1 }],
    ['userTimeout above 2^31-1', { userTimeout: 2 ** 31 }],
    ['userTimeout fractional', { userTimeout: 1.5 }],
    ['enable as a number', { enable: 1 }],
    ['an unknown key (typo)', { intervall: 5000 }],
    ['options null', null],
    ['options a number', 42],
    ['options an array', [1]],
    ['a valid idle with an invalid count', { idle: 2000, count: 500 }],
  ];

  test.each(cases)('%s: coded error, kernel unchanged', async (_name, options) => {
    const { client } = await connection();
    configureKeepalive(client, applied);
    const before = getKeepalive(client);
    const error = thrown(() => configureKeepalive(client, options as KeepaliveOptions));
    expect(error.code).toMatch(/^ERR_(INVALID_ARG_TYPE|INVALID_ARG_VALUE|OUT_OF_RANGE)$/);
    expect(getKeepalive(client)).toEqual(before);
    // The remembered policy is unchanged too: Node's setKeepAlive makes us re-apply it.
    client.setKeepAlive(true, 1000);
    expect(getKeepalive(client)).toEqual(before);
  });

  test('messages name the field, the value and the range', async () => {
    const { client } = await connection();
    const message = (options: unknown): string =>
      `${thrown(() => configureKeepalive(client, options as KeepaliveOptions)).code}: ${thrown(() => configureKeepalive(client, options as KeepaliveOptions)).message}`;
    expect(message({ idle: 999 })).toMatchInlineSnapshot(
      `"ERR_OUT_OF_RANGE: The value of "options.idle" is out of range. It must be >= 1000 && <= 32767000 (milliseconds, the kernel's 1..32767 s). Received 999"`,
    );
    expect(message({ interval: '5s' })).toMatchInlineSnapshot(
      `"ERR_INVALID_ARG_TYPE: The "options.interval" argument must be of type number (milliseconds). Received type string ('5s')"`,
    );
    expect(message({ count: 200 })).toMatchInlineSnapshot(
      `"ERR_OUT_OF_RANGE: The value of "options.count" is out of range. It must be an integer >= 1 && <= 127 (probes). Received 200"`,
    );
    expect(message({ userTimeout: -0.5 })).toMatchInlineSnapshot(
      `"ERR_OUT_OF_RANGE: The value of "options.userTimeout" is out of range. It must be an integer >= 0 && <= 2147483647 (milliseconds). Received -0.5"`,
    );
    expect(message({ enable: 'yes' })).toMatchInlineSnapshot(
      `"ERR_INVALID_ARG_TYPE: The "options.enable" argument must be of type boolean. Received type string ('yes')"`,
    );
    expect(message({ keepalive: true })).toMatchInlineSnapshot(
      `"ERR_INVALID_ARG_VALUE: The "options.keepalive" argument is not a keepalive option (known: enable, idle, interval, count, userTimeout). Received type boolean (true)"`,
    );
  });

  test('a getter that throws, or a revoked Proxy, is a coded error too', async () => {
    const { client } = await connection();
    const before = getKeepalive(client);
    const throwing = {
      idle: 2000,
      get count(): number {
        throw new Error('boom');
      },
    };
    expect(thrown(() => configureKeepalive(client, throwing))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    const { proxy, revoke } = Proxy.revocable({ idle: 2000 }, {});
    revoke();
    expect(thrown(() => configureKeepalive(client, proxy))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(getKeepalive(client)).toEqual(before);
  });

  test('every option is read exactly once', async () => {
    const { client } = await connection();
    let reads = 0;
    configureKeepalive(client, {
      get idle(): number {
        reads++;
        return reads === 1 ? 2000 : 999;
      },
    });
    expect(reads).toBe(1);
    expect(getKeepalive(client).idle).toBe(2000);
  });
});

describe('sockets that cannot be configured', () => {
  test('a destroyed socket: ERR_SOCKET_CLOSED', async () => {
    const { client } = await connection();
    client.destroy();
    expect(thrown(() => configureKeepalive(client, applied))).toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
    expect(thrown(() => getKeepalive(client))).toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
  });

  test('not a socket at all: ERR_INVALID_ARG_TYPE', () => {
    for (const notSocket of [undefined, null, 3, 'socket', {}, { _handle: { fd: 0 } }, new Duplex(), dgram.createSocket('udp4')]) {
      expect(thrown(() => configureKeepalive(notSocket as net.Socket, applied))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => getKeepalive(notSocket as net.Socket))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      if (notSocket instanceof dgram.Socket) notSocket.close();
    }
  });

  test("a net.Socket carrying a hand-made or another socket's handle: refused, the other socket untouched", async () => {
    const victim = (await connection()).client;
    const victimFd = (victim as unknown as { _handle: { fd: number } })._handle.fd;
    const before = getKeepalive(victim);

    const handMade = new net.Socket();
    Object.assign(handMade, { _handle: { fd: victimFd } });
    const borrowing = new net.Socket();
    Object.assign(borrowing, { _handle: (victim as unknown as { _handle: object })._handle });
    const faked = Object.create(net.Socket.prototype) as net.Socket;
    Object.assign(faked, { _handle: { fd: victimFd, constructor: Array } });

    for (const impostor of [handMade, borrowing, faked]) {
      expect(thrown(() => configureKeepalive(impostor, { idle: 7000, count: 5 }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    }
    expect(getKeepalive(victim)).toEqual(before);
  });

  test('a Unix-domain socket: EAFNOSUPPORT from the kernel check', async () => {
    const socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-')), 's');
    const server = track(net.createServer().listen(socketPath));
    await once(server, 'listening');
    const client = track(net.connect(socketPath));
    await once(client, 'connect');
    const error = thrown(() => configureKeepalive(client, applied));
    expect(error).toMatchObject({ code: 'EAFNOSUPPORT', syscall: 'getsockopt', errno: -os.constants.errno.EAFNOSUPPORT });
    expect(error.message).toMatch(/SO_DOMAIN/);
  });

  test('TLS over a JavaScript stream (a proxy tunnel) has no fd: ERR_INVALID_ARG_VALUE', () => {
    const tunnel = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    const secure = tls.connect({ socket: tunnel, rejectUnauthorized: false });
    secure.on('error', () => {});
    expect(thrown(() => configureKeepalive(secure, applied))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    secure.destroy();
  });

  test('a frozen socket is refused before the kernel is touched', async () => {
    const { client } = await connection();
    const before = getKeepalive(client);
    Object.preventExtensions(client);
    expect(thrown(() => configureKeepalive(client, applied))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(getKeepalive(client)).toEqual(before);
  });
});
