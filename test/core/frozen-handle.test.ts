/**
 * All or nothing: a socket whose TCP handle cannot take the setKeepAlive
 * wrapper (frozen, sealed, not extensible) is refused with a coded error
 * BEFORE the kernel is written — read from outside this process, the kernel
 * still holds what it held. At connect time (the policy given while the
 * socket was connecting) the same refusal is reported as a warning and the
 * connection goes on untouched.
 */
import { once } from 'node:events';
import net from 'node:net';
import { configureKeepalive, getKeepalive } from '../../src';
import { kernelReader, readFromOutside } from '../helpers/independent-kernel';
import { closeAll, connection, listen, track } from '../helpers/sockets';

const POLICY = { idle: 9000, interval: 2000, count: 5, userTimeout: 12000 } as const;

afterEach(closeAll);

type Handle = { fd: number };
const handleOf = (socket: net.Socket): Handle => (socket as unknown as { _handle: Handle })._handle;

/** The kernel's SO_KEEPALIVE and TCP_USER_TIMEOUT for the socket, from outside the process where the reader is available. */
function kernel(socket: net.Socket): { enabled: number; userTimeout: number } {
  const reader = kernelReader();
  if (!('binary' in reader)) {
    const state = getKeepalive(socket);
    return { enabled: state.enable ? 1 : 0, userTimeout: state.userTimeout };
  }
  const { enabled, userTimeout } = readFromOutside(reader.binary, handleOf(socket).fd);
  return { enabled, userTimeout };
}

test.each([
  ['frozen', Object.freeze],
  ['sealed', Object.seal],
  ['not extensible', Object.preventExtensions],
])('a %s handle on a connected socket: a coded error, and the kernel unchanged', async (_what, lock) => {
  const { client } = await connection();
  lock(handleOf(client));
  let thrown: unknown;
  try {
    configureKeepalive(client, POLICY);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  expect((thrown as Error).message).toMatch(/handle/);
  expect(kernel(client)).toEqual({ enabled: 0, userTimeout: 0 });
  expect(client.destroyed).toBe(false);
});

test('a handle made non-extensible while the socket connects: at connect a warning, the kernel unchanged, the connection goes on', async () => {
  const { port } = await listen();
  const client = track(new net.Socket());
  configureKeepalive(client, POLICY); // not connect()ed yet: applied at connect
  // Jest's sandbox does not deliver process 'warning' events to the test: the call itself is watched.
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  let warnings: Array<{ code?: string }>;
  try {
    client.connect(port, '127.0.0.1');
    Object.preventExtensions(handleOf(client)); // not frozen: Node itself writes its own fields of the handle
    await once(client, 'connect');
    warnings = spy.mock.calls.map(([, options]) => options as { code?: string });
  } finally {
    spy.mockRestore();
  }
  expect(warnings.map((options) => options?.code)).toEqual(['TCP_KEEPALIVE_NOT_APPLIED']);
  expect(kernel(client)).toEqual({ enabled: 0, userTimeout: 0 });
  expect(client.destroyed).toBe(false);
});
