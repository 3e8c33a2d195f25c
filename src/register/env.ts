/**
 * The environment grammar of `tcp-keepalive/register` (docs/zero-code.md):
 *
 *   TCP_KEEPALIVE         idle=30s,interval=10s,count=3,userTimeout=60s       explicit options
 *                         path=aws-nlb,detectWithin=60s[,count=3][,margin=0.2][,stallTolerance=2m|never]
 *                                                                              a plan (planKeepalive)
 *                         unset or empty: idle=15s,interval=15s,count=9 (Go's dialer default)
 *   TCP_KEEPALIVE_MATCH   6379,5432 | db.internal:5432 | *.internal | [::1]:5432 | !127.0.0.1
 *   TCP_KEEPALIVE_SERVER  1 | 0   also configure the accepted sockets of every server
 *   TCP_KEEPALIVE_DEBUG   1 | 0   log each configured connection once to stderr
 *
 * Everything is parsed and checked before anything is installed; the first
 * bad part becomes one RegisterConfigError naming the variable and the item,
 * which the register entry prints as a single line before exiting.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { KeepaliveOptions } from '../core/options';
import type { ConnectionTarget } from '../integrations/process-wide';
import type { PathHop, PlanRequest } from '../planner';

/** Longest value echoed whole in an error: a longer one is cut, and its length said. */
const ECHO_LIMIT = 80;

/** A value as the error line quotes it: whole when short, else its start and its length (an error is one line). */
export function quoted(text: string): string {
  if (text.length <= ECHO_LIMIT) return `"${text}"`;
  return `"${text.slice(0, ECHO_LIMIT)}…" (cut; ${text.length} characters)`;
}

export class RegisterConfigError extends Error {
  readonly code = 'ERR_TCP_KEEPALIVE_ENV';
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'RegisterConfigError';
  }
}

/** What the environment asks for, parsed and checked (the policy is validated again by the integrations). */
export interface RegisterConfig {
  /** The options to apply, in ms (from explicit options, the default, or a plan). */
  readonly options: Readonly<KeepaliveOptions>;
  /** How the options were chosen, for the debug log: 'explicit', 'default' or the plan's text. */
  readonly source: string;
  /** Outbound connections to configure; undefined = all. */
  readonly match: ((target: ConnectionTarget) => boolean) | undefined;
  readonly server: boolean;
  readonly debug: boolean;
}

/** Go's net.Dialer default (KeepAlive 15 s: idle 15 s, interval 15 s, count 9 since Go 1.23). */
export const DEFAULT_OPTIONS: Readonly<KeepaliveOptions> = Object.freeze({ idle: 15_000, interval: 15_000, count: 9 });

const OPTION_KEYS = ['enable', 'idle', 'interval', 'count', 'userTimeout'] as const;
const PLAN_KEYS = ['path', 'detectWithin', 'count', 'margin', 'stallTolerance'] as const;
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** `30s`, `1.5s`, `250ms`, `2m`, `30000` (ms): a whole number of ms, or a RegisterConfigError. */
export function parseDuration(variable: string, item: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (match === null) {
    throw new RegisterConfigError(
      variable,
      `${quoted(item)}: ${quoted(text)} is not a duration (a number of ms, or with a unit: 500ms, 30s, 2m)`,
    );
  }
  const ms = Number(match[1]) * UNITS[match[2] ?? 'ms']!;
  if (!Number.isSafeInteger(ms))
    throw new RegisterConfigError(variable, `${quoted(item)}: ${quoted(text)} is not a whole number of milliseconds`);
  return ms;
}

function parseInteger(variable: string, item: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new RegisterConfigError(variable, `${quoted(item)}: ${quoted(text)} is not a whole number`);
  return Number(text);
}

function parseSwitch(variable: string, text: string | undefined, item?: string): boolean {
  const value = (text ?? '').trim().toLowerCase();
  if (value === '' || value === '0' || value === 'false' || value === 'off' || value === 'no') return false;
  if (value === '1' || value === 'true' || value === 'on' || value === 'yes') return true;
  throw new RegisterConfigError(
    variable,
    `${item === undefined ? '' : `${quoted(item)}: `}${quoted(text ?? '')} is not a switch (use 1 or 0)`,
  );
}

/** Splits `a=1, b=2` into [item, key, value] triples; refuses empty items, missing `=` and repeated keys. */
function keyValues(variable: string, text: string): Array<{ item: string; key: string; value: string }> {
  const seen = new Set<string>();
  return text.split(',').map((raw) => {
    const item = raw.trim();
    if (item === '') throw new RegisterConfigError(variable, `empty item in ${quoted(text)} (items are separated by single commas)`);
    const equals = item.indexOf('=');
    if (equals <= 0 || equals === item.length - 1) {
      throw new RegisterConfigError(variable, `${quoted(item)} is not key=value (e.g. idle=30s)`);
    }
    const key = item.slice(0, equals).trim();
    const value = item.slice(equals + 1).trim();
    if (seen.has(key)) throw new RegisterConfigError(variable, `${quoted(key)} is given twice`);
    seen.add(key);
    return { item, key, value };
  });
}

function parseExplicit(variable: string, items: ReturnType<typeof keyValues>): KeepaliveOptions {
  const options: KeepaliveOptions = {};
  for (const { item, key, value } of items) {
    switch (key) {
      case 'enable':
        options.enable = parseSwitch(variable, value, item);
        break;
      case 'idle':
      case 'interval':
      case 'userTimeout':
        options[key] = parseDuration(variable, item, value);
        break;
      case 'count':
        options.count = parseInteger(variable, item, value);
        break;
      default:
        throw new RegisterConfigError(
          variable,
          `${quoted(item)}: unknown key ${quoted(key)} (options: ${OPTION_KEYS.join(', ')}; or a plan: ${PLAN_KEYS.join(', ')})`,
        );
    }
  }
  return options;
}

function parsePlan(variable: string, items: ReturnType<typeof keyValues>): PlanRequest {
  let path: PathHop[] | undefined;
  let detectWithin: number | undefined;
  let count: number | undefined;
  let margin: number | undefined;
  let stallTolerance: number | undefined;
  for (const { item, key, value } of items) {
    switch (key) {
      case 'path':
        // Several hops are joined with '+': path=aws-nat-gateway+aws-nlb.
        path = value.split('+').map((hop) => {
          const trimmed = hop.trim();
          if (trimmed === '') throw new RegisterConfigError(variable, `${quoted(item)}: empty hop (join hops with a single +)`);
          return /^\d/.test(trimmed) ? parseDuration(variable, item, trimmed) : (trimmed as PathHop); // preset names are checked by the planner
        });
        break;
      case 'detectWithin':
        detectWithin = parseDuration(variable, item, value);
        break;
      case 'count':
        count = parseInteger(variable, item, value);
        break;
      case 'margin': {
        const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
        if (percent === null && !/^\d+(?:\.\d+)?$/.test(value)) {
          throw new RegisterConfigError(variable, `${quoted(item)}: ${quoted(value)} is not a fraction (0.2) or a percentage (20%)`);
        }
        margin = percent === null ? Number(value) : Number(percent[1]) / 100;
        break;
      }
      case 'stallTolerance':
        // The read stall a live peer survives; never: no TCP_USER_TIMEOUT.
        stallTolerance = value === 'never' ? Infinity : parseDuration(variable, item, value);
        break;
      default:
        throw new RegisterConfigError(
          variable,
          `${quoted(item)}: ${quoted(key)} cannot be combined with a plan (plan keys: ${PLAN_KEYS.join(', ')})`,
        );
    }
  }
  if (path === undefined) throw new RegisterConfigError(variable, 'a plan needs path=<preset or idle timeout> (e.g. path=aws-nlb)');
  if (detectWithin === undefined) throw new RegisterConfigError(variable, 'a plan needs detectWithin=<duration> (e.g. detectWithin=60s)');
  const request: PlanRequest = { path, detectWithin };
  if (count !== undefined) request.count = count;
  if (margin !== undefined) request.margin = margin;
  if (stallTolerance !== undefined) request.stallTolerance = stallTolerance;
  return request;
}

const DURATION_KEYS = new Set(['idle', 'interval', 'userTimeout', 'detectWithin']);

/**
 * A bare number is milliseconds, so `idle=30` asks for 30 ms and fails the range check. When a value is refused,
 * the durations written without a unit that make sense as seconds are suggested.
 */
function secondsHint(text: string | undefined): string {
  if (text === undefined || text.trim() === '') return '';
  const suggestions = keyValues('TCP_KEEPALIVE', text)
    .filter(({ key, value }) => DURATION_KEYS.has(key) && /^\d{1,3}$/.test(value) && Number(value) > 0)
    .map(({ key, value }) => `${key}=${value}s`);
  return suggestions.length === 0 ? '' : ` (a number without a unit is milliseconds: did you mean ${suggestions.join(',')}?)`;
}

/** Explicit options, or a plan turned into options by the planner; the validity of the values is checked by the caller. */
export function parseKeepalive(text: string | undefined): { options?: KeepaliveOptions; plan?: PlanRequest } {
  const variable = 'TCP_KEEPALIVE';
  if (text === undefined || text.trim() === '') return {};
  const items = keyValues(variable, text);
  const isPlan = items.some(({ key }) => key === 'path' || key === 'detectWithin' || key === 'margin' || key === 'stallTolerance');
  return isPlan ? { plan: parsePlan(variable, items) } : { options: parseExplicit(variable, items) };
}

interface MatchRule {
  readonly negated: boolean;
  readonly text: string;
  /** Lower-case host name or address; `*.example.com` matches subdomains; undefined = any host. */
  readonly host: string | undefined;
  readonly port: number | undefined;
}

function parsePort(variable: string, rule: string, text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new RegisterConfigError(variable, `${quoted(rule)}: ${quoted(text)} is not a port (1-65535)`);
  }
  return Number(text);
}

const HOST_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/;

/** Digits and dots only: meant as an IPv4 address (no top-level domain is all digits), so it must be one. */
const DOTTED_NUMBERS = /^[0-9.]+$/;

/** A host a connection can have: a name, a `*.suffix`, or an address that exists (a rule that can never match is refused). */
function checkHost(variable: string, rule: string, host: string): string {
  const lower = host.toLowerCase();
  if (lower.includes(':')) {
    if (!isIPv6(lower)) throw new RegisterConfigError(variable, `${quoted(rule)}: ${quoted(host)} is not an IPv6 address`);
  } else if (DOTTED_NUMBERS.test(lower)) {
    if (!isIPv4(lower)) {
      throw new RegisterConfigError(variable, `${quoted(rule)}: ${quoted(host)} is not an IPv4 address (four numbers 0-255: 10.0.0.5)`);
    }
  } else if (!HOST_NAME.test(lower)) {
    throw new RegisterConfigError(variable, `${quoted(rule)}: ${quoted(host)} is not a host name or address`);
  }
  return lower;
}

/** One rule: `6379`, `db.internal`, `db.internal:5432`, `10.0.0.5:5432`, `::1`, `[::1]:5432`, `*.internal`; `!` negates. */
function parseRule(variable: string, raw: string): MatchRule {
  const text = raw.trim();
  if (text === '' || text === '!') throw new RegisterConfigError(variable, 'empty rule (rules are separated by single commas)');
  const negated = text.startsWith('!');
  const body = negated ? text.slice(1).trim() : text;
  if (/^\d+$/.test(body)) return { negated, text, host: undefined, port: parsePort(variable, text, body) };
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(body);
  if (bracketed !== null) {
    return {
      negated,
      text,
      host: checkHost(variable, text, bracketed[1]!),
      port: bracketed[2] === undefined ? undefined : parsePort(variable, text, bracketed[2]),
    };
  }
  const colons = body.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = body.split(':') as [string, string];
    return { negated, text, host: checkHost(variable, text, host), port: parsePort(variable, text, port) };
  }
  // No colon: a host; several: a bare IPv6 address (write [addr]:port for a port).
  return { negated, text, host: checkHost(variable, text, body), port: undefined };
}

function hostMatches(pattern: string, target: ConnectionTarget): boolean {
  const names = [target.host.toLowerCase(), target.address.toLowerCase()];
  if (pattern.startsWith('*.')) return names.some((name) => name.endsWith(pattern.slice(1)));
  return names.includes(pattern);
}

function ruleMatches(rule: MatchRule, target: ConnectionTarget): boolean {
  return (rule.port === undefined || rule.port === target.port) && (rule.host === undefined || hostMatches(rule.host, target));
}

/**
 * A connection is configured when it matches at least one positive rule (or
 * there are none) and no negated rule. Host rules compare with both the name
 * the client asked for and the peer address.
 */
export function parseMatch(text: string | undefined): ((target: ConnectionTarget) => boolean) | undefined {
  const variable = 'TCP_KEEPALIVE_MATCH';
  if (text === undefined || text.trim() === '') return undefined;
  const rules = text.split(',').map((raw) => parseRule(variable, raw));
  const positive = rules.filter((rule) => !rule.negated);
  const negative = rules.filter((rule) => rule.negated);
  return (target) =>
    (positive.length === 0 || positive.some((rule) => ruleMatches(rule, target))) && !negative.some((rule) => ruleMatches(rule, target));
}

/**
 * Parses the whole environment. `resolve` turns a parsed request into checked
 * options (the planner and the core's validation), so that its coded errors
 * can be reported against TCP_KEEPALIVE too.
 */
export function parseEnvironment(
  env: NodeJS.ProcessEnv,
  resolve: { plan(request: PlanRequest): KeepaliveOptions; check(options: KeepaliveOptions): KeepaliveOptions },
): RegisterConfig {
  const text = env.TCP_KEEPALIVE;
  const parsed = parseKeepalive(text);
  let options: KeepaliveOptions;
  let source: string;
  try {
    if (parsed.plan !== undefined) {
      options = resolve.plan(parsed.plan);
      source = `plan ${text!.trim()}`;
    } else {
      options = parsed.options ?? DEFAULT_OPTIONS;
      source =
        parsed.options === undefined
          ? "the default, because TCP_KEEPALIVE is unset (Go's dialer default; set TCP_KEEPALIVE to choose)"
          : 'TCP_KEEPALIVE';
    }
    options = resolve.check(options);
  } catch (error) {
    // The planner's and the core's messages name the field ("options.idle", "request.detectWithin"); keep them whole.
    const message = error instanceof Error ? error.message : String(error);
    const hint = secondsHint(text);
    throw new RegisterConfigError('TCP_KEEPALIVE', `${quoted((text ?? '').trim())}: ${message.replace(/\s+/g, ' ')}${hint}`);
  }
  return {
    options,
    source,
    match: parseMatch(env.TCP_KEEPALIVE_MATCH),
    server: parseSwitch('TCP_KEEPALIVE_SERVER', env.TCP_KEEPALIVE_SERVER),
    debug: parseSwitch('TCP_KEEPALIVE_DEBUG', env.TCP_KEEPALIVE_DEBUG),
  };
}
