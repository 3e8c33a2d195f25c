/**
 * The Linux kernel's timer rules for a TCP connection, as plain functions of
 * a keepalive policy: when an idle dead peer is noticed, when a dead peer is
 * noticed while our data is in flight, and how long a live peer that stops
 * reading may stall before the kernel ends the connection. The planner, the
 * doctor, connectionHealth, the dead channel and the docs all take their
 * times from here; nothing else encodes these rules.
 *
 * Sources, net/ipv4/tcp_timer.c (Linux 5.15 – 6.x):
 * - tcp_keepalive_timer(): runs only while nothing is in flight
 *   (`packets_out == 0` and the write queue empty). `elapsed` is the time since
 *   the last segment was received (keepalive_time_elapsed()). At `elapsed >=
 *   keepalive_time` it sends a probe (icsk_probes_out++) and re-arms after the
 *   interval. It aborts the connection when
 *     user_timeout != 0 && elapsed >= user_timeout && icsk_probes_out > 0, or
 *     user_timeout == 0 && icsk_probes_out >= keepalive_probes.
 *   So with TCP_USER_TIMEOUT set the count is ignored: the abort comes at the
 *   first probe tick (idle + k × interval, k >= 1) at or after userTimeout.
 * - tcp_retransmit_timer() → tcp_write_timeout() → retransmits_timed_out():
 *   with data unacknowledged the connection is aborted once `user_timeout`
 *   has passed since the first unacknowledged segment was sent
 *   (tp->retrans_stamp; tcp_clamp_rto_to_user_timeout() makes the timer fire
 *   on time), or, with no user timeout, after tcp_model_timeout(tcp_retries2,
 *   TCP_RTO_MIN): (2^(b+1) − 1) × 200 ms while b <= 9, then + 120 s per
 *   further retry — 924.6 s for the default tcp_retries2 = 15.
 * - tcp_probe_timer(): zero-window probes, sent while the peer advertises a
 *   zero window (it is alive but not reading) and we have data to send. ACKs
 *   to the probes reset the probe count, so without a user timeout a live
 *   peer may stall for ever (RFC 1122 4.2.2.17). With TCP_USER_TIMEOUT the
 *   connection is aborted once user_timeout has passed since probing began
 *   (icsk_probes_tstamp, "tcp: fix TCP_USER_TIMEOUT with zero window",
 *   Linux 5.12), even though every probe is answered.
 *
 * All times are milliseconds; `userTimeout` 0 means "not set" (the kernel's default).
 * The kernel keeps idle and interval in whole seconds: pass them as the kernel holds them.
 */

/** TCP_RTO_MIN (include/net/tcp.h): the base of the retransmission back-off. */
export const RTO_MIN_MS = 200;
/** TCP_RTO_MAX (include/net/tcp.h): the longest retransmission timeout. */
export const RTO_MAX_MS = 120_000;
/** net.ipv4.tcp_retries2's default. */
export const DEFAULT_RETRIES2 = 15;

/** A keepalive policy as the kernel holds it. */
export interface TimerPolicy {
  /** TCP_KEEPIDLE, ms (whole seconds). */
  readonly idle: number;
  /** TCP_KEEPINTVL, ms (whole seconds). */
  readonly interval: number;
  /** TCP_KEEPCNT. */
  readonly count: number;
  /** TCP_USER_TIMEOUT, ms; 0 = not set. */
  readonly userTimeout: number;
  /** net.ipv4.tcp_retries2; default 15. */
  readonly retries2?: number;
}

/** What a policy means on Linux, in ms. */
export interface KernelTimes {
  /** A peer that vanished while the connection was idle is noticed this long after it was last heard from. */
  readonly idleDeadPeer: number;
  /** A peer that vanished while our data was in flight is noticed this long after that data was first sent. */
  readonly deadWithDataInFlight: number;
  /**
   * The longest a live peer may stop reading (advertise a zero window) while we
   * have data for it before the kernel ends the connection; Infinity without a user timeout.
   * The abort comes at the next zero-window probe after this, so up to one probe interval later.
   */
  readonly survivableStall: number;
}

/** tcp_model_timeout(boundary, TCP_RTO_MIN): how long `retries` back-off retransmissions take, ms. */
export function retransmissionTimeout(retries: number): number {
  const linearBackoffThreshold = Math.floor(Math.log2(RTO_MAX_MS / RTO_MIN_MS)); // ilog2(600) = 9
  if (retries <= linearBackoffThreshold) return (2 ** (retries + 1) - 1) * RTO_MIN_MS;
  return (2 ** (linearBackoffThreshold + 1) - 1) * RTO_MIN_MS + (retries - linearBackoffThreshold) * RTO_MAX_MS;
}

/**
 * When tcp_keepalive_timer() aborts an idle connection whose peer is gone,
 * counted from the last segment received: idle + interval × count without a
 * user timeout; with one, the first probe tick at or after it (at least one probe).
 */
export function idleDeadPeerDetection(policy: TimerPolicy): number {
  const { idle, interval, count, userTimeout } = policy;
  if (userTimeout <= 0) return idle + interval * count;
  const probes = Math.max(1, Math.ceil((userTimeout - idle) / interval));
  return idle + interval * probes;
}

/** When the retransmission timer aborts a connection whose data is unacknowledged, from that data's first send. */
export function deadWithDataInFlightDetection(policy: TimerPolicy): number {
  if (policy.userTimeout > 0) return policy.userTimeout;
  return retransmissionTimeout(policy.retries2 ?? DEFAULT_RETRIES2);
}

/** How long a live, non-reading peer may hold a zero window before tcp_probe_timer() aborts; Infinity without a user timeout. */
export function survivableStall(policy: TimerPolicy): number {
  return policy.userTimeout > 0 ? policy.userTimeout : Infinity;
}

/** The three times of a policy. */
export function kernelTimes(policy: TimerPolicy): KernelTimes {
  return {
    idleDeadPeer: idleDeadPeerDetection(policy),
    deadWithDataInFlight: deadWithDataInFlightDetection(policy),
    survivableStall: survivableStall(policy),
  };
}
