/**
 * The `tcp-keepalive:dead` diagnostics channel: one message when a configured
 * socket is ended by the kernel with ETIMEDOUT, saying why (keepalive probes
 * unanswered, or unacknowledged data past TCP_USER_TIMEOUT).
 *
 * The evidence is one TCP_INFO read of the dead connection, taken in the
 * socket's _destroy before Node closes the fd. Node's path for a kernel error:
 * libuv read()/write() returns ETIMEDOUT → onStreamRead / afterWrite →
 * socket.destroy(err) → socket._destroy(err, cb), which closes the handle
 * (uv_close closes the fd at once) and only then lets 'error' be emitted on
 * the next tick. So no event listener can see the fd; _destroy is the last
 * place that can. The kernel keeps the dead socket's counters until the fd is
 * closed: after a keepalive death `probes` holds the unanswered probes, after
 * a retransmission death `retransmits` the timeouts in a row (unacked and
 * backoff are cleared when the kernel purges the send queue).
 *
 * Cost: nothing unless someone subscribes. src/core calls watchForDeath() for
 * a socket it configures for the first time only while the channel has
 * subscribers; a watched socket gets an own `_destroy` property that reads
 * TCP_INFO only when it is destroyed with ETIMEDOUT and someone still listens.
 * No prototype is patched, no timer is set, nothing is published at import.
 */
import type diagnosticsChannel from 'node:diagnostics_channel';
import type net from 'node:net';
import type { KeepaliveOptions } from '../core/options';
import { addon } from '../native/load';
import type { TcpInfo } from './tcp-info';

/** The decoder, loaded on the first death: src/core imports this module, so it stays small at import. */
let tcpInfoModule: typeof import('./tcp-info') | undefined;

/** The channel's name, for diagnostics_channel.subscribe(). */
export const DEAD_CHANNEL = 'tcp-keepalive:dead';

export type DeathCause = 'keepalive' | 'user-timeout' | 'unknown';

/** What `tcp-keepalive:dead` publishes. */
export interface DeadConnectionMessage {
  /** The socket, already destroyed; its 'error' event (the ETIMEDOUT) follows on the next tick. */
  socket: net.Socket;
  /** What configureKeepalive was asked for on this socket (ms), if known. */
  policy: Readonly<KeepaliveOptions> | undefined;
  /**
   * - 'keepalive': keepalive probes went unanswered on an idle connection;
   * - 'user-timeout': written data stayed unacknowledged past the configured userTimeout;
   * - 'unknown': no evidence either way (TCP_INFO unavailable, or data timed out without a userTimeout: the kernel's tcp_retries2).
   */
  cause: DeathCause;
  /** The dead connection's last TCP_INFO (state 'closed'), or undefined if it could not be read. */
  lastInfo: TcpInfo | undefined;
  /** The error the socket is destroyed with. */
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

/** For src/core: is anyone subscribed to `tcp-keepalive:dead` right now? */
export function deathSubscribed(): boolean {
  return deadChannel().hasSubscribers;
}

type Destroy = (this: net.Socket, error: Error | null, callback: (error?: Error | null) => void) => void;

/**
 * The fd of a socket being destroyed, before Node closes it, from its own
 * handle's native accessor (a TLS socket's answers with the TCP fd under it);
 * -1 if there is none. Read-only use (one getsockopt); the socket was checked
 * by src/core when it was configured.
 */
function closingFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { readonly fd?: unknown } | null })._handle;
  if (handle == null) return -1;
  try {
    const fd = handle.fd;
    return typeof fd === 'number' ? fd : -1;
  } catch {
    return -1;
  }
}

/** A timeout the kernel reported on an established connection (not a connect() that timed out, not a library's own timer). */
function isKernelTimeout(error: Error | null): error is Error {
  if (error === null || typeof error !== 'object') return false;
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  return code === 'ETIMEDOUT' && syscall !== 'connect';
}

export function causeOf(info: TcpInfo | undefined, policy: Readonly<KeepaliveOptions> | undefined): DeathCause {
  if (info === undefined) return 'unknown';
  if (info.retransmits! > 0) return policy?.userTimeout !== undefined && policy.userTimeout > 0 ? 'user-timeout' : 'unknown';
  // Zero-window probes count in `probes` too; they only go out while data waits to be sent.
  if (info.probes! > 0 && !(info.notSentBytes! > 0)) return 'keepalive';
  return 'unknown';
}

function reportDeath(socket: net.Socket, error: Error, policyOf: (socket: net.Socket) => Readonly<KeepaliveOptions> | undefined): void {
  let lastInfo: TcpInfo | undefined;
  try {
    const fd = closingFd(socket);
    if (fd >= 0 && addon() !== undefined)
      lastInfo = (tcpInfoModule ??= require('./tcp-info') as typeof import('./tcp-info')).readTcpInfo(fd, 'tcp-keepalive:dead');
  } catch {
    lastInfo = undefined;
  }
  // Still established: the kernel did not end this connection; the ETIMEDOUT is some library's own timer.
  if (lastInfo !== undefined && lastInfo.state === 'established') return;
  const policy = policyOf(socket);
  const message: DeadConnectionMessage = { socket, policy, cause: causeOf(lastInfo, policy), lastInfo, error };
  // diagnostics_channel reports a subscriber's exception itself (uncaught, on the next tick).
  deadChannel().publish(message);
}

/**
 * For src/core: watch a socket it has just configured for the first time
 * (call only while deathSubscribed()). Gives the socket an own `_destroy`
 * that reads the kernel's evidence before Node's closes the fd. Never throws.
 */
export function watchForDeath(socket: net.Socket, policyOf: (socket: net.Socket) => Readonly<KeepaliveOptions> | undefined): void {
  try {
    if (Object.prototype.hasOwnProperty.call(socket, '_destroy') || !Object.isExtensible(socket)) return;
    const nodeDestroy = (socket as unknown as { _destroy: Destroy })._destroy;
    if (typeof nodeDestroy !== 'function') return;
    Object.defineProperty(socket, '_destroy', {
      configurable: true,
      writable: true,
      value: function _destroy(this: net.Socket, error: Error | null, callback: (error?: Error | null) => void): void {
        if (isKernelTimeout(error) && deadChannel().hasSubscribers) {
          try {
            reportDeath(socket, error, policyOf);
          } catch {
            // Never into Node's destroy path: the socket must still close and emit its error.
          }
        }
        nodeDestroy.call(this, error, callback);
      },
    });
  } catch {
    // A socket we cannot watch is not worth failing configureKeepalive for.
  }
}
