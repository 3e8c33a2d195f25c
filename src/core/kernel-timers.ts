/**
 * The Linux kernel's timer rules for a TCP connection, as plain functions of
 * a keepalive policy: when an idle dead peer is noticed, when a dead peer is
 * noticed while our data is in flight, and how long a live peer that stops
 * reading may stall before the kernel ends the connection. The planner, the
 * doctor, connectionHealth, the dead channel and the docs all take their
 * times from here; nothing else encodes these rules.
 *
 * Sources: net/ipv4/tcp_timer.c and tcp_output.c (checked against Linux 6.4 – 6.18;
 * the rules below hold since 5.12). The lines each function follows:
 * - tcp_keepalive_timer() runs only while nothing is in flight:
 *     if (tp->packets_out || !tcp_write_queue_empty(sk)) goto resched;
 *   `elapsed = keepalive_time_elapsed(tp)` is the time since the last segment
 *   received. Once it reaches keepalive_time_when() (the idle time) every run
 *   first checks for the abort, then sends a probe (icsk_probes_out++) and
 *   re-arms after keepalive_intvl_when() (the interval):
 *     if ((icsk->icsk_user_timeout != 0 &&
 *         elapsed >= msecs_to_jiffies(icsk->icsk_user_timeout) &&
 *         icsk->icsk_probes_out > 0) ||
 *         (icsk->icsk_user_timeout == 0 &&
 *         icsk->icsk_probes_out >= keepalive_probes(tp))) {
 *             tcp_send_active_reset(sk, GFP_ATOMIC);
 *             tcp_write_err(sk);                       // ETIMEDOUT
 *   So with TCP_USER_TIMEOUT set the count is ignored: the abort comes at the
 *   first probe run (idle + k × interval, k >= 1) at or after userTimeout.
 *   → idleDeadPeerDetection().
 * - tcp_retransmit_timer() → tcp_write_timeout():
 *     expired = retransmits_timed_out(sk, retry_until, icsk->icsk_user_timeout);
 *   retransmits_timed_out() compares the time since tp->retrans_stamp with the
 *   user timeout or, when it is 0, with tcp_model_timeout(sk, tcp_retries2,
 *   TCP_RTO_MIN): ((2 << boundary) - 1) * rto_base while boundary <=
 *   ilog2(TCP_RTO_MAX / rto_base), then + TCP_RTO_MAX per further retry — 924.6 s
 *   for the default tcp_retries2 = 15. tcp_clamp_rto_to_user_timeout() makes the
 *   timer fire when the user timeout runs out. tp->retrans_stamp is set by
 *   tcp_retransmit_skb() (tcp_output.c, "Save stamp of the first (attempted)
 *   retransmit") after the skb's timestamp was refreshed, so the clock starts
 *   at the first retransmission — the tail loss probe or the first RTO, at
 *   least TCP_RTO_MIN (200 ms) after the data was sent, more on a slow path.
 *   → deadWithDataInFlightDetection(), counted from that first retransmission.
 * - tcp_probe_timer(): zero-window probes, sent while the peer advertises a
 *   zero window (alive but not reading) and we have data for it. ACKs to the
 *   probes reset icsk_probes_out, so without a user timeout a live peer may
 *   stall for ever (RFC 1122 4.2.2.17). With one (since Linux 5.12, "tcp: fix
 *   TCP_USER_TIMEOUT with zero window"):
 *     if (!icsk->icsk_probes_tstamp)
 *             icsk->icsk_probes_tstamp = tcp_jiffies32;
 *     else if (icsk->icsk_user_timeout &&
 *              (s32)(tcp_jiffies32 - icsk->icsk_probes_tstamp) >=
 *              msecs_to_jiffies(icsk->icsk_user_timeout))
 *             goto abort;
 *   even though every probe is answered; tcp_clamp_probe0_to_user_timeout()
 *   makes the probe timer fire when it runs out. The clock starts at the first
 *   probe timer run, one RTO (>= 200 ms) after the window closed.
 *   → survivableStall().
 * Timers run on the kernel's timer wheel: each may fire up to one granularity
 * late (at HZ 250: 4 ms under 256 ms, 32 ms under 2 s, 256 ms under 16 s).
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
  /**
   * A peer that vanished while our data was in flight is noticed this long after the first
   * retransmission of that data (which comes at least 200 ms, one RTO, after it was sent).
   */
  readonly deadWithDataInFlight: number;
  /**
   * The longest a live peer may stop reading (advertise a zero window) while we
   * have data for it before the kernel ends the connection; Infinity without a user timeout.
   * The abort comes this long after the first zero-window probe, itself one RTO (>= 200 ms)
   * after the window closed: a stall this long is always survived.
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

/**
 * When the retransmission timer aborts a connection whose data is unacknowledged, counted from
 * the first retransmission of that data (tp->retrans_stamp): userTimeout, or tcp_retries2's
 * back-off time without one.
 */
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
