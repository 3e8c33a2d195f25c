/**
 * connectionHealth(socket): "can I hand this connection out?" answered from
 * one TCP_INFO read, without a round trip to the peer.
 */
import type net from 'node:net';
import { invalidArgType, invalidArgValue, outOfRange, unavailableOnPlatform } from '../core/errors';
import { policyOf } from '../core/keepalive';
import { survivableStall } from '../core/kernel-timers';
import { addon } from '../native/load';
import { socketFd } from '../core/node-internals';
import { heldTimerPolicy } from './held-policy';
import { readTcpInfo, type TcpInfo } from './tcp-info';

/**
 * - 'healthy': nothing wrong is known;
 * - 'suspect': the peer may be gone (a probe or data unanswered);
 * - 'stalled': the peer is there but not reading: it advertises a zero window while we have data for it;
 * - 'dead': the connection can no longer be used both ways.
 */
export type HealthVerdict = 'healthy' | 'suspect' | 'stalled' | 'dead';

/**
 * Why a connection is not healthy:
 * - 'not-established': the state is not 'established' (the peer closed: close-wait; reset or timed out: closed; …) → dead
 * - 'keepalive-unanswered': a keepalive probe went unanswered → suspect
 * - 'data-unacknowledged': data sent `unacknowledgedAfter` ms ago or more is still unacknowledged → suspect
 * - 'retransmitting': the retransmission timer fired (`retransmits` in a row), so backoff has begun → suspect
 * - 'peer-not-reading': the peer advertises a zero window while we have data to send, and the kernel
 *   has begun probing it (its TCP_USER_TIMEOUT clock runs from there) → stalled
 */
export type HealthReason = 'not-established' | 'keepalive-unanswered' | 'data-unacknowledged' | 'retransmitting' | 'peer-not-reading';

/** A zero-window stall, as far as the kernel lets us tell (connectionHealth's `stall`). */
export interface ZeroWindowStall {
  /** ms since our data last went out: the peer has kept its window closed at least this long. */
  stalledFor: number;
  /** TCP_USER_TIMEOUT as the kernel holds it now, ms; 0 = not set. undefined if it could not be read. */
  userTimeout: number | undefined;
  /**
   * The longest stall the kernel lets a peer that stops reading survive (survivableStall of the
   * kernel timer model, from the kernel's userTimeout); Infinity without a user timeout: the kernel
   * then waits for ever, as long as its probes are answered.
   */
  survivable: number | undefined;
  /**
   * ms until the kernel ends the connection, at the earliest: `survivable − stalledFor`, at least 0;
   * Infinity without a user timeout. The kernel's clock starts at its first zero-window probe, which
   * comes after the stall began, and it ends the connection at its next probe after that: later, never sooner.
   */
  abortsIn: number | undefined;
}

export interface ConnectionHealth {
  verdict: HealthVerdict;
  /** Empty when healthy; every reason that applies otherwise. */
  reasons: readonly HealthReason[];
  /** The TCP_INFO read the verdict was made from. */
  info: TcpInfo;
  /** With reason 'peer-not-reading': how long the stall has lasted and how long the kernel lets it last; undefined otherwise. */
  stall: ZeroWindowStall | undefined;
}

export interface HealthThresholds {
  /**
   * Data still unacknowledged this many ms after it was last sent makes the
   * connection suspect. Default 1000. Integer 1 – 2 147 483 647.
   */
  unacknowledgedAfter?: number;
  /** Retransmission timeouts in a row that make the connection suspect. Default 1. Integer 1 – 255. */
  retransmits?: number;
  /**
   * How long a keepalive probe may go unanswered before the connection is
   * suspect, ms after it was sent. Default: the connection's own RTO (rto,
   * at least 200 ms on Linux): an alive peer answers within it. Integer 0 – 2 147 483 647.
   * Needs the keepalive idle the socket was configured with (configureKeepalive);
   * for a socket configured elsewhere, the second unanswered probe is the evidence.
   */
  probeGrace?: number;
}

const MS_MAX = 2 ** 31 - 1;
const DEFAULT_UNACKNOWLEDGED_AFTER = 1000;
const DEFAULT_RETRANSMITS = 1;

const HEALTHY: readonly HealthReason[] = Object.freeze([]);
const NOT_READING: readonly HealthReason[] = Object.freeze(['peer-not-reading']);
const NOT_ESTABLISHED: readonly HealthReason[] = Object.freeze(['not-established']);

/** Validated thresholds: written by readThresholds, copied to locals at once (no object per call, and a re-entrant call from a socket's getter cannot change them). */
let unacknowledgedAfter = DEFAULT_UNACKNOWLEDGED_AFTER;
let retransmitsThreshold = DEFAULT_RETRANSMITS;
let probeGrace: number | undefined;

function threshold(name: string, value: unknown, min: number, max: number, unit: string): number {
  if (typeof value !== 'number') throw invalidArgType(`options.${name}`, `of type number (${unit})`, value);
  if (!Number.isInteger(value) || value < min || value > max)
    throw outOfRange(`options.${name}`, `an integer >= ${min} && <= ${max} (${unit})`, value);
  return value;
}

function readThresholds(options: unknown): void {
  unacknowledgedAfter = DEFAULT_UNACKNOWLEDGED_AFTER;
  retransmitsThreshold = DEFAULT_RETRANSMITS;
  probeGrace = undefined;
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidArgType('options', 'of type object', options);
  let unacked: unknown;
  let retransmits: unknown;
  let grace: unknown;
  try {
    for (const key in options) {
      if (key !== 'unacknowledgedAfter' && key !== 'retransmits' && key !== 'probeGrace') {
        const value: unknown = (options as Record<string, unknown>)[key];
        if (value !== undefined) {
          throw invalidArgValue(`options.${key}`, 'is not a health threshold (known: unacknowledgedAfter, retransmits, probeGrace)', value);
        }
      }
    }
    ({ unacknowledgedAfter: unacked, retransmits, probeGrace: grace } = options as HealthThresholds);
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_INVALID_ARG_VALUE') throw cause;
    throw invalidArgValue('options', 'could not be read (a getter or Proxy trap threw)', options, cause);
  }
  if (unacked !== undefined) unacknowledgedAfter = threshold('unacknowledgedAfter', unacked, 1, MS_MAX, 'milliseconds');
  if (retransmits !== undefined) retransmitsThreshold = threshold('retransmits', retransmits, 1, 255, 'retransmission timeouts');
  if (grace !== undefined) probeGrace = threshold('probeGrace', grace, 0, MS_MAX, 'milliseconds');
}

/** The keepalive idle the kernel holds for this socket, ms, if configureKeepalive set it (the kernel keeps whole seconds). */
function configuredIdle(socket: net.Socket): number | undefined {
  const idle = policyOf(socket)?.idle;
  return idle === undefined ? undefined : Math.floor(idle / 1000) * 1000;
}

/**
 * A keepalive probe is out and unanswered. The kernel counts zero-window
 * probes in the same field; those go out while data waits for the peer's
 * window (a slow reader, alive), so a probe counts only on an idle connection.
 * Any ACK resets the count, so on a live connection `probes` is 1 for one
 * round trip: the probe must also have been out for `grace` ms — the time
 * since the peer was last heard from, minus the idle that sent it.
 */
function keepaliveUnanswered(info: TcpInfo, socket: net.Socket, grace: number | undefined): boolean {
  const probes = info.probes;
  if (probes === undefined || probes === 0 || info.unacked! > 0 || info.notSentBytes! > 0) return false;
  if (probes >= 2) return true;
  const idle = configuredIdle(socket);
  if (idle === undefined) return false;
  const silence = Math.min(info.lastDataReceived ?? Infinity, info.lastAckReceived ?? Infinity);
  return silence >= idle + (grace ?? info.rto ?? 1000);
}

/**
 * The peer is alive and not reading: it advertises a zero window (Linux 5.4+
 * reports it; before, only the probes show it) while data waits to be sent
 * and nothing is in flight, and the kernel has sent its first zero-window
 * probe (backoff counts the probes and stays until the window opens; a probe
 * can also still be unanswered). That first probe starts the kernel's
 * TCP_USER_TIMEOUT clock for the stall, so from then on the kernel is
 * counting towards an abort. Before it, for one RTO, the zero window is
 * ordinary flow control.
 */
function zeroWindowStall(info: TcpInfo): boolean {
  if (!(info.notSentBytes! > 0) || info.unacked !== 0) return false;
  if (info.sendWindow !== undefined && info.sendWindow !== 0) return false;
  return info.backoff! > 0 || info.probes! > 0;
}

/** The stall's times, from the user timeout the kernel holds now (one read of the keepalive options, only for a stalled socket). */
function stallOf(info: TcpInfo, fd: number): ZeroWindowStall {
  const stalledFor = info.lastDataSent!;
  const held = heldTimerPolicy(fd);
  if (held === undefined) return { stalledFor, userTimeout: undefined, survivable: undefined, abortsIn: undefined };
  const survivable = survivableStall(held);
  return { stalledFor, userTimeout: held.userTimeout, survivable, abortsIn: Math.max(0, survivable - stalledFor) };
}

/**
 * Judges a connected socket from one TCP_INFO read:
 * - dead: the state is not 'established';
 * - suspect: a keepalive probe is unanswered, data has been unacknowledged for
 *   `unacknowledgedAfter` ms, or the retransmission timer has fired;
 * - stalled: the peer advertises a zero window while we have data for it, and
 *   the kernel is probing it (and with a userTimeout, counting towards an abort);
 * - healthy otherwise — which includes a peer that vanished while nothing was
 *   sent and no probe was due yet: that is what keepalive is for.
 * Throws like tcpInfo(), and ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE /
 * ERR_OUT_OF_RANGE for bad thresholds.
 */
export function connectionHealth(socket: net.Socket, options?: HealthThresholds): ConnectionHealth {
  readThresholds(options);
  const unackedLimit = unacknowledgedAfter;
  const retransmitsLimit = retransmitsThreshold;
  const grace = probeGrace;
  if (addon() === undefined) throw unavailableOnPlatform('connectionHealth() (TCP_INFO)');
  const fd = socketFd(socket, 'connectionHealth');
  const info = readTcpInfo(fd, 'connectionHealth');
  if (info.state !== 'established') return { verdict: 'dead', reasons: NOT_ESTABLISHED, info, stall: undefined };

  let reasons = HEALTHY;
  if (keepaliveUnanswered(info, socket, grace)) reasons = ['keepalive-unanswered'];
  const unacked = info.unacked;
  if (unacked !== undefined && unacked > 0) {
    // With no retransmission yet, the last data sent is still unacknowledged (ACKs are cumulative), so
    // lastDataSent is a lower bound of the age of the oldest unacknowledged byte. A fresh write after a
    // long silence has lastDataSent ≈ 0: not suspect, however old the last ACK.
    if (info.lastDataSent! >= unackedLimit) reasons = reasons === HEALTHY ? ['data-unacknowledged'] : [...reasons, 'data-unacknowledged'];
  }
  // Retransmission timeouts only (not fast retransmits, not zero-window probes): the peer was silent for a whole RTO.
  if (info.retransmits! >= retransmitsLimit || (info.backoff! > 0 && unacked! > 0)) {
    reasons = reasons === HEALTHY ? ['retransmitting'] : [...reasons, 'retransmitting'];
  }
  if (reasons !== HEALTHY) return { verdict: 'suspect', reasons, info, stall: undefined };
  if (zeroWindowStall(info)) return { verdict: 'stalled', reasons: NOT_READING, info, stall: stallOf(info, fd) };
  return { verdict: 'healthy', reasons, info, stall: undefined };
}
