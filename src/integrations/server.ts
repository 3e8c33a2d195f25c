/**
 * Servers: every accepted connection carries the keepalive policy — a server
 * is the side that most often holds zombie connections of vanished clients.
 *
 *   keepaliveServer(http.createServer(app), { idle: 60_000, interval: 10_000, count: 3 }).listen(8080);
 *
 * On Linux the policy is set once, on the LISTENING socket: an accepted
 * socket is a copy of its listener (sock_copy() in net/core/sock.c, then
 * inet_csk_clone_lock()), so it starts with the listener's SO_KEEPALIVE,
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT (measured on
 * Node 20 and 22: test/integration/server-listener.test.ts) and accepting
 * costs no syscall at all. Connections are configured one by one instead:
 * - whose handshake completed before the listener was configured (they sat
 *   in the accept queue as copies of the unconfigured listener): right after
 *   configuring, the accept queue's length is read (TCP_INFO on a listener:
 *   tcpi_unacked = connections ready for accept()), and that many accepted
 *   connections — the queue is FIFO — plus a margin for handshakes completing
 *   during the five setsockopt calls are configured one by one. (Not "until
 *   the next loop iteration": libuv accepts one connection per iteration.)
 * - when the server was created with `keepAlive: true`: Node then calls
 *   setKeepAlive on each accepted handle before 'connection' (libuv writes
 *   idle and forces interval 1 s, count 10), so the policy is re-applied;
 * - where the listener has no fd of its own (a cluster worker in round-robin
 *   mode: the primary accepts), or off Linux (macOS copies interval and count
 *   but not idle, and keepalive on a listener is not a documented contract
 *   on BSDs): always.
 * An inherited socket gets no syscall but the same guarantee as a configured
 * one: a later setKeepAlive on it (your code, a library's) is followed by the
 * policy being re-applied — the first such call hands the socket to
 * configureKeepalive, which keeps it in force from then on — and a partial
 * configureKeepalive on it starts from the server's policy.
 *
 * Nothing is added that the application can see among its server's
 * listeners: the `tracing:net.server.listen` channel says when a server
 * listens (right after listen(2)), and the listening handle's `onconnection`
 * is wrapped, so each accepted connection is met before Node makes its socket
 * and emits 'connection'. Where Node has no listen channel, or without the
 * addon (an accepted connection can then only be configured as a socket), a
 * prepended 'listening' and 'connection' listener do the same.
 */
import net from 'node:net';
import diagnosticsChannel from 'node:diagnostics_channel';
import { following } from '../core/follow';
import { applyToFd, INHERITED_POLICY, watchServerConnection } from '../core/keepalive';
import { type KeepaliveOptions, type KernelPolicy, optionsOf, ownCopy } from '../core/options';
import { invalidArgType } from '../core/errors';
import {
  acceptingServerOf,
  followingSetKeepAlive,
  handleOf,
  type NodeHandle,
  type OnConnection,
  ownerOfHandle,
  publishesListen,
  serverFd,
  serverKeepAliveOption,
  wrapOnConnection,
} from '../core/node-internals';
import { addon } from '../native/load';
import { checkedPolicy, configureQuietly } from './connected';

/** How an accepted socket got the policy. */
export type AcceptedHow = 'inherited' | 'configured';

/** Internal: what a server attachment reports (the register entry's debug log, tests). */
export interface ServerHooks {
  /** The listener of `server` was configured (fd given), or cannot be (fd undefined, reason given): sockets are configured one by one. */
  onListener?(server: net.Server, fd: number | undefined, reason: string | undefined): void;
  onAccepted?(socket: net.Socket, how: AcceptedHow): void;
}

interface ServerState {
  /** Validated once, by whoever attached it (keepaliveServer, the register entry). */
  config: KernelPolicy;
  /** The same policy in milliseconds, for telemetry (tcp-keepalive/metrics) of inherited sockets. */
  policy: Readonly<KeepaliveOptions>;
  hooks: ServerHooks;
  /** The listening handle whose fd holds the policy; accepted sockets of any other handle are configured one by one. */
  configuredHandle: object | undefined;
  /** The listening handle last decided on (configured, or found to have no fd of its own). */
  decidedHandle: object | undefined;
  /** Accepted connections still to configure one by one: those queued before the listener was configured (plus a margin). */
  catchUp: number;
  /** The listener is not TCP (a Unix-domain socket or pipe): nothing to do. */
  notTcp: boolean;
  /**
   * Attached without listeners the application can see (TCP_KEEPALIVE_SERVER=1): accepted
   * connections are met in the listening handle's `onconnection`, before Node makes their socket.
   */
  quiet: boolean;
}

const servers = new WeakMap<net.Server, ServerState>();

/** Errors meaning "not a TCP socket": keepalive does not apply. */
const NOT_TCP = new Set(['EAFNOSUPPORT', 'ENOTSOCK', 'EOPNOTSUPP', 'ENOPROTOOPT', 'EPROTONOSUPPORT', 'EPROTOTYPE']);

/** An accepted connection's handle, before Node makes a socket of it. */
type AcceptedHandle = NodeHandle;

function listeningFd(server: net.Server): number | undefined {
  try {
    return serverFd(server); // undefined for a cluster worker's round-robin handle, which has no fd
  } catch {
    return undefined; // a handle the server does not own: not ours to touch
  }
}

function applyToListener(fd: number, config: KernelPolicy): { code: string; message: string } | undefined {
  try {
    applyToFd(fd, config, 'keepaliveServer (listening socket)');
    return undefined;
  } catch (error) {
    return { code: String((error as { code?: unknown }).code), message: (error as Error).message };
  }
}

/**
 * Connections whose handshake may have completed while the listener's five
 * setsockopt calls ran (the kernel clones a listener without its socket
 * lock), and so be queued just after the length was read.
 */
export const CATCH_UP_MARGIN = 8;

/** The listener's accept queue now (TCP_INFO's tcpi_unacked on a listening socket); its maximum if that cannot be read. */
function queuedConnections(fd: number): number {
  const native = addon();
  const fallback = 4096; // above any default backlog (Node's 511, somaxconn 4096): configure them all
  if (native === undefined || !native.capabilities.tcpInfo) return fallback;
  const index = native.tcpInfoFields.indexOf('unacked');
  if (index < 0 || native.tcpInfo(fd) !== undefined) return fallback;
  const queued = native.tcpInfoValues[index]!;
  return Number.isInteger(queued) && queued >= 0 ? queued : fallback;
}

/** Whether accepted sockets can inherit from the listener here (measured on Linux; not relied on elsewhere). */
const listenerInheritance = process.platform === 'linux';

/** Configures the listening socket of `server` if it can; otherwise leaves the server on the per-socket path. */
function configureListener(server: net.Server, state: ServerState): void {
  const handle = handleOf(server);
  // Once per listening handle: 'listening' follows the listen channel's report of the same listen().
  if (handle != null && handle === state.decidedHandle) return;
  state.decidedHandle = handle ?? undefined;
  state.configuredHandle = undefined;
  state.catchUp = 0;
  if (handle == null) return;
  if (state.quiet) meetConnectionsAt(handle, server, state);
  const fd = listenerInheritance ? listeningFd(server) : undefined;
  if (fd === undefined) {
    state.hooks.onListener?.(
      server,
      undefined,
      listenerInheritance ? 'the listener has no fd in this process (cluster worker)' : `${process.platform}: configured per connection`,
    );
    return;
  }
  const failure = applyToListener(fd, state.config);
  if (failure !== undefined) {
    if (NOT_TCP.has(failure.code)) {
      state.notTcp = true;
      return;
    }
    state.hooks.onListener?.(server, undefined, failure.message);
    return;
  }
  state.notTcp = false;
  state.configuredHandle = handle;
  state.catchUp = queuedConnections(fd) + CATCH_UP_MARGIN;
  state.hooks.onListener?.(server, fd, undefined);
}

/**
 * An inherited socket's TCP handle's setKeepAlive (an own property of the
 * handle, where every setKeepAlive ends — the socket's, a TLS socket's over
 * it — as the core's wrapper is; no prototype is touched): the call runs,
 * then — the first time — the socket is handed to configureKeepalive, whose
 * own handle wrapper replaces this one and keeps the policy from then on. One
 * shared function, finding the policy through the handle's socket and its
 * `server`: no closure per socket, and installing it is one property store.
 */
const inheritedSetKeepAlive = followingSetKeepAlive((socket) => {
  const state = serverStateOf(socket);
  if (state !== undefined) configureQuietly(socket, state.config);
});

/**
 * The server state of the connection a quiet server is accepting right now:
 * Node calls setKeepAlive on the accepted handle (a server's `keepAlive`
 * option) before it sets `socket.server`.
 */
let accepting: ServerState | undefined;

function serverStateOf(socket: net.Socket): ServerState | undefined {
  const server = acceptingServerOf(socket);
  return server == null ? accepting : servers.get(server); // Node sets it just before 'connection'
}

// What configureKeepalive starts from on an inherited socket, so a partial call updates the
// server's policy instead of replacing it (the core finds this through the handle's method).
Object.defineProperty(inheritedSetKeepAlive, INHERITED_POLICY, {
  value: (socket: net.Socket): KernelPolicy | undefined => {
    const state = serverStateOf(socket);
    return state === undefined ? undefined : ownCopy(state.config);
  },
});

function onAccepted(server: net.Server, state: ServerState, socket: net.Socket): void {
  if (state.notTcp) return;
  let inherited = state.configuredHandle !== undefined && state.configuredHandle === handleOf(server) && !serverKeepAliveOption(server);
  if (inherited && state.catchUp > 0) {
    state.catchUp -= 1;
    inherited = false;
  }
  const handle = handleOf(socket);
  if (inherited && handle != null) {
    // A plain assignment: V8's store fast path; defineProperty cost measurably more per accepted
    // connection (docs/performance.md, the servers benchmark).
    handle.setKeepAlive = inheritedSetKeepAlive;
    watchServerConnection(socket);
    if (following.socket !== undefined) following.socket(socket, state.policy);
  } else {
    if (configureQuietly(socket, state.config) !== 'configured') return;
  }
  state.hooks.onAccepted?.(socket, inherited ? 'inherited' : 'configured');
}

/**
 * A quiet server: Node's `onconnection` of the listening handle is wrapped,
 * so each accepted connection is met before Node makes its socket and emits
 * 'connection' — the application's listeners, listenerCount and listeners()
 * are untouched.
 */
function meetConnectionsAt(handle: object, server: net.Server, state: ServerState): void {
  wrapOnConnection(handle, (original) => meetConnections(original, server, state));
}

function meetConnections(original: OnConnection, server: net.Server, state: ServerState): OnConnection {
  return function onconnection(this: unknown, error: unknown, accepted: AcceptedHandle | null | undefined): unknown {
    // eslint-disable-next-line prefer-rest-params -- Node's exact arguments
    const args = arguments;
    if (error || accepted == null || typeof accepted !== 'object' || state.notTcp) return Reflect.apply(original, this, args);
    let how: QuietAccept;
    try {
      how = prepareAccepted(server, state, accepted);
    } catch {
      how = 'failed'; // never into Node's accept: the socket is configured on its own below
    }
    const outer = accepting;
    accepting = state;
    try {
      return Reflect.apply(original, this, args);
    } finally {
      accepting = outer;
      afterAccepted(state, accepted, how);
    }
  };
}

type QuietAccept = AcceptedHow | 'left-alone' | 'failed';

/**
 * Before Node makes the socket: an inherited connection gets the handle's
 * setKeepAlive follower only (one store, as on the 'connection' path); one to
 * configure on its own (queued before the listener was configured, or no
 * listener inheritance) gets the policy written to its fd first. With the
 * server's `keepAlive` option, Node's own setKeepAlive call comes next and
 * the follower hands the socket to configureKeepalive.
 */
function prepareAccepted(server: net.Server, state: ServerState, accepted: AcceptedHandle): QuietAccept {
  const keepAlive = serverKeepAliveOption(server);
  let inherited = state.configuredHandle !== undefined && state.configuredHandle === handleOf(server) && !keepAlive;
  if (inherited && state.catchUp > 0) {
    state.catchUp -= 1;
    inherited = false;
  }
  if (!inherited && !keepAlive) {
    if (typeof accepted.fd !== 'number' || accepted.fd < 0) return 'failed';
    const failure = applyToListener(accepted.fd, state.config);
    if (failure !== undefined) return NOT_TCP.has(failure.code) ? 'left-alone' : 'failed';
  }
  if (typeof accepted.setKeepAlive === 'function') accepted.setKeepAlive = inheritedSetKeepAlive;
  return inherited ? 'inherited' : 'configured';
}

/** After 'connection': a connection whose fd could not be written is configured as a socket (destroyed with the kernel's error if that fails too). */
function afterAccepted(state: ServerState, accepted: AcceptedHandle, how: QuietAccept): void {
  if (how === 'left-alone') return;
  const socket = ownerOfHandle(accepted);
  if (socket === undefined || socket.destroyed) return;
  if (how === 'failed' && configureQuietly(socket, state.config) !== 'configured') return;
  // The dead channel's watch and telemetry (tcp-keepalive/metrics) follow what the kernel gave this connection;
  // configureQuietly already did both for 'failed'.
  if (how !== 'failed') {
    watchServerConnection(socket);
    if (following.socket !== undefined) following.socket(socket, state.policy);
  }
  try {
    state.hooks.onAccepted?.(socket, how === 'inherited' ? 'inherited' : 'configured');
  } catch {
    // The debug log only; nothing may reach Node's accept.
  }
}

const LISTEN_CHANNEL = 'tracing:net.server.listen:asyncEnd';

/**
 * Whether a server can be attached without listeners: the listen channel
 * tells when it listens, and the addon can write an accepted connection's fd
 * before Node makes its socket.
 */
function canAttachQuietly(): boolean {
  return addon() !== undefined && publishesListen();
}

/** A quiet server listening (again: a new listening handle) is configured as it starts; one subscription for all of them. */
function onAnyListen(message: unknown): void {
  const server = (message as { server?: unknown }).server;
  const state = server instanceof net.Server ? servers.get(server) : undefined;
  if (state?.quiet === true) configureListener(server as net.Server, state);
}
let watchingListens = false;
function watchListens(): void {
  if (watchingListens) return;
  watchingListens = true;
  diagnosticsChannel.subscribe(LISTEN_CHANNEL, onAnyListen);
}

/**
 * Attaches (or re-points) the policy to `server`; returns the socket handler for callers that see a connection late.
 * Without listeners the application can see where the running Node allows it (canAttachQuietly); else with a
 * prepended 'listening' and 'connection' listener.
 */
export function attachServerPolicy(
  server: net.Server,
  config: KernelPolicy,
  hooks: ServerHooks,
  quiet = canAttachQuietly(),
): (socket: net.Socket) => void {
  const known = servers.get(server);
  const policy = Object.freeze(optionsOf(config));
  if (known !== undefined) {
    known.policy = policy;
    known.config = config;
    known.hooks = hooks;
    known.decidedHandle = undefined;
    configureListener(server, known);
    return (socket) => onAccepted(server, known, socket);
  }
  const state: ServerState = {
    policy,
    config,
    hooks,
    configuredHandle: undefined,
    decidedHandle: undefined,
    catchUp: 0,
    notTcp: false,
    quiet,
  };
  servers.set(server, state);
  if (quiet) {
    watchListens();
    configureListener(server, state); // a listening handle now (`listening` is only true a little later), or nothing yet
    return (socket) => onAccepted(server, state, socket);
  }
  // 'listening' comes on the tick after listen(2), before any connection can be accepted; a
  // server listening again (after close) has a new handle and is configured again.
  server.prependListener('listening', () => configureListener(server, state));
  server.prependListener('connection', (socket: net.Socket) => onAccepted(server, state, socket));
  if (server.listening) configureListener(server, state);
  return (socket) => onAccepted(server, state, socket);
}

/** Whether `server` has a policy attached (keepaliveServer or the register entry's server mode). */
export function hasServerPolicy(server: net.Server): boolean {
  return servers.has(server);
}

/**
 * Every socket `server` accepts from now on carries the policy (net.Server,
 * and so tls.Server, http.Server, https.Server, http2 servers): set on the
 * listening socket where accepted sockets inherit it (Linux), else per
 * accepted connection before Node emits 'connection' (with the raw TCP
 * socket, before any TLS or HTTP work), so your handlers already see a
 * configured socket. Adds no listener to the server (see above for where
 * Node leaves no other way). Works before or after listen(), for a listener
 * handed in by fd or handle, and in cluster workers. Calling it again
 * replaces the policy. Returns the server.
 */
export function keepaliveServer<S extends net.Server>(server: S, options?: KeepaliveOptions): S {
  if (!(server instanceof net.Server)) throw invalidArgType('server', 'an instance of net.Server (or tls/http/https.Server)', server);
  attachServerPolicy(server, checkedPolicy(options), {});
  return server;
}

/**
 * Internal (the register entry's TCP_KEEPALIVE_SERVER=1): every server of the
 * process, as it starts listening, without a listener the application can
 * see. Node publishes `tracing:net.server.listen` right after listen(2)
 * (present on Node 20, 22, 24 and 26, checked in their source): the listening
 * socket is configured there, and the listening handle's `onconnection` is
 * wrapped so the connections to configure one by one (the catch-up, a
 * server's `keepAlive` option, no listener inheritance) are met before Node
 * makes their socket. Without the addon (an accepted connection can then only
 * be configured as a socket) the policy is attached as keepaliveServer does,
 * with 'listening' and 'connection' listeners. On a Node release without the
 * listen channel, the first connection a server accepts (`net.server.socket`)
 * attaches the policy that way — that connection is configured on its own.
 * Returns the uninstall function.
 */
export function attachToEveryServer(policy: KernelPolicy, hooks: ServerHooks): () => void {
  const onListen = (message: unknown): void => {
    const server = (message as { server?: unknown }).server;
    // A server known already is configured again by onAnyListen (quiet) or its 'listening' listener.
    if (server instanceof net.Server && !hasServerPolicy(server)) attachServerPolicy(server, policy, hooks);
  };
  const onServerSocket = (message: unknown): void => {
    const socket = (message as { socket?: unknown }).socket;
    if (!(socket instanceof net.Socket)) return;
    const server = acceptingServerOf(socket);
    if (!(server instanceof net.Server) || hasServerPolicy(server)) return;
    attachServerPolicy(server, policy, hooks)(socket);
  };
  // One channel or the other: with the listen channel, accepting publishes to no subscriber of ours.
  const [name, handler] = publishesListen() ? [LISTEN_CHANNEL, onListen] : ['net.server.socket', onServerSocket];
  diagnosticsChannel.subscribe(name, handler);
  return () => {
    diagnosticsChannel.unsubscribe(name, handler);
  };
}
