/**
 * Finding the one file descriptor a Node socket owns — and refusing anything
 * that is not a real Node socket, so no other fd is ever touched.
 */
import net from 'node:net';
import { invalidArgType, invalidArgValue, socketClosed } from './errors';

/** The parts of Node's internal handles (TCPWrap, TLSWrap, Pipe, JSStream) we read. */
interface InternalHandle {
  readonly fd?: unknown;
  /** TLSWrap's underlying stream handle. */
  readonly _parent?: InternalHandle | null;
}

/** The parts of net.Socket's internals we read. */
interface InternalSocket extends net.Socket {
  _handle: InternalHandle | null;
  /** tls.TLSSocket: the socket a TLS session was started on (tls.connect({ socket })). */
  _parent?: unknown;
}

export type Located =
  | { readonly kind: 'open'; readonly handle: InternalHandle; readonly fd: number }
  | { readonly kind: 'pending'; readonly connectingSocket: net.Socket };

const nativeConstructors = new WeakSet<object>();

/** Node's handles are C++ objects; a hand-made `{ fd }` is not, and is never trusted. */
function isNodeHandle(handle: InternalHandle): boolean {
  const constructor = (handle as { constructor?: unknown }).constructor;
  if (typeof constructor !== 'function') return false;
  if (nativeConstructors.has(constructor)) return true;
  if (!/\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(constructor))) return false;
  if (constructor.name.startsWith('bound ')) return false;
  nativeConstructors.add(constructor);
  return true;
}

export function assertSocket(socket: unknown, argument = 'socket'): asserts socket is net.Socket {
  if (!(socket instanceof net.Socket)) {
    throw invalidArgType(argument, 'an instance of net.Socket or tls.TLSSocket', socket);
  }
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

  let handle: InternalHandle = top;
  for (let depth = 0; handle._parent != null; depth++) {
    if (depth > 4) throw invalidArgValue('socket', 'has an unexpected chain of stream handles', socket);
    handle = handle._parent;
  }
  if (!isNodeHandle(handle) || !isNodeHandle(top)) {
    throw invalidArgType('socket', 'a socket backed by a Node.js TCP handle', socket);
  }
  const fd = handle.fd;
  if (typeof fd !== 'number') {
    throw invalidArgValue('socket', 'is carried by a JavaScript stream (e.g. TLS over a proxy tunnel), which has no file descriptor; configure the socket underneath it', socket);
  }
  if (fd < 0) {
    const parent = internal._parent;
    if (parent instanceof net.Socket && !parent.destroyed && (parent.connecting || (parent as InternalSocket)._handle == null)) {
      return { kind: 'pending', connectingSocket: parent };
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
