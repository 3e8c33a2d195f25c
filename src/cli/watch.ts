/**
 * `tcp-keepalive doctor --pid N --watch 2s`: doctor's inspection again every
 * interval, redrawn as one table per process with what changes — the RTT, the
 * segments retransmitted since the previous redraw, what is unacknowledged and
 * the live timer — next to doctor's verdict. Runs until interrupted (Ctrl-C).
 * Each redraw is doctor's own report (`--json`), so both always agree.
 */
import { parseDuration, UsageError } from './args';
import type { ConnectionReport, DoctorReport } from './doctor';
import { endpoint, type Style, styleFor, table } from './format';
import type { Io } from './io';

/** Splits `--watch <duration>` (or `--watch=<duration>`) out of doctor's arguments; undefined when not given. */
export function splitWatch(argv: readonly string[]): { intervalMs: number; rest: string[] } | undefined {
  const rest: string[] = [];
  let text: string | undefined;
  let given = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--watch' || arg.startsWith('--watch=')) {
      if (given) throw new UsageError('--watch given twice', 'doctor');
      given = true;
      text = arg === '--watch' ? argv[++i] : arg.slice('--watch='.length);
      if (text === undefined || text === '' || text.startsWith('--')) throw new UsageError('--watch needs an interval (e.g. 2s)', 'doctor');
    } else {
      rest.push(arg);
    }
  }
  if (!given) return undefined;
  const intervalMs = parseDuration('watch', text!, 'doctor');
  if (intervalMs < 100) throw new UsageError(`--watch "${text}" is too short: 100ms or more`, 'doctor');
  if (rest.includes('--json')) throw new UsageError('--watch redraws a table; --json prints one report (leave out one of them)', 'doctor');
  return { intervalMs, rest };
}

function rtt(info: ConnectionReport['tcpInfo']): string {
  const value = info?.rtt;
  return typeof value === 'number' && value > 0 ? `${value < 10 ? value.toFixed(3) : value.toFixed(1)} ms` : '-';
}

function timerText(timer: ConnectionReport['timer']): string {
  if (timer.kind === 'none') return '-';
  const name = timer.kind === 'retransmit' ? 'on' : timer.kind === 'zero-window-probe' ? 'persist' : timer.kind;
  return `${name},${(timer.expiresIn / 1000).toFixed(1)}s,${timer.kind === 'retransmit' ? timer.retransmits : timer.probes}`;
}

/** One redraw: a table per process. `previous` holds each connection's retransmission total at the last redraw. */
export function drawWatch(report: DoctorReport, previous: Map<string, number>, style: Style): string {
  const seen = new Map<string, number>();
  const lines: string[] = [];
  for (const process of report.processes) {
    const command = process.command.replace(/\s+/g, ' ');
    lines.push(style.bold(`pid ${process.pid}: ${command.length > 100 ? `${command.slice(0, 97)}...` : command}`));
    if (!process.inspected) {
      lines.push(`  ${style.red('could not inspect')}: ${process.error?.message ?? 'unknown reason'}`);
      continue;
    }
    if (process.connections.length === 0) {
      lines.push('  no TCP connections');
      continue;
    }
    const rows = process.connections.map((c) => {
      const key = `${process.pid}:${c.fd ?? '-'}:${c.inode}`;
      const total = c.tcpInfo?.totalRetransmits;
      let since = '?';
      if (typeof total === 'number') {
        seen.set(key, total);
        const before = previous.get(key);
        const delta = before === undefined ? undefined : total - before;
        since = delta === undefined ? `${total} (total)` : delta > 0 ? style.red(`+${delta}`) : '0';
      }
      const unacked = c.tcpInfo?.unacked;
      const verdict = c.verdict === 'ok' ? style.green('ok') : c.verdict === 'at-risk' ? style.red('at risk') : style.yellow('unknown');
      return [
        c.fd === null ? '-' : String(c.fd),
        endpoint(c.local.address, c.local.port),
        endpoint(c.remote.address, c.remote.port),
        c.state,
        rtt(c.tcpInfo),
        since,
        typeof unacked === 'number' ? String(unacked) : '?',
        timerText(c.timer),
        verdict,
      ];
    });
    lines.push(table(['FD', 'LOCAL', 'REMOTE', 'STATE', 'RTT', 'RETRANSMITTED', 'UNACKED', 'TIMER', 'VERDICT'], rows, '  '));
  }
  previous.clear();
  for (const [key, total] of seen) previous.set(key, total);
  const { ok, atRisk, unknown } = report.summary;
  lines.push(
    `${report.summary.connections} connections: ${style.green(`${ok} ok`)}, ${style.red(`${atRisk} at risk`)}, ${style.yellow(`${unknown} unknown`)}`,
  );
  return lines.join('\n');
}

/**
 * Starts the loop and returns doctor's exit code for the first inspection; the
 * process then stays alive on the timer until interrupted. `runDoctor` is
 * doctor's own function (passed in so doctor loads only here).
 */
export function runDoctorWatch(argv: readonly string[], io: Io, runDoctor: (argv: readonly string[], io: Io) => number): number {
  const watch = splitWatch(argv)!;
  const style = styleFor(io.stdout, io.env);
  const previous = new Map<string, number>();
  const redraw = (): number => {
    let json = '';
    const code = runDoctor([...watch.rest, '--json'], {
      stdout: { write: (text: string) => (json += text) },
      stderr: io.stderr,
      env: io.env,
    });
    if (json === '') return code;
    const report = JSON.parse(json) as DoctorReport;
    const clear = io.stdout.isTTY === true ? '\x1b[H\x1b[2J' : '';
    const when = new Date().toISOString().slice(11, 19);
    io.stdout.write(
      `${clear}${style.dim(`tcp-keepalive doctor, every ${watch.intervalMs / 1000}s (${when} UTC; Ctrl-C to stop); RETRANSMITTED: segments since the previous redraw`)}\n` +
        `${drawWatch(report, previous, style)}\n${clear === '' ? '\n' : ''}`,
    );
    return code;
  };
  const first = redraw();
  // Usage errors throw from the first redraw; a process that went away ends the watch with doctor's code.
  setInterval(() => {
    const code = redraw();
    if (code === 2 && previous.size === 0) process.exitCode = code;
  }, watch.intervalMs);
  return first;
}
