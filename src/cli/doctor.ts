/**
 * `tcp-keepalive doctor`: the TCP connections of a process (or of every
 * process we may read), what the kernel holds for each — read exactly from a
 * duplicate of the process's fd — the live timer as `ss -o` shows it, and a
 * verdict against the path and the detection budget, with the plan that fixes
 * what is at risk.
 *
 * Three steps, each testable alone: gather (doctor-gather.ts: /proc and the
 * kernel, as plain data), judge (doctor-judge.ts: verdicts, summary, exit code),
 * render (doctor-render.ts: JSON or the table). runDoctor only wires them.
 */
import type { KeepalivePlan } from '../planner';
import { type CliHop, parseDuration, parseFlags, type ParsedFlags, parsePath, parsePids, parsePorts, UsageError } from './args';
import { gatherDoctor } from './doctor-gather';
import { judgeDoctor } from './doctor-judge';
import { renderDoctorJson, renderDoctorText } from './doctor-render';
import { styleFor } from './format';
import { type Policy, resolveHops, retransmissionLimit } from './judge';
import type { Io } from './io';
import { DEFAULT_DETECT_WITHIN, loadPlanner, makePlan, parseStallTolerance } from './plan';
import { allPids } from './proc';

export type { ConnectionReport, DoctorReport, ProcessReport } from './doctor-judge';

export const DOCTOR_HELP = `Usage: tcp-keepalive doctor --pid <pid>[,<pid>...] [options]
       tcp-keepalive doctor --all [options]

Lists a process's TCP connections with what the kernel holds for each
(SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT, read
with getsockopt on a duplicate of the process's fd), the live timer as ss -o
shows it, and whether a dead peer or a dropped flow would be noticed in time.
Reading another user's process needs root (or CAP_SYS_PTRACE); without it,
doctor says which values it could not read and shows what /proc gives.

  --pid <pids>               the process(es) to inspect (decimal ids; a thread id shows its process)
  --all                      every process whose sockets this user may read
  --port <ports>             only connections with this local or remote port (comma-separated)
  --path <hops>              the middleboxes on the path: preset names (tcp-keepalive plan --presets),
                             idle timeouts (350s, 10m, or ms), or preset=<timeout>; comma-separated
  --detect-within <duration> a dead peer must be noticed within this (default 2m); 60s, 2m, 90000
  --stall-tolerance <duration>|never
                             for the plan that fixes what is at risk: the longest a live peer may stop
                             reading before its connection may be ended (default: --detect-within)
  --json                     machine-readable output (schema in docs/cli.md)
  --watch <interval>         redraw every interval (2s) with RTT and retransmissions since the last redraw
  -h, --help                 this help

Exit codes: 0 every connection ok, 1 some at risk, 2 could not inspect (some values
unreadable, no such process, no permission), 64 usage error.`;

const DOCTOR_FLAGS = { values: ['pid', 'port', 'path', 'detect-within', 'stall-tolerance'], switches: ['all', 'json', 'help'] };

/** doctor's command line, checked: what to inspect, and the path and budget to judge against. */
export interface DoctorOptions {
  /** --pid's ids; null with --all. */
  pids: number[] | null;
  ports: number[] | null;
  detectWithin: number;
  hops: CliHop[];
  /** --path as given (the summary line repeats it). */
  pathText: string | undefined;
  stallTolerance: number | undefined;
  json: boolean;
}

/** The flags after --help and the --pid/--all check (the platform is checked between the two, as a user sees it). */
export function doctorOptions(flags: ParsedFlags): DoctorOptions {
  const pidText = flags.values.get('pid');
  const portText = flags.values.get('port');
  const detectWithinText = flags.values.get('detect-within');
  const pathText = flags.values.get('path');
  const stallText = flags.values.get('stall-tolerance');
  const pids = pidText === undefined ? null : parsePids(pidText, 'doctor');
  const ports = portText === undefined ? null : parsePorts(portText, 'doctor');
  const detectWithin = detectWithinText === undefined ? DEFAULT_DETECT_WITHIN : parseDuration('detect-within', detectWithinText, 'doctor');
  const planner = loadPlanner();
  const hops = pathText === undefined ? [] : parsePath(pathText, Object.keys(planner.IDLE_TIMEOUT_PRESETS), 'doctor');
  const stallTolerance = stallText === undefined ? undefined : parseStallTolerance(stallText, 'doctor');
  return { pids, ports, detectWithin, hops, pathText, stallTolerance, json: flags.switches.has('json') };
}

/**
 * The planner's answer for the path and budget, and the policy connections are judged against. Planned before
 * inspecting: a path and budget that cannot be met is a usage error, whatever the connections.
 */
export function doctorPolicy(
  options: DoctorOptions,
  limit: { retries2: number; giveUpMs: number } = retransmissionLimit(),
): { plan: KeepalivePlan; policy: Policy } {
  const planner = loadPlanner();
  const { hops, detectWithin, stallTolerance } = options;
  const plan = makePlan(planner, hops, detectWithin, stallTolerance === undefined ? {} : { stallTolerance }, 'doctor');
  const policy: Policy = {
    hops: resolveHops(hops, planner.IDLE_TIMEOUT_PRESETS, 'doctor'),
    detectWithin,
    retransmissionGiveUp: limit.giveUpMs,
    tcpRetries2: limit.retries2,
  };
  return { plan, policy };
}

export function runDoctor(argv: readonly string[], io: Io): number {
  const flags = parseFlags(argv, DOCTOR_FLAGS, 'doctor');
  if (flags.switches.has('help')) {
    io.stdout.write(`${DOCTOR_HELP}\n`);
    return 0;
  }
  const all = flags.switches.has('all');
  if (!flags.values.has('pid') === !all)
    throw new UsageError(all ? '--pid and --all exclude each other' : 'give --pid <pid> or --all', 'doctor');
  if (process.platform !== 'linux') {
    // Not the user's mistake: nothing here can be inspected.
    io.stderr.write(`tcp-keepalive doctor: reads /proc and needs Linux; this is ${process.platform} (tcp-keepalive plan works here)\n`);
    return 2;
  }
  const options = doctorOptions(flags);
  const { plan, policy } = doctorPolicy(options);
  const pids = options.pids ?? allPids().filter((pid) => pid !== process.pid);
  const gathered = gatherDoctor(pids, { ports: options.ports, all });
  const { report, fix } = judgeDoctor(gathered, policy, plan, all);
  io.stdout.write(
    options.json
      ? renderDoctorJson(report)
      : renderDoctorText(report, fix, { pathText: options.pathText, ports: options.ports, all }, styleFor(io.stdout, io.env)),
  );
  return report.exitCode;
}
