/**
 * configureKeepalive / getKeepalive.
 *
 * How a policy belongs to a socket — one mechanism per promise:
 * 1. The policy lives on the socket object, under a registered symbol
 *    (Symbol.for), so every copy of this package in node_modules sees the
 *    same one and the latest configureKeepalive wins whichever copy made it.
 *    A TLS socket and the raw socket it upgraded share one policy: they are
 *    one kernel socket.
 * 2. Sticky: every setKeepAlive in Node ends at the TCP handle's native
 *    setKeepAlive — the socket's method, an APM shim's wrapper of it, a TLS
 *    socket's (its TLSWrap forwards to the TCP handle under it, even for a TLS
 *    socket a client library made over our socket), Node's own deferred call
 *    at connect. That one method is wrapped, on the handle (an own property;
 *    no prototype is touched), and the policy is re-applied after it, because
 *    libuv's keepalive call resets interval to 1 s and count to 10.
 * 3. Every connect of the same object (a pending socket, a reconnect, the
 *    Happy Eyeballs attempt that wins) re-applies the policy: one persistent
 *    'connect' listener, added again if someone removed it.
 * Refusals are decided when you call, and thrown there: nothing is ever
 * thrown into a client's event handler or setKeepAlive call.
 */
import type { Http2Session } from 'node:http2';
import type net from 'node:net';
import type { NativeAddon, NativeFailure } from '../native/addon';
import { addon } from '../native/load';
import { following } from './follow';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { type CodedError, invalidArgValue, nativeError, outOfRange, systemError, unavailableOnPlatform } from './errors';
import {
  COUNT_MAX,
  type KeepaliveOptions,
  type KernelPolicy,
  mergeInto,
  optionsOf,
  ownCopy,
  SECONDS_MAX,
  UNCHANGED,
  validateOptions,
} from './options';
import { currentCapabilities, untouchedKeepalive } from './platform';
import {
  assertNotProxy,
  followingSetKeepAlive,
  isPending,
  nativeSetKeepAlive,
  ownFd,
  parentSocketOf,
  resolveSocket,
  socketClass,
  socketFd,
  tcpHandleOf,
  upgradedFrom,
} from './node-internals';

/**
 * The death watch, registered from above (src/health) so that this floor
 * imports nothing above it. The configure path reads `channel.hasSubscribers`
 * (one field) for each socket it configures for the first time, and calls
 * `watch` only while someone listens.
 */
export interface DeathWatch {
  readonly channel: { readonly hasSubscribers: boolean };
  watch(socket: net.Socket, policyOf: (socket: net.Socket) => Readonly<KeepaliveOptions> | undefined): void;
}

const NO_DEATH_WATCH: DeathWatch = { channel: { hasSubscribers: false }, watch: () => undefined };
let deathWatch = NO_DEATH_WATCH;
let deathChannel: { readonly hasSubscribers: boolean } = NO_DEATH_WATCH.channel;

/** For src/health: installs (or replaces) the death watch; `undefined` removes it. */
export function registerDeathWatch(watch: DeathWatch | undefined): void {
  deathWatch = watch ?? NO_DEATH_WATCH;
  deathChannel = deathWatch.channel;
}

/** What the kernel holds for a socket, as options: `configureKeepalive(b, getKeepalive(a))` gives b a's policy. */
export interface KeepaliveState {
  /** SO_KEEPALIVE. */
  enable: boolean;
  /** ms before the first probe (the kernel keeps whole seconds). */
  idle: number;
  /** ms between unanswered probes. */
  interval: number;
  /** unanswered probes before the connection is dropped. */
  count: number;
  /** TCP_USER_TIMEOUT in ms; 0 = kernel default. */
  userTimeout: number;
}

/**
 * The per-socket record every copy of the package shares (its shape is part
 * of the registered symbol's name: change both together).
 */
interface SocketPolicy {
  /** Everything configureKeepalive was asked for on this socket: the socket's own copy, merged in place (mergeInto). */
  readonly config: KernelPolicy;
  /** The 'connect' listener that re-applies it (the first copy's). */
  readonly onConnect: (this: net.Socket) => void;
}

const POLICY = Symbol.for('tcp-keepalive.policy.v1');

type Configurable = net.Socket & { [POLICY]?: SocketPolicy };

function policyRecord(socket: net.Socket): SocketPolicy | undefined {
  return (socket as Configurable)[POLICY];
}

function attachPolicy(socket: net.Socket, policy: SocketPolicy): void {
  Object.defineProperty(socket, POLICY, { value: policy, writable: true, configurable: true, enumerable: false });
}

const NOT_TCP_BY_KERNEL = new Set(['EOPNOTSUPP', 'ENOTSUP', 'ENOPROTOOPT', 'ENOTSOCK']);

/**
 * A failed syscall as the one coded error. A TCP-level option refused on a
 * non-TCP fd is reported as the TCP check reports it (EAFNOSUPPORT for a
 * Unix-domain socket, ENOTSOCK for a pipe…), so callers branch on one code.
 */
function failure(fd: number, result: NativeFailure, context: string): Error & CodedError {
  const error = nativeError(result, fd, context);
  if (result.option !== 'SO_KEEPALIVE' && NOT_TCP_BY_KERNEL.has(error.code)) {
    const check = addon()!.checkTcp(fd);
    if (check !== undefined) return nativeError(check, fd, 'not a TCP socket');
  }
  return error;
}

function hasTuning(config: KernelPolicy): boolean {
  return (
    config.idleSeconds !== UNCHANGED ||
    config.intervalSeconds !== UNCHANGED ||
    config.count !== UNCHANGED ||
    config.userTimeoutMs !== UNCHANGED
  );
}

/**
 * Writes one config to a connected socket's fd, then makes its handle sticky;
 * throws the coded error. A handle that cannot be made sticky is refused
 * before the kernel is touched: all or nothing.
 */
function writeConfig(socket: net.Socket, fd: number, config: KernelPolicy): void {
  const handle = handleToMakeSticky(socket);
  writeKernel(socket, fd, config);
  if (handle !== undefined) handle.setKeepAlive = stickySetKeepAlive;
}

function writeKernel(socket: net.Socket, fd: number, config: KernelPolicy): void {
  const native = addon();
  if (native === undefined) writeWithNode(socket, config);
  else writeFd(native, fd, config, 'cannot configure keepalive');
}

/** The addon's apply() on one fd; throws the coded error, with `operation` in its message. */
function writeFd(native: NativeAddon, fd: number, config: KernelPolicy, operation: string): void {
  // SO_KEEPALIVE alone is accepted by any socket: only then is the TCP check a syscall of its own.
  if (!hasTuning(config)) {
    const check = native.checkTcp(fd);
    if (check !== undefined) throw nativeError(check, fd, 'not a TCP socket');
  }
  const result = native.apply(fd, config.enable, config.idleSeconds, config.intervalSeconds, config.count, config.userTimeoutMs);
  if (result !== undefined) throw failure(fd, result, operation);
}

/**
 * Without the addon: the TCP handle's own setKeepAlive (libuv's
 * uv_tcp_keepalive_ex on Node 26.4+ and 24.22), called directly so its answer can be
 * checked: Node's socket.setKeepAlive drops it. libuv writes SO_KEEPALIVE,
 * then idle, interval and count together, in seconds, each at least 1 (a 0 is
 * EINVAL after SO_KEEPALIVE is already on, and an idle-only call resets
 * interval and count to 1 s and 10). So every write carries the socket's
 * whole policy: this call's options over the kept ones, and for an option
 * never given the value an unconfigured socket holds (untouchedKeepalive).
 * Every value is checked before the one call, and a refusal is a coded error.
 * On earlier lines (capabilities.interval false), and on Deno, the handle takes the idle time only.
 */
function writeWithNode(socket: net.Socket, config: KernelPolicy): void {
  const kept = policyRecord(socket)?.config;
  const support = currentCapabilities();
  const pick = (field: 'idleSeconds' | 'intervalSeconds' | 'count', name: string, max: number): number => {
    let value = config[field];
    if (value === UNCHANGED && kept !== undefined) value = kept[field];
    if (value !== UNCHANGED) return value; // validated when it was given
    value = untouchedKeepalive()[field];
    if (!(Number.isInteger(value) && value >= 1 && value <= max)) {
      throw outOfRange(
        `the system default for options.${name}`,
        `an integer >= 1 && <= ${max} to be written through Node's setKeepAlive, which sets idle, interval and count together; ` +
          `pass options.${name}`,
        value,
      );
    }
    return value;
  };
  const idle = pick('idleSeconds', 'idle', SECONDS_MAX);
  const full = support.interval && support.count;
  const interval = full ? pick('intervalSeconds', 'interval', SECONDS_MAX) : UNCHANGED;
  const count = full ? pick('count', 'count', COUNT_MAX) : UNCHANGED;
  const handle = tcpHandleOf(socket);
  const native = handle === undefined ? undefined : nativeSetKeepAlive(handle);
  if (typeof native !== 'function') throw notTcpThroughNode();
  const enable = config.enable === 1;
  const args = full ? [enable, idle, interval, count] : [enable, idle];
  // The prototype's native method, not the sticky wrapper: it must not re-apply the policy it is writing.
  const status: unknown = Reflect.apply(native as (...args: unknown[]) => unknown, handle, args);
  if (status !== 0) throw nodeRefused(status, enable, idle, interval, count);
}

/**
 * A socket whose handle has no setKeepAlive is not TCP (a Unix-domain socket or a named pipe): the same
 * EAFNOSUPPORT the addon's TCP check reports, so callers branch on one code and a pending socket that
 * turns out to be a pipe is left alone with a warning, as with the addon.
 */
function notTcpThroughNode(): Error & CodedError {
  const errno = [...getSystemErrorMap()].find(([, [name]]) => name === 'EAFNOSUPPORT')?.[0] ?? 0;
  return systemError(
    'EAFNOSUPPORT',
    errno,
    'setsockopt',
    'not a TCP socket: its handle has no setKeepAlive (a pipe or Unix-domain socket)',
  );
}

/** A non-zero answer from the handle's setKeepAlive, as a system error (libuv's negative errno). */
function nodeRefused(status: unknown, enable: boolean, idle: number, interval: number, count: number): Error & CodedError {
  let code = 'UNKNOWN';
  if (typeof status === 'number' && Number.isInteger(status) && status < 0) {
    try {
      code = getSystemErrorName(status);
    } catch {
      // not an errno this Node knows
    }
  }
  const asked = `keepalive ${enable ? 'on' : 'off'}, idle ${idle} s${interval === UNCHANGED ? '' : `, interval ${interval} s, count ${count}`}`;
  return systemError(
    code,
    typeof status === 'number' ? status : 0,
    'setsockopt',
    `cannot configure keepalive: the TCP handle's setKeepAlive (${asked}) answered ${String(status)} (${code}) instead of 0`,
  );
}

/**
 * Where re-applying fails (inside a 'connect' emit or a client's
 * setKeepAlive), nothing may be thrown. A socket that turned out not to be
 * TCP (a Unix-domain path) keeps going, with a warning; a TCP connection the
 * kernel refused the policy for is destroyed with the error, because a
 * connection promised keepalive must not go on silently without it.
 */
function reportDeferred(socket: net.Socket, error: unknown): void {
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_SOCKET_CLOSED') return;
  if (
    code === 'EAFNOSUPPORT' ||
    code === 'ENOTSOCK' ||
    code === 'EPROTOTYPE' ||
    code === 'EPROTONOSUPPORT' ||
    code === 'ERR_INVALID_ARG_VALUE'
  ) {
    process.emitWarning(`tcp-keepalive: the policy was not applied on connect: ${(error as Error).message}`, {
      code: 'TCP_KEEPALIVE_NOT_APPLIED',
    });
    return;
  }
  try {
    socket.destroy(error as Error);
  } catch {
    // destroy() itself threw (a socket subclass): the warning is all that is left.
    process.emitWarning(`tcp-keepalive: the policy was refused on connect: ${(error as Error).message}`, {
      code: 'TCP_KEEPALIVE_NOT_APPLIED',
    });
  }
}

/** Re-applies the socket's whole policy: after a connect and after a client's setKeepAlive. Never throws. */
function reapply(socket: net.Socket): void {
  const policy = policyRecord(socket);
  if (policy === undefined || socket.destroyed || isPending(socket)) return;
  try {
    const fd = ownFd(socket);
    writeConfig(socket, fd, policy.config);
    const raw = upgradedFrom(socket, fd);
    if (raw !== undefined) attach(raw, policy);
  } catch (error) {
    reportDeferred(socket, error);
  }
}

function reapplyOnConnect(this: net.Socket): void {
  reapply(this);
}

/** Marks the handle wrapper, whichever copy of the package installed it. */
const STICKY = Symbol.for('tcp-keepalive.sticky-setKeepAlive.v1');

/** The parts of a TCP handle the wrapper touches. */
interface TcpHandle {
  setKeepAlive?: unknown;
  [owner: symbol]: unknown;
}

/**
 * The TCP handle's setKeepAlive, as the handle has it (Node's native method,
 * looked up on the prototype at each call), then the policy of the socket
 * that owns the handle. Shared by every handle: installing it is one store.
 * Same arguments, return value (libuv's status) and throws as the native.
 */
const stickySetKeepAlive = followingSetKeepAlive(reapply);
Object.defineProperty(stickySetKeepAlive, STICKY, { value: true });

/** Whether `key` can be assigned on `object` (an own or inherited data property that is writable, or a new one on an extensible object). */
function canAssign(object: object, key: string): boolean {
  for (let holder: object | null = object; holder !== null; holder = Object.getPrototypeOf(holder) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(holder, key);
    if (descriptor !== undefined) {
      const writable = descriptor.writable === true || descriptor.set !== undefined;
      return holder === object || descriptor.set !== undefined ? writable : writable && Object.isExtensible(object);
    }
  }
  return Object.isExtensible(object);
}

/**
 * The TCP handle under `socket` (its own, or the one under its TLSWrap) when
 * its setKeepAlive still has to be wrapped; undefined when it is wrapped
 * already or there is none. Throws ERR_INVALID_ARG_VALUE for a handle that
 * cannot take the wrapper (frozen, sealed, not extensible).
 */
function handleToMakeSticky(socket: net.Socket): TcpHandle | undefined {
  const handle = tcpHandleOf(socket) as TcpHandle | undefined;
  if (handle === undefined) return undefined;
  const current = handle.setKeepAlive as { [STICKY]?: boolean } | undefined;
  if (typeof current !== 'function' || current[STICKY] === true) return undefined;
  if (!canAssign(handle, 'setKeepAlive')) {
    throw invalidArgValue(
      'socket',
      'has a frozen, sealed or not extensible TCP handle (_handle), so its keepalive policy could not be kept across setKeepAlive calls',
      socket,
    );
  }
  return handle;
}

/** Gives `socket` the policy (shared with the sockets over the same kernel socket) and the connect listener. */
function attach(socket: net.Socket, policy: SocketPolicy): void {
  if (policyRecord(socket) !== policy) attachPolicy(socket, policy);
  if (socket.listenerCount('connect', policy.onConnect) === 0) socket.prependListener('connect', policy.onConnect);
}

/**
 * Applies a keepalive policy to a TCP socket (net.Socket, tls.TLSSocket direct
 * or upgraded, or an HTTP/2 session's socket) and returns what was passed. A
 * connected socket is configured now; one still connecting (DNS, Happy
 * Eyeballs, not yet connect()ed) the moment it connects — and again at every
 * later connect of the same object. The policy stays in force when a client
 * later calls socket.setKeepAlive.
 *
 * Throws, before touching the socket: ERR_INVALID_ARG_TYPE (not a socket, a
 * Proxy of a connected socket, a handle it does not own), ERR_INVALID_ARG_VALUE
 * (bad options, a Proxy of a pending socket, TLS over a JavaScript stream, a
 * frozen socket), ERR_OUT_OF_RANGE, ERR_FEATURE_UNAVAILABLE_ON_PLATFORM,
 * ERR_SOCKET_CLOSED, and errno-coded errors from the kernel (EAFNOSUPPORT for
 * a Unix-domain socket, ENOTSOCK for a pipe).
 */
export function configureKeepalive<S extends net.Socket | Http2Session>(input: S, options?: KeepaliveOptions): S {
  const socket = resolveSocket(input);
  applyToSocket(socket, validateOptions(options, currentCapabilities()));
  return input;
}

/**
 * configureKeepalive without the validation, for a policy validated once
 * already (an integration's, a server's, the register entry's): the same
 * checks of the socket, the same throws, nothing per connection about options.
 */
export function applyPolicy<S extends net.Socket | Http2Session>(input: S, policy: KernelPolicy): S {
  applyToSocket(resolveSocket(input), policy);
  return input;
}

function applyToSocket(socket: net.Socket, policy: KernelPolicy): void {
  let config = policy;
  const rawPending = pendingRawSocket(socket);
  const pending = rawPending !== undefined || isPending(socket);
  // Decided now, never at connect time: a pending Proxy would otherwise be accepted and its connection hurt later.
  if (pending) assertNotProxy(socket);
  // Ownership is checked on whatever handle there is, also while connecting.
  const fd = ownFd(socket, pending);
  const known = policyRecord(socket);
  // A socket that inherited a policy (accepted from a configured listener) starts from it: a partial call updates it.
  const inherited = known === undefined ? inheritedConfig(socket) : undefined;
  if (inherited !== undefined) {
    mergeInto(inherited, config);
    config = inherited;
  }
  if (known === undefined && !Object.isExtensible(socket)) {
    throw invalidArgValue(
      'socket',
      'is frozen, sealed or not extensible, so its keepalive policy could not be kept across setKeepAlive calls',
      socket,
    );
  }
  if (!pending) writeConfig(socket, fd, config);
  // Kept only once the kernel accepted: a refused call leaves the policy as it was.
  const record = known ?? { config: config === inherited ? config : ownCopy(config), onConnect: reapplyOnConnect };
  if (known !== undefined) mergeInto(known.config, config);
  attach(socket, record);
  if (known === undefined) {
    // The tcp-keepalive:dead channel costs nothing until someone subscribes (src/health/dead-channel.ts).
    if (deathChannel.hasSubscribers) deathWatch.watch(socket, policyOf);
    // Telemetry (tcp-keepalive/metrics), when started; otherwise one property read.
    if (following.socket !== undefined) following.socket(socket, undefined);
  }
  const raw = rawPending ?? (pending ? undefined : upgradedFrom(socket, fd));
  if (raw !== undefined) attach(raw, record);
}

/** A TLS socket upgraded over a raw socket that is still connecting: the raw socket's 'connect' is the one to wait for. */
function pendingRawSocket(socket: net.Socket): net.Socket | undefined {
  const parent = parentSocketOf(socket);
  if (parent == null) return undefined; // a plain socket: no class lookup on the hot path
  return parent instanceof socketClass() && parent !== socket && isPending(parent) ? parent : undefined;
}

/**
 * Marks a TCP handle's setKeepAlive that stands for a policy the socket
 * inherited without being configured (accepted from a listening socket that
 * holds it: src/integrations/server.ts); its value returns that policy for
 * the socket (a fresh object), or undefined.
 */
export const INHERITED_POLICY = Symbol.for('tcp-keepalive.inherited-policy.v1');

type InheritedLookup = (socket: net.Socket) => KernelPolicy | undefined;

/** The policy `socket` inherited, if its TCP handle says it did. */
function inheritedConfig(socket: net.Socket): KernelPolicy | undefined {
  const handle = tcpHandleOf(socket) as TcpHandle | undefined;
  const setKeepAlive = handle?.setKeepAlive;
  const lookup = typeof setKeepAlive === 'function' ? (setKeepAlive as { [INHERITED_POLICY]?: unknown })[INHERITED_POLICY] : undefined;
  return typeof lookup === 'function' ? (lookup as InheritedLookup)(socket) : undefined;
}

/** The policy configureKeepalive holds for this socket (merged, in ms), or the one it inherited, or undefined. */
export function policyOf(socket: net.Socket): Readonly<KeepaliveOptions> | undefined {
  const config = policyRecord(socket)?.config ?? inheritedConfig(socket);
  return config === undefined ? undefined : Object.freeze(optionsOf(config));
}

/**
 * For a connection that holds a server's policy without being configured itself (inherited from its
 * listener, or written to its fd before Node made the socket): the tcp-keepalive:dead watch, as a
 * configured socket gets it. One field read while nobody subscribes. Never throws.
 */
export function watchServerConnection(socket: net.Socket): void {
  if (deathChannel.hasSubscribers) deathWatch.watch(socket, policyOf);
}

/** Applies a validated config to a raw fd (a listening socket, say); throws the coded error. */
export function applyToFd(fd: number, config: KernelPolicy, operation: string): void {
  const native = addon();
  if (native === undefined) throw unavailableOnPlatform(operation, currentCapabilities().reason);
  writeFd(native, fd, config, operation);
}

function secondsToMs(value: number): number {
  return value < 0 ? value : value * 1000;
}

/**
 * What the kernel holds for this socket right now, read with getsockopt.
 * Throws ENOTCONN for a socket that has not connected yet, ERR_SOCKET_CLOSED
 * for a destroyed one, ERR_FEATURE_UNAVAILABLE_ON_PLATFORM without the addon.
 */
export function getKeepalive(socket: net.Socket | Http2Session): KeepaliveState {
  const native = addon();
  if (native === undefined) throw unavailableOnPlatform('getKeepalive()', currentCapabilities().reason);
  const fd = socketFd(socket, 'getKeepalive');
  const result = native.read(fd);
  if (result !== undefined) throw failure(fd, result, 'cannot read keepalive');
  const readBack = native.keepaliveValues;
  return {
    enable: readBack[0] === 1,
    idle: secondsToMs(readBack[1]!),
    interval: secondsToMs(readBack[2]!),
    count: readBack[3]!,
    userTimeout: readBack[4]!,
  };
}
