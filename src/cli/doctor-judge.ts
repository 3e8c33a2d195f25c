/**
 * doctor's judging: the gathered data (doctor-gather.ts) and the policy in, the
 * report out — the verdict of each connection, the summary, the exit code and
 * the plan that fixes what is at risk. Pure: no /proc, no kernel, no output.
 */
import type { KeepalivePlan, ResolvedHop } from '../planner';
import type { GatheredConnection, GatheredProcess } from './doctor-gather';
import { fixPlan, judge, type Judgement, type Policy } from './judge';
import type { KernelKeepalive, Unreadable } from './peer-socket';
import { planJson, type PlanJson } from './plan';
import type { Endpoint, ProcessInfo, ProcTcpRow, TcpStateName, TimerKind } from './proc';

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

/** keepalive on/off as /proc's timer column shows it; null where another timer would hide it or it means something else. */
function keepaliveFromTimer(row: ProcTcpRow): boolean | null {
  if (row.state !== 'established' && row.state !== 'close-wait') return null;
  if (row.timer === 'keepalive') return true;
  if (row.timer === 'none') return false;
  return null;
}

/** One connection's report: from the kernel's values when they were read, from /proc's timer otherwise. */
export function judgeConnection(connection: GatheredConnection, policy: Policy): ConnectionReport {
  const { fd, row, kernel, unreadable, tcpInfo } = connection;
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

/**
 * The whole report, and the plan that fixes what is at risk (printed when some is). `plan` is the planner's answer for the path and budget; `all` (--all) leaves out the
 * processes with nothing to show and counts those that could not be read as skipped.
 */
export function judgeDoctor(
  gathered: readonly GatheredProcess[],
  policy: Policy,
  plan: KeepalivePlan,
  all: boolean,
): { report: DoctorReport; fix: KeepalivePlan } {
  let processes: ProcessReport[] = gathered.map((p) => ({
    ...p,
    connections: p.connections.map((c) => judgeConnection(c, policy)),
    sameUserSockets: p.sameUserSockets.map((c) => judgeConnection(c, policy)),
  }));
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
    policy: {
      path: policy.hops,
      detectWithin: policy.detectWithin,
      retransmissionGiveUp: policy.retransmissionGiveUp,
      tcpRetries2: policy.tcpRetries2,
    },
    processes,
    skipped,
    summary,
    plan: summary.atRisk > 0 ? planJson(fix) : null,
    exitCode,
  };
  return { report, fix };
}
