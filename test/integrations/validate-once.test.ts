/**
 * Options are validated once, where they enter (the integration function, the
 * register entry), and the validated policy is passed down: connections made
 * or accepted afterwards are configured without validating again.
 */
import { once } from 'node:events';
import net from 'node:net';
import type * as Options from '../../src/core/options';
import { getKeepalive } from '../../src';
import { installKeepalive, keepaliveConnector, keepaliveServer, withKeepalive } from '../../src/integrations';
import { closeAll, track } from '../helpers/sockets';

// Each test starts servers and connections; under emulation (the arm64 suite runs under qemu) that takes seconds.
jest.setTimeout(30_000);

jest.mock('../../src/core/options', () => {
  const actual = jest.requireActual<typeof Options>('../../src/core/options');
  return { ...actual, validateOptions: jest.fn(actual.validateOptions) };
});

const { validateOptions } = jest.requireMock<{ validateOptions: jest.Mock }>('../../src/core/options');

const POLICY = { idle: 9000, interval: 2000, count: 5 } as const;
const CONFIGURED = { enable: true, ...POLICY };
const CONNECTIONS = 3;

let server: net.Server;
let port: number;
beforeAll(async () => {
  server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => server.close());
beforeEach(() => validateOptions.mockClear());
afterEach(closeAll);

async function connected(socket: net.Socket): Promise<net.Socket> {
  track(socket);
  if (socket.connecting) await once(socket, 'connect');
  await new Promise((resolve) => setImmediate(resolve));
  return socket;
}

test('withKeepalive validates once, when it is called, and not per connection', async () => {
  const connect = withKeepalive((options: net.NetConnectOpts) => net.connect(options), POLICY);
  expect(validateOptions).toHaveBeenCalledTimes(1);
  for (let i = 0; i < CONNECTIONS; i += 1) {
    const socket = await connected(connect({ port, host: '127.0.0.1' }));
    expect(getKeepalive(socket)).toMatchObject(CONFIGURED);
  }
  expect(validateOptions).toHaveBeenCalledTimes(1);
});

test('keepaliveConnector validates once, when it is called, and not per connection', async () => {
  const connector = keepaliveConnector<{ port: number }>((options, callback) => {
    const socket = net.connect(options.port, '127.0.0.1');
    socket.once('connect', () => callback(null, socket));
  }, POLICY);
  expect(validateOptions).toHaveBeenCalledTimes(1);
  for (let i = 0; i < CONNECTIONS; i += 1) {
    const socket = await new Promise<net.Socket>((resolve, reject) =>
      connector({ port }, (error, value) => (error ? reject(error) : resolve(value as net.Socket))),
    );
    expect(getKeepalive(await connected(socket))).toMatchObject(CONFIGURED);
  }
  expect(validateOptions).toHaveBeenCalledTimes(1);
});

test('keepaliveServer validates once, when it is called, and not per accepted connection', async () => {
  const configured = track(keepaliveServer(net.createServer(), POLICY));
  expect(validateOptions).toHaveBeenCalledTimes(1);
  configured.listen(0, '127.0.0.1');
  await once(configured, 'listening');
  const accepted: net.Socket[] = [];
  configured.on('connection', (socket: net.Socket) => accepted.push(track(socket)));
  for (let i = 0; i < CONNECTIONS; i += 1) {
    await connected(net.connect((configured.address() as net.AddressInfo).port, '127.0.0.1'));
  }
  while (accepted.length < CONNECTIONS) await new Promise((resolve) => setImmediate(resolve));
  for (const socket of accepted) expect(getKeepalive(socket)).toMatchObject(CONFIGURED);
  expect(validateOptions).toHaveBeenCalledTimes(1);
});

test('installKeepalive validates once, when it is called, and not per connection', async () => {
  const installation = installKeepalive({ ...POLICY, match: { port } });
  try {
    expect(validateOptions).toHaveBeenCalledTimes(1);
    for (let i = 0; i < CONNECTIONS; i += 1) {
      const socket = await connected(net.connect(port, '127.0.0.1'));
      expect(getKeepalive(socket)).toMatchObject(CONFIGURED);
    }
    expect(validateOptions).toHaveBeenCalledTimes(1);
  } finally {
    installation.uninstall();
  }
});

test('the register entry validates the environment once, for clients and servers alike', async () => {
  const registered = Symbol.for('tcp-keepalive.register');
  // Keeps the module from registering from this process's own environment when it is required.
  (globalThis as Record<symbol, unknown>)[registered] = { config: {} };
  try {
    const { registerFromEnvironment } = require('../../src/register') as typeof import('../../src/register');
    validateOptions.mockClear();
    const registration = registerFromEnvironment({ TCP_KEEPALIVE: 'idle=9s,interval=2s,count=5', TCP_KEEPALIVE_SERVER: '1' });
    try {
      expect(validateOptions).toHaveBeenCalledTimes(1);
      const listener = track(net.createServer());
      listener.listen(0, '127.0.0.1');
      await once(listener, 'listening');
      const accepted = once(listener, 'connection');
      const client = await connected(net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1'));
      const [socket] = (await accepted) as [net.Socket];
      track(socket);
      expect(getKeepalive(client)).toMatchObject(CONFIGURED);
      expect(getKeepalive(socket)).toMatchObject(CONFIGURED);
      expect(validateOptions).toHaveBeenCalledTimes(1);
    } finally {
      registration.uninstall();
    }
  } finally {
    delete (globalThis as Record<symbol, unknown>)[registered];
  }
});
