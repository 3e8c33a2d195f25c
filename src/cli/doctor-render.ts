/**
 * doctor's printing: the judged report (doctor-judge.ts) as JSON or as the
 * table people read. Pure: text out, no I/O.
 */
import type { KeepalivePlan } from '../planner';
import type { ConnectionReport, DoctorReport, ProcessReport } from './doctor-judge';
import { duration, endpoint, type Style, table } from './format';
import type { Judgement } from './judge';
import { formatPlan } from './plan';
import type { TimerKind } from './proc';

/** What the text names from the command line: the --path as given, the --port filter, --all. */
export interface RenderContext {
  pathText: string | undefined;
  ports: readonly number[] | null;
  all: boolean;
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

/** `--json`: the report as it is (schema in docs/cli.md). */
export function renderDoctorJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** The report as people read it: a table per process, the summary, and the plan when something is at risk. */
export function renderDoctorText(report: DoctorReport, fix: KeepalivePlan, context: RenderContext, style: Style): string {
  const { processes, skipped, summary } = report;
  const { ports } = context;
  const out: string[] = processes.map((p) => formatProcess(p, style));
  if (context.all && processes.length === 0)
    out.push(`no process${ports === null ? '' : ` with a connection on port ${ports.join(', ')}`} whose sockets this user may read`);
  if (skipped !== null) out.push(style.dim(`${skipped.count} processes not shown: ${skipped.reason}`));
  const pathWords = report.policy.path.length === 0 ? 'no --path' : `path ${context.pathText}`;
  out.push(
    `${summary.connections} connection${summary.connections === 1 ? '' : 's'} (${pathWords}, dead peer noticed within ${duration(report.policy.detectWithin)}): ` +
      `${style.green(`${summary.ok} ok`)}, ${style.red(`${summary.atRisk} at risk`)}, ${style.yellow(`${summary.unknown} unknown`)}` +
      (summary.notInspected > 0
        ? `, ${style.yellow(`${summary.notInspected} process${summary.notInspected === 1 ? '' : 'es'} not inspected`)}`
        : '') +
      (summary.seenInProcOnly > 0
        ? ` (${summary.seenInProcOnly} of the connections seen in /proc only: which process holds ${summary.seenInProcOnly === 1 ? 'it' : 'them'} is not known)`
        : ''),
  );
  if (summary.atRisk > 0) out.push(`To fix what is at risk:\n${formatPlan(fix, style, serverSettings(processes, fix))}`);
  return `${out.join('\n\n')}\n`;
}
