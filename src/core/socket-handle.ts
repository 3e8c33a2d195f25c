/**
 * Finding the one file descriptor a Node socket owns — and refusing anything
 * else: a hand-made `{ fd }`, or a real handle borrowed from another socket,
 * must never lead us to touch someone else's fd.
 */
import net from 'node:net';
import { invalidArgType, invalidArgValue, socketClosed } from './errors';

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

/** Node's C++ handle classes a socket can sit on; only TCP has a TCP fd, Pipe gets a clear errno from the addon. */
const HANDLE_CLASSES = new Set(['TCP', 'TLSWrap', 'Pipe', 'JSStream']);
const nativeConstructors = new WeakSet<object>();

function isNodeHandle(handle: unknown): handle is InternalHandle {
  if (typeof handle !== 'object' || handle === null) return false;
  const constructor = (handle as { constructor?: unknown }).constructor;
  if (typeof constructor !== 'function') return false;
  if (nativeConstructors.has(constructor)) return true;
  if (!HANDLE_CLASSES.has(constructor.name)) return false;
  if (!/\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(constructor))) return false;
  nativeConstructors.add(constructor);
  return true;
}

/**
 * Node marks every handle with its owning socket under a private symbol
 * (`owner_symbol`); found once on a real handle, it lets us refuse a handle
 * that belongs to another socket.
 */
let ownerSymbol: symbol | undefined;

function ownerOf(handle: InternalHandle): unknown {
  if (ownerSymbol === undefined) {
    ownerSymbol = Object.getOwnPropertySymbols(handle).find((symbol) => symbol.description === 'owner_symbol');
    if (ownerSymbol === undefined) return undefined;
  }
  return handle[ownerSymbol];
}

export function assertSocket(socket: unknown, argument = 'socket'): asserts socket is net.Socket {
  if (!(socket instanceof net.Socket)) {
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
  if (handle.constructor.name === 'JSStream') {
    throw invalidArgValue('socket', 'is carried by a JavaScript stream (e.g. TLS over a proxy tunnel), which has no file descriptor; configure the socket underneath it', socket);
  }
  const rawSocket = internal._parent;
  if (handle !== top && ownerOf(handle) !== socket && ownerOf(handle) !== rawSocket) throw notOwned(socket);
  const fd = handle.fd as number;
  if (fd < 0) {
    if (rawSocket instanceof net.Socket && !rawSocket.destroyed && (rawSocket.connecting || (rawSocket as InternalSocket)._handle == null)) {
      return { kind: 'pending', connectingSocket: rawSocket };
    }
    if (process.platform !== 'win32') throw socketClosed('the socket has no open file descriptor');
  }
  return { kind: 'open', handle, fd };
}

/** The raw socket under a TLS upgrade, which clients may call setKeepAlive on too. */
export function underlyingSocket(socket: net.Socket): net.Socket | undefined {
  const parent = (socket as InternalSocket)._parent;
  return parent instanceof net.Socket && parent !== socket ? parent : undefined;
}
