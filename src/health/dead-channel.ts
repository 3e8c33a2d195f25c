/**
 * The `tcp-keepalive:dead` diagnostics channel: one message when the kernel
 * ends a configured socket's connection with ETIMEDOUT, saying why (keepalive
 * probes unanswered; TCP_USER_TIMEOUT with data unacknowledged, or with a peer
 * that stopped reading).
 *
 * The evidence is one TCP_INFO read of the dead connection, taken in the
 * socket's _destroy before Node closes the fd. Node's path for a kernel error:
 * libuv read()/write() returns ETIMEDOUT → onStreamRead / afterWrite →
 * socket.destroy(err) → socket._destroy(err, cb), which closes the handle
 * (uv_close closes the fd at once) and only then lets 'error' be emitted on
 * the next tick. So no event listener can see the fd; _destroy is the last
 * place that can. The kernel keeps the dead socket's counters until the fd is
 * closed (deathEvidence below says what each death leaves).
 *
 * A TLS socket upgraded over a watched socket (`tls.connect({ socket })`)
 * receives the ETIMEDOUT itself; Node then destroys the raw socket under it
 * without an error, from the TLS socket's _destroy, with the fd still open.
 * Nothing links the raw socket to the TLS socket, so there the kernel alone
 * decides: a watched socket destroyed without an error is read too, and
 * published only when the kernel has closed it and its counters show one of
 * its timers ran out (deathEvidence, timedOutByKernel).
 *
 * Cost: nothing unless someone subscribes. installDeathWatch() registers the
 * watch with src/core, which calls it for a socket it configures for the first
 * time, and only while the channel has subscribers; a watched socket gets an
 * own `_destroy` property that reads TCP_INFO only when it is destroyed while
 * someone still listens. No prototype is patched, no timer is set, nothing is
 * published at import.
 */
import type diagnosticsChannel from 'node:diagnostics_channel';
import type net from 'node:net';
import { type DeathWatch, registerDeathWatch } from '../core/keepalive';
import type { TimerPolicy } from '../core/kernel-timers';
import type { KeepaliveOptions } from '../core/options';
import { systemError } from '../core/errors';
import { type Destroy, destroyStep, handleOf, parentHandleOf } from '../core/node-internals';
import { addon } from '../native/load';
import type { HealthReason } from './connection-health';
import type { TcpInfo } from './tcp-info';

/**
 * Loaded on the first death, not at import: every entry point that configures sockets loads this module,
 * so it stays small (every module file adds to the import cost: docs/performance.md).
 */
let tcpInfoModule: typeof import('./tcp-info') | undefined;
let timers: typeof import('../core/kernel-timers') | undefined;
let heldPolicy: typeof import('./held-policy') | undefined;

/** The channel's name, for diagnostics_channel.subscribe(). */
export const DEAD_CHANNEL = 'tcp-keepalive:dead';

export type DeathCause = 'keepalive' | 'user-timeout' | 'unknown';

/** Which of the kernel's timers ran out, from the dead connection's counters (names as connectionHealth's reasons). */
export type DeathReason = Extract<HealthReason, 'keepalive-unanswered' | 'data-unacknowledged' | 'peer-not-reading'>;

/** What `tcp-keepalive:dead` publishes. */
export interface DeadConnectionMessage {
  /**
   * The socket, already destroyed; its 'error' event (the ETIMEDOUT) follows on the next tick. For a
   * connection upgraded with `tls.connect({ socket })` after it was configured, the configured (raw)
   * socket: the TLS socket over it (its `_parent` is this socket) emits the error.
   */
  socket: net.Socket;
  /** What configureKeepalive was asked for on this socket (ms), if known. */
  policy: Readonly<KeepaliveOptions> | undefined;
  /**
   * - 'keepalive': keepalive probes went unanswered on an idle connection;
   * - 'user-timeout': TCP_USER_TIMEOUT ended it: written data stayed unacknowledged past it
   *   (reason 'data-unacknowledged'), or the peer advertised a zero window, not reading what we had
   *   to send, for longer than it (reason 'peer-not-reading');
   * - 'unknown': no evidence either way (TCP_INFO unavailable), or the kernel's own limits without a
   *   userTimeout (tcp_retries2).
   */
  cause: DeathCause;
  /**
   * Which timer the kernel's counters show ran out, or undefined without evidence:
   * - 'keepalive-unanswered': keepalive probes went unanswered (the peer went silent);
   * - 'data-unacknowledged': data was retransmitted unanswered (the peer went silent);
   * - 'peer-not-reading': the peer's last word was a zero window: it was alive, and not reading, when it
   *   was last heard from (`lastInfo.lastAckReceived` ms before the end). The kernel cannot tell whether
   *   it was still there at the end: its zero-window probes need not be answered each time.
   */
  reason: DeathReason | undefined;
  /** The dead connection's last TCP_INFO (state 'closed'), or undefined if it could not be read. */
  lastInfo: TcpInfo | undefined;
  /**
   * The error the socket is destroyed with. A socket destroyed without one after the kernel ended its
   * connection (the raw socket under a TLS upgrade; or a socket the application destroyed before it
   * read the error) gets an ETIMEDOUT error that says so.
   */
  error: Error;
}

let channel: diagnosticsChannel.Channel | undefined;

/**
 * Created on first use: node:diagnostics_channel is not loaded at import (it is by node:net, so by the
 * time a socket exists this costs a lookup). The module keeps the channel, so subscribers never lose it.
 */
function deadChannel(): diagnosticsChannel.Channel {
  return (channel ??= (require('node:diagnostics_channel') as typeof diagnosticsChannel).channel(DEAD_CHANNEL));
}

/** Marks a TCP handle whose death was published, whichever copy of the package published it (a TLS socket and the raw socket under it share one). */
const PUBLISHED = Symbol.for('tcp-keepalive.death-published.v1');

/**
 * The socket's handle, and its fd before Node closes it, from the handle's own
 * native accessor (a TLS socket's answers with the TCP fd under it); fd -1 if
 * there is none. Read-only use; the socket was checked by src/core when it
 * was configured.
 */
function closingHandle(socket: net.Socket): { handle: Record<symbol, unknown>; fd: number } | undefined {
  const handle = handleOf(socket);
  if (handle == null) return undefined;
  try {
    const fd = handle.fd;
    if (typeof fd !== 'number' || fd < 0) return undefined;
    // A TLSWrap: the TCP handle under it is the one shared with the raw socket.
    const parent = parentHandleOf(handle);
    const tcp = parent != null && typeof parent === 'object' ? (parent as Record<symbol, unknown>) : (handle as Record<symbol, unknown>);
    return { handle: tcp, fd };
  } catch {
    return undefined;
  }
}

/**
 * A timeout the kernel reported on a connection, as Node builds it from a
 * failed read or write (a negative errno and the syscall): not a connect()
 * that timed out, not a library's own timer error.
 */
function isKernelTimeout(error: Error | null): error is Error {
  if (error === null || typeof error !== 'object') return false;
  const { code, errno, syscall } = error as { code?: unknown; errno?: unknown; syscall?: unknown };
  return code === 'ETIMEDOUT' && typeof errno === 'number' && (syscall === 'read' || syscall === 'write' || syscall === 'shutdown');
}

/**
 * What a closed connection's counters say ended it. Measured in the fault lab
 * (docs/health.md): a keepalive death leaves `probes` (unanswered) and nothing
 * waiting to be sent; a retransmission death leaves `retransmits`; a
 * zero-window death leaves `sendWindow` 0 with bytes not sent (the kernel's
 * notsent count survives the purge of the write queue), nothing in flight and
 * no retransmission timeouts. Before Linux 5.4 (no sendWindow), zero-window
 * probes are told from keepalive probes by the data waiting behind them.
 */
export function deathEvidence(info: TcpInfo): DeathReason | undefined {
  if (info.retransmits! > 0) return 'data-unacknowledged';
  const waiting = info.notSentBytes! > 0;
  if (waiting && info.unacked === 0 && (info.sendWindow === undefined ? info.probes! > 0 : info.sendWindow === 0))
    return 'peer-not-reading';
  if (info.probes! > 0 && !waiting) return 'keepalive-unanswered';
  return undefined;
}

export function causeOf(reason: DeathReason | undefined, userTimeout: number | undefined): DeathCause {
  if (reason === 'keepalive-unanswered') return 'keepalive';
  if (reason === undefined) return 'unknown';
  // Only TCP_USER_TIMEOUT ends a stall whose probes are answered; without it, data in flight ends at tcp_retries2.
  return userTimeout !== undefined && userTimeout > 0 ? 'user-timeout' : 'unknown';
}

/**
 * For a socket destroyed without an error: did a kernel timer end its
 * connection? The counters must say which one, and the silence they show must
 * have reached what the kernel timer model gives for the policy the kernel
 * holds (less 10 %: the kernel's clock starts a little before ours can see),
 * so that a reset right after a probe or a retransmission is not taken for one.
 */
function timedOutByKernel(info: TcpInfo, reason: DeathReason | undefined, held: TimerPolicy | undefined): boolean {
  if (reason === undefined || held === undefined) return false;
  const { deadWithDataInFlightDetection, idleDeadPeerDetection, survivableStall } = (timers ??=
    require('../core/kernel-timers') as typeof import('../core/kernel-timers'));
  const slack = 0.9;
  if (reason === 'keepalive-unanswered') {
    const silence = Math.min(info.lastDataReceived ?? 0, info.lastAckReceived ?? 0);
    return silence >= idleDeadPeerDetection(held) * slack && (held.userTimeout > 0 || info.probes! >= held.count);
  }
  if (reason === 'data-unacknowledged') return (info.lastAckReceived ?? 0) >= deadWithDataInFlightDetection(held) * slack;
  return (info.lastDataSent ?? 0) >= survivableStall(held) * slack;
}

function timedOutError(): Error {
  const errno = -((require('node:os') as typeof import('node:os')).constants.errno.ETIMEDOUT ?? 110);
  return systemError(
    'ETIMEDOUT',
    errno,
    'read',
    'the kernel had ended this connection (ETIMEDOUT) when the socket was destroyed without an error: a TLS socket upgraded over it received the error, or the application destroyed it before reading it',
  );
}

function readInfo(fd: number): TcpInfo | undefined {
  try {
    if (addon() === undefined) return undefined;
    return (tcpInfoModule ??= require('./tcp-info') as typeof import('./tcp-info')).readTcpInfo(fd, 'tcp-keepalive:dead');
  } catch {
    return undefined;
  }
}

function reportDeath(
  socket: net.Socket,
  error: Error | null,
  policyOf: (socket: net.Socket) => Readonly<KeepaliveOptions> | undefined,
): void {
  const closing = closingHandle(socket);
  if (closing === undefined || closing.handle[PUBLISHED] === true) return;
  const lastInfo = readInfo(closing.fd);
  // Only what the kernel ended: a connection still established or in close-wait (the peer's FIN, unread) was ended
  // by someone's own ETIMEDOUT, not by the kernel, which moves a connection it aborts to closed.
  if (lastInfo !== undefined && lastInfo.state !== 'closed') return;
  if (lastInfo === undefined && error === null) return;
  const reason = lastInfo === undefined ? undefined : deathEvidence(lastInfo);
  const held = (heldPolicy ??= require('./held-policy') as typeof import('./held-policy')).heldTimerPolicy(closing.fd);
  if (error === null && !timedOutByKernel(lastInfo!, reason, held)) return;
  const policy = policyOf(socket);
  const userTimeout = held?.userTimeout ?? policy?.userTimeout;
  closing.handle[PUBLISHED] = true;
  const message: DeadConnectionMessage = {
    socket,
    policy,
    cause: causeOf(reason, userTimeout),
    reason,
    lastInfo,
    error: error ?? timedOutError(),
  };
  // diagnostics_channel reports a subscriber's exception itself (uncaught, on the next tick).
  deadChannel().publish(message);
}

/** Is anyone subscribed to `tcp-keepalive:dead` right now? (For watchers other than src/core's, such as telemetry's.) */
export function deathSubscribed(): boolean {
  return deadChannel().hasSubscribers;
}

/**
 * Watches a socket src/core has just configured for the first time: gives it
 * an own `_destroy` that reads the kernel's evidence before Node's closes the
 * fd. Never throws.
 */
export function watchForDeath(socket: net.Socket, policyOf: (socket: net.Socket) => Readonly<KeepaliveOptions> | undefined): void {
  try {
    if (destroyStep.own(socket) !== undefined || !Object.isExtensible(socket)) return;
    const nodeDestroy: Destroy = destroyStep.of(socket);
    if (typeof nodeDestroy !== 'function') return;
    destroyStep.set(socket, function _destroy(this: net.Socket, error: Error | null, callback: (error?: Error | null) => void): void {
      if ((error === null || error === undefined || isKernelTimeout(error)) && deadChannel().hasSubscribers) {
        try {
          reportDeath(socket, error ?? null, policyOf);
        } catch {
          // Never into Node's destroy path: the socket must still close and emit its error.
        }
      }
      nodeDestroy.call(this, error, callback);
    });
  } catch {
    // A socket we cannot watch is not worth failing configureKeepalive for.
  }
}

/**
 * The watch src/core calls. Its channel starts as a stand-in that says
 * "subscribed", so the first configure comes here and swaps in the real
 * channel (node:diagnostics_channel is loaded by then, with node:net); from
 * then on src/core reads the real channel's hasSubscribers.
 */
const FIRST_CONFIGURE = { hasSubscribers: true };
const coreWatch: DeathWatch = {
  channel: FIRST_CONFIGURE,
  watch(socket, policyOf) {
    if (coreWatch.channel === FIRST_CONFIGURE) {
      (coreWatch as { channel: DeathWatch['channel'] }).channel = deadChannel();
      registerDeathWatch(coreWatch);
      if (!coreWatch.channel.hasSubscribers) return;
    }
    watchForDeath(socket, policyOf);
  },
};

/**
 * Registers the death watch with src/core (every entry point that configures
 * sockets calls it when loaded): no socket, no channel, no publish — it hands
 * src/core a function.
 */
export function installDeathWatch(): void {
  registerDeathWatch(coreWatch);
}
