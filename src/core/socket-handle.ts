/**
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
 * (Deno's name for Node's owner_symbol) that names this socket.
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
 * own 'socket' symbol; both facts together identify one.
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

/** The socket a genuine handle names as its owner, or undefined. */
export function ownerOfHandle(handle: object): net.Socket | undefined {
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
