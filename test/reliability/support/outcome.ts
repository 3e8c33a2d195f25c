/**
 * The invariant every reliability test checks, and an oracle for it written
 * from the documented contract (not from src/core), so the two can disagree.
 */
import { types } from 'node:util';
import type { KeepaliveState } from '../../../src';

export const KEEPALIVE_KEYS = ['enable', 'idle', 'interval', 'count', 'userTimeout'] as const;
const SECONDS_MAX_MS = 32_767_000;
const USER_TIMEOUT_MAX = 2 ** 31 - 1;

/** The codes the library documents; anything else (or no code) breaks the invariant. */
export const DOCUMENTED_CODES = new Set([
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_OUT_OF_RANGE',
  'ERR_SOCKET_CLOSED',
  'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
  'EAFNOSUPPORT',
  'ENOTSOCK',
  'EPROTOTYPE',
  'EPROTONOSUPPORT',
]);

/** What a valid call changes: the fields it sets, in getKeepalive's units. */
export type Requested = Partial<KeepaliveState>;

/** undefined = the contract says this call must be refused. */
export function expectedChange(options: unknown): Requested | undefined {
  if (options === undefined) return { enable: true };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return undefined;
  // Unknown keys are what for-in enumerates (own and inherited, never symbols), unless undefined.
  for (const key in options) {
    if (!(KEEPALIVE_KEYS as readonly string[]).includes(key) && (options as Record<string, unknown>)[key] !== undefined) return undefined;
  }
  // Known options are read as properties, enumerable or not: a class's prototype getters count too.
  const change: Requested = { enable: true };
  for (const key of KEEPALIVE_KEYS) {
    const value: unknown = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    switch (key) {
      case 'enable':
        if (typeof value !== 'boolean') return undefined;
        change.enable = value;
        break;
      case 'idle':
      case 'interval':
        if (typeof value !== 'number' || !(value >= 1000 && value <= SECONDS_MAX_MS)) return undefined;
        change[key] = Math.floor(value / 1000) * 1000;
        break;
      case 'count':
        if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 127) return undefined;
        change.count = value as number;
        break;
      case 'userTimeout':
        if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > USER_TIMEOUT_MAX) return undefined;
        change.userTimeout = (value as number) + 0; // -0 is accepted and the kernel holds 0
        break;
    }
  }
  return change;
}

export function sameState(a: KeepaliveState, b: KeepaliveState): boolean {
  return a.enable === b.enable && a.idle === b.idle && a.interval === b.interval && a.count === b.count && a.userTimeout === b.userTimeout;
}

export function show(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Throws (with the whole story) unless `error` is an Error carrying a documented code. */
export function assertCoded(error: unknown, context: string): asserts error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  // isNativeError, not instanceof: the addon's errors come from outside jest's sandbox realm.
  if (!types.isNativeError(error) || typeof code !== 'string' || !DOCUMENTED_CODES.has(code)) {
    const described = types.isNativeError(error) ? `${error.name}: ${error.message} (code ${String(code)})` : show(error);
    throw new Error(`${context}: expected a coded Error, got ${described}`);
  }
}

export function assertUnchanged(before: KeepaliveState, after: KeepaliveState, context: string): void {
  if (!sameState(before, after)) {
    throw new Error(`${context}: kernel state changed from ${show(before)} to ${show(after)}`);
  }
}
