/**
 * planKeepalive(): from what a service owner knows — the idle timeouts on the
 * path and how fast a dead peer must be noticed — to options for
 * configureKeepalive().
 *
 *   const plan = planKeepalive({ path: ['aws-nlb', 'gcp-conntrack'], detectWithin: 60_000 });
 *   configureKeepalive(socket, plan.options);   // idle 30 s, interval 10 s, count 3, userTimeout 60 s
 *
 * The rules, all in whole seconds (the kernel's unit); what a policy means on
 * Linux comes from src/core/kernel-timers.ts:
 * - usable = (1 − margin) × the smallest idle timeout among hops whose timer
 *   keepalive probes reset;
 * - idle + interval ≤ usable: a flow survives even when one probe is lost;
 * - idle + interval × count ≤ detectWithin: a dead idle peer is noticed in time;
 *   the budget is split idle ≈ half, probes the rest, count 3 unless asked;
 * - userTimeout = max(idle + interval × count, stallTolerance) (Cloudflare's and
 *   gRPC's advice, userTimeout ≈ the detection time): data stuck in flight,
 *   which keepalive never covers, is given up on as fast, and a live peer that
 *   stops reading keeps its connection for stallTolerance (default detectWithin).
 *   With userTimeout set Linux ignores count and ends an idle connection at the
 *   first probe at or after userTimeout, so a probe is placed there (count = the
 *   probes until then);
 * - stallTolerance > detectWithin cannot be met with detection in budget: the
 *   plan takes the smaller worst case of userTimeout = stallTolerance and no
 *   userTimeout (the kernel's retransmission limit), and says so in its notes.
 */
import { invalidArgType, invalidArgValue, outOfRange } from '../core/errors';
import { DEFAULT_RETRIES2, type KernelTimes, kernelTimes, retransmissionTimeout } from '../core/kernel-timers';
import { COUNT_MAX, SECONDS_MAX, USER_TIMEOUT_MAX } from '../core/options';
import { IDLE_TIMEOUT_PRESETS, type IdleTimeoutPreset, isPresetName, type PresetName } from './presets';

/** One middlebox on the path: its idle timeout in ms, a preset name, or a preset / custom hop with details. */
export type PathHop =
  number | PresetName | { preset: PresetName; idleTimeout?: number } | { name: string; idleTimeout: number; probesRefresh?: boolean };

export interface PlanRequest {
  /** The load balancers, NATs, firewalls and proxies between the two ends. */
  path: PathHop | readonly PathHop[];
  /** A dead peer must be noticed within this many ms (worst case, counted from the last packet received). */
  detectWithin: number;
  /** Share of the smallest idle timeout kept in reserve, 0 ≤ margin < 1. Default 0.2. */
  margin?: number;
  /** Unanswered probes before giving up, 1..127. Default 3, lowered when the budget is too small for 3. */
  count?: number;
  /**
   * The longest a live peer may stop reading (a broker applying flow control, a paused consumer) while
   * we have data for it, before the connection may be ended (ms). TCP_USER_TIMEOUT ends such a
   * connection once it has passed, so the plan's userTimeout is never below it. Infinity: never end
   * a connection to a live peer that stops reading (no userTimeout). Default: detectWithin.
   */
  stallTolerance?: number;
}

export interface ResolvedHop {
  label: string;
  /** ms */
  idleTimeout: number;
  probesRefresh: boolean;
}

export interface KeepalivePlan {
  /**
   * Pass to configureKeepalive(socket, plan.options). All ms, whole seconds, within the kernel's ranges.
   * userTimeout 0 leaves TCP_USER_TIMEOUT unset (the kernel's default).
   */
  options: { enable: true; idle: number; interval: number; count: number; userTimeout: number };
  /** What these options mean on Linux (src/core/kernel-timers.ts): the three times, ms. */
  times: KernelTimes;
  /** The later of times.idleDeadPeer and times.deadWithDataInFlight: when a dead peer is noticed at the latest (ms). */
  worstCaseDetection: number;
  /** The hop whose idle timeout bounds `idle`, or null when probes refresh no hop on the path. */
  limitingHop: ResolvedHop | null;
  /** The smallest idle timeout among hops that ignore probes: the application must send data more often (ms). */
  heartbeatWithin: number | null;
  /** Why the numbers are what they are, and what keepalive cannot do on this path. */
  notes: string[];
}

export const DEFAULT_MARGIN = 0.2;
export const DEFAULT_COUNT = 3;

export interface PlanConflictError extends RangeError {
  code: 'ERR_KEEPALIVE_PLAN_CONFLICT';
}

function conflict(message: string): PlanConflictError {
  const error = new RangeError(`planKeepalive: ${message}`) as PlanConflictError;
  Object.defineProperty(error, 'code', { value: 'ERR_KEEPALIVE_PLAN_CONFLICT', enumerable: true, writable: true, configurable: true });
  return error;
}

function positiveMs(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number (milliseconds)', value);
  if (!Number.isFinite(value) || value <= 0) throw outOfRange(name, 'a finite number > 0 (milliseconds)', value);
  return value;
}

function resolveHop(hop: unknown, index: number): ResolvedHop {
  const where = `request.path[${index}]`;
  if (typeof hop === 'number') return { label: `path hop #${index + 1}`, idleTimeout: positiveMs(where, hop), probesRefresh: true };
  if (typeof hop === 'string') {
    if (!isPresetName(hop)) {
      throw invalidArgValue(where, `is not a known preset (known: ${Object.keys(IDLE_TIMEOUT_PRESETS).join(', ')})`, hop);
    }
    return fromPreset(hop, undefined, where);
  }
  if (hop === null || typeof hop !== 'object') {
    throw invalidArgType(where, 'a number (ms), a preset name or an object', hop);
  }
  const { preset, name, idleTimeout, probesRefresh } = hop as Record<string, unknown>;
  if (preset !== undefined) {
    if (!isPresetName(preset)) {
      throw invalidArgValue(`${where}.preset`, `is not a known preset (known: ${Object.keys(IDLE_TIMEOUT_PRESETS).join(', ')})`, preset);
    }
    return fromPreset(preset, idleTimeout === undefined ? undefined : positiveMs(`${where}.idleTimeout`, idleTimeout), where);
  }
  if (typeof name !== 'string') throw invalidArgType(`${where}.name`, 'of type string (or give a preset)', name);
  if (probesRefresh !== undefined && typeof probesRefresh !== 'boolean') {
    throw invalidArgType(`${where}.probesRefresh`, 'of type boolean', probesRefresh);
  }
  return { label: name, idleTimeout: positiveMs(`${where}.idleTimeout`, idleTimeout), probesRefresh: probesRefresh ?? true };
}

function fromPreset(name: PresetName, configured: number | undefined, where: string): ResolvedHop {
  const preset: IdleTimeoutPreset = IDLE_TIMEOUT_PRESETS[name];
  const idleTimeout = configured ?? preset.idleTimeout;
  if (idleTimeout === undefined) {
    throw invalidArgValue(
      where,
      `("${name}") has no default idle timeout: pass { preset: "${name}", idleTimeout: <ms> }. ${preset.note}`,
      name,
    );
  }
  return { label: preset.label, idleTimeout, probesRefresh: preset.probesRefresh };
}

interface ValidRequest {
  hops: ResolvedHop[];
  detectWithin: number;
  margin: number;
  count: number | undefined;
  stallTolerance: number | undefined;
}

function validateRequest(request: unknown): ValidRequest {
  if (request === null || typeof request !== 'object') throw invalidArgType('request', 'of type object', request);
  const { path, detectWithin, margin, count, stallTolerance } = request as Record<string, unknown>;
  const list: unknown[] = Array.isArray(path) ? path : [path];
  if (path === undefined || list.length === 0) {
    throw invalidArgValue('request.path', 'must name at least one hop (an idle timeout in ms or a preset)', path);
  }
  const hops = list.map((hop, index) => resolveHop(hop, index));
  const budget = positiveMs('request.detectWithin', detectWithin);
  if (margin !== undefined && typeof margin !== 'number') throw invalidArgType('request.margin', 'of type number', margin);
  if (margin !== undefined && !(margin >= 0 && margin < 1)) throw outOfRange('request.margin', '>= 0 && < 1', margin);
  if (count !== undefined && typeof count !== 'number') throw invalidArgType('request.count', 'of type number', count);
  if (count !== undefined && !(Number.isInteger(count) && count >= 1 && count <= COUNT_MAX)) {
    throw outOfRange('request.count', `an integer >= 1 && <= ${COUNT_MAX}`, count);
  }
  if (stallTolerance !== undefined && typeof stallTolerance !== 'number') {
    throw invalidArgType('request.stallTolerance', 'of type number (milliseconds, or Infinity)', stallTolerance);
  }
  if (stallTolerance !== undefined && !(stallTolerance >= 0 && (stallTolerance <= USER_TIMEOUT_MAX || stallTolerance === Infinity))) {
    throw outOfRange('request.stallTolerance', `>= 0 && <= ${USER_TIMEOUT_MAX} (milliseconds), or Infinity for no limit`, stallTolerance);
  }
  return { hops, detectWithin: budget, margin: margin ?? DEFAULT_MARGIN, count, stallTolerance };
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * Idle, interval and count (whole seconds) such that a probe goes out at a time T with
 * stall ≤ T ≤ budget, for a userTimeout of T: by moving idle (by less than one interval, later
 * within the usable idle time or earlier by at most half), and probing more often only if that fails.
 * Linux aborts at that probe whatever the count; the count is set to the probes sent until then,
 * so idle + interval × count tells the same time everywhere (unless it was pinned).
 */
function landProbe(
  planned: { idle: number; interval: number; count: number | undefined },
  stall: number,
  budget: number,
  usable: number,
): { idle: number; interval: number; count: number; probeAt: number } {
  const fits = (idle: number, interval: number): { idle: number; interval: number; count: number; probeAt: number } | null => {
    const probes = Math.max(1, Math.ceil((stall - idle) / interval));
    if (idle + interval * probes > budget) return null;
    return { idle, interval, count: planned.count ?? Math.min(COUNT_MAX, probes), probeAt: idle + interval * probes };
  };
  // Keep the interval if idle can move (later, within the usable idle time; or earlier, by at most half),
  // else probe a little more often: the first interval, from the planned one down, with an idle that fits.
  for (let interval = planned.interval; interval >= 1; interval--) {
    const latest = Math.max(planned.idle, Math.min(planned.idle + interval - 1, usable - interval));
    for (let idle = planned.idle; idle <= latest; idle++) {
      const landed = fits(idle, interval);
      if (landed !== null) return landed;
    }
    for (let idle = planned.idle - 1; idle >= Math.max(1, Math.ceil(planned.idle / 2)) && idle > planned.idle - interval; idle--) {
      const landed = fits(idle, interval);
      if (landed !== null) return landed;
    }
  }
  // Unreachable: stall > idle and stall ≤ budget, so probing every second lands on stall itself.
  return { idle: planned.idle, interval: 1, count: planned.count ?? Math.min(COUNT_MAX, stall - planned.idle), probeAt: stall };
}

/**
 * Plans idle/interval/count/userTimeout for a path and a detection budget.
 * Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE for a
 * malformed request, and ERR_KEEPALIVE_PLAN_CONFLICT when the kernel's limits
 * (whole seconds, idle and interval ≥ 1 s) make the two constraints impossible
 * to meet together.
 */
export function planKeepalive(request: PlanRequest): KeepalivePlan {
  const { hops, detectWithin, margin, count: pinnedCount, stallTolerance } = validateRequest(request);
  const notes: string[] = [];
  const refreshed = hops.filter((hop) => hop.probesRefresh);
  const ignoring = hops.filter((hop) => !hop.probesRefresh);
  const limitingHop = refreshed.reduce<ResolvedHop | null>(
    (min, hop) => (min === null || hop.idleTimeout < min.idleTimeout ? hop : min),
    null,
  );
  const heartbeatWithin = ignoring.length === 0 ? null : Math.min(...ignoring.map((hop) => hop.idleTimeout));

  // Whole seconds from here on: the kernel's unit.
  const budget = seconds(detectWithin);
  const usable = limitingHop === null ? SECONDS_MAX : Math.min(SECONDS_MAX, seconds(limitingHop.idleTimeout * (1 - margin)));
  if (usable < 1) {
    throw conflict(
      `${limitingHop!.label} forgets idle flows after ${limitingHop!.idleTimeout} ms; with a ${Math.round(margin * 100)} % margin ` +
        "keepalive would have to probe more often than once a second, the kernel's minimum. Raise that idle timeout or lower the margin.",
    );
  }
  let count = pinnedCount ?? DEFAULT_COUNT;
  const smallestDetection = 1 + 1 * (pinnedCount ?? 1);
  if (budget < smallestDetection) {
    throw conflict(
      `detecting a dead peer within ${detectWithin} ms is impossible: the fastest the kernel can do is ` +
        `idle 1 s + interval 1 s × count ${pinnedCount ?? 1} = ${smallestDetection} s. Allow at least ${smallestDetection * 1000} ms` +
        (pinnedCount === undefined ? '.' : ' or lower count.'),
    );
  }

  let idle = Math.max(1, Math.min(Math.floor(budget / 2), Math.floor(usable / 2)));
  let interval = Math.max(1, Math.min(Math.floor((budget - idle) / count), usable - idle));
  if (idle + interval * count > budget) {
    // The 1 s floors overshot a small budget: probe every second, fewer probes if we may choose.
    interval = 1;
    if (pinnedCount === undefined) count = Math.min(count, budget - 1);
    idle = Math.min(idle, budget - count);
  }
  // The stall a live peer that stops reading must survive, in whole seconds, rounded up (never below what was
  // asked), within TCP_USER_TIMEOUT's range.
  const userTimeoutMax = Math.floor(USER_TIMEOUT_MAX / 1000);
  const stall =
    stallTolerance === undefined
      ? Math.min(budget, userTimeoutMax)
      : stallTolerance === Infinity
        ? Infinity
        : Math.min(Math.ceil(stallTolerance / 1000), userTimeoutMax);
  const keepaliveDetection = idle + interval * count;
  const retries2Timeout = retransmissionTimeout(DEFAULT_RETRIES2) / 1000;
  let userTimeout: number; // whole seconds; 0 leaves TCP_USER_TIMEOUT unset
  let stallNote: string;
  if (stall <= keepaliveDetection) {
    // Cloudflare's advice, and gRPC's: data stuck in flight is given up on as fast as an idle dead peer.
    userTimeout = keepaliveDetection;
    stallNote =
      `a live peer that stops reading (a broker applying flow control, a paused consumer) keeps its connection for ${userTimeout} s ` +
      'of zero window; past that the kernel ends it (ETIMEDOUT) as if it were dead';
  } else if (stall <= budget) {
    // With TCP_USER_TIMEOUT set, Linux ends an idle connection at the first probe at or after it: a
    // probe must fall between the stall to survive and the detection budget.
    let probeAt: number;
    ({ idle, interval, count, probeAt } = landProbe(
      { idle, interval, count: pinnedCount },
      stall,
      Math.min(budget, userTimeoutMax),
      usable,
    ));
    userTimeout = probeAt;
    stallNote =
      `userTimeout ${userTimeout} s lets a live peer that stops reading (a broker applying flow control, a paused consumer) ` +
      `stall for ${userTimeout} s (stallTolerance ${stall} s); with it set Linux ends an idle connection to a dead peer ` +
      'at the first probe at or after userTimeout, whatever count says' +
      (pinnedCount === undefined ? `, so count is the ${count} probes sent until then` : '');
  } else {
    // Linux cannot meet both: a user timeout below the stall ends a live slow reader, one at or above it
    // holds a dead peer at least that long. Choose the smaller worst-case detection.
    const probeAfterStall = stall === Infinity ? Infinity : idle + interval * Math.max(1, Math.ceil((stall - idle) / interval));
    if (probeAfterStall < retries2Timeout) {
      userTimeout = stall;
      if (pinnedCount === undefined) count = Math.min(COUNT_MAX, (probeAfterStall - idle) / interval);
      stallNote =
        `stallTolerance ${stall} s is longer than detectWithin ${budget} s, and Linux cannot honour both: TCP_USER_TIMEOUT ends ` +
        'a live peer that stops reading once it has passed, and while it is set it also decides when a dead peer is noticed ' +
        `(the probe count is ignored). userTimeout ${stall} s keeps a live slow reader for ${stall} s; a dead peer is then ` +
        `noticed after ${stall} s with data in flight and ${probeAfterStall} s when idle, instead of about ${retries2Timeout} s ` +
        `(tcp_retries2 ${DEFAULT_RETRIES2}) with data in flight without it. A stallTolerance at or below detectWithin keeps detection within it`;
    } else {
      userTimeout = 0;
      stallNote =
        `${stall === Infinity ? 'stallTolerance Infinity: a live peer that stops reading is never cut off' : `stallTolerance ${stall} s is longer than detectWithin ${budget} s and than the kernel's own retransmission limit`}, ` +
        'so userTimeout is left unset (TCP_USER_TIMEOUT would end a live slow reader once it has passed). The cost: a peer ' +
        `that dies while written data is unacknowledged is noticed only when the kernel gives up retransmitting, after about ` +
        `${retries2Timeout} s (tcp_retries2 ${DEFAULT_RETRIES2}); bound requests with an application timeout`;
    }
  }
  if (idle + interval > usable) {
    notes.push(
      `${limitingHop!.label}: with idle ${idle} s and interval ${interval} s one lost probe lets it forget the flow ` +
        `(usable idle time ${usable} s); a wider idle timeout or a lower margin gives room for a retry.`,
    );
  }

  const options = { enable: true, idle: idle * 1000, interval: interval * 1000, count, userTimeout: userTimeout * 1000 } as const;
  const times = kernelTimes(options);
  if (limitingHop !== null) {
    notes.push(
      `idle ${idle} s is below the ${limitingHop.idleTimeout / 1000} s idle timeout of ${limitingHop.label} ` +
        `(${Math.round(margin * 100)} % margin): a probe each idle period keeps its flow entry fresh.`,
    );
  } else {
    notes.push('no hop on the path is refreshed by keepalive probes: idle is chosen for detection only.');
  }
  for (const hop of ignoring) {
    notes.push(
      `${hop.label} terminates TCP and counts application data only: keepalive probes do not keep it open; ` +
        `send an application heartbeat (MQTT keepalive, PING, …) more often than every ${hop.idleTimeout / 1000} s.`,
    );
  }
  notes.push(
    `a dead peer is noticed within ${times.idleDeadPeer / 1000} s when the connection is idle and ` +
      `${times.deadWithDataInFlight / 1000} s after written data stays unacknowledged ` +
      `(${userTimeout > 0 ? 'userTimeout; the kernel checks it on its retransmission timer, so expect a few hundred ms more' : `the kernel's retransmission limit`}).`,
    `${stallNote}.`,
  );

  return {
    options: { ...options },
    times,
    worstCaseDetection: Math.max(times.idleDeadPeer, times.deadWithDataInFlight),
    limitingHop,
    heartbeatWithin,
    notes,
  };
}
