/**
 * Finding the one file descriptor a Node socket owns — and refusing anything
 * else: a hand-made `{ fd }`, or a real handle borrowed from another socket,
 * must never lead us to touch someone else's fd.
 */
import type net from 'node:net';
import { types } from 'node:util';
import { invalidArgType, invalidArgValue, socketClosed } from './errors';

/**
 * net.Socket, looked up on first use and then kept. Whoever passes us a socket
 * has loaded node:net already, so importing this package need not (about 2 ms
 * in a fresh process, bench/RESULTS.md section 4). And it is kept rather than
 * read from node:net's exports on each call: that object is in dictionary
 * mode, which V8 cannot load from inline (a LoadIC on every call).
 */
let SocketClass: typeof net.Socket | undefined;
export function socketClass(): typeof net.Socket {
  return (SocketClass ??= (require('node:net') as typeof net).Socket);
}

/** The parts of Node's internal handles (TCPWrap, TLSWrap, Pipe, JSStream) we read. */
interface InternalHandle {
  readonly fd?: unknown;
  /** TLSWrap's underlying stream handle. */
  readonly _parent?: InternalHandle | null;
  readonly [owner: symbol]: unknown;
}

/** The parts of net.Socket's internals we read. */
interface InternalSocket extends net.Socket {
  _handle: InternalHandle | null;
  /** tls.TLSSocket: the raw socket a TLS session runs over (upgrades, server-accepted TLS). */
  _parent?: unknown;
}

export type Located =
  | { readonly kind: 'open'; readonly handle: object; readonly fd: number }
  | { readonly kind: 'pending'; readonly connectingSocket: net.Socket };

/**
 * Node's TCP handle class and the private symbol (`owner_symbol`) under which
 * every handle names its socket, taken from a handle Node itself made: a
 * socket given an IP literal creates its TCP handle synchronously and defers
 * the connect() syscall to the next tick, so destroying it at once costs no
 * syscall. Learning them from user-supplied objects would let a forged first
 * handle poison the check for the whole process.
 */
function inspectRealHandle(): { TcpHandle: abstract new (...args: never[]) => object; ownerSymbol: symbol } {
  const probe = new (socketClass())();
  probe.connect(9, '127.0.0.1');
  const handle = (probe as InternalSocket)._handle as object;
  probe.destroy();
  const ownerSymbol = Object.getOwnPropertySymbols(handle).find((symbol) => (handle as Record<symbol, unknown>)[symbol] === probe);
  if (ownerSymbol === undefined) throw new Error(`tcp-keepalive: Node ${process.version} no longer marks socket handles with their owner`);
  return { TcpHandle: handle.constructor as abstract new (...args: never[]) => object, ownerSymbol };
}

/** Inspected on first use, so importing the package opens no socket handle. */
let realHandle: ReturnType<typeof inspectRealHandle> | undefined;

/** The other C++ handle classes a socket can sit on: TLS, Unix-domain/pipe (refused by the addon's check), JS streams. */
const OTHER_HANDLE_CLASSES = new Set(['TLSWrap', 'Pipe', 'JSStream']);
const nativeConstructors = new WeakSet<object>();

function isNodeHandle(handle: unknown): handle is InternalHandle {
  realHandle ??= inspectRealHandle();
  if (handle instanceof realHandle.TcpHandle) return true;
  if (typeof handle !== 'object' || handle === null) return false;
  const constructor = (handle as { constructor?: unknown }).constructor;
  if (typeof constructor !== 'function') return false;
  if (nativeConstructors.has(constructor)) return true;
  // A Proxy of a function also prints "[native code]"; a real handle class is never a Proxy.
  if (types.isProxy(constructor) || !OTHER_HANDLE_CLASSES.has(constructor.name)) return false;
  if (!/\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(constructor))) return false;
  nativeConstructors.add(constructor);
  return true;
}

/** Only called after isNodeHandle(), which has inspected the real handle. */
function ownerOf(handle: InternalHandle): unknown {
  return handle[realHandle!.ownerSymbol];
}

export function assertSocket(socket: unknown, argument = 'socket'): asserts socket is net.Socket {
  let isSocket: boolean;
  try {
    isSocket = socket instanceof socketClass();
  } catch {
    isSocket = false; // a Proxy whose getPrototypeOf trap throws
  }
  if (!isSocket) {
    throw invalidArgType(argument, 'an instance of net.Socket or tls.TLSSocket', socket);
  }
}

function notOwned(socket: net.Socket): TypeError {
  return invalidArgType('socket', 'a socket that owns its Node.js handle (a copied or hand-made _handle is refused)', socket);
}

/**
 * Where the socket's TCP fd is now: open, or pending on the socket whose
 * 'connect' will give it one (the socket itself, or the raw socket under a
 * TLS upgrade). Throws ERR_SOCKET_CLOSED for a destroyed socket.
 */
export function locate(socket: net.Socket): Located {
  const internal = socket as InternalSocket;
  if (internal.destroyed) throw socketClosed('the socket has been destroyed');
  const top = internal._handle;
  // Before connect() the handle is missing, or (Happy Eyeballs) replaced per attempt.
  if (top == null || internal.connecting) return { kind: 'pending', connectingSocket: socket };
  if (!isNodeHandle(top) || ownerOf(top) !== socket) throw notOwned(socket);

  let handle: InternalHandle = top;
  for (let depth = 0; handle._parent != null; depth++) {
    const parent: unknown = handle._parent;
    if (depth > 4 || !isNodeHandle(parent)) throw notOwned(socket);
    handle = parent;
  }
  // Function#name is a slow accessor; a TCP handle (the hot path) cannot be a JSStream.
  if (!(handle instanceof realHandle!.TcpHandle) && handle.constructor.name === 'JSStream') {
    throw invalidArgValue('socket', 'is carried by a JavaScript stream (e.g. TLS over a proxy tunnel), which has no file descriptor; configure the socket underneath it', socket);
  }
  const rawSocket = internal._parent;
  if (handle !== top && ownerOf(handle) !== socket && ownerOf(handle) !== rawSocket) throw notOwned(socket);
  let fd: number;
  try {
    fd = handle.fd as number; // a native getter: throws on an object that only borrows the prototype
  } catch {
    throw notOwned(socket);
  }
  if (fd < 0) {
    if (rawSocket instanceof socketClass() && !rawSocket.destroyed && (rawSocket.connecting || (rawSocket as InternalSocket)._handle == null)) {
      return { kind: 'pending', connectingSocket: rawSocket };
    }
    if (process.platform !== 'win32') throw socketClosed('the socket has no open file descriptor');
  }
  return { kind: 'open', handle, fd };
}

/** The raw socket under a TLS upgrade, which clients may call setKeepAlive on too. */
export function underlyingSocket(socket: net.Socket): net.Socket | undefined {
  const parent = (socket as InternalSocket)._parent;
  return parent instanceof socketClass() && parent !== socket ? parent : undefined;
}
