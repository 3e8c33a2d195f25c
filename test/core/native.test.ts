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
  native.slots.set([fd, 1, 30, 5, 3, 0]);
  expect(errorOf(() => native.apply())).toMatchObject({ code: 'EBADF', syscall: 'setsockopt', option: 'TCP_KEEPIDLE' });
  expect(errorOf(() => native.read())).toMatchObject({ code: 'EBADF', syscall: 'getsockopt', option: 'SO_KEEPALIVE' });
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
  const withSlots = (values: number[], call: () => void) => () => { native.slots.set(values); call(); };
  expect(errorOf(withSlots([-5, 1, 1, 1, 1, 1], native.apply)).message).toMatchInlineSnapshot(`"slots[0] (fd) must be an integer from 0 to 2147483647"`);
  expect(errorOf(withSlots([0, 2, 1, 1, 1, 1], native.apply)).message).toMatchInlineSnapshot(`"slots[1] (enable) must be an integer from -1 to 1"`);
  expect(errorOf(withSlots([0, 1, -2, 1, 1, 1], native.apply)).message).toMatchInlineSnapshot(`"slots[2..5] must be an integer from -1 to 2147483647"`);
  expect(errorOf(withSlots([-1, 0, 0, 0, 0, 0], native.read)).message).toMatchInlineSnapshot(`"slots[0] (fd) must be an integer from 0 to 2147483647"`);
  expect(native.slots).toHaveLength(6);
  expect(() => (native.checkTcp as unknown as () => void)()).toThrow('fd must be a number');
});

test('capabilities and the exports are frozen', () => {
  expect(native.capabilities).toEqual({ idle: true, interval: true, count: true, userTimeout: true, readBack: true });
  expect(Object.isFrozen(native)).toBe(true);
  expect(Object.isFrozen(native.capabilities)).toBe(true);
});
