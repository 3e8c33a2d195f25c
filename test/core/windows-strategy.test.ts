/**
 * The Windows strategy ("node-setKeepAlive": Node exposes no fd there) run on
 * this Linux machine: the package is loaded as if process.platform were
 * 'win32', so it never loads the addon and goes through Node's own
 * socket.setKeepAlive. The kernel is then read with the real addon, which the
 * strategy under test never touches.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { addon } from '../../src/native/load';
import { planKeepalive } from '../../src/planner';
import { closeAll, connection, track } from '../helpers/sockets';

type Package = typeof import('../../src');

function loadAsWindows(): Package {
  const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
  try {
    let loaded: Package | undefined;
    jest.isolateModules(() => {
      loaded = require('../../src') as Package;
    });
    return loaded!;
  } finally {
    Object.defineProperty(process, 'platform', platform);
  }
}

function kernel(socket: net.Socket): { enable: boolean; idle: number; interval: number; count: number } {
  expect(addon()!.read((socket as unknown as { _handle: { fd: number } })._handle.fd)).toBeUndefined();
  const out = addon()!.keepaliveValues;
  return { enable: out[0] === 1, idle: out[1]! * 1000, interval: out[2]! * 1000, count: out[3]! };
}

const windows = loadAsWindows();
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
// Node 26.4 added them; backported to 24.22 (the socket method's two new parameters show it).
const nodeHasIntervalAndCount =
  major > 26 || (major === 26 && minor >= 4) || (major >= 24 && net.Socket.prototype.setKeepAlive.length >= 4);

afterEach(closeAll);

test('capabilities: idle always; interval and count only where Node has them (26.4+); never userTimeout or read-back', () => {
  expect(windows.capabilities).toEqual({
    runtime: 'node',
    strategy: 'node-setKeepAlive',
    idle: true,
    interval: nodeHasIntervalAndCount,
    count: nodeHasIntervalAndCount,
    userTimeout: false,
    readBack: false,
    tcpInfo: false,
    systemDefaults: false,
    reason: 'Node.js exposes no socket file descriptor on Windows',
  });
});

test('idle goes through Node and reaches the kernel', async () => {
  const { client } = await connection();
  windows.configureKeepalive(client, { idle: 12_000 });
  expect(kernel(client)).toMatchObject({ enable: true, idle: 12_000 });
});

(nodeHasIntervalAndCount ? test : test.skip)(`interval and count through Node's setKeepAlive (Node ${process.version})`, async () => {
  const { client } = await connection();
  windows.configureKeepalive(client, { idle: 12_000, interval: 3000, count: 4 });
  expect(kernel(client)).toEqual({ enable: true, idle: 12_000, interval: 3000, count: 4 });
  client.setKeepAlive(true, 60_000); // a client library's later call: the policy is re-applied
  expect(kernel(client)).toEqual({ enable: true, idle: 12_000, interval: 3000, count: 4 });
});

test('what Node cannot do is refused before the socket is touched', async () => {
  const { client } = await connection();
  const before = kernel(client);
  expect(() => windows.configureKeepalive(client, { idle: 5000, userTimeout: 1000 })).toThrow(
    expect.objectContaining({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' }),
  );
  if (!nodeHasIntervalAndCount) {
    expect(() => windows.configureKeepalive(client, { idle: 5000, count: 3 })).toThrow(
      expect.objectContaining({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' }),
    );
  }
  expect(() => windows.getKeepalive(client)).toThrow(expect.objectContaining({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' }));
  expect(() => windows.systemDefaults()).toThrow(expect.objectContaining({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' }));
  expect(kernel(client)).toEqual(before);
});

test('userTimeout 0 (no user timeout) is what this platform holds: a plan with stallTolerance Infinity applies', async () => {
  const { client } = await connection();
  const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: Infinity });
  expect(plan.options.userTimeout).toBe(0);
  const { count: _count, interval: _interval, ...idleOnly } = plan.options;
  windows.configureKeepalive(client, nodeHasIntervalAndCount ? plan.options : idleOnly);
  expect(kernel(client)).toMatchObject({ enable: true, idle: plan.options.idle });
});

test('a Unix-domain socket is not TCP: refused with EAFNOSUPPORT when connected, left alone (not destroyed) when it was pending', async () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-keepalive-unix-'));
  const file = path.join(directory, 'server.sock');
  const server = track(net.createServer((peer) => peer.resume()));
  server.listen(file);
  await once(server, 'listening');
  try {
    const pending = track(new net.Socket());
    windows.configureKeepalive(pending, { idle: 5000 });
    pending.connect(file);
    await once(pending, 'connect');
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending.destroyed).toBe(false);
    expect(() => windows.configureKeepalive(pending, { idle: 5000 })).toThrow(expect.objectContaining({ code: 'EAFNOSUPPORT' }));
  } finally {
    await closeAll();
    fs.rmSync(directory, { recursive: true, force: true });
  }
});

test('enable: false turns keepalive off through Node', async () => {
  const { client } = await connection();
  windows.configureKeepalive(client, { idle: 7000 });
  windows.configureKeepalive(client, { enable: false });
  expect(kernel(client).enable).toBe(false);
});

test("a refusal from the handle's setKeepAlive is a coded error, and no policy is kept", async () => {
  const { client } = await connection();
  const proto = Object.getPrototypeOf((client as unknown as { _handle: object })._handle) as { setKeepAlive: unknown };
  const native = proto.setKeepAlive;
  proto.setKeepAlive = (): number => -22; // what libuv answers for a value it cannot write (EINVAL)
  try {
    expect(() => windows.configureKeepalive(client, { idle: 5000 })).toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'setsockopt', message: expect.stringMatching(/idle 5 s/) }),
    );
  } finally {
    proto.setKeepAlive = native;
  }
  // No policy was kept: a client's own call stands, nothing re-applies idle 5 s over it.
  client.setKeepAlive(true, 9000);
  expect(kernel(client)).toMatchObject({ enable: true, idle: 9000 });
});

test("options never given are written as Windows' own defaults (2 h, 1 s, 10): Node sets them together", async () => {
  const { client } = await connection();
  windows.configureKeepalive(client);
  expect(kernel(client)).toEqual({ enable: true, idle: 7_200_000, interval: 1000, count: 10 });
  if (nodeHasIntervalAndCount) {
    windows.configureKeepalive(client, { count: 3 });
    expect(kernel(client)).toEqual({ enable: true, idle: 7_200_000, interval: 1000, count: 3 });
  }
});
