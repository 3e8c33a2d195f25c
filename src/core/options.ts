/**
 * Validation of KeepaliveOptions into the kernel's units. Everything is checked
 * before anything is applied, and every option is read exactly once, so a
 * getter or Proxy cannot show one value to the check and another to the kernel.
 * This runs on every configureKeepalive call (one small object) and once per
 * integration, server or register entry, never per connection they configure.
 */
import { invalidArgType, invalidArgValue, outOfRange, unavailableOnPlatform } from './errors';

/**
 * Per-socket keepalive policy. Every field is optional: a field left out (or
 * `undefined`) leaves what the socket has unchanged.
 */
export interface KeepaliveOptions {
  /** SO_KEEPALIVE. Defaults to `true`: configuring keepalive turns it on. */
  enable?: boolean;
  /**
   * Idle time before the first probe, in milliseconds: 1000 to 32 767 000
   * (the kernel's 32 767 s), rounded down to whole seconds.
   */
  idle?: number;
  /** Time between unanswered probes, in milliseconds: 1000 to 32 767 000, rounded down to whole seconds. */
  interval?: number;
  /** Unanswered probes before the connection is dropped: an integer 1 to 127. */
  count?: number;
  /**
   * TCP_USER_TIMEOUT in milliseconds: an integer 0 to 2 147 483 647. How long
   * written data may stay unacknowledged before the connection is dropped —
   * the case keepalive cannot cover. 0 means the kernel's default
   * (retransmissions, ~15 minutes with tcp_retries2 = 15). Linux only.
   */
  userTimeout?: number;
}

declare const validated: unique symbol;

/**
 * The one internal form of a keepalive policy: KeepaliveOptions after
 * validateOptions, in the kernel's units (seconds for idle and interval),
 * -1 = unchanged. Maps one-to-one to the addon's apply() arguments. Read-only,
 * and branded so that only validateOptions (and a socket's own kept copy,
 * mergeInto) make one: whatever holds a KernelPolicy was validated, and is
 * passed down (integrations, servers, the register entry) without being
 * validated again. Users see it only as KeepaliveOptions (optionsOf).
 */
export interface KernelPolicy {
  readonly enable: number;
  readonly idleSeconds: number;
  readonly intervalSeconds: number;
  readonly count: number;
  readonly userTimeoutMs: number;
  readonly [validated]: true;
}

export const UNCHANGED = -1;
export const SECONDS_MAX = 32767;
export const COUNT_MAX = 127;
export const USER_TIMEOUT_MAX = 2 ** 31 - 1;

/** Which options this platform can honour; asked for before anything is applied. */
export interface OptionSupport {
  idle: boolean;
  interval: boolean;
  count: boolean;
  userTimeout: boolean;
  /** Why an option is missing, when the addon is not used. */
  reason?: string | undefined;
}

function seconds(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(`options.${name}`, 'of type number (milliseconds)', value);
  if (!(value >= 1000 && value <= SECONDS_MAX * 1000)) {
    throw outOfRange(`options.${name}`, `>= 1000 && <= ${SECONDS_MAX * 1000} (milliseconds, the kernel's 1..${SECONDS_MAX} s)`, value);
  }
  return Math.floor(value / 1000);
}

function integer(name: string, value: unknown, min: number, max: number, unit: string): number {
  if (typeof value !== 'number') throw invalidArgType(`options.${name}`, `of type number (${unit})`, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(`options.${name}`, `an integer >= ${min} && <= ${max} (${unit})`, value);
  }
  return value;
}

const NO_OTHER_KEYS: readonly string[] = [];

/** Turns keepalive on and leaves every other option as the socket has it. */
const ENABLE_ONLY = Object.freeze({
  enable: 1,
  idleSeconds: UNCHANGED,
  intervalSeconds: UNCHANGED,
  count: UNCHANGED,
  userTimeoutMs: UNCHANGED,
}) as KernelPolicy;

/**
 * Checks every option and returns them in the kernel's units as a fresh
 * object (read-only by type); throws a coded error naming the field, the value and the range.
 * `otherKeys`: keys of the same object that belong to the caller (an
 * integration's own options, such as installKeepalive's `match`), read there.
 */
export function validateOptions(options: unknown, support: OptionSupport, otherKeys: readonly string[] = NO_OTHER_KEYS): KernelPolicy {
  if (options === undefined) return ENABLE_ONLY;
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  let enable: unknown;
  let idle: unknown;
  let interval: unknown;
  let count: unknown;
  let userTimeout: unknown;
  let unknownKey: string | undefined;
  let unknownValue: unknown;
  try {
    if (Array.isArray(options)) throw invalidArgType('options', 'of type object', options);
    // Keys only: an unknown key (a typo) is an error unless its value is undefined. Known
    // options are then read directly, once each, like Node's own option parsing.
    for (const key in options) {
      if (
        key !== 'idle' &&
        key !== 'interval' &&
        key !== 'count' &&
        key !== 'userTimeout' &&
        key !== 'enable' &&
        unknownKey === undefined &&
        !otherKeys.includes(key)
      ) {
        const value: unknown = (options as Record<string, unknown>)[key];
        if (value !== undefined) {
          unknownKey = key;
          unknownValue = value;
        }
      }
    }
    const known = options as KeepaliveOptions;
    enable = known.enable;
    idle = known.idle;
    interval = known.interval;
    count = known.count;
    userTimeout = known.userTimeout;
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_INVALID_ARG_TYPE') throw cause;
    throw invalidArgValue('options', 'could not be read (a getter or Proxy trap threw)', options, cause);
  }
  if (unknownKey !== undefined) {
    throw invalidArgValue(
      `options.${unknownKey}`,
      'is not a keepalive option (known: enable, idle, interval, count, userTimeout)',
      unknownValue,
    );
  }

  if (enable !== undefined && typeof enable !== 'boolean') throw invalidArgType('options.enable', 'of type boolean', enable);
  const idleSeconds = idle === undefined ? UNCHANGED : seconds('idle', idle);
  const intervalSeconds = interval === undefined ? UNCHANGED : seconds('interval', interval);
  const probes = count === undefined ? UNCHANGED : integer('count', count, 1, COUNT_MAX, 'probes');
  let userTimeoutMs = userTimeout === undefined ? UNCHANGED : integer('userTimeout', userTimeout, 0, USER_TIMEOUT_MAX, 'milliseconds');
  if (idleSeconds !== UNCHANGED && !support.idle) throw unavailableOnPlatform('options.idle', support.reason);
  if (intervalSeconds !== UNCHANGED && !support.interval) throw unavailableOnPlatform('options.interval (TCP_KEEPINTVL)', support.reason);
  if (probes !== UNCHANGED && !support.count) throw unavailableOnPlatform('options.count (TCP_KEEPCNT)', support.reason);
  // userTimeout 0 asks for no user timeout: where the platform has none, that already holds (a plan with
  // stallTolerance Infinity applies everywhere).
  if (userTimeoutMs > 0 && !support.userTimeout) throw unavailableOnPlatform('options.userTimeout (TCP_USER_TIMEOUT)', support.reason);
  if (userTimeoutMs === 0 && !support.userTimeout) userTimeoutMs = UNCHANGED;
  // Fresh for every call, and not frozen: freezing costs about as much as the rest of a repeat
  // configure's JavaScript (docs/performance.md); it is read-only by type.
  return { enable: enable === false ? 0 : 1, idleSeconds, intervalSeconds, count: probes, userTimeoutMs } as KernelPolicy;
}

type Writable<T> = { -readonly [Field in keyof T]: T[Field] };

/** A copy of `policy` that belongs to one socket (or one lookup): the only kind mergeInto may write over. */
export function ownCopy(policy: KernelPolicy): KernelPolicy {
  return { ...policy };
}

/**
 * `update` written over `own`, in place: a field `update` leaves unchanged
 * keeps its value. `own` must be a socket's own copy (ownCopy, or the fresh
 * object an inherited-policy lookup returns), never a shared policy. In place rather than a new object per call: storing a new
 * object on an old socket record costs an allocation, a write barrier and its
 * share of scavenges, a noticeable share of a repeat configure's instructions
 * (docs/performance.md).
 */
export function mergeInto(own: KernelPolicy, update: KernelPolicy): void {
  const kept = own as Writable<KernelPolicy>;
  kept.enable = update.enable;
  if (update.idleSeconds !== UNCHANGED) kept.idleSeconds = update.idleSeconds;
  if (update.intervalSeconds !== UNCHANGED) kept.intervalSeconds = update.intervalSeconds;
  if (update.count !== UNCHANGED) kept.count = update.count;
  if (update.userTimeoutMs !== UNCHANGED) kept.userTimeoutMs = update.userTimeoutMs;
}

/** The options a policy stands for, in milliseconds: only where a policy is shown to users (policyOf, the dead channel, metrics). */
export function optionsOf(config: KernelPolicy): KeepaliveOptions {
  const options: KeepaliveOptions = { enable: config.enable === 1 };
  if (config.idleSeconds !== UNCHANGED) options.idle = config.idleSeconds * 1000;
  if (config.intervalSeconds !== UNCHANGED) options.interval = config.intervalSeconds * 1000;
  if (config.count !== UNCHANGED) options.count = config.count;
  if (config.userTimeoutMs !== UNCHANGED) options.userTimeout = config.userTimeoutMs;
  return options;
}
