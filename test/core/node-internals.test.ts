/**
 * What the library relies on in Node's internals, one test per entry of
 * src/core/node-internals.ts: each fails when a Node release changes the
 * private field, symbol, method or channel the entry reads, so a new Node
 * line is checked here before anything else breaks in the field.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import {
  acceptingServerOf,
  destroyStep,
  followingSetKeepAlive,
  handleOf,
  http2SessionSocket,
  nativeSetKeepAlive,
  type NodeHandle,
  ownerOfHandle,
  ownFd,
  parentHandleOf,
  parentSocketOf,
  publishesListen,
  publishesSocketConnect,
  serverKeepAliveOption,
  socketConnectHook,
  wrapOnConnection,
} from '../../src/core/node-internals';
import { closeAll, connection, listen, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { within } from '../helpers/wait';

afterEach(closeAll);

const ownSymbolsDescribed = (object: object, description: string): symbol[] =>
  Object.getOwnPropertySymbols(object).filter((symbol) => symbol.description === description);

describe("a socket's _handle and Node's owner symbol", () => {
  test('the handle carries its socket under exactly one own symbol described owner_symbol, and ownerOfHandle finds it', async () => {
    const { client } = await connection();
    const handle = handleOf(client);
    expect(handle).toBeTruthy();
    const named = ownSymbolsDescribed(handle!, 'owner_symbol');
    expect(named).toHaveLength(1);
    expect(handle![named[0]!]).toBe(client);
    expect(ownFd(client)).toBeGreaterThanOrEqual(0); // learns the symbol from this genuine handle
    expect(ownerOfHandle(handle!)).toBe(client);
  });

  test("the handle's fd is a native accessor on its prototype that refuses any other receiver", async () => {
    const { client } = await connection();
    const handle = handleOf(client)!;
    expect(Object.prototype.hasOwnProperty.call(handle, 'fd')).toBe(false);
    let getter: (() => unknown) | undefined;
    for (
      let proto = Object.getPrototypeOf(handle) as object | null;
      proto !== null && getter === undefined;
      proto = Object.getPrototypeOf(proto) as object | null
    ) {
      getter = Object.getOwnPropertyDescriptor(proto, 'fd')?.get;
    }
    expect(typeof getter).toBe('function');
    expect(() => getter!.call({})).toThrow('Illegal invocation');
    expect(Number.isInteger(getter!.call(handle))).toBe(true);
  });

  test('a closed socket has no handle', async () => {
    const { client } = await connection();
    client.destroy();
    expect(handleOf(client)).toBeNull();
  });
});

describe('TLS: _parent links and the TLSWrap fd', () => {
  test("an upgraded TLS socket's _parent is the raw socket, its handle's _parent the raw TCP handle, and its fd the raw fd", async () => {
    const { key, cert } = selfSignedCertificate();
    const server = track(tls.createServer({ key, cert }, (socket) => track(socket)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const raw = track(net.connect((server.address() as net.AddressInfo).port, '127.0.0.1'));
    await once(raw, 'connect');
    const secure = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
    await within(5000, 'the TLS handshake', once(secure, 'secureConnect'));
    expect(parentSocketOf(secure)).toBe(raw);
    const secureHandle = handleOf(secure)!;
    expect(parentHandleOf(secureHandle)).toBe(handleOf(raw));
    expect(secureHandle.fd).toBe(handleOf(raw)!.fd);
    expect(ownFd(secure)).toBe(ownFd(raw));
  });
});

describe("the TCP handle's setKeepAlive", () => {
  test("Node's is native, on the handle's prototype, answers 0, and the socket's setKeepAlive ends at the handle's own property", async () => {
    const { client } = await connection();
    const handle = handleOf(client)!;
    const native = nativeSetKeepAlive(handle) as (...args: unknown[]) => unknown;
    expect(typeof native).toBe('function');
    expect(Object.prototype.hasOwnProperty.call(handle, 'setKeepAlive')).toBe(false);
    expect(Function.prototype.toString.call(native)).toContain('[native code]');
    expect(Reflect.apply(native, handle, [true, 30])).toBe(0);

    const owners: net.Socket[] = [];
    (handle as { setKeepAlive?: unknown }).setKeepAlive = followingSetKeepAlive((owner) => owners.push(owner));
    client.setKeepAlive(true, 20_000);
    expect(owners).toEqual([client]);
  });
});

describe("a socket's _destroy", () => {
  test('an own _destroy runs on destroy() while the handle and its fd are still open, then Node closes them', async () => {
    const { client } = await connection();
    const nodeDestroy = destroyStep.of(client);
    expect(typeof nodeDestroy).toBe('function');
    expect(destroyStep.own(client)).toBeUndefined();
    let fdSeen: unknown;
    destroyStep.set(client, function (error, callback) {
      fdSeen = handleOf(this)?.fd;
      nodeDestroy.call(this, error, callback);
    });
    client.destroy();
    await once(client, 'close');
    expect(typeof fdSeen).toBe('number');
    expect(fdSeen as number).toBeGreaterThanOrEqual(0);
    expect(handleOf(client)).toBeNull();
    destroyStep.restore(client, undefined);
    expect(destroyStep.own(client)).toBeUndefined();
  });
});

describe("a listening handle's onconnection", () => {
  test("is an own function Node calls once per accepted connection, before 'connection'; it is wrapped once", async () => {
    const { server, port } = await listen();
    const handle = handleOf(server)!;
    expect(typeof (handle as { onconnection?: unknown }).onconnection).toBe('function');
    const order: string[] = [];
    let wraps = 0;
    const wrap = (original: (this: unknown, error: unknown, accepted: NodeHandle | null | undefined) => unknown) => {
      wraps += 1;
      return function (this: unknown, error: unknown, accepted: NodeHandle | null | undefined): unknown {
        order.push(typeof accepted?.fd === 'number' ? 'onconnection' : 'onconnection without fd');
        // eslint-disable-next-line prefer-rest-params -- Node's exact arguments
        return Reflect.apply(original, this, arguments);
      };
    };
    wrapOnConnection(handle, wrap);
    wrapOnConnection(handle, wrap);
    expect(wraps).toBe(1);
    server.on('connection', (socket: net.Socket) => {
      order.push('connection');
      expect(acceptingServerOf(socket)).toBe(server);
    });
    const client = track(net.connect(port, '127.0.0.1'));
    await once(server, 'connection');
    expect(order).toEqual(['onconnection', 'connection']);
    expect(acceptingServerOf(client) ?? undefined).toBeUndefined();
  });
});

describe("a server's keepAlive option", () => {
  test('is kept on the instance as `keepAlive`', () => {
    expect(serverKeepAliveOption(net.createServer({ keepAlive: true }))).toBe(true);
    expect(serverKeepAliveOption(net.createServer())).toBe(false);
  });
});

describe('HTTP/2 sessions', () => {
  test("the session's public socket is a Proxy and its own 'socket' symbol holds the real socket", async () => {
    const server = http2.createServer();
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (session) => sessions.push(session));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    try {
      await within(5000, 'the HTTP/2 connect', once(client, 'connect'));
      expect(ownSymbolsDescribed(client, 'socket')).toHaveLength(1);
      const socket = http2SessionSocket(client);
      expect(socket).toBeInstanceOf(net.Socket);
      expect(ownFd(socket!)).toBeGreaterThanOrEqual(0);
      expect(socket!.localPort).toBe(client.socket.localPort);
    } finally {
      client.destroy();
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('diagnostics channels, by Node version', () => {
  test('net.client.socket is published for net.connect on every line', async () => {
    const { port } = await listen();
    const seen: unknown[] = [];
    const onSocket = (message: unknown): void => void seen.push((message as { socket?: unknown }).socket);
    diagnosticsChannel.subscribe('net.client.socket', onSocket);
    try {
      const client = track(net.connect(port, '127.0.0.1'));
      expect(seen).toEqual([client]);
    } finally {
      diagnosticsChannel.unsubscribe('net.client.socket', onSocket);
    }
  });

  test(`net.client.socket is published from Socket#connect exactly where the version table says (${process.versions.node})`, async () => {
    const { port } = await listen();
    const seen: unknown[] = [];
    const onSocket = (message: unknown): void => void seen.push((message as { socket?: unknown }).socket);
    diagnosticsChannel.subscribe('net.client.socket', onSocket);
    try {
      const socket = track(new net.Socket());
      socket.connect(port, '127.0.0.1');
      expect(seen.includes(socket)).toBe(publishesSocketConnect());
    } finally {
      diagnosticsChannel.unsubscribe('net.client.socket', onSocket);
    }
  });

  test(`tracing:net.server.listen:asyncEnd is published exactly where the version table says (${process.versions.node})`, async () => {
    const seen: unknown[] = [];
    const onListen = (message: unknown): void => void seen.push((message as { server?: unknown }).server);
    diagnosticsChannel.subscribe('tracing:net.server.listen:asyncEnd', onListen);
    try {
      const { server } = await listen();
      expect(seen.includes(server)).toBe(publishesListen());
    } finally {
      diagnosticsChannel.unsubscribe('tracing:net.server.listen:asyncEnd', onListen);
    }
  });

  test('the Socket#connect hook sees new net.Socket().connect() and leaves the prototype as it found it', async () => {
    const { port } = await listen();
    const before = net.Socket.prototype.connect;
    const seen: net.Socket[] = [];
    const listener = (socket: net.Socket): void => void seen.push(socket);
    socketConnectHook.add(listener);
    try {
      expect(net.Socket.prototype.connect).not.toBe(before);
      const socket = track(new net.Socket());
      socket.connect(port, '127.0.0.1');
      expect(seen).toEqual([socket]);
    } finally {
      socketConnectHook.remove(listener);
    }
    expect(net.Socket.prototype.connect).toBe(before);
  });
});

describe('one room', () => {
  test("no other file in src reads a private field or symbol of Node, or reads Node's function source", () => {
    const src = path.join(__dirname, '..', '..', 'src');
    const reach =
      /\._handle\b|\._parent\b|\._destroy\b|'_destroy'|\.onconnection\b|getOwnPropertySymbols|Function\.prototype\.toString|\.keepAlive\b/;
    const offenders: string[] = [];
    for (const file of fs.readdirSync(src, { recursive: true }) as string[]) {
      if (!file.endsWith('.ts') || file.endsWith('.d.ts') || file === path.join('core', 'node-internals.ts')) continue;
      fs.readFileSync(path.join(src, file), 'utf8')
        .split('\n')
        .forEach((line, index) => {
          const code = line.trimStart();
          if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return;
          if (reach.test(code)) offenders.push(`src/${file}:${index + 1}: ${code}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
