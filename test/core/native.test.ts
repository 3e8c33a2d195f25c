/**
 * The raw addon: plain arguments in, `undefined` or a failure object out, and
 * the one error src/core/errors.ts builds from it (inline snapshots of the
 * exact messages), on fds that are not TCP sockets.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { types } from 'node:util';
import { nativeError } from '../../src/core/errors';
import { addon } from '../../src/native/load';
import { closeAll, connection } from '../helpers/sockets';

const native = addon()!;

afterEach(closeAll);

function errorOf(action: () => unknown): Record<string, unknown> {
  try {
    action();
  } catch (error) {
    const { message, code, errno, syscall, option } = error as Record<string, unknown>;
    return { message, code, errno, syscall, option };
  }
  throw new Error('expected a throw');
}

test('a file is not a socket: a failure object, and the coded error built from it', () => {
  const fd = fs.openSync('/dev/null', 'r');
  const failure = native.checkTcp(fd);
  fs.closeSync(fd);
  expect(failure).toEqual({ errno: os.constants.errno.ENOTSOCK, syscall: 'getsockopt', option: 'SO_TYPE' });
  const error = nativeError(failure!, 7, 'not a TCP socket');
  expect(
    errorOf(() => {
      throw error;
    }),
  ).toMatchInlineSnapshot(`
{
  "code": "ENOTSOCK",
  "errno": -88,
  "message": "not a TCP socket: getsockopt(SO_TYPE) on fd 7 failed: ENOTSOCK (socket operation on non-socket)",
  "option": "SO_TYPE",
  "syscall": "getsockopt",
}
`);
});

test('a closed fd: EBADF from apply, read and tcpInfo, naming the first option', () => {
  const fd = fs.openSync('/dev/null', 'r');
  fs.closeSync(fd);
  expect(native.apply(fd, 1, 30, 5, 3, 0)).toEqual({ errno: os.constants.errno.EBADF, syscall: 'setsockopt', option: 'TCP_KEEPIDLE' });
  expect(native.read(fd)).toEqual({ errno: os.constants.errno.EBADF, syscall: 'getsockopt', option: 'SO_KEEPALIVE' });
  expect(native.tcpInfo(fd)).toEqual({
    errno: os.constants.errno.EBADF,
    syscall: 'getsockopt',
    option: 'TCP_INFO',
  });
});

test('a Unix-domain socket: the kernel refuses the first TCP-level option before anything is written', async () => {
  const path = `${os.tmpdir()}/tcpka-native-${process.pid}.sock`;
  const server = net.createServer().listen(path);
  await new Promise((resolve) => server.once('listening', resolve));
  const client = net.connect(path);
  await new Promise((resolve) => client.once('connect', resolve));
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  expect(native.apply(fd, 1, 30, -1, -1, -1)).toEqual({
    errno: os.constants.errno.EOPNOTSUPP,
    syscall: 'setsockopt',
    option: 'TCP_KEEPIDLE',
  });
  expect(native.checkTcp(fd)).toEqual({ errno: os.constants.errno.EAFNOSUPPORT, syscall: 'getsockopt', option: 'SO_DOMAIN' });
  client.destroy();
  server.close();
});

test('a connected TCP socket: apply, read back, TCP_INFO, and a duplicate of our own fd', async () => {
  const { client } = await connection();
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  expect(native.apply(fd, 1, 41, 7, 5, 9000)).toBeUndefined();
  expect(native.read(fd)).toBeUndefined();
  expect([...native.keepaliveValues]).toEqual([1, 41, 7, 5, 9000]);
  expect(native.tcpInfo(fd)).toBeUndefined();
  expect(native.tcpInfoValues[native.tcpInfoFields.indexOf('state')]).toBe(1);
  const copy = native.duplicateFd(process.pid, fd);
  expect(typeof copy).toBe('number');
  expect(native.apply(fd, 1, 42, -1, -1, -1)).toBeUndefined();
  expect(native.read(copy as number)).toBeUndefined();
  expect(native.keepaliveValues[1]).toBe(42);
  expect(native.closeFd(copy as number)).toBeUndefined();
  expect(native.closeFd(copy as number)).toEqual({ errno: os.constants.errno.EBADF, syscall: 'close', option: '' });
});

test('arguments from a direct caller are checked, never passed on', () => {
  expect(errorOf(() => native.checkTcp('3' as unknown as number))).toMatchInlineSnapshot(`
{
  "code": "ERR_INVALID_ARG_TYPE",
  "errno": undefined,
  "message": "fd must be an integer from 0 to 2147483647",
  "option": undefined,
  "syscall": undefined,
}
`);
  expect(errorOf(() => native.apply(-5, 1, 1, 1, 1, 1)).message).toMatchInlineSnapshot(`"fd must be an integer from 0 to 2147483647"`);
  expect(errorOf(() => native.apply(0, 2, 1, 1, 1, 1)).message).toMatchInlineSnapshot(`"enable must be -1, 0 or 1"`);
  expect(errorOf(() => native.apply(0, 1, -2, 1, 1, 1)).message).toMatchInlineSnapshot(
    `"idleSeconds must be an integer from -1 to 2147483647"`,
  );
  expect(errorOf(() => (native.apply as unknown as (...a: number[]) => unknown)(0, 1, 1, 1, 1)).message).toMatchInlineSnapshot(
    `"userTimeoutMs must be an integer from -1 to 2147483647"`,
  );
  expect(errorOf(() => native.read(-1)).message).toMatchInlineSnapshot(`"fd must be an integer from 0 to 2147483647"`);
  expect(errorOf(() => native.tcpInfo(undefined as unknown as number)).code).toBe('ERR_INVALID_ARG_TYPE');
  expect(errorOf(() => native.duplicateFd(0, 1)).code).toBe('ERR_OUT_OF_RANGE');
});

test('capabilities, field names and the exports are frozen', () => {
  expect(native.capabilities).toEqual({
    idle: true,
    interval: true,
    count: true,
    userTimeout: true,
    readBack: true,
    tcpInfo: true,
    duplicateFd: true,
  });
  expect(Object.isFrozen(native)).toBe(true);
  expect(Object.isFrozen(native.capabilities)).toBe(true);
  expect(Object.isFrozen(native.tcpInfoFields)).toBe(true);
  // The output arrays (one per environment; test/reliability/workers.test.ts runs them in Workers).
  expect(types.isInt32Array(native.keepaliveValues) && native.keepaliveValues.length).toBe(5);
  expect(types.isFloat64Array(native.tcpInfoValues) && native.tcpInfoValues.length).toBe(native.tcpInfoFields.length);
});
