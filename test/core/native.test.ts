/**
 * The raw addon: its own argument checks and the system errors it builds
 * (inline snapshots of the exact messages), on fds that are not TCP sockets.
 */
import fs from 'node:fs';
import os from 'node:os';
import { addon } from '../../src/native/load';

const native = addon!;

function errorOf(action: () => void): Record<string, unknown> {
  try {
    action();
  } catch (error) {
    const { message, code, errno, syscall, option } = error as Record<string, unknown>;
    return { message, code, errno, syscall, option };
  }
  throw new Error('expected a throw');
}

test('a pipe is not a socket: ENOTSOCK', () => {
  const [readEnd] = [fs.openSync('/dev/null', 'r')];
  const error = errorOf(() => native.checkTcp(readEnd));
  fs.closeSync(readEnd);
  expect({ ...error, message: String(error.message).replace(/fd \d+/, 'fd N') }).toMatchInlineSnapshot(`
{
  "code": "ENOTSOCK",
  "errno": -88,
  "message": "not a TCP socket: getsockopt(SO_TYPE) on fd N failed: ENOTSOCK (not a socket)",
  "option": "SO_TYPE",
  "syscall": "getsockopt",
}
`);
  expect(error.errno).toBe(-os.constants.errno.ENOTSOCK);
});

test('a closed fd: EBADF', () => {
  const fd = fs.openSync('/dev/null', 'r');
  fs.closeSync(fd);
  expect(errorOf(() => native.apply(fd, Int32Array.of(1, 30, 5, 3, 0)))).toMatchObject({ code: 'EBADF', syscall: 'setsockopt', option: 'TCP_KEEPIDLE' });
  expect(errorOf(() => native.read(fd, new Int32Array(5)))).toMatchObject({ code: 'EBADF', syscall: 'getsockopt', option: 'SO_KEEPALIVE' });
});

test('arguments from a direct caller are checked, never passed on', () => {
  expect(errorOf(() => native.checkTcp('3' as unknown as number))).toMatchInlineSnapshot(`
{
  "code": undefined,
  "errno": undefined,
  "message": "fd must be a number",
  "option": undefined,
  "syscall": undefined,
}
`);
  expect(errorOf(() => native.apply(-5, Int32Array.of(1, 1, 1, 1, 1))).message).toMatchInlineSnapshot(`"fd must be an integer from 0 to 2147483647"`);
  expect(errorOf(() => native.apply(1.5, Int32Array.of(1, 1, 1, 1, 1))).message).toMatchInlineSnapshot(`"fd must be an integer from 0 to 2147483647"`);
  expect(errorOf(() => native.apply(0, Int32Array.of(2, 1, 1, 1, 1))).message).toMatchInlineSnapshot(`"config[0] (enable) must be an integer from -1 to 1"`);
  expect(errorOf(() => native.apply(0, Int32Array.of(1, -2, 1, 1, 1))).message).toMatchInlineSnapshot(`"config[1..4] must be an integer from -1 to 2147483647"`);
  expect(errorOf(() => native.apply(0, [1, 30, 5, 3, 0] as unknown as Int32Array)).message).toMatchInlineSnapshot(`"config must be an Int32Array of at least 5 elements"`);
  expect(errorOf(() => native.apply(0, new Int32Array(4))).message).toMatchInlineSnapshot(`"config must be an Int32Array of at least 5 elements"`);
  expect(errorOf(() => native.read(0, new Float64Array(5) as unknown as Int32Array)).message).toMatchInlineSnapshot(`"out must be an Int32Array of at least 5 elements"`);
  expect(errorOf(() => native.read(0, new Int32Array(4))).message).toMatchInlineSnapshot(`"out must be an Int32Array of at least 5 elements"`);
  expect(() => (native.checkTcp as unknown as () => void)()).toThrow('fd must be a number');
});

test('capabilities and the exports are frozen', () => {
  expect(native.capabilities).toEqual({ idle: true, interval: true, count: true, userTimeout: true, readBack: true });
  expect(Object.isFrozen(native)).toBe(true);
  expect(Object.isFrozen(native.capabilities)).toBe(true);
});
