/**
 * Shared by the command-line tests: run the built command as a user would
 * (a child process), and start target processes that print what they set.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { ConnectionReport, DoctorReport } from '../../src/cli/doctor';

export const root = path.join(__dirname, '..', '..');
export const cliPath = path.join(root, 'dist', 'cli', 'main.js');

/** The command runs from dist/: fail clearly when it is missing or older than src/cli. */
export function assertCliBuilt(): void {
  const newest = (dir: string): number =>
    fs.readdirSync(dir).reduce((max, name) => Math.max(max, fs.statSync(path.join(dir, name)).mtimeMs), 0);
  if (!fs.existsSync(cliPath) || fs.statSync(cliPath).mtimeMs < newest(path.join(root, 'src', 'cli'))) {
    throw new Error('dist/cli is missing or older than src/cli: run `npm run build` first (npm test does)');
  }
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `tcp-keepalive ...args`, with a hard time bound; `prefix` runs it through e.g. setpriv. */
export function runCli(args: readonly string[], options: { prefix?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const prefix = options.prefix ?? [];
  const command = [...prefix, process.execPath, cliPath, ...args];
  const spawnOptions: SpawnSyncOptions = { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '', ...options.env } };
  const result = spawnSync(command[0]!, command.slice(1), spawnOptions);
  if (result.error) throw result.error;
  return { status: result.status, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** `doctor ... --json`, parsed; the exit code is returned alongside. */
/**
 * doctorJson, read again (up to ~1 s) while a listed connection's timer is the retransmission timer: a
 * server's last reply can sit unacknowledged for a delayed ACK (up to 40 ms on Linux), and until then the
 * kernel shows that timer, not keepalive's. Nothing else in the reading changes in between.
 */
export async function settledDoctorJson(args: readonly string[]): Promise<ReturnType<typeof doctorJson>> {
  let run = doctorJson(args);
  const inFlight = (): boolean =>
    run.report.processes.some((process) => process.connections.some((connection) => connection.timer?.kind === 'retransmit'));
  for (let attempt = 0; attempt < 20 && inFlight(); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    run = doctorJson(args);
  }
  return run;
}

export function doctorJson(
  args: readonly string[],
  options: { prefix?: readonly string[] } = {},
): { report: DoctorReport; status: number | null; stderr: string } {
  const result = runCli(['doctor', ...args, '--json'], options);
  let report: DoctorReport;
  try {
    report = JSON.parse(result.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor --json printed no JSON (exit ${result.status}): ${result.stdout}\n${result.stderr}`);
  }
  return { report, status: result.status, stderr: result.stderr };
}

/** The connection of `report` held on `fd` by `pid`. */
export function connectionOn(report: DoctorReport, pid: number, fd: number): ConnectionReport {
  const found = report.processes.find((p) => p.pid === pid)?.connections.find((c) => c.fd === fd);
  if (found === undefined)
    throw new Error(`doctor did not report fd ${fd} of pid ${pid}: ${JSON.stringify(report, null, 1).slice(0, 2000)}`);
  return found;
}

export interface Target<T> {
  pid: number;
  info: T;
  stop(): void;
}

/**
 * Starts a process that prints one JSON line describing itself, then lives
 * until its stdin closes (stop() closes it, and kills it if need be).
 */
export async function startTarget<T extends { pid: number }>(
  command: string,
  args: readonly string[],
  prefix: readonly string[] = [],
): Promise<Target<T>> {
  const full = [...prefix, command, ...args];
  const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const stop = (): void => {
    child.stdin?.end();
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command} printed nothing within 10 s`)), 10_000);
      createInterface({ input: child.stdout! }).once('line', (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${command} exited (${code}) before describing itself`));
      });
    });
    const info = JSON.parse(line) as T;
    // Through setpriv the child's pid is the target's own (setpriv execs), so info.pid is the process to inspect.
    return { pid: info.pid, info, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

/** Linux's defaults, for sockets that did not set an option. */
export function sysctl(name: string): number {
  return Number(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim());
}

/**
 * The timer `ss -tino` shows for the connection localPort → remotePort, in ms
 * (undefined when it shows none). ss prints it as print_ms_timer() formats it:
 * "1min28sec", "28sec", "9.972ms" (9 s 972 ms), "952ms", and "" for 0.
 */
export function ssTimerMs(localPort: number, remotePort: number): { kind: string; ms: number; count: number } | undefined {
  const out = execFileSync('ss', ['-tino', 'state', 'established', `( sport = :${localPort} and dport = :${remotePort} )`], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const timer = /timer:\((\w+),([^,]*),(\d+)\)/.exec(out);
  if (!timer) return undefined;
  const time = /^(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$/.exec(timer[2]!);
  if (!time) throw new Error(`unexpected ss timer format: ${timer[0]}`);
  return {
    kind: timer[1]!,
    ms: Number(time[1] ?? 0) * 60_000 + Number(time[2] ?? 0) * 1000 + Number(time[3] ?? 0),
    count: Number(timer[3]),
  };
}
