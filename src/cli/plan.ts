/**
 * `tcp-keepalive plan`: the planner from the command line, and the plan
 * section `doctor` prints for connections at risk.
 */
import type { KeepalivePlan } from '../planner';
import { type CliHop, parseDuration, parseFlags, type ParsedFlags, parsePath, UsageError } from './args';
import { duration, msLiteral, type Style, styleFor, table } from './format';
import { NO_PATH_LABEL, planRequest, resolveHops } from './judge';
import type { Io } from './io';

export const PLAN_HELP = `Usage: tcp-keepalive plan [--path <hops>] [--detect-within <duration>] [--stall-tolerance <duration>|never]
                          [--count <n>] [--margin <fraction>] [--json]
       tcp-keepalive plan --presets [--json]

Plans keepalive for a network path: idle, interval, count and TCP_USER_TIMEOUT;
what they mean on Linux (when an idle dead peer is noticed, when a peer dead
with data in flight is, the read stall a live peer survives); the hop that
limits idle, and notes.

  --path <hops>              comma-separated: preset names (see --presets), idle timeouts
                             (350s, 10m, or ms), or preset=<timeout> (haproxy=30s)
  --detect-within <duration> notice a dead peer within this (default 2m); 60s, 2m, 90000
  --stall-tolerance <duration>|never
                             the longest a live peer may stop reading (flow control, a paused
                             consumer) before its connection may be ended (default: --detect-within);
                             never: no TCP_USER_TIMEOUT
  --count <n>                unanswered probes before giving up (default 3)
  --margin <fraction>        share of the smallest idle timeout kept in reserve (default 0.2)
  --presets                  list the presets with their sources
  --json                     machine-readable output (schema in docs/cli.md)
  -h, --help                 this help

Exit codes: 0 planned, 64 usage error or a plan that cannot be met.`;

/** The doctor's and the planner's default detection budget when --detect-within is not given. */
export const DEFAULT_DETECT_WITHIN = 120_000;

type Planner = typeof import('../planner');

/** The planner's optional request fields the command line sets. */
export interface PlanExtra {
  count?: number;
  margin?: number;
  stallTolerance?: number;
}

/** The planner, loaded when a command needs it (it is lazily loaded by the package too). */
export function loadPlanner(): Planner {
  return require('../planner') as Planner;
}

/** The values for code that is not Node: setsockopt option → value in the kernel's units. */
export function setsockoptValues(options: KeepalivePlan['options']): Record<string, number> {
  return {
    SO_KEEPALIVE: 1,
    TCP_KEEPIDLE: options.idle / 1000,
    TCP_KEEPINTVL: options.interval / 1000,
    TCP_KEEPCNT: options.count,
    TCP_USER_TIMEOUT: options.userTimeout,
  };
}

/** --stall-tolerance: a duration, or never (Infinity: no TCP_USER_TIMEOUT). */
export function parseStallTolerance(text: string, command: string): number {
  if (text === 'never') return Infinity;
  if (/^\d/.test(text)) return parseDuration('stall-tolerance', text, command);
  throw new UsageError(`--stall-tolerance "${text}" is neither a duration (60s, 2m, 90000) nor never`, command);
}

/** Runs the planner; its coded errors (a conflict, a bad value) become one-line usage errors. */
export function makePlan(
  planner: Planner,
  hops: readonly CliHop[],
  detectWithin: number,
  extra: PlanExtra,
  command: string,
): KeepalivePlan {
  resolveHops(hops, planner.IDLE_TIMEOUT_PRESETS, command); // its messages speak of --path, the planner's of request.path
  try {
    const plan = planner.planKeepalive({ ...planRequest(hops, detectWithin), ...extra });
    if (hops.length > 0) return plan;
    // Without a path the planner saw one stand-in hop: nothing of it belongs in the answer.
    const notes = plan.notes.filter((note) => !note.includes(NO_PATH_LABEL) && !note.startsWith('no hop on the path'));
    notes.unshift(
      'no --path given: idle is chosen for detection only; give the idle timeouts of the load balancers, NATs and firewalls on the path with --path',
    );
    return { ...plan, heartbeatWithin: null, notes };
  } catch (error) {
    // The planner's own refusals (a conflict, a value out of range) are the user's to fix; anything else is a bug.
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !/^ERR_(KEEPALIVE_PLAN_CONFLICT|INVALID_ARG_VALUE|INVALID_ARG_TYPE|OUT_OF_RANGE)$/.test(code))
      throw error;
    throw new UsageError((error as Error).message.replace(/^planKeepalive: /, ''), command);
  }
}

/**
 * The same for a Node process without code changes (tcp-keepalive/register, docs/zero-code.md):
 * its environment. All values are whole seconds.
 */
export function environmentValues(options: KeepalivePlan['options']): { NODE_OPTIONS: string; TCP_KEEPALIVE: string } {
  const { idle, interval, count, userTimeout } = options;
  return {
    NODE_OPTIONS: '--require tcp-keepalive/register',
    TCP_KEEPALIVE: `idle=${idle / 1000}s,interval=${interval / 1000}s,count=${count},userTimeout=${userTimeout / 1000}s`,
  };
}

export interface PlanJson {
  options: KeepalivePlan['options'];
  /** What the options mean on Linux (ms); survivableStall null: never ended (no TCP_USER_TIMEOUT). */
  times: { idleDeadPeer: number; deadWithDataInFlight: number; survivableStall: number | null };
  setsockopt: Record<string, number>;
  /** For a Node process, without code changes. */
  environment: { NODE_OPTIONS: string; TCP_KEEPALIVE: string };
  worstCaseDetection: number;
  limitingHop: KeepalivePlan['limitingHop'];
  heartbeatWithin: number | null;
  notes: string[];
}

export function planJson(plan: KeepalivePlan): PlanJson {
  const { idleDeadPeer, deadWithDataInFlight, survivableStall } = plan.times;
  return {
    options: plan.options,
    times: { idleDeadPeer, deadWithDataInFlight, survivableStall: survivableStall === Infinity ? null : survivableStall },
    setsockopt: setsockoptValues(plan.options),
    environment: environmentValues(plan.options),
    worstCaseDetection: plan.worstCaseDetection,
    limitingHop: plan.limitingHop,
    heartbeatWithin: plan.heartbeatWithin,
    notes: plan.notes,
  };
}

/** The three kernel times of a plan, and its worst case, as people read them. */
export function timesLines(plan: KeepalivePlan): string[] {
  const { idleDeadPeer, deadWithDataInFlight, survivableStall } = plan.times;
  const userTimeout = plan.options.userTimeout;
  return [
    `  dead peer noticed, idle: ${duration(idleDeadPeer)} after the last packet received` +
      (userTimeout > 0 ? ' (the first probe at or after userTimeout; Linux ignores count while it is set)' : ''),
    `  dead peer noticed, data in flight: ${duration(deadWithDataInFlight)} after the first retransmission` +
      (userTimeout > 0 ? ' (userTimeout)' : " (the kernel's retransmission limit, tcp_retries2 15)"),
    `  live peer that stops reading: ${survivableStall === Infinity ? 'never cut off (no userTimeout)' : `connection ended after a ${duration(survivableStall)} stall`}`,
    `  worst-case detection: ${duration(plan.worstCaseDetection)}`,
  ];
}

/** The plan as people read it; `extraLines` (e.g. a server's own settings) go after the setsockopt line. */
export function formatPlan(plan: KeepalivePlan, style: Style, extraLines: readonly string[] = []): string {
  const { idle, interval, count, userTimeout } = plan.options;
  const raw = Object.entries(setsockoptValues(plan.options))
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  const env = environmentValues(plan.options);
  const lines = [
    `  ${style.bold(`configureKeepalive(socket, { idle: ${msLiteral(idle)}, interval: ${msLiteral(interval)}, count: ${count}, userTimeout: ${msLiteral(userTimeout)} });`)}`,
    `  other languages (setsockopt): ${raw}`,
    `  Node without code changes: NODE_OPTIONS="${env.NODE_OPTIONS}" TCP_KEEPALIVE="${env.TCP_KEEPALIVE}" ` +
      '(add TCP_KEEPALIVE_SERVER=1 for the connections its servers accept)',
    ...extraLines.map((line) => `  ${line}`),
    ...timesLines(plan),
    `  limiting hop: ${plan.limitingHop === null ? 'none' : `${plan.limitingHop.label}, idle timeout ${duration(plan.limitingHop.idleTimeout)}`}`,
  ];
  if (plan.heartbeatWithin !== null) lines.push(`  application heartbeat needed: more often than every ${duration(plan.heartbeatWithin)}`);
  lines.push('  notes:', ...plan.notes.map((note) => `  - ${note}`));
  return lines.join('\n');
}

function presetsOutput(planner: Planner, json: boolean, style: Style): string {
  const presets = Object.entries(planner.IDLE_TIMEOUT_PRESETS).map(([name, preset]) => ({ name, ...preset }));
  if (json) return JSON.stringify({ schema: 'tcp-keepalive.presets/1', presets }, null, 2);
  const rows = presets.map((p) => [
    p.name,
    p.idleTimeout === undefined ? 'set by you' : duration(p.idleTimeout),
    p.probesRefresh ? 'yes' : 'no',
    p.label,
  ]);
  const sources = presets.map((p) => `  ${p.name}: ${p.source}\n    ${style.dim(p.note)}`);
  return `${table(['PRESET', 'IDLE TIMEOUT', 'PROBES KEEP IT OPEN', 'WHAT'], rows)}\n\nSources:\n${sources.join('\n')}`;
}

/** plan's command line, checked (--presets and --help are handled before). */
export interface PlanOptions {
  hops: CliHop[];
  /** --path as given (the heading repeats it). */
  pathText: string | undefined;
  detectWithin: number;
  extra: PlanExtra;
  json: boolean;
}

export function planOptions(flags: ParsedFlags, planner: Planner): PlanOptions {
  const pathText = flags.values.get('path');
  const hops = pathText === undefined ? [] : parsePath(pathText, Object.keys(planner.IDLE_TIMEOUT_PRESETS), 'plan');
  const detectWithinText = flags.values.get('detect-within');
  const detectWithin = detectWithinText === undefined ? DEFAULT_DETECT_WITHIN : parseDuration('detect-within', detectWithinText, 'plan');
  const extra: PlanExtra = {};
  const stallText = flags.values.get('stall-tolerance');
  if (stallText !== undefined) extra.stallTolerance = parseStallTolerance(stallText, 'plan');
  const countText = flags.values.get('count');
  if (countText !== undefined) {
    extra.count = Number(countText);
    if (!/^\d+$/.test(countText) || extra.count < 1 || extra.count > 127)
      throw new UsageError(`--count "${countText}" must be a whole number from 1 to 127`, 'plan');
  }
  const marginText = flags.values.get('margin');
  if (marginText !== undefined) {
    extra.margin = Number(marginText);
    if (!/^\d*\.?\d+$/.test(marginText) || !(extra.margin < 1))
      throw new UsageError(`--margin "${marginText}" must be a fraction from 0 to below 1 (e.g. 0.2)`, 'plan');
  }
  return { hops, pathText, detectWithin, extra, json: flags.switches.has('json') };
}

/** The plan as `plan` prints it: JSON (with the request) or text. No I/O. */
export function renderPlan(plan: KeepalivePlan, options: PlanOptions, style: Style): string {
  const { hops, pathText, detectWithin, extra } = options;
  if (options.json) {
    return `${JSON.stringify({ schema: 'tcp-keepalive.plan/1', request: { path: hops, detectWithin, ...extra }, ...planJson(plan) }, (_key, value: unknown) => (value === Infinity ? null : value), 2)}\n`;
  }
  const pathWords = hops.length === 0 ? 'Plan with no --path' : `Plan for path ${pathText}`;
  return `${pathWords}, a dead peer noticed within ${duration(detectWithin)}:\n${formatPlan(plan, style)}\n`;
}

export function runPlan(argv: readonly string[], io: Io): number {
  const flags = parseFlags(
    argv,
    { values: ['path', 'detect-within', 'stall-tolerance', 'count', 'margin'], switches: ['json', 'presets', 'help'] },
    'plan',
  );
  if (flags.switches.has('help')) {
    io.stdout.write(`${PLAN_HELP}\n`);
    return 0;
  }
  const style = styleFor(io.stdout, io.env);
  const planner = loadPlanner();
  if (flags.switches.has('presets')) {
    if (flags.values.size > 0) throw new UsageError('--presets takes no other options but --json', 'plan');
    io.stdout.write(`${presetsOutput(planner, flags.switches.has('json'), style)}\n`);
    return 0;
  }
  const options = planOptions(flags, planner);
  io.stdout.write(renderPlan(makePlan(planner, options.hops, options.detectWithin, options.extra, 'plan'), options, style));
  return 0;
}
