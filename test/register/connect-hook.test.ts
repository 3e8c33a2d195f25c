/**
 * installKeepalive sees every outbound TCP socket on every Node line: where
 * Node publishes `net.client.socket` from Socket#connect (nodejs/node#58349)
 * through the channel alone; elsewhere (Node 20) through one shared wrapper of
 * net.Socket.prototype.connect, which must chain politely with APM agents that
 * wrap the same function before or after it, and come off cleanly.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { getKeepalive } from '../../src';
import { installKeepalive } from '../../src/integrations';
import { publishesSocketConnect } from '../../src/core/node-internals';
import { kernelReader, readFromOutside } from '../helpers/independent-kernel';
import { closeAll, listen, tlsServer, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { expectedRaw } from './support';

const POLICY = { idle: 9000, interval: 2000, count: 5, userTimeout: 12000 } as const;
const CONFIGURED = { enable: true, ...POLICY };
type Connect = (...args: unknown[]) => unknown;
const prototype = net.Socket.prototype as unknown as { connect: Connect };
const nodeConnect = prototype.connect;

/** An APM agent's wrapper, shimmer-style: `__original`, and an unwrap that restores only if still on top. */
function apmWrap(): { calls: number; wrapper: Connect; unwrap(): void } {
  const original = prototype.connect;
  const agent = {
    calls: 0,
    wrapper: undefined as unknown as Connect,
    unwrap(): void {
      if (prototype.connect === agent.wrapper) prototype.connect = original;
    },
  };
  agent.wrapper = function connect(this: net.Socket, ...args: unknown[]): unknown {
    agent.calls += 1;
    return original.apply(this, args);
  };
  (agent.wrapper as unknown as { __original: Connect }).__original = original;
  prototype.connect = agent.wrapper;
  return agent;
}

/** getKeepalive, and the same read from outside this process (the separately compiled reader) where it is available. */
function expectConfigured(socket: net.Socket): void {
  expect(getKeepalive(socket)).toEqual(CONFIGURED);
  const reader = kernelReader();
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  if ('binary' in reader) expect(readFromOutside(reader.binary, fd)).toEqual(expectedRaw(POLICY));
}

async function connectedSocket(port: number): Promise<net.Socket> {
  const socket = track(new net.Socket());
  socket.connect(port, '127.0.0.1'); // pg's way: not net.connect
  await once(socket, 'connect');
  return socket;
}

afterEach(async () => {
  prototype.connect = nodeConnect;
  await closeAll();
});

test('importing the integrations patches nothing; the hook exists only while an installation needs it', () => {
  expect(prototype.connect).toBe(nodeConnect);
  const installation = installKeepalive(POLICY);
  expect(installation.seesTlsConnect).toBe(true);
  const nodePublishes = publishesSocketConnect();
  expect(installation.hooksSocketConnect).toBe(!nodePublishes);
  if (Number(process.versions.node.split('.')[0]) === 20) expect(installation.hooksSocketConnect).toBe(true);
  expect(prototype.connect === nodeConnect).toBe(nodePublishes);
  const second = installKeepalive(POLICY);
  installation.uninstall();
  expect(prototype.connect === nodeConnect).toBe(nodePublishes); // still needed by the second
  second.uninstall();
  expect(prototype.connect).toBe(nodeConnect);
});

test('tls.connect, new Socket().connect and net.connect are all configured, on every Node line', async () => {
  const { key, cert } = selfSignedCertificate();
  const { port: tlsPort } = await tlsServer(key, cert);
  const { port } = await listen();
  const installation = installKeepalive({ ...POLICY, match: { port: [port, tlsPort] } });
  try {
    const direct = track(tls.connect({ port: tlsPort, host: '127.0.0.1', rejectUnauthorized: false }));
    await once(direct, 'secureConnect');
    expect(getKeepalive(direct)).toEqual(CONFIGURED);
    expect(getKeepalive(await connectedSocket(port))).toEqual(CONFIGURED);
    const viaNetConnect = track(net.connect(port, '127.0.0.1'));
    await once(viaNetConnect, 'connect');
    expect(getKeepalive(viaNetConnect)).toEqual(CONFIGURED);
  } finally {
    installation.uninstall();
  }
  // Uninstalled: a new socket is left alone.
  expect(getKeepalive(await connectedSocket(port)).enable).toBe(false);
});

test('a socket whose first connect was refused, reconnected after close (the same object): every connect is configured', async () => {
  const { server, port } = await listen();
  await new Promise<void>((resolve) => server.close(() => resolve())); // nothing listens on the port yet
  const installation = installKeepalive({ ...POLICY, match: { port } });
  try {
    for (const make of [() => net.connect(port, '127.0.0.1'), () => new net.Socket().connect(port, '127.0.0.1')]) {
      const socket = track(make());
      const errors: string[] = [];
      socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? ''));
      await new Promise((resolve) => socket.once('close', resolve)); // events.once would reject on the 'error'
      for (let retry = 0; retry < 12; retry++) {
        // A service retrying while its database starts: refused again and again, nothing left behind.
        socket.connect(port, '127.0.0.1');
        await new Promise((resolve) => socket.once('close', resolve));
      }
      expect(errors).toEqual(Array(13).fill('ECONNREFUSED'));
      expect(['lookup', 'connect', 'close'].map((event) => socket.listenerCount(event))).toEqual([0, 0, 0]);
      const again = track(net.createServer()); // the server comes up
      again.listen(port, '127.0.0.1');
      await once(again, 'listening');
      const accepted = once(again, 'connection');
      socket.connect(port, '127.0.0.1'); // Node's idiom: reconnect the closed socket
      await once(socket, 'connect');
      expectConfigured(socket);
      // The connection drops; the same object connects a third time.
      const [peer] = (await accepted) as [net.Socket];
      peer.destroy();
      await once(socket, 'close');
      socket.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      expectConfigured(socket);
      socket.destroy();
      await new Promise<void>((resolve) => again.close(() => resolve()));
    }
  } finally {
    installation.uninstall();
  }
});

test('the installation counts what it configured and what it could not (a match function that threw)', async () => {
  const { port } = await listen();
  let calls = 0;
  const installation = installKeepalive({
    ...POLICY,
    match: (target) => {
      calls += 1;
      if (target.port === port && calls === 2) throw new Error('a bug in the filter');
      return target.port === port;
    },
  });
  try {
    expect(installation.counts).toEqual({ configured: 0, notApplied: 0 });
    const first = await connectedSocket(port);
    expectConfigured(first);
    const second = await connectedSocket(port);
    expect(getKeepalive(second).enable).toBe(false); // left alone, and counted
    expect(installation.counts).toEqual({ configured: 1, notApplied: 1 });
  } finally {
    installation.uninstall();
  }
});

const describeHook = publishesSocketConnect() ? describe.skip : describe;

describeHook('the Socket#connect hook (Node lines that do not publish from Socket#connect)', () => {
  test('an agent that wrapped connect BEFORE us keeps running, and is what uninstall puts back', async () => {
    const { port } = await listen();
    const agent = apmWrap();
    const installation = installKeepalive(POLICY);
    expect(prototype.connect).not.toBe(agent.wrapper);
    const socket = await connectedSocket(port);
    expect(agent.calls).toBe(1);
    expect(getKeepalive(socket)).toEqual(CONFIGURED);
    installation.uninstall();
    expect(prototype.connect).toBe(agent.wrapper);
    agent.unwrap();
    expect(prototype.connect).toBe(nodeConnect);
  });

  test('an agent that wrapped connect AFTER us survives our uninstall; we stay under it as a pass-through and are reused', async () => {
    const { port } = await listen();
    const first = installKeepalive(POLICY);
    const ours = prototype.connect;
    const agent = apmWrap();
    first.uninstall();
    expect(prototype.connect).toBe(agent.wrapper); // not cut off
    const plain = await connectedSocket(port);
    expect(agent.calls).toBe(1);
    expect(getKeepalive(plain).enable).toBe(false); // pass-through: nothing configured

    const second = installKeepalive(POLICY); // reuses the dormant wrapper under the agent's: no second layer
    expect(prototype.connect).toBe(agent.wrapper);
    expect(getKeepalive(await connectedSocket(port))).toEqual(CONFIGURED);
    expect(agent.calls).toBe(2);

    agent.unwrap(); // the agent goes first: its original was our wrapper
    expect(prototype.connect).toBe(ours);
    expect(getKeepalive(await connectedSocket(port))).toEqual(CONFIGURED);
    second.uninstall();
    expect(prototype.connect).toBe(nodeConnect);
  });

  test('the wrapper returns what connect returns, throws what it throws, and keeps its arity', async () => {
    const installation = installKeepalive(POLICY);
    try {
      expect(prototype.connect.length).toBe(nodeConnect.length);
      const socket = track(new net.Socket());
      expect(() => socket.connect({} as net.SocketConnectOpts)).toThrow(expect.objectContaining({ code: 'ERR_MISSING_ARGS' }));
      const { port } = await listen();
      const other = track(new net.Socket());
      expect(other.connect(port, '127.0.0.1')).toBe(other);
      await once(other, 'connect');
      expect(getKeepalive(other)).toEqual(CONFIGURED);
    } finally {
      installation.uninstall();
    }
  });
});
