/**
 * Everything a caller might pass as "the socket", built once and reused for
 * thousands of runs: real TCP sockets in every state, Unix/IPC/FIFO/UDP
 * sockets, streams, and fakes whose `_handle.fd` names the fd of `victim` —
 * a real connection that must never be touched.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { closeAll, connection, ipv6Available, tlsServer, track } from '../../helpers/sockets';
import { selfSignedCertificate } from '../../helpers/tls-cert';

export type TargetKind =
  /** A TCP socket with an fd: valid options must be applied exactly to `tcp`. */
  | 'tcp'
  /** A TCP socket the library may refuse (coded error, state unchanged) or configure exactly. */
  | 'tcp-either'
  /** Not connected yet: valid options are accepted and wait for 'connect'. */
  | 'pending'
  /** Must be refused with a coded error, `code` if given, whatever the options. */
  | 'refused';

export interface Target {
  name: string;
  kind: TargetKind;
  value: unknown;
  /** The real socket whose kernel state a 'tcp' or 'tcp-either' target changes. */
  tcp?: net.Socket;
  /** The code a refused target must give for valid options (its own reason, not an options error). */
  code?: string;
}

export interface Zoo {
  victim: net.Socket;
  targets: Target[];
  dispose(): Promise<void>;
}

function fakeSocket(handle: unknown): net.Socket {
  const fake = Object.create(net.Socket.prototype) as net.Socket & { _handle: unknown };
  fake._handle = handle;
  return fake;
}

async function connectedPair(options: net.NetConnectOpts & { port: number }): Promise<net.Socket> {
  const socket = track(net.connect({ host: '127.0.0.1', ...options }));
  await once(socket, 'connect');
  return socket;
}

/** The native handle inside a dgram socket, which Node keeps behind a symbol. */
function udpHandle(socket: dgram.Socket): unknown {
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as unknown as Record<symbol, { handle?: unknown } | undefined>)[symbol];
    if (state?.handle !== undefined) return state.handle;
  }
  throw new Error('dgram internals changed: no handle found behind a symbol');
}

export async function buildZoo(): Promise<Zoo> {
  const children: ChildProcess[] = [];
  const disposers: Array<() => void> = [];
  const { client, accepted, server, port } = await connection();
  const ipv6 = ipv6Available() ? (await connection('::1')).client : undefined;
  if (ipv6 === undefined) console.warn('socket zoo: no ::1 on this machine, the IPv6 target is SKIPPED');
  const victim = (await connection()).client;
  const victimFd = (victim as unknown as { _handle: { fd: number } })._handle.fd;

  // Never ends its side, so a client that sent its FIN stays open.
  const patientServer = track(net.createServer({ allowHalfOpen: true }, (socket) => track(socket).resume()));
  patientServer.listen(0, '127.0.0.1');
  await once(patientServer, 'listening');
  const ended = await connectedPair({ port: (patientServer.address() as net.AddressInfo).port });
  ended.end();
  const halfClosedServer = net.createServer({ allowHalfOpen: true }, (socket) => {
    track(socket);
    socket.end(); // our client gets a FIN and stays writable
  });
  track(halfClosedServer).listen(0, '127.0.0.1');
  await once(halfClosedServer, 'listening');
  const halfClosed = await connectedPair({ port: (halfClosedServer.address() as net.AddressInfo).port, allowHalfOpen: true });
  halfClosed.resume();
  await once(halfClosed, 'end');

  const destroyed = await connectedPair({ port });
  destroyed.destroy();
  const proxiedSocket = await connectedPair({ port });
  const nonExtensible = await connectedPair({ port });
  Object.preventExtensions(nonExtensible);
  const swapped = await connectedPair({ port });
  const swappedRealHandle = (swapped as unknown as { _handle: unknown })._handle;
  // destroy() must close the real handle, not the fake put in its place.
  disposers.push(() => Object.defineProperty(swapped, '_handle', { value: swappedRealHandle }));

  const { key, cert } = selfSignedCertificate();
  const secure = await tlsServer(key, cert);
  const tlsAccepted = once(secure.server, 'secureConnection');
  const tlsClient = track(tls.connect({ port: secure.port, host: '127.0.0.1', rejectUnauthorized: false }));
  await once(tlsClient, 'secureConnect');
  const [tlsServerSide] = (await tlsAccepted) as [tls.TLSSocket];
  const raw = await connectedPair({ port: secure.port });
  const upgraded = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
  await once(upgraded, 'secureConnect');
  const overJsStream = track(tls.connect({ socket: new Duplex({ read() {}, write: (_c, _e, done) => done() }) }));
  overJsStream.on('error', () => {});

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-zoo-'));
  disposers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const unixServer = track(net.createServer((socket) => track(socket)));
  unixServer.listen(path.join(dir, 'unix.sock'));
  await once(unixServer, 'listening');
  const unixAccepted = once(unixServer, 'connection');
  const unixClient = track(net.connect(path.join(dir, 'unix.sock')));
  await once(unixClient, 'connect');
  const [unixServerSide] = (await unixAccepted) as [net.Socket];

  const fifoPath = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifoPath]);
  const fifo = track(new net.Socket({ fd: fs.openSync(fifoPath, fs.constants.O_RDWR | fs.constants.O_NONBLOCK) }));

  // stdin/stdout pipes of a child are socketpairs; 'ipc' adds Node's IPC channel.
  const child = spawn(process.execPath, ['-e', 'process.on("message", () => {}); process.stdin.resume()'], {
    stdio: ['pipe', 'pipe', 'ignore', 'ipc'],
  });
  children.push(child);

  const udp = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  disposers.push(() => udp.close());

  const targets: Target[] = [
    { name: 'connected client', kind: 'tcp', value: client, tcp: client },
    { name: 'server-accepted socket', kind: 'tcp', value: accepted, tcp: accepted },
    { name: 'client after end() (FIN sent)', kind: 'tcp', value: ended, tcp: ended },
    { name: 'half-closed (FIN received, allowHalfOpen)', kind: 'tcp', value: halfClosed, tcp: halfClosed },
    { name: 'TLS client', kind: 'tcp', value: tlsClient, tcp: tlsClient },
    { name: 'TLS server-accepted socket', kind: 'tcp', value: tlsServerSide, tcp: tlsServerSide },
    ...(ipv6 === undefined ? [] : [{ name: 'IPv6 client', kind: 'tcp' as const, value: ipv6, tcp: ipv6 }]),
    { name: 'TLS upgraded over a net.Socket', kind: 'tcp', value: upgraded, tcp: raw },
    { name: 'transparent Proxy of a connected socket', kind: 'tcp-either', value: new Proxy(proxiedSocket, {}), tcp: proxiedSocket },
    { name: 'new net.Socket() never connected', kind: 'pending', value: track(new net.Socket()) },
    { name: 'object with net.Socket.prototype and no handle', kind: 'pending', value: fakeSocket(undefined) },
    { name: 'destroyed socket', kind: 'refused', value: destroyed, code: 'ERR_SOCKET_CLOSED' },
    { name: 'Unix-domain client', kind: 'refused', value: unixClient, code: 'EAFNOSUPPORT' },
    { name: 'Unix-domain accepted', kind: 'refused', value: unixServerSide, code: 'EAFNOSUPPORT' },
    { name: 'child stdin (socketpair)', kind: 'refused', value: child.stdin, code: 'EAFNOSUPPORT' },
    { name: 'child IPC channel', kind: 'refused', value: child.channel, code: 'ERR_INVALID_ARG_TYPE' },
    { name: 'net.Socket over a FIFO fd', kind: 'refused', value: fifo, code: 'ENOTSOCK' },
    { name: 'dgram socket', kind: 'refused', value: udp, code: 'ERR_INVALID_ARG_TYPE' },
    // A genuine native handle, but UDP: refused by type (EPROTOTYPE) or as a foreign handle.
    { name: 'fake socket, UDP handle of a dgram socket', kind: 'refused', value: fakeSocket(udpHandle(udp)) },
    { name: 'TLS over a JS Duplex (no fd)', kind: 'refused', value: overJsStream, code: 'ERR_INVALID_ARG_VALUE' },
    { name: 'stream.Duplex', kind: 'refused', value: new Duplex({ read() {} }), code: 'ERR_INVALID_ARG_TYPE' },
    { name: 'net.Server', kind: 'refused', value: server, code: 'ERR_INVALID_ARG_TYPE' },
    { name: 'the victim fd as a number', kind: 'refused', value: victimFd, code: 'ERR_INVALID_ARG_TYPE' },
    { name: 'plain { _handle: { fd } }', kind: 'refused', value: { _handle: { fd: victimFd } }, code: 'ERR_INVALID_ARG_TYPE' },
    { name: 'undefined', kind: 'refused', value: undefined, code: 'ERR_INVALID_ARG_TYPE' },
    { name: 'null', kind: 'refused', value: null, code: 'ERR_INVALID_ARG_TYPE' },
    { name: 'fake socket, plain { fd: victim fd } handle', kind: 'refused', value: fakeSocket({ fd: victimFd }) },
    { name: 'fake socket, handle with a native constructor', kind: 'refused', value: fakeSocket({ fd: victimFd, constructor: Array }) },
    {
      name: "fake socket, the victim's real handle",
      kind: 'refused',
      value: fakeSocket((victim as unknown as { _handle: unknown })._handle),
    },
    { name: 'fake socket, handle fd NaN', kind: 'refused', value: fakeSocket({ fd: NaN }) },
    { name: 'fake socket, handle fd 2^31', kind: 'refused', value: fakeSocket({ fd: 2 ** 31 }) },
    { name: 'fake socket, handle fd 1.5', kind: 'refused', value: fakeSocket({ fd: 1.5 }) },
    { name: 'fake socket, handle fd -1', kind: 'refused', value: fakeSocket({ fd: -1 }) },
    { name: 'fake socket, handle fd "3"', kind: 'refused', value: fakeSocket({ fd: String(victimFd) }) },
    {
      name: 'real socket with its handle swapped for { fd: victim fd }',
      kind: 'refused',
      value: Object.defineProperty(swapped, '_handle', { value: { fd: victimFd }, writable: true, configurable: true }),
    },
    {
      name: 'Proxy of a socket whose getPrototypeOf trap throws',
      kind: 'refused',
      value: new Proxy(new net.Socket(), {
        getPrototypeOf: () => {
          throw new Error('hostile getPrototypeOf');
        },
      }),
    },
    { name: 'connected socket made non-extensible', kind: 'tcp-either', value: nonExtensible, tcp: nonExtensible },
  ];
  return {
    victim,
    targets,
    async dispose() {
      for (const child of children) child.kill('SIGKILL');
      for (const dispose of disposers) dispose();
      await closeAll();
    },
  };
}
