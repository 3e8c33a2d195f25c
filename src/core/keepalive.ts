/**
 * configureKeepalive / getKeepalive: validate, find the fd, apply, and keep
 * the policy in force when a client library later calls socket.setKeepAlive
 * (which on libuv resets interval to 1 s and count to 10).
 */
import type net from 'node:net';
import type os from 'node:os';
import { addon } from '../native/load';
import { invalidArgValue, systemError, unavailableOnPlatform } from './errors';
import { defaultConfig, type KernelConfig, type KeepaliveOptions, UNCHANGED, validateOptionsInto } from './options';
import { capabilities } from './platform';
import { assertSocket, locate, socketClass, underlyingSocket } from './socket-handle';

/** What the kernel holds for a socket, in the units of KeepaliveOptions. */
export interface KeepaliveState {
  /** SO_KEEPALIVE. */
  enabled: boolean;
  /** ms before the first probe (the kernel keeps whole seconds). */
  idle: number;
  /** ms between unanswered probes. */
  interval: number;
  /** unanswered probes before the connection is dropped. */
  count: number;
  /** TCP_USER_TIMEOUT in ms; 0 = kernel default. */
  userTimeout: number;
}

interface SocketPolicy {
  /** Everything configureKeepalive was asked for on this socket, merged. */
  config: KernelConfig;
  /** The socket whose 'connect' we wait for, if any: one listener, however many calls. */
  waitingOn: net.Socket | undefined;
  /**
   * The socket's own handle when locate() last verified it (Node's, owned by
   * this socket, over a checked TCP fd), and the TCP handle under it. While
   * socket._handle is still that object, a repeated call skips the walk; the
   * fd is still read fresh from the TCP handle, so a closed one (fd -1) goes
   * back through locate().
   */
  verifiedHandle: object | undefined;
  tcpHandle: { readonly fd?: unknown } | undefined;
}

const policies = new WeakMap<net.Socket, SocketPolicy>();

/** Handles whose fd passed the TCP check; a live handle keeps its fd, a new handle is checked again. */
const checkedHandles = new WeakSet<object>();

/** The fd of a connected TCP socket, or the socket to wait on while it connects. */
function openTcpFd(socket: net.Socket, policy: SocketPolicy | undefined): number | net.Socket {
  const top = (socket as { _handle?: unknown })._handle;
  if (policy !== undefined && top === policy.verifiedHandle && top != null && !socket.destroyed && !socket.connecting) {
    const fd = policy.tcpHandle!.fd as number;
    if (fd >= 0) return fd;
  }
  const where = locate(socket);
  if (where.kind === 'pending') return where.connectingSocket;
  if (!checkedHandles.has(where.handle)) {
    addon!.checkTcp(where.fd);
    checkedHandles.add(where.handle);
  }
  if (policy !== undefined) {
    policy.verifiedHandle = top as object;
    policy.tcpHandle = where.handle;
  }
  return where.fd;
}

/**
 * Applies one KernelConfig, passed field by field (configureKeepalive keeps
 * its request in locals, see there). Returns the socket to wait on if it is
 * still connecting.
 */
type Applier = (
  socket: net.Socket, policy: SocketPolicy,
  enable: number, idleSeconds: number, intervalSeconds: number, count: number, userTimeoutMs: number,
) => net.Socket | undefined;

const applyWithSetsockopt: Applier = (socket, policy, enable, idleSeconds, intervalSeconds, count, userTimeoutMs) => {
  const fd = openTcpFd(socket, policy);
  if (typeof fd !== 'number') return fd;
  const slots = addon!.slots;
  slots[0] = fd;
  slots[1] = enable;
  slots[2] = idleSeconds;
  slots[3] = intervalSeconds;
  slots[4] = count;
  slots[5] = userTimeoutMs;
  addon!.apply();
  return undefined;
};

/** Windows: Node's own setKeepAlive; capabilities already refused what it cannot do. */
const applyWithNode: Applier = (socket, _policy, enable, idleSeconds, intervalSeconds, count) => {
  const where = locate(socket);
  if (where.kind === 'pending') return where.connectingSocket;
  const idleMs = idleSeconds === UNCHANGED ? 0 : idleSeconds * 1000;
  const extra = intervalSeconds === UNCHANGED && count === UNCHANGED
    ? []
    : [intervalSeconds === UNCHANGED ? 0 : intervalSeconds * 1000, count === UNCHANGED ? 0 : count];
  (socketClass().prototype.setKeepAlive as (...args: unknown[]) => net.Socket).call(socket, enable === 1, idleMs, ...extra);
  return undefined;
};

const applyConfig = addon === undefined ? applyWithNode : applyWithSetsockopt;

/**
 * configureKeepalive's request, validated without allocating an object per
 * call (a pool configures on every checkout); read once into locals.
 */
const requested: KernelConfig = defaultConfig();

/** Re-applies the whole remembered policy; used after connect and after a client's setKeepAlive. */
function reapply(socket: net.Socket, policy: SocketPolicy): void {
  if (socket.destroyed) return;
  try {
    const { config } = policy;
    const connectingSocket = applyConfig(socket, policy, config.enable, config.idleSeconds, config.intervalSeconds, config.count, config.userTimeoutMs);
    if (connectingSocket !== undefined) waitForConnect(socket, policy, connectingSocket);
  } catch (error) {
    // Inside a client's call or our 'connect' listener: throwing would crash the
    // client. The promise was keepalive on this connection; without it, fail loudly.
    if ((error as { code?: unknown }).code === 'ERR_SOCKET_CLOSED') return;
    socket.destroy(error as Error);
  }
}

function waitForConnect(socket: net.Socket, policy: SocketPolicy, connectingSocket: net.Socket): void {
  if (policy.waitingOn !== undefined) return;
  policy.waitingOn = connectingSocket;
  const onConnect = (): void => {
    connectingSocket.removeListener('close', onClose);
    policy.waitingOn = undefined;
    reapply(socket, policy);
  };
  const onClose = (): void => {
    connectingSocket.removeListener('connect', onConnect);
    policy.waitingOn = undefined;
  };
  connectingSocket.once('connect', onConnect);
  connectingSocket.once('close', onClose);
}

/** Makes later socket.setKeepAlive calls (by pg, mysql2, http.Agent, …) leave our policy in force. */
function keepPolicyAcrossSetKeepAlive(socket: net.Socket, policy: SocketPolicy): void {
  for (const target of [socket, underlyingSocket(socket)]) {
    if (target === undefined || Object.prototype.hasOwnProperty.call(target, 'setKeepAlive') || !Object.isExtensible(target)) continue;
    const clientCall = target.setKeepAlive;
    Object.defineProperty(target, 'setKeepAlive', {
      configurable: true,
      writable: true,
      value: function setKeepAlive(this: net.Socket, ...args: unknown[]): net.Socket {
        const result = (clientCall as (...a: unknown[]) => net.Socket).apply(this, args);
        reapply(socket, policy);
        return result;
      },
    });
  }
}

/**
 * Applies a keepalive policy to a TCP socket (net.Socket, or tls.TLSSocket
 * direct or upgraded) and returns it. A connected socket is configured now; a
 * socket still connecting (DNS, Happy Eyeballs, not yet connect()ed) the moment
 * it connects. The policy stays in force when a client later calls
 * socket.setKeepAlive.
 *
 * Throws, before touching the socket: ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE,
 * ERR_OUT_OF_RANGE (bad options), ERR_FEATURE_UNAVAILABLE_ON_PLATFORM (an option
 * this platform cannot honour), ERR_SOCKET_CLOSED (destroyed), and errno-coded
 * errors from the kernel: EAFNOSUPPORT for a Unix-domain socket, ENOTSOCK for a pipe.
 */
export function configureKeepalive<S extends net.Socket>(socket: S, options?: KeepaliveOptions): S {
  assertSocket(socket);
  validateOptionsInto(requested, options, capabilities);
  // Copied out at once: finding the fd may run a socket subclass's getters, which could call us again.
  const { enable, idleSeconds, intervalSeconds, count, userTimeoutMs } = requested;
  const known = policies.get(socket);
  if (known === undefined && !Object.isExtensible(socket)) {
    // The policy is kept by wrapping the instance's setKeepAlive; refuse before touching the kernel.
    throw invalidArgValue('socket', 'is frozen, sealed or not extensible, so its keepalive policy could not be kept across setKeepAlive calls', socket);
  }
  const policy: SocketPolicy = known ?? {
    config: { enable, idleSeconds, intervalSeconds, count, userTimeoutMs },
    waitingOn: undefined,
    verifiedHandle: undefined,
    tcpHandle: undefined,
  };
  const connectingSocket = applyConfig(socket, policy, enable, idleSeconds, intervalSeconds, count, userTimeoutMs);
  if (known === undefined) {
    policies.set(socket, policy);
    keepPolicyAcrossSetKeepAlive(socket, policy);
  } else {
    // Merged only once applied: a call the kernel refused leaves the policy as it was.
    const merged = policy.config;
    merged.enable = enable;
    if (idleSeconds !== UNCHANGED) merged.idleSeconds = idleSeconds;
    if (intervalSeconds !== UNCHANGED) merged.intervalSeconds = intervalSeconds;
    if (count !== UNCHANGED) merged.count = count;
    if (userTimeoutMs !== UNCHANGED) merged.userTimeoutMs = userTimeoutMs;
  }
  if (connectingSocket !== undefined) waitForConnect(socket, policy, connectingSocket);
  return socket;
}

function secondsToMs(value: number): number {
  return value < 0 ? value : value * 1000;
}

/**
 * What the kernel holds for this socket right now, read with getsockopt.
 * Throws ENOTCONN for a socket that has not connected yet, ERR_SOCKET_CLOSED
 * for a destroyed one, ERR_FEATURE_UNAVAILABLE_ON_PLATFORM on Windows.
 */
export function getKeepalive(socket: net.Socket): KeepaliveState {
  assertSocket(socket);
  if (addon === undefined) throw unavailableOnPlatform('getKeepalive() (Node exposes no socket handle)');
  const fd = openTcpFd(socket, policies.get(socket));
  if (typeof fd !== 'number') {
    throw systemError('ENOTCONN', -(require('node:os') as typeof os).constants.errno.ENOTCONN, 'getsockopt',
      "getKeepalive: the socket is not connected yet; read it after its 'connect' event");
  }
  const slots = addon.slots;
  slots[0] = fd;
  addon.read();
  return {
    enabled: slots[1] === 1,
    idle: secondsToMs(slots[2]!),
    interval: secondsToMs(slots[3]!),
    count: slots[4]!,
    userTimeout: slots[5]!,
  };
}
