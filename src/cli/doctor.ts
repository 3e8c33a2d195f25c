/**
 * `tcp-keepalive doctor`: the TCP connections of a process (or of every
 * process we may read), what the kernel holds for each — read exactly from a
 * duplicate of the process's fd — the live timer as `ss -o` shows it, and a
 * verdict against the path and the detection budget, with the plan that fixes
 * what is at risk.
 */
import type { KeepalivePlan, ResolvedHop } from '../planner';
import { type CliHop, parseDuration, parseFlags, parsePath, parsePids, parsePorts, UsageError } from './args';
import { duration, endpoint, type Style, styleFor, table } from './format';
import { fixPlan, judge, type Judgement, type Policy, resolveHops, retransmissionLimit } from './judge';
import type { Io } from './io';
import { isUnreadable, type KernelKeepalive, PROCESS_WIDE_REFUSALS, readPeerSocket, type Unreadable } from './peer-socket';
import { DEFAULT_DETECT_WITHIN, formatPlan, loadPlanner, makePlan, parseStallTolerance, planJson, type PlanJson } from './plan';
import {
  allPids,
  type Endpoint,
  processInfo,
  type ProcessInfo,
  processOfThread,
  type ProcTcpRow,
  socketFdsOf,
  type TcpStateName,
  tcpRowsOf,
  type TimerKind,
} from './proc';

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

export interface ConnectionReport {
  /** The fd in the process; null for a socket of the same user whose holder could not be seen. */
  fd: number | null;
  inode: number;
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
  state: TcpStateName;
  /** What getsockopt returned (ms, like the library's options); null when it could not be read. */
  kernel: KernelKeepalive | null;
  /** Why `kernel` is null. */
  unreadable: Unreadable | null;
  /** From /proc's timer alone (no privilege needed): null when the kernel values were read, or the timer cannot tell. */
  keepaliveFromTimer: boolean | null;
  timer: { kind: TimerKind; expiresIn: number; probes: number; retransmits: number };
  queues: { send: number; receive: number };
  tcpInfo: Record<string, number | string | null> | null;
  verdict: Judgement['verdict'];
  reasons: string[];
  notes: string[];
  worstCaseDetection: number | null;
  /** When the values could not be read but the keepalive timer is seen: what is left of it, a lower bound (ms). */
  worstCaseDetectionAtLeast: number | null;
  /** The kernel model's three times for the values read (keepalive on), else null; survivableStall Infinity is null in JSON. */
  times: Judgement['times'];
}

export interface ProcessReport extends ProcessInfo {
  /** The id given with --pid when it was a thread of this process (a thread shares its process's sockets); else null. */
  thread: number | null;
  /** false when its connections could not be listed at all (see error). */
  inspected: boolean;
  error: Unreadable | null;
  /** Listening sockets are counted, not judged: keepalive acts on connections. */
  listening: number;
  connections: ConnectionReport[];
  /**
   * Only when the process's fds could not be listed (--pid): the TCP sockets its user owns in its network
   * namespace, judged from /proc's timer alone (fd null). Which process holds them is not known, so they
   * count neither in the summary nor in the exit code.
   */
  sameUserSockets: ConnectionReport[];
}

export interface DoctorReport {
  schema: 'tcp-keepalive.doctor/1';
  policy: { path: ResolvedHop[]; detectWithin: number; retransmissionGiveUp: number; tcpRetries2: number };
  processes: ProcessReport[];
  /** --all: processes left out because this user may not read their fds. */
  skipped: { count: number; reason: string } | null;
  /**
   * Counts every row shown: the connections of the processes, and the sockets seen in /proc only (sameUserSockets,
   * also counted apart in seenInProcOnly), so that the counts match the table.
   */
  summary: {
    processes: number;
    connections: number;
    ok: number;
    atRisk: number;
    unknown: number;
    notInspected: number;
    seenInProcOnly: number;
  };
  /** What fixes the connections at risk (the planner's answer for --path and --detect-within); null when none is at risk. */
  plan: PlanJson | null;
  exitCode: 0 | 1 | 2;
}

/** `what` names the path read, with the real pid in it: the message must say what the user can check. */
function errorOf(error: unknown, pid: number, what: string): Unreadable {
  const code = (error as NodeJS.ErrnoException).code ?? 'ERR';
  const why: Record<string, string> = {
    ENOENT: `no such process: there is no process ${pid} (it has exited, or the id is wrong)`,
    ESRCH: `no such process: there is no process ${pid} (it has exited, or the id is wrong)`,
    EACCES: `not permitted: process ${pid} belongs to another user (run as root, or as the same user)`,
    EPERM: `not permitted: process ${pid} belongs to another user (run as root, or as the same user)`,
  };
  return { code, message: `${what}: ${code}, ${why[code] ?? (error as Error).message}` };
}

/** keepalive on/off as /proc's timer column shows it; null where another timer would hide it or it means something else. */
function keepaliveFromTimer(row: ProcTcpRow): boolean | null {
  if (row.state !== 'established' && row.state !== 'close-wait') return null;
  if (row.timer === 'keepalive') return true;
  if (row.timer === 'none') return false;
  return null;
}

interface Inspection {
  ports: number[] | null;
  policy: Policy;
  /** --pid: also show the user's sockets when the fds cannot be listed (not for --all, where they would repeat). */
  withSameUserSockets: boolean;
  rowsByNamespace: Map<string, Map<number, ProcTcpRow>>;
}

/** One connection's report: the kernel's values when `fd` could be duplicated, /proc's view otherwise. */
function connectionReport(pid: number, fd: number | null, row: ProcTcpRow, refused: Unreadable | null, policy: Policy): ConnectionReport {
  let kernel: KernelKeepalive | null = null;
  let unreadable = refused;
  let tcpInfo: Record<string, number | string | null> | null = null;
  if (unreadable === null && fd !== null) {
    const reading = readPeerSocket(pid, fd, row.inode);
    if (isUnreadable(reading)) unreadable = reading;
    else ({ keepalive: kernel, tcpInfo } = reading);
  }
  const fromTimer = kernel === null ? keepaliveFromTimer(row) : null;
  const keepaliveTimerLeft = fromTimer === true && row.timer === 'keepalive' ? row.timerExpiresIn : null;
  const judgement = judge({ kernel, keepaliveFromTimer: fromTimer, keepaliveTimerLeft, sendQueue: row.sendQueue }, policy);
  return {
    fd,
    inode: row.inode,
    family: row.family,
    local: row.local,
    remote: row.remote,
    state: row.state,
    kernel,
    unreadable,
    keepaliveFromTimer: fromTimer,
    timer: { kind: row.timer, expiresIn: row.timerExpiresIn, probes: row.probes, retransmits: row.retransmits },
    queues: { send: row.sendQueue, receive: row.receiveQueue },
    tcpInfo,
    ...judgement,
  };
}

function portMatches(row: ProcTcpRow, ports: number[] | null): boolean {
  return ports === null || ports.includes(row.local.port) || ports.includes(row.remote.port);
}

function inspectProcess(pid: number, inspection: Inspection): ProcessReport {
  let info: ProcessInfo;
  try {
    info = processInfo(pid);
  } catch (error) {
    return {
      pid,
      thread: null,
      command: '',
      uid: null,
      user: null,
      networkNamespace: null,
      inspected: false,
      error: errorOf(error, pid, `reading /proc/${pid}/status`),
      listening: 0,
      connections: [],
      sameUserSockets: [],
    };
  }
  const report: ProcessReport = {
    ...info,
    thread: null,
    inspected: false,
    error: null,
    listening: 0,
    connections: [],
    sameUserSockets: [],
  };
  const rowsOf = (): Map<number, ProcTcpRow> => {
    const namespaceKey = info.networkNamespace ?? `pid ${pid}`;
    const rows = inspection.rowsByNamespace.get(namespaceKey) ?? tcpRowsOf(pid);
    inspection.rowsByNamespace.set(namespaceKey, rows);
    return rows;
  };
  let fds: Map<number, number>;
  try {
    fds = socketFdsOf(pid);
  } catch (error) {
    report.error = errorOf(error, pid, `listing the sockets (/proc/${pid}/fd)`);
    if (inspection.withSameUserSockets && report.uid !== null) {
      // What /proc still gives: the sockets of the process's user in its network namespace (ss shows them too),
      // from the timer only, and without claiming which process holds them.
      try {
        for (const row of rowsOf().values()) {
          if (row.uid === report.uid && row.state !== 'listen' && portMatches(row, inspection.ports)) {
            report.sameUserSockets.push(connectionReport(pid, null, row, report.error, inspection.policy));
          }
        }
      } catch {
        // /proc/PID/net hidden too: nothing more to show
      }
    }
    return report;
  }
  if (fds.size === 0) {
    report.inspected = true;
    return report;
  }
  let rows: Map<number, ProcTcpRow>;
  try {
    rows = rowsOf();
  } catch (error) {
    report.error = errorOf(error, pid, `reading /proc/${pid}/net/tcp`);
    return report;
  }
  report.inspected = true;
  // A refusal that holds for the whole process (EPERM, ENOSYS…) is not retried fd by fd; one fd's (EBADF, ESTALE) is.
  let refusedForProcess: Unreadable | null = null;
  const seenInodes = new Set<number>();
  for (const [fd, inode] of [...fds].sort((a, b) => a[0] - b[0])) {
    const row = rows.get(inode);
    if (row === undefined || seenInodes.has(inode)) continue; // not TCP (Unix, UDP, netlink), or a dup of an fd already listed
    seenInodes.add(inode);
    if (row.state === 'listen') {
      report.listening++;
      continue;
    }
    if (!portMatches(row, inspection.ports)) continue;
    const connection = connectionReport(pid, fd, row, refusedForProcess, inspection.policy);
    if (connection.unreadable !== null && PROCESS_WIDE_REFUSALS.includes(connection.unreadable.code))
      refusedForProcess = connection.unreadable;
    report.connections.push(connection);
  }
  return report;
}

/** The timer the way `ss -o` prints it: timer:(keepalive,28sec,0). */
function ssTimer(timer: ConnectionReport['timer']): string {
  const names: Record<TimerKind, string> = {
    none: '',
    retransmit: 'on',
    keepalive: 'keepalive',
    'time-wait': 'timewait',
    'zero-window-probe': 'persist',
  };
  if (timer.kind === 'none') return '-';
  const count = timer.kind === 'retransmit' ? timer.retransmits : timer.probes;
  return `${names[timer.kind]},${duration(timer.expiresIn)},${count}`;
}

function verdictText(verdict: Judgement['verdict'], style: Style): string {
  if (verdict === 'ok') return style.green('ok');
  if (verdict === 'at-risk') return style.red('at risk');
  return style.yellow('unknown');
}

/** The connections as a table, then what could not be read and why each is at risk. */
function connectionLines(connections: readonly ConnectionReport[], style: Style): string[] {
  const unknown = '?';
  const rows = connections.map((c) => {
    const k = c.kernel;
    const keepalive =
      k !== null
        ? k.enable
          ? 'on'
          : style.red('off')
        : c.keepaliveFromTimer === null
          ? unknown
          : c.keepaliveFromTimer
            ? 'on (timer)'
            : style.red('off (timer)');
    const shown = (value: number | undefined, text: (v: number) => string): string =>
      k === null || value === undefined ? unknown : text(value);
    return [
      c.fd === null ? '-' : String(c.fd),
      endpoint(c.local.address, c.local.port),
      endpoint(c.remote.address, c.remote.port),
      c.state,
      keepalive,
      shown(k?.idle, duration),
      shown(k?.interval, duration),
      shown(k?.count, String),
      shown(k?.userTimeout, (v) => (v === 0 ? style.red('none') : duration(v))),
      ssTimer(c.timer),
      c.worstCaseDetection !== null
        ? duration(c.worstCaseDetection)
        : k !== null
          ? style.red('never')
          : c.worstCaseDetectionAtLeast !== null
            ? `>= ${duration(c.worstCaseDetectionAtLeast)}`
            : unknown,
      verdictText(c.verdict, style),
    ];
  });
  const header = [
    'FD',
    'LOCAL',
    'REMOTE',
    'STATE',
    'KEEPALIVE',
    'IDLE',
    'INTERVAL',
    'COUNT',
    'USER TIMEOUT',
    'TIMER (ss -o)',
    'DETECTS DEAD PEER IN',
    'VERDICT',
  ];
  const lines = [table(header, rows, '  ')];
  const unreadable = new Map<string, string[]>();
  for (const c of connections.filter((conn) => conn.fd !== null && conn.unreadable !== null)) {
    unreadable.set(c.unreadable!.message, [...(unreadable.get(c.unreadable!.message) ?? []), String(c.fd)]);
  }
  for (const [message, fds] of unreadable) lines.push(`  ${style.yellow('?')} could not read (fd ${fds.join(', ')}): ${message}`);
  // Connections with the same verdict and the same words are listed once (a pool of 50 says it once).
  const groups = new Map<string, { verdict: Judgement['verdict']; reasons: string[]; notes: string[]; labels: string[] }>();
  for (const c of connections.filter((conn) => conn.reasons.length > 0 || conn.notes.length > 0)) {
    const key = JSON.stringify([c.verdict, c.reasons, c.notes]);
    const group = groups.get(key) ?? { verdict: c.verdict, reasons: c.reasons, notes: c.notes, labels: [] };
    group.labels.push(
      `${c.fd === null ? '' : `fd ${c.fd} `}${endpoint(c.local.address, c.local.port)} -> ${endpoint(c.remote.address, c.remote.port)}`,
    );
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    const label = group.verdict === 'ok' ? 'note' : group.verdict === 'at-risk' ? style.red('at risk') : style.yellow('unknown');
    const shown =
      group.labels.length <= 3 ? group.labels.join(', ') : `${group.labels.slice(0, 2).join(', ')} and ${group.labels.length - 2} more`;
    lines.push(`  ${shown} ${label}:`);
    for (const reason of group.reasons) lines.push(`    - ${reason}`);
    for (const note of group.notes) lines.push(`    - ${style.dim(`note: ${note}`)}`);
  }
  return lines;
}

function formatProcess(report: ProcessReport, style: Style): string {
  const who = report.uid === null ? '' : ` (uid ${report.uid}${report.user === null ? '' : ` ${report.user}`})`;
  const command = report.command.length > 100 ? `${report.command.slice(0, 97)}...` : report.command;
  const title = style.bold(`pid ${report.pid}${who}${command === '' ? '' : `: ${command}`}`);
  const head = report.thread === null ? title : `${title}\n  ${report.thread} is a thread of process ${report.pid}: showing the process`;
  if (!report.inspected) {
    const lines = [head, `  ${style.red('could not inspect')}: ${report.error?.message ?? 'unknown reason'}`];
    if (report.sameUserSockets.length > 0) {
      lines.push(
        `  What /proc shows without that right: the TCP sockets of uid ${report.uid} in its network namespace (which ` +
          'process holds each cannot be read; idle, interval, count and user timeout cannot be read):',
        ...connectionLines(report.sameUserSockets, style),
      );
    }
    return lines.join('\n');
  }
  const listening = report.listening > 0 ? `${report.listening} listening socket${report.listening === 1 ? '' : 's'} not judged` : '';
  if (report.connections.length === 0) return `${head}\n  no TCP connections${listening === '' ? '' : `; ${listening}`}`;
  const lines = [head, ...connectionLines(report.connections, style)];
  if (listening !== '') lines.push(`  ${listening}`);
  return lines.join('\n');
}

/** The server's own knobs for the plan, where the process is one we recognise. */
function serverSettings(reports: readonly ProcessReport[], plan: KeepalivePlan): string[] {
  const atRisk = reports.filter((r) => [...r.connections, ...r.sameUserSockets].some((c) => c.verdict === 'at-risk'));
  const { idle, interval, count, userTimeout } = plan.options;
  const lines: string[] = [];
  if (atRisk.some((r) => /(^|\/)postgres\b|^postgres:/.test(r.command))) {
    lines.push(
      `PostgreSQL (postgresql.conf): tcp_keepalives_idle = ${idle / 1000}, tcp_keepalives_interval = ${interval / 1000}, ` +
        `tcp_keepalives_count = ${count}, tcp_user_timeout = ${userTimeout}`,
    );
  }
  if (atRisk.some((r) => /(^|\/)redis-server\b/.test(r.command))) {
    lines.push(`Redis: tcp-keepalive ${idle / 1000} sets idle only (interval = idle / 3, count 3); TCP_USER_TIMEOUT it cannot set`);
  }
  return lines;
}

export function runDoctor(argv: readonly string[], io: Io): number {
  const flags = parseFlags(
    argv,
    { values: ['pid', 'port', 'path', 'detect-within', 'stall-tolerance'], switches: ['all', 'json', 'help'] },
    'doctor',
  );
  if (flags.switches.has('help')) {
    io.stdout.write(`${DOCTOR_HELP}\n`);
    return 0;
  }
  const pidText = flags.values.get('pid');
  const all = flags.switches.has('all');
  if ((pidText === undefined) === !all)
    throw new UsageError(all ? '--pid and --all exclude each other' : 'give --pid <pid> or --all', 'doctor');
  if (process.platform !== 'linux') {
    // Not the user's mistake: nothing here can be inspected.
    io.stderr.write(`tcp-keepalive doctor: reads /proc and needs Linux; this is ${process.platform} (tcp-keepalive plan works here)\n`);
    return 2;
  }
  const pids = pidText === undefined ? allPids().filter((pid) => pid !== process.pid) : parsePids(pidText, 'doctor');
  const portText = flags.values.get('port');
  const ports = portText === undefined ? null : parsePorts(portText, 'doctor');
  const detectWithinText = flags.values.get('detect-within');
  const detectWithin = detectWithinText === undefined ? DEFAULT_DETECT_WITHIN : parseDuration('detect-within', detectWithinText, 'doctor');
  const planner = loadPlanner();
  const pathText = flags.values.get('path');
  const hops: CliHop[] = pathText === undefined ? [] : parsePath(pathText, Object.keys(planner.IDLE_TIMEOUT_PRESETS), 'doctor');
  // Planned before inspecting: a path and budget that cannot be met is a usage error, whatever the connections.
  const stallText = flags.values.get('stall-tolerance');
  const plan = makePlan(
    planner,
    hops,
    detectWithin,
    stallText === undefined ? {} : { stallTolerance: parseStallTolerance(stallText, 'doctor') },
    'doctor',
  );
  const { retries2, giveUpMs } = retransmissionLimit();
  const policy: Policy = {
    hops: resolveHops(hops, planner.IDLE_TIMEOUT_PRESETS, 'doctor'),
    detectWithin,
    retransmissionGiveUp: giveUpMs,
    tcpRetries2: retries2,
  };

  const inspection: Inspection = { ports, policy, rowsByNamespace: new Map(), withSameUserSockets: !all };
  let processes = pids.map((pid) => {
    const owner = all ? null : processOfThread(pid);
    if (owner === null) return inspectProcess(pid, inspection);
    return { ...inspectProcess(owner, inspection), thread: pid };
  });
  let skipped: DoctorReport['skipped'] = null;
  if (all) {
    const unreadable = processes.filter((p) => !p.inspected);
    if (unreadable.length > 0)
      skipped = { count: unreadable.length, reason: 'their /proc/PID/fd is not readable by this user (run as root to include them)' };
    processes = processes.filter((p) => p.inspected && p.connections.length > 0);
  }
  // Every row the table shows is counted, including the sockets seen in /proc only: a summary that said
  // "0 at risk" under a row marked at risk would contradict itself.
  const connections = processes.flatMap((p) => [...p.connections, ...p.sameUserSockets]);
  const fix = fixPlan(
    plan,
    connections.flatMap((c) => (c.verdict === 'at-risk' && c.kernel !== null ? [c.kernel] : [])),
    policy,
  );
  const summary = {
    processes: processes.length,
    connections: connections.length,
    ok: connections.filter((c) => c.verdict === 'ok').length,
    atRisk: connections.filter((c) => c.verdict === 'at-risk').length,
    unknown: connections.filter((c) => c.verdict === 'unknown').length,
    notInspected: processes.filter((p) => !p.inspected).length,
    seenInProcOnly: processes.reduce((sum, p) => sum + p.sameUserSockets.length, 0),
  };
  const exitCode: DoctorReport['exitCode'] = summary.atRisk > 0 ? 1 : summary.unknown > 0 || summary.notInspected > 0 ? 2 : 0;
  const report: DoctorReport = {
    schema: 'tcp-keepalive.doctor/1',
    policy: { path: policy.hops, detectWithin, retransmissionGiveUp: giveUpMs, tcpRetries2: retries2 },
    processes,
    skipped,
    summary,
    plan: summary.atRisk > 0 ? planJson(fix) : null,
    exitCode,
  };
  if (flags.switches.has('json')) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return exitCode;
  }

  const style = styleFor(io.stdout, io.env);
  const out: string[] = processes.map((p) => formatProcess(p, style));
  if (all && processes.length === 0)
    out.push(`no process${ports === null ? '' : ` with a connection on port ${ports.join(', ')}`} whose sockets this user may read`);
  if (skipped !== null) out.push(style.dim(`${skipped.count} processes not shown: ${skipped.reason}`));
  const pathWords = hops.length === 0 ? 'no --path' : `path ${pathText}`;
  out.push(
    `${summary.connections} connection${summary.connections === 1 ? '' : 's'} (${pathWords}, dead peer noticed within ${duration(detectWithin)}): ` +
      `${style.green(`${summary.ok} ok`)}, ${style.red(`${summary.atRisk} at risk`)}, ${style.yellow(`${summary.unknown} unknown`)}` +
      (summary.notInspected > 0
        ? `, ${style.yellow(`${summary.notInspected} process${summary.notInspected === 1 ? '' : 'es'} not inspected`)}`
        : '') +
      (summary.seenInProcOnly > 0
        ? ` (${summary.seenInProcOnly} of the connections seen in /proc only: which process holds ${summary.seenInProcOnly === 1 ? 'it' : 'them'} is not known)`
        : ''),
  );
  if (summary.atRisk > 0) out.push(`To fix what is at risk:\n${formatPlan(fix, style, serverSettings(processes, fix))}`);
  io.stdout.write(`${out.join('\n\n')}\n`);
  return exitCode;
}
