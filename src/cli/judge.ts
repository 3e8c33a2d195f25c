/**
 * Judges what the kernel holds for one connection against the path and the
 * detection budget, with the planner's rules (src/planner/plan.ts):
 * - keepalive must be on;
 * - idle must be below the smallest idle timeout of the hops probes refresh
 *   (at or above it, the hop forgets the flow before the first probe);
 * - a dead idle peer must be noticed within the budget: idle + interval × count
 *   without TCP_USER_TIMEOUT; with it, Linux ignores count and ends the
 *   connection at the first probe at or after it (src/core/kernel-timers.ts);
 * - TCP_USER_TIMEOUT must bound a connection with data in flight, where
 *   keepalive does not run, within the budget.
 * A value that could not be read is never guessed: the verdict is then
 * "unknown" unless what /proc shows is already enough to say "at risk".
 */
import fs from 'node:fs';
import { DEFAULT_RETRIES2, idleDeadPeerDetection, type KernelTimes, kernelTimes, retransmissionTimeout } from '../core/kernel-timers';
import type { KeepalivePlan, PlanRequest, ResolvedHop } from '../planner';
import { type CliHop, UsageError } from './args';
import { duration } from './format';
import type { KernelKeepalive } from './peer-socket';

export type Verdict = 'ok' | 'at-risk' | 'unknown';

export interface Judgement {
  verdict: Verdict;
  /** Why the connection is at risk (or unknown), in plain words. */
  reasons: string[];
  /** Worth knowing but not a risk by these rules. */
  notes: string[];
  /**
   * When an idle dead peer is noticed (ms, the kernel model: idle + interval × count, or with
   * TCP_USER_TIMEOUT the first probe at or after it) when keepalive is on and the values were read; null otherwise.
   */
  worstCaseDetection: number | null;
  /** The kernel model's three times for the values read (keepalive on); null otherwise. */
  times: KernelTimes | null;
  /** Values unread but the keepalive timer seen: what is left of it (ms), a lower bound of worstCaseDetection. */
  worstCaseDetectionAtLeast: number | null;
}

export interface Policy {
  hops: ResolvedHop[];
  /** ms */
  detectWithin: number;
  /** When the kernel gives up on unacknowledged data without TCP_USER_TIMEOUT (ms, from tcp_retries2). */
  retransmissionGiveUp: number;
  tcpRetries2: number;
}

type Presets = typeof import('../planner').IDLE_TIMEOUT_PRESETS;

/** Resolves --path hops the way the planner does (labels, default timeouts, whether probes refresh them). */
export function resolveHops(hops: readonly CliHop[], presets: Presets, command?: string): ResolvedHop[] {
  return hops.map((hop) => {
    if (typeof hop === 'number') return { label: `a ${duration(hop)} idle timeout on the path`, idleTimeout: hop, probesRefresh: true };
    const name = (typeof hop === 'string' ? hop : hop.preset) as keyof Presets;
    const preset = presets[name];
    const idleTimeout = typeof hop === 'string' ? preset.idleTimeout : hop.idleTimeout;
    if (idleTimeout === undefined) {
      throw new UsageError(`--path ${name} has no default idle timeout: give yours as ${name}=<duration>, e.g. ${name}=30s`, command);
    }
    return { label: preset.label, idleTimeout, probesRefresh: preset.probesRefresh };
  });
}

/**
 * How long the kernel retransmits unacknowledged data before giving up,
 * from tcp_retries2 (RFC 6298 backoff from the 200 ms minimum RTO, capped at
 * 120 s per retry: 924.6 s for the default 15). Read in this command's own
 * network namespace.
 */
export function retransmissionLimit(): { retries2: number; giveUpMs: number } {
  let retries2 = DEFAULT_RETRIES2;
  try {
    retries2 = Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_retries2', 'utf8').trim()) || DEFAULT_RETRIES2;
  } catch {
    // not Linux or /proc/sys hidden: the kernel default
  }
  return { retries2, giveUpMs: retransmissionTimeout(retries2) };
}

export interface ConnectionFacts {
  /** What getsockopt returned, or null when it could not be read. */
  kernel: KernelKeepalive | null;
  /** From /proc's timer column when the kernel values are unknown: true/false, or null when the timer hides it. */
  keepaliveFromTimer: boolean | null;
  /** ms left on the keepalive timer when /proc shows it (its `tr` is 2), else null. */
  keepaliveTimerLeft: number | null;
  /** Bytes written and not yet acknowledged. */
  sendQueue: number;
}

export function judge(facts: ConnectionFacts, policy: Policy): Judgement {
  const reasons: string[] = [];
  const notes: string[] = [];
  const budget = duration(policy.detectWithin);
  const limiting = policy.hops.filter((hop) => hop.probesRefresh).sort((a, b) => a.idleTimeout - b.idleTimeout)[0];
  for (const hop of policy.hops.filter((h) => !h.probesRefresh)) {
    notes.push(
      `${hop.label} counts application data only: keepalive cannot keep it open; ` +
        `the application must send data more often than every ${duration(hop.idleTimeout)}`,
    );
  }
  const { kernel } = facts;
  if (kernel === null) {
    if (facts.keepaliveFromTimer === false) {
      reasons.push(
        'keepalive is off (no keepalive timer in /proc/net/tcp): an idle connection to a dead peer, or through a ' +
          'middlebox that forgot it, stays open until the application writes',
      );
      return { verdict: 'at-risk', reasons, notes, worstCaseDetection: null, worstCaseDetectionAtLeast: null, times: null };
    }
    if (facts.keepaliveFromTimer !== true) {
      reasons.push('keepalive, idle, interval, count and TCP_USER_TIMEOUT could not be read (another timer hides the keepalive timer)');
      return { verdict: 'unknown', reasons, notes, worstCaseDetection: null, worstCaseDetectionAtLeast: null, times: null };
    }
    // The keepalive timer is armed for idle (or, between probes, interval) from the last packet, so what is
    // left of it bounds the idle detection from below: a fact, not an estimate of the unread values.
    const atLeast = facts.keepaliveTimerLeft;
    if (atLeast !== null && atLeast > policy.detectWithin) {
      reasons.push(
        `a dead peer is noticed only after ${duration(atLeast)} or more: the keepalive timer fires in ${duration(atLeast)}, ` +
          `more than --detect-within ${budget} (idle, interval, count and TCP_USER_TIMEOUT could not be read)`,
      );
      return { verdict: 'at-risk', reasons, notes, worstCaseDetection: null, worstCaseDetectionAtLeast: atLeast, times: null };
    }
    reasons.push('keepalive is on (its timer is running), but idle, interval, count and TCP_USER_TIMEOUT could not be read');
    return { verdict: 'unknown', reasons, notes, worstCaseDetection: null, worstCaseDetectionAtLeast: atLeast, times: null };
  }

  let worstCaseDetection: number | null = null;
  let times: KernelTimes | null = null;
  if (!kernel.enable) {
    reasons.push(
      'keepalive is off: an idle connection to a dead peer, or through a middlebox that forgot it, stays open until the application writes',
    );
  } else {
    times = kernelTimes({ ...kernel, retries2: policy.tcpRetries2 });
    worstCaseDetection = times.idleDeadPeer;
    if (limiting !== undefined && kernel.idle >= limiting.idleTimeout) {
      reasons.push(
        `idle ${duration(kernel.idle)} is not below the ${duration(limiting.idleTimeout)} idle timeout of ${limiting.label}: ` +
          'it forgets the flow before the first probe',
      );
    } else if (limiting !== undefined && kernel.idle + kernel.interval > limiting.idleTimeout) {
      notes.push(
        `one lost probe lets ${limiting.label} forget the flow (idle + interval = ${duration(kernel.idle + kernel.interval)}, ` +
          `its idle timeout ${duration(limiting.idleTimeout)})`,
      );
    }
    if (worstCaseDetection > policy.detectWithin) {
      reasons.push(
        kernel.userTimeout > 0
          ? `a dead peer is noticed only after up to ${duration(worstCaseDetection)}, more than --detect-within ${budget}: ` +
              `with TCP_USER_TIMEOUT ${duration(kernel.userTimeout)} set, Linux ignores count ${kernel.count} and ends an idle ` +
              `connection at the first probe at or after it (idle ${duration(kernel.idle)}, then every ${duration(kernel.interval)})`
          : `a dead peer is noticed only after up to ${duration(worstCaseDetection)} (idle ${duration(kernel.idle)} + ` +
              `${duration(kernel.interval)} × ${kernel.count}), more than --detect-within ${budget}`,
      );
    }
  }
  const inFlight = facts.sendQueue > 0 ? ` (${facts.sendQueue} bytes are unacknowledged right now)` : '';
  if (kernel.userTimeout === 0) {
    if (policy.retransmissionGiveUp > policy.detectWithin) {
      reasons.push(
        `no TCP_USER_TIMEOUT: while written data is unacknowledged keepalive does not run, and the kernel retransmits for ` +
          `about ${duration(policy.retransmissionGiveUp)} (tcp_retries2 ${policy.tcpRetries2}) before it gives up${inFlight}`,
      );
    }
  } else if (kernel.userTimeout > policy.detectWithin) {
    reasons.push(
      `TCP_USER_TIMEOUT ${duration(kernel.userTimeout)} is longer than --detect-within ${budget}: unacknowledged data ` +
        `keeps a dead connection open that long${inFlight}`,
    );
  }
  return { verdict: reasons.length === 0 ? 'ok' : 'at-risk', reasons, notes, worstCaseDetection, worstCaseDetectionAtLeast: null, times };
}

/**
 * The plan that fixes the connections at risk, never weaker than what they already hold: idle,
 * interval and count each stay at the smallest of the plan's and the at-risk connections' own
 * (keepalive on, values read). userTimeout follows the plan — it is both how fast data in flight
 * to a dead peer is given up and the stall a live peer survives, so "stronger" has no single
 * direction — but moves to a probe within the budget, because with it set Linux ends an idle
 * connection at the first probe at or after it.
 */
export function fixPlan(plan: KeepalivePlan, atRisk: readonly (KernelKeepalive | null)[], policy: Policy): KeepalivePlan {
  const held = atRisk.filter((kernel): kernel is KernelKeepalive => kernel !== null && kernel.enable);
  if (held.length === 0) return plan;
  const planned = plan.options;
  const idle = Math.min(planned.idle, ...held.map((k) => k.idle));
  const interval = Math.min(planned.interval, ...held.map((k) => k.interval));
  const count = Math.min(planned.count, ...held.map((k) => k.count));
  if (idle === planned.idle && interval === planned.interval && count === planned.count) return plan;
  let userTimeout = planned.userTimeout;
  // No later than the budget, or than the plan itself when its stall tolerance asked for more.
  const latest = Math.max(policy.detectWithin, plan.times.idleDeadPeer);
  if (userTimeout > 0 && idleDeadPeerDetection({ idle, interval, count, userTimeout }) > latest) {
    // The probe after userTimeout falls past that: end at the last probe before it instead.
    userTimeout = idle + interval * Math.max(1, Math.floor((latest - idle) / interval));
  }
  const options = { enable: true as const, idle, interval, count, userTimeout };
  const times = kernelTimes({ ...options, retries2: policy.tcpRetries2 });
  const kept = [
    idle < planned.idle ? `idle ${duration(idle)}` : '',
    interval < planned.interval ? `interval ${duration(interval)}` : '',
    count < planned.count ? `count ${count}` : '',
  ].filter((word) => word !== '');
  return {
    ...plan,
    options,
    times,
    worstCaseDetection: Math.max(times.idleDeadPeer, times.deadWithDataInFlight),
    notes: [
      `kept from the connections at risk, already stronger than the plan's: ${kept.join(', ')}; ` +
        `with userTimeout ${duration(userTimeout)} a dead peer is noticed after ${duration(times.idleDeadPeer)} when idle ` +
        `and ${duration(times.deadWithDataInFlight)} with data in flight, and a live peer that stops reading survives a ` +
        `${duration(times.survivableStall)} stall`,
      // The plan's own notes about its idle, interval and userTimeout no longer hold; those about the path do.
      ...plan.notes.filter(
        (note) => !/^(a dead peer is noticed within|a live peer that stops reading|userTimeout |stallTolerance |idle \d)/.test(note),
      ),
    ],
  };
}

/** The planner request behind the fix: the path as given, or (no --path) detection alone. */
export function planRequest(hops: readonly CliHop[], detectWithin: number): PlanRequest {
  const path = hops.length > 0 ? hops : [{ name: NO_PATH_LABEL, idleTimeout: 32_767_000, probesRefresh: false }];
  return { path: path as PlanRequest['path'], detectWithin };
}

/** The stand-in hop when no --path is given; its planner notes are dropped. */
export const NO_PATH_LABEL = 'no --path given';
