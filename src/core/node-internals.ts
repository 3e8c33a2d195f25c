/**
 * Node's internals, in one room: every private field, symbol and method of
 * Node that the library reads or wraps, and the Node versions that publish
 * the diagnostics channels it depends on. Nothing else in src reads `_handle`,
 * `_parent`, `_destroy`, `onconnection`, a handle's setKeepAlive or Node's
 * private symbols. Each entry says why it is needed and the Node lines it was
 * checked on; test/core/node-internals.test.ts fails when Node changes one.
 * "Checked on" means: Node 20.20, 22.23, 24.22 and 26.12 (the lines CI runs),
 * unless an entry says otherwise.
 *
 * The one file descriptor a Node socket owns — and nothing else.
 *
 * The rule: the fd is read, through Node's own native `fd` accessor, from the
 * handle in the socket's own `_handle`, and that handle must name the socket
 * as its owner (Node marks every handle with its socket under a private-ish
 * `owner_symbol`). TLS needs nothing more: a TLSWrap's native `fd` accessor
 * answers with the fd of the stream under it (the TCP socket for a direct or
 * upgraded connection, -1 over a JavaScript stream), so `_parent` chains,
 * which any code can rewrite, are never followed.
 *
 * Nothing is created to learn Node's internals: the owner symbol is learned
 * from the first handle that proves itself genuine (see learnOwnerSymbol), and
 * every call then checks the handle it is given, fresh — no cache of verified
 * handles can outlive what it verified.
 */
import type net from 'node:net';
import { types } from 'node:util';
import { invalidArgType, invalidArgValue, socketClosed, systemError } from './errors';

/**
 * net.Socket, looked up on first use and then kept. Whoever passes us a socket
 * has loaded node:net already, so importing this package need not. Kept rather
 * than read from node:net's exports on each call: that object is in dictionary
 * mode, which V8 cannot load from inline.
 */
let SocketClass: typeof net.Socket | undefined;
export function socketClass(): typeof net.Socket {
  return (SocketClass ??= (require('node:net') as typeof net).Socket);
}

/** The parts of Node's internal handles (TCPWrap, TLSWrap, Pipe, JSStream) we read. */
interface InternalHandle {
  readonly fd?: unknown;
  /** TLSWrap: the stream handle under it (set in JavaScript, so only ever cross-checked, never followed). */
  readonly _parent?: unknown;
  readonly [owner: symbol]: unknown;
}

interface WithHandle {
  _handle?: InternalHandle | null;
}

let ownerSymbol: symbol | undefined;

/**
 * Learns Node's owner symbol from a handle that proves itself genuine: not a
 * Proxy; its `fd` is not an own property but an accessor on its prototype
 * chain that refuses a plain object (a native accessor checks its receiver)
 * and answers this handle with an integer; and exactly one own symbol
 * described 'owner_symbol' names `owner`. A hand-made `{ fd, [symbol]: owner }`
 * fails, so it cannot poison the check for the rest of the process.
 *
 * Node internals relied on: every handle carries its socket (or server) under
 * Node's private `owner_symbol` (lib/internal/async_hooks.js, not exported),
 * and a handle's `fd` is a native accessor on its prototype that throws
 * ("Illegal invocation") on any other receiver. Needed to refuse a copied or
 * hand-made `_handle`, which could otherwise configure another socket's fd.
 * Checked on 20.20, 22.23, 24.22, 26.12.
 */
function learnOwnerSymbol(handle: InternalHandle, owner: object): boolean {
  if (types.isProxy(handle) || Object.prototype.hasOwnProperty.call(handle, 'fd')) return false;
  let accessor: PropertyDescriptor | undefined;
  for (let proto = Object.getPrototypeOf(handle); proto !== null && accessor === undefined; proto = Object.getPrototypeOf(proto)) {
    accessor = Object.getOwnPropertyDescriptor(proto, 'fd');
  }
  const getter = accessor?.get;
  if (typeof getter !== 'function' || types.isProxy(getter)) return false;
  try {
    getter.call({});
    return false; // a JavaScript getter, not Node's
  } catch {
    // Node's accessor: "Illegal invocation" on anything but a real handle.
  }
  if (!Number.isInteger(getter.call(handle))) return false;
  const named = Object.getOwnPropertySymbols(handle).filter((symbol) => symbol.description === 'owner_symbol');
  if (named.length !== 1 || handle[named[0]!] !== owner) return false;
  ownerSymbol = named[0];
  return true;
}

/** True when `handle` is the object's own Node handle. */
function owns(owner: object, handle: InternalHandle): boolean {
  if (ownerSymbol === undefined && !learnOwnerSymbol(handle, owner)) return false;
  return handle[ownerSymbol!] === owner;
}

/**
 * Deno's node:net: TCP handles with no fd at all (the library then only calls
 * the handle's own setKeepAlive, so no fd can be misdirected). What is checked
 * is what stops a copied handle, the one thing that could configure another
 * socket: not a Proxy, and exactly one own symbol described 'ownerSymbol'
 * (Deno's name for Node's owner_symbol) that names this socket. Checked by
 * the Deno smoke run of .ci/runtimes.sh, not by the Node test suites.
 */
const fdlessHandles = typeof process.versions.deno === 'string';

function ownsFdless(owner: object, handle: InternalHandle): boolean {
  if (types.isProxy(handle)) return false;
  const named = Object.getOwnPropertySymbols(handle).filter((symbol) => symbol.description === 'ownerSymbol');
  return named.length === 1 && handle[named[0]!] === owner;
}

const PROXY_HINT =
  "pass the socket itself, not a Proxy of it (for HTTP/2, pass the session or the socket from its 'connect' or 'connection' event)";

function notOwned(socket: unknown): TypeError {
  return invalidArgType(
    'socket',
    `a socket that owns its Node.js handle (a copied or hand-made _handle is refused; ${PROXY_HINT})`,
    socket,
  );
}

/**
 * HTTP/2 sessions (client and server) hide their socket behind a Proxy that
 * refuses stream calls. The session itself keeps the real socket under its
 * own symbol described 'socket' (kSocket in lib/internal/http2/util.js, not
 * exported); both facts together identify one. Needed so that
 * configureKeepalive(session) reaches the TCP socket. Checked on 20.20, 22.23,
 * 24.22, 26.12.
 */
export function http2SessionSocket(value: unknown): net.Socket | undefined {
  if (value === null || typeof value !== 'object' || types.isProxy(value)) return undefined;
  const symbol = Object.getOwnPropertySymbols(value).find((candidate) => candidate.description === 'socket');
  if (symbol === undefined) return undefined;
  let publicSocket: unknown;
  try {
    publicSocket = (value as { socket?: unknown }).socket;
  } catch {
    publicSocket = undefined; // a destroyed session's proxy throws
  }
  if (publicSocket !== undefined && !types.isProxy(publicSocket)) return undefined;
  const socket = (value as Record<symbol, unknown>)[symbol];
  if (socket === undefined) throw socketClosed('the HTTP/2 session has been destroyed');
  return socket instanceof socketClass() && !types.isProxy(socket) ? socket : undefined;
}

/** A socket, or the socket under an HTTP/2 session; ERR_INVALID_ARG_TYPE for anything else. */
export function resolveSocket(input: unknown): net.Socket {
  let isSocket: boolean;
  try {
    isSocket = input instanceof socketClass();
  } catch {
    isSocket = false; // a Proxy whose getPrototypeOf trap throws
  }
  if (isSocket) return input as net.Socket;
  const sessionSocket = http2SessionSocket(input);
  if (sessionSocket !== undefined) return sessionSocket;
  throw invalidArgType('socket', 'an instance of net.Socket or tls.TLSSocket, or an HTTP/2 session', input);
}

/** A socket that is not connected yet: no handle (DNS, not yet connect()ed) or still connecting. */
export function isPending(socket: net.Socket): boolean {
  return (socket as WithHandle)._handle == null || socket.connecting;
}

/**
 * The fd of the socket's own handle, or -1 when it has none yet (connecting
 * before the connect() syscall). Throws ERR_SOCKET_CLOSED for a destroyed
 * socket, ERR_INVALID_ARG_TYPE for a handle the socket does not own (a Proxy
 * of a socket, a copied or hand-made handle), ERR_INVALID_ARG_VALUE for TLS
 * over a JavaScript stream (unless `pending`: a TLS socket whose raw socket
 * is still connecting has no fd yet either).
 */
export function ownFd(socket: net.Socket, pending = false): number {
  if (socket.destroyed) throw socketClosed('the socket has been destroyed');
  const handle = (socket as WithHandle)._handle;
  if (handle == null) return -1;
  if (fdlessHandles) {
    if (!ownsFdless(socket, handle)) throw notOwned(socket);
    return -1;
  }
  if (!owns(socket, handle)) throw notOwned(socket);
  let fd: unknown;
  try {
    fd = handle.fd;
  } catch {
    throw notOwned(socket); // an object that only borrows a handle's prototype
  }
  if (typeof fd !== 'number') throw notOwned(socket);
  if (fd >= 0 && tampered(socket, handle, fd)) throw notOwned(socket);
  if (fd < 0 && !pending && !socket.connecting) {
    if (process.platform === 'win32') return fd;
    throw invalidArgValue(
      'socket',
      'has no file descriptor: it is carried by a JavaScript stream (e.g. TLS over a proxy tunnel); configure the TCP socket underneath it',
      socket,
    );
  }
  return fd;
}

/**
 * The socket a genuine handle names as its owner, or undefined. Learns the
 * owner symbol from this handle when nothing has yet (a server whose accepted
 * connections are met before any socket was configured in this process: a
 * cluster worker's round-robin handle has no fd to learn it from).
 */
export function ownerOfHandle(handle: object): net.Socket | undefined {
  if (!fdlessHandles && ownerSymbol === undefined && !types.isProxy(handle)) {
    const named = Object.getOwnPropertySymbols(handle).filter((candidate) => candidate.description === 'owner_symbol');
    const candidate = named.length === 1 ? (handle as InternalHandle)[named[0]!] : undefined;
    if (candidate instanceof socketClass()) learnOwnerSymbol(handle as InternalHandle, candidate as object);
  }
  const symbol = fdlessHandles
    ? Object.getOwnPropertySymbols(handle).find((candidate) => candidate.description === 'ownerSymbol')
    : ownerSymbol;
  if (symbol === undefined) return undefined;
  const owner = (handle as InternalHandle)[symbol];
  return owner instanceof socketClass() ? owner : undefined;
}

/**
 * The TCP handle a connected socket's fd belongs to: its own handle, or for
 * TLS the stream handle under its TLSWrap — only once ownFd() has checked that
 * `_parent` answers with the same fd (see tampered()).
 */
export function tcpHandleOf(socket: net.Socket): object | undefined {
  const handle = (socket as WithHandle)._handle;
  if (handle == null) return undefined;
  const parent = handle._parent;
  return parent != null && typeof parent === 'object' ? parent : handle;
}

/** The fd a genuine handle's native accessor gives, or undefined for anything else. */
function handleFd(value: unknown): number | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  try {
    const fd = (value as InternalHandle).fd;
    return typeof fd === 'number' ? fd : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `_parent` links (a TLSWrap's stream handle, a TLS socket's raw socket)
 * are never followed, but they must agree with the fd: one naming another
 * socket's handle or socket means someone planted it, and the call is refused
 * rather than trusting anything else about this object.
 */
function tampered(socket: net.Socket, handle: InternalHandle, fd: number): boolean {
  const parentHandle = handle._parent;
  if (parentHandle != null && handleFd(parentHandle) !== fd) return true;
  const parentSocket = (socket as { _parent?: unknown })._parent;
  if (parentSocket == null || parentSocket === socket) return false;
  const parentFd = handleFd((parentSocket as WithHandle)._handle);
  return parentFd !== undefined && parentFd >= 0 && parentFd !== fd;
}

/** Refuses a Proxy before anything is decided about a socket that has not connected yet. */
export function assertNotProxy(socket: net.Socket): void {
  if (types.isProxy(socket)) throw invalidArgValue('socket', `is a Proxy of a socket that has not connected yet; ${PROXY_HINT}`, socket);
}

/**
 * The fd of a connected socket, for operations that read the kernel
 * (getKeepalive, tcpInfo): ENOTCONN while it is still connecting.
 */
export function socketFd(socket: unknown, operation: string): number {
  const target = resolveSocket(socket);
  const fd = ownFd(target);
  if (fd < 0 || target.connecting) {
    throw systemError(
      'ENOTCONN',
      -(require('node:os') as typeof import('node:os')).constants.errno.ENOTCONN,
      'getsockopt',
      `${operation}: the socket is not connected yet; read it after its 'connect' event`,
    );
  }
  return fd;
}

/** The listening fd of a server that owns its handle; undefined while it is not listening. */
export function serverFd(server: net.Server): number | undefined {
  const handle = (server as unknown as WithHandle)._handle;
  if (handle == null || fdlessHandles) return undefined;
  if (!owns(server, handle)) throw invalidArgType('server', 'a server that owns its Node.js handle', server);
  const fd = handle.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * The raw socket under a TLS upgrade (`tls.connect({ socket })`), which
 * clients may call setKeepAlive on too — only when it really is the same
 * kernel socket: it owns its handle and that handle's fd is the TLS socket's.
 */
export function upgradedFrom(socket: net.Socket, fd: number): net.Socket | undefined {
  const parent = (socket as { _parent?: unknown })._parent;
  if (parent == null || parent === socket || !(parent instanceof socketClass()) || types.isProxy(parent) || fd < 0) return undefined;
  try {
    return ownFd(parent) === fd ? parent : undefined;
  } catch {
    return undefined;
  }
}

/*
 * Plain reads of private fields. Each is one property load that V8 inlines
 * where it is called; they exist so that no other file names the field.
 */

/** What the library reads of any Node handle: the native fd accessor, a TLSWrap's `_parent`, symbols. */
export interface NodeHandle {
  readonly fd?: unknown;
  readonly _parent?: unknown;
  setKeepAlive?: unknown;
  readonly getpeername?: (out: Record<string, unknown>) => number;
  readonly [key: symbol]: unknown;
}

/**
 * `socket._handle` / `server._handle`: the native handle (TCPWrap, TLSWrap,
 * Pipe, JSStream) a socket or server keeps, null once closed. Needed for the
 * fd, the peer of a non-extensible socket, and the handle's setKeepAlive.
 * Checked on 20.20, 22.23, 24.22, 26.12.
 */
export function handleOf(owner: net.Socket | net.Server): NodeHandle | null | undefined {
  return (owner as unknown as { _handle?: NodeHandle | null })._handle;
}

/**
 * `tlsSocket._parent`: the raw socket under a TLS socket made by
 * `tls.connect({ socket })` (the raw socket itself for a TLSSocket wrapped
 * over a connected socket). Needed to find a raw socket still connecting and
 * the raw socket clients also call setKeepAlive on. Checked on 20.20, 22.23,
 * 24.22, 26.12.
 */
export function parentSocketOf(socket: net.Socket): unknown {
  return (socket as unknown as { _parent?: unknown })._parent;
}

/**
 * `handle._parent` of a TLSWrap: the TCP handle under it, the one every
 * setKeepAlive of the TLS socket and of its raw socket ends at. Checked on
 * 20.20, 22.23, 24.22, 26.12.
 */
export function parentHandleOf(handle: NodeHandle): unknown {
  return handle._parent;
}

/**
 * A TCP handle's setKeepAlive as Node defines it, on the handle's prototype
 * (TCPWrap.prototype, native): the library's wrappers are own properties of
 * the handle, so the prototype's is always Node's. Every setKeepAlive in Node
 * ends here (the socket's, a TLS socket's, an agent's). Checked on 20.20,
 * 22.23, 24.22, 26.12.
 */
export function nativeSetKeepAlive(handle: object): unknown {
  return Reflect.get(Object.getPrototypeOf(handle) as object, 'setKeepAlive', handle);
}

/**
 * A handle setKeepAlive wrapper: Node's native method (see nativeSetKeepAlive)
 * with the exact arguments and result, then `after` with the socket that owns
 * the handle. Installed as an own property of the handle (one store, no
 * prototype touched); `after` must not throw.
 */
export function followingSetKeepAlive(after: (owner: net.Socket) => void): (this: object) => unknown {
  return function setKeepAlive(this: object): unknown {
    const native = nativeSetKeepAlive(this) as (...args: unknown[]) => unknown;
    // eslint-disable-next-line prefer-rest-params -- the exact arguments, however many
    const result = Reflect.apply(native, this, arguments);
    const owner = ownerOfHandle(this);
    if (owner !== undefined) after(owner);
    return result;
  };
}

/** Node's destroy step of a stream: called by destroy() before the handle (and the fd) is closed. */
export type Destroy = (this: net.Socket, error: Error | null, callback: (error?: Error | null) => void) => void;

/**
 * `socket._destroy`: Node's last step before it closes the handle — the only
 * place where a destroyed socket's fd can still be read (TCP_INFO at death).
 * The library wraps it as an own property of one socket, never on the
 * prototype. Checked on 20.20, 22.23, 24.22, 26.12.
 */
export const destroyStep = {
  /** The `_destroy` the socket runs now (its own, or Net.Socket.prototype's). */
  of(socket: net.Socket): Destroy {
    return (socket as unknown as { _destroy: Destroy })._destroy;
  },
  /** The socket's own `_destroy` property, if it has one. */
  own(socket: net.Socket): PropertyDescriptor | undefined {
    return Object.getOwnPropertyDescriptor(socket, '_destroy');
  },
  /** Puts `destroy` on the socket as its own `_destroy`. */
  set(socket: net.Socket, destroy: Destroy, enumerable = false): void {
    Object.defineProperty(socket, '_destroy', { configurable: true, writable: true, enumerable, value: destroy });
  },
  /** Puts back what `own()` returned before `set()`. */
  restore(socket: net.Socket, previous: PropertyDescriptor | undefined): void {
    if (previous === undefined) delete (socket as unknown as { _destroy?: unknown })._destroy;
    else Object.defineProperty(socket, '_destroy', previous);
  },
};

/** A listening handle's per-connection callback: Node sets it as an own property at listen. */
export type OnConnection = (this: unknown, error: unknown, accepted: NodeHandle | null | undefined) => unknown;

const MEETS_CONNECTIONS = Symbol('tcp-keepalive.onconnection');

/**
 * Wraps a listening handle's `onconnection` (an own property Node sets on the
 * TCP handle, a Pipe, or a cluster worker's round-robin stand-in, called once
 * per accepted connection before Node makes its socket), once per handle:
 * `wrap` gets Node's function and returns the one to install. Checked on
 * 20.20, 22.23, 24.22, 26.12.
 */
export function wrapOnConnection(handle: object, wrap: (original: OnConnection) => OnConnection): void {
  const target = handle as { onconnection?: unknown };
  const original = target.onconnection;
  if (typeof original !== 'function' || (original as { [MEETS_CONNECTIONS]?: true })[MEETS_CONNECTIONS] === true) return;
  const wrapper = wrap(original as OnConnection);
  Object.defineProperty(wrapper, MEETS_CONNECTIONS, { value: true });
  target.onconnection = wrapper;
}

/*
 * Which diagnostics channels this Node publishes, by version: the first
 * release of each line that has the publish (lib/net.js). Lines before the
 * first listed major have none of them; a later major has all of them.
 */

/** [major, minor] of the running Node. */
function nodeVersion(): readonly [number, number] {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return [major, minor];
}

/**
 * Bun and Deno report the Node version they implement, not what their node:net
 * publishes: there the table does not apply, and the library takes the path
 * that works without the channel (the connect hook; a server found at its
 * first accepted connection). A redundant hook only costs a check per socket.
 */
const otherRuntime = typeof process.versions.bun === 'string' || typeof process.versions.deno === 'string';

function atLeast(firstByMajor: Readonly<Record<number, number>>, laterMajorsFrom: number): boolean {
  if (otherRuntime) return false;
  const [major, minor] = nodeVersion();
  if (major >= laterMajorsFrom) return true;
  const first = firstByMajor[major];
  return first !== undefined && minor >= first;
}

/**
 * Whether Node publishes `net.client.socket` from Socket#connect, so that
 * `new net.Socket().connect()` and tls.connect() are seen (before, only
 * net.connect / net.createConnection published). nodejs/node#58349 ("net:
 * always publish to 'net.client.socket' diagnostics channel"): first in
 * 24.2.0 (commit b0e0b1afae) and 22.17.0 (commit fecd841c93), per Node's
 * CHANGELOG_V24.md and CHANGELOG_V22.md; in every 25+ release; never on 20.x.
 * Checked on 20.20 (not published), 22.23, 24.22, 26.12 (published).
 */
export function publishesSocketConnect(): boolean {
  return atLeast({ 22: 17, 24: 2 }, 25);
}

/**
 * Whether Node publishes the `tracing:net.server.listen` channel (right after
 * listen(2)): nodejs/node#53136 ("net: add new net.server.listen tracing
 * channel"), first in 22.3.0 (commit a0766bdf0e) and, backported, 20.16.0
 * (commit f3ba1eb72f), per Node's CHANGELOG_V22.md and CHANGELOG_V20.md; in
 * every 23+ release. Checked on 20.20, 22.23, 24.22, 26.12 (published).
 */
export function publishesListen(): boolean {
  return atLeast({ 20: 16, 22: 3 }, 23);
}

/**
 * `server.keepAlive`: a server's `keepAlive` option as Node keeps it on the
 * instance; with it, Node calls setKeepAlive on each accepted handle itself.
 * Checked on 20.20, 22.23, 24.22, 26.12.
 */
export function serverKeepAliveOption(server: net.Server): boolean {
  return (server as net.Server & { keepAlive?: unknown }).keepAlive === true;
}

/**
 * `socket.server`: the server that accepted a socket, set by Node just before
 * 'connection' (undefined before, and on client sockets). Checked on 20.20,
 * 22.23, 24.22, 26.12.
 */
export function acceptingServerOf(socket: net.Socket): net.Server | null | undefined {
  return (socket as net.Socket & { server?: net.Server | null }).server;
}

type ConnectListener = (socket: net.Socket) => void;

/**
 * `net.Socket.prototype.connect`, wrapped where Node does not publish
 * `net.client.socket` from it (see publishesSocketConnect): the one way to
 * see `new net.Socket().connect()` and tls.connect() sockets there. Checked
 * on 20.20 (needed) and 22.23, 24.22, 26.12 (not installed there).
 *
 * The one `net.Socket.prototype.connect` wrapper of this copy of the package,
 * shared by every installation (installKeepalive, and so the register entry).
 * Installed with the first listener, taken off with the last when it is still
 * the prototype's `connect`; if something wrapped it after us (an APM agent),
 * it stays as a pass-through (no listeners) rather than cut that wrapper off,
 * and is reused by the next install.
 */
export const socketConnectHook = (() => {
  const listeners = new Set<ConnectListener>();
  let wrapper: ((this: net.Socket, ...args: unknown[]) => unknown) | undefined;
  let wrapped: ((this: net.Socket, ...args: unknown[]) => unknown) | undefined;

  const notify = (socket: net.Socket): void => {
    for (const listener of listeners) {
      try {
        listener(socket);
      } catch {
        // Never into the caller of connect(); the listeners below do not throw by design.
      }
    }
  };

  return {
    /** Node's own Socket#connect if we wrapped it (or what it is now, if we did not). */
    original(): (...args: unknown[]) => unknown {
      return wrapped ?? (socketClass().prototype.connect as unknown as (...args: unknown[]) => unknown);
    },
    add(listener: ConnectListener): void {
      listeners.add(listener);
      const prototype = socketClass().prototype as unknown as { connect: (...args: unknown[]) => unknown };
      if (wrapper !== undefined) return; // installed, or left dormant under someone else's wrapper
      const previous = prototype.connect as (this: net.Socket, ...args: unknown[]) => unknown;
      wrapped = previous;
      wrapper = function connect(this: net.Socket, ...args: unknown[]): unknown {
        // Reported before connecting, where newer Node lines publish net.client.socket.
        if (listeners.size > 0 && this instanceof socketClass()) notify(this);
        return previous.apply(this, args);
      };
      Object.defineProperty(wrapper, 'length', { value: previous.length });
      prototype.connect = wrapper;
    },
    remove(listener: ConnectListener): void {
      listeners.delete(listener);
      if (listeners.size > 0 || wrapper === undefined) return;
      const prototype = socketClass().prototype as unknown as { connect: unknown };
      if (prototype.connect === wrapper) {
        prototype.connect = wrapped;
        wrapper = undefined;
        wrapped = undefined;
      }
    },
    /** Whether our wrapper is in the prototype chain of calls (on top, or under another wrapper). */
    installed(): boolean {
      return wrapper !== undefined;
    },
  };
})();
