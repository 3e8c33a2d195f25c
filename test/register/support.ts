/**
 * Running applications the way an operator does (a child process whose only
 * change is its environment) and reading the kernel of the child's sockets
 * from OUTSIDE it: the sockets are found through /proc (the child's fd table
 * and the namespace's TCP table, by port), then read with the separately
 * compiled kernel reader (pidfd_getfd + getsockopt). Nothing in the child
 * reports on itself.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { kernelReader, type RawKernelState } from '../helpers/independent-kernel';
import { closeAll } from '../helpers/sockets';

export const root = path.resolve(__dirname, '..', '..');
export const apps = path.join(__dirname, 'apps');

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** The outside reader, or the reason there is none (a test that needs it fails on CI, skips loudly elsewhere). */
export function outsideReader(): { binary: string } | { unavailable: string } {
  if (process.platform !== 'linux') return { unavailable: `${process.platform}: the outside reader uses pidfd_getfd (Linux)` };
  return kernelReader();
}

export function requireOutsideReader(): string {
  const reader = outsideReader();
  if ('binary' in reader) return reader.binary;
  throw new Error(`the outside kernel reader is needed: ${reader.unavailable}`);
}

export { inCi };

/** An established TCP connection of `pid`, as the kernel lists it. */
export interface ChildSocket {
  fd: number;
  localPort: number;
  remotePort: number;
  inode: string;
}

function tcpTable(pid: number): Array<{ localPort: number; remotePort: number; state: string; inode: string }> {
  const rows: Array<{ localPort: number; remotePort: number; state: string; inode: string }> = [];
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      rows.push({
        localPort: parseInt(fields[1]!.split(':')[1]!, 16),
        remotePort: parseInt(fields[2]!.split(':')[1]!, 16),
        state: fields[3]!,
        inode: fields[9]!,
      });
    }
  }
  return rows;
}

/** The child's ESTABLISHED TCP sockets matching the ports given (fd from /proc/<pid>/fd). */
export function socketsOf(pid: number, filter: { remotePort?: number; localPort?: number }): ChildSocket[] {
  const byInode = new Map<string, number>();
  for (const entry of fs.readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${entry}`);
    } catch {
      continue; // closed meanwhile
    }
    const match = /^socket:\[(\d+)\]$/.exec(link);
    if (match) byInode.set(match[1]!, Number(entry));
  }
  // /proc/PID/net/tcp is read in pages while connections come and go, so a row can be listed twice: one entry per inode.
  const rows = new Map(tcpTable(pid).map((row) => [row.inode, row]));
  return [...rows.values()]
    .filter(
      (row) =>
        row.state === '01' &&
        byInode.has(row.inode) &&
        (filter.remotePort === undefined || row.remotePort === filter.remotePort) &&
        (filter.localPort === undefined || row.localPort === filter.localPort),
    )
    .map((row) => ({ fd: byInode.get(row.inode)!, localPort: row.localPort, remotePort: row.remotePort, inode: row.inode }));
}

export function readChild(binary: string, pid: number, fd: number): RawKernelState {
  return JSON.parse(execFileSync(binary, [String(pid), String(fd)], { encoding: 'utf8', timeout: 10_000 })) as RawKernelState;
}

/** What the kernel holds for a socket configured with `policy` (ms), in the reader's units. */
export function expectedRaw(policy: { idle: number; interval: number; count: number; userTimeout?: number }): RawKernelState {
  return {
    enabled: 1,
    idle: policy.idle / 1000,
    interval: policy.interval / 1000,
    count: policy.count,
    userTimeout: policy.userTimeout ?? 0,
  };
}

export interface RunningApp {
  child: ChildProcess;
  pid: number;
  /** Everything the child wrote to stdout/stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `pattern` (bounded). */
  line(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /**
   * Resolves with the stderr lines matching `pattern` once there are at least `count` (bounded).
   * What the child wrote reaches this process through a pipe and its event loop, so a test that
   * has seen the effect of a line (a socket in /proc, a stdout line) waits for the line itself.
   */
  stderrLines(pattern: RegExp, count: number, ms?: number): Promise<string[]>;
  /** Ends the child (stdin closed, then SIGKILL after 3 s) and resolves with its exit status once its output is read. */
  stop(): Promise<number | null>;
}

/** The policy the register tests give their children, as options and as TCP_KEEPALIVE says it. */
export const POLICY = { idle: 7000, interval: 3000, count: 4, userTimeout: 25000 } as const;
export const POLICY_ENV = 'idle=7s,interval=3s,count=4,userTimeout=25s';

/** The Node the children run on: TCP_KEEPALIVE_CHILD_NODE=/path/to/node runs them on another line. */
const childNode = process.env.TCP_KEEPALIVE_CHILD_NODE ?? process.execPath;

/**
 * Starts `node <app>` with ONLY `env` (plus PATH and HOME) — the operator's
 * environment, no flags but what NODE_OPTIONS says. cwd is the package root,
 * so `tcp-keepalive/register` resolves as the installed package name.
 */
export function runApp(app: string, env: Record<string, string>, nodeBinary = childNode): RunningApp {
  const child = spawn(nodeBinary, [app], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  const wakeAll = (): void => waiters.splice(0).forEach((wake) => wake());
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    wakeAll();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    wakeAll();
  });
  // 'close', not 'exit': 'exit' can come before the last of stdout and stderr has been read.
  let closed = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      closed = true;
      wakeAll();
      resolve(code);
    }),
  );
  /** Resolves with what `probe` finds, checked on every chunk of output; rejects at `ms` or when the child is gone. */
  const waitFor = <T>(probe: () => T | undefined, what: string, ms: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${ms} ms waiting for ${what} from ${app}; stdout: ${out}; stderr: ${err}`)),
        ms,
      );
      const check = (): void => {
        const found = probe();
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else if (closed) {
          clearTimeout(timer);
          reject(
            new Error(`${app} exited (${child.exitCode ?? child.signalCode}) before printing ${what}; stdout: ${out}; stderr: ${err}`),
          );
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    line: (pattern, ms = 15_000) => waitFor(() => pattern.exec(out) ?? undefined, String(pattern), ms),
    stderrLines: (pattern, count, ms = 15_000) =>
      waitFor(
        () => {
          const matching = err.split('\n').filter((line) => pattern.test(line));
          return matching.length >= count ? matching : undefined;
        },
        `${count} stderr lines matching ${pattern}`,
        ms,
      ),
    stop: async () => {
      const timers: NodeJS.Timeout[] = [];
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin!.end();
        timers.push(setTimeout(() => child.kill('SIGKILL'), 3000));
      }
      // A grandchild that kept our pipes open must not hold the test: stop reading them.
      timers.push(
        setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
        }, 6000),
      );
      const code = await exited;
      timers.forEach(clearTimeout);
      return code;
    },
  };
}

/** Polls until the child holds `count` established sockets to/from the port (bounded). */
export async function waitForSockets(
  pid: number,
  filter: { remotePort?: number; localPort?: number },
  count = 1,
  ms = 10_000,
): Promise<ChildSocket[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = socketsOf(pid, filter);
    if (found.length >= count) return found;
    if (Date.now() > deadline)
      throw new Error(`timed out: pid ${pid} holds ${found.length} of ${count} sockets for ${JSON.stringify(filter)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Child processes load the built package: fail clearly when dist/register is missing. */
export function assertRegisterBuilt(): void {
  if (!fs.existsSync(path.join(root, 'dist', 'register', 'index.js'))) {
    throw new Error('dist/register is missing: run `npm run build` first (npm test does)');
  }
}

/** The apps a test file starts: push each one; after every test they are stopped, and the tracked sockets closed. */
export function appsStoppedAfterEach(): RunningApp[] {
  const running: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((app) => app.stop()));
    await closeAll();
  });
  return running;
}
