/**
 * doctor's gathering: what /proc and the kernel say about the TCP sockets of
 * some processes, as plain data (no verdict, no text). The judging is in
 * doctor-judge.ts, the printing in doctor-render.ts.
 */
import { isUnreadable, type KernelKeepalive, PROCESS_WIDE_REFUSALS, readPeerSocket, type Unreadable } from './peer-socket';
import { processInfo, type ProcessInfo, processOfThread, type ProcTcpRow, socketFdsOf, tcpRowsOf } from './proc';

/** One TCP connection as read: its /proc row, and what getsockopt returned on a duplicate of its fd. */
export interface GatheredConnection {
  /** The fd in the process; null for a socket of the same user whose holder could not be seen. */
  fd: number | null;
  row: ProcTcpRow;
  /** null when it could not be read (see unreadable), or for a socket seen in /proc only. */
  kernel: KernelKeepalive | null;
  unreadable: Unreadable | null;
  tcpInfo: Record<string, number | string | null> | null;
}

export interface GatheredProcess extends ProcessInfo {
  /** The id given with --pid when it was a thread of this process; else null. */
  thread: number | null;
  /** false when its connections could not be listed at all (see error). */
  inspected: boolean;
  error: Unreadable | null;
  listening: number;
  connections: GatheredConnection[];
  /** Only when the process's fds could not be listed (--pid): its user's TCP sockets in its network namespace, from /proc. */
  sameUserSockets: GatheredConnection[];
}

export interface GatherOptions {
  /** Only connections with one of these local or remote ports; null: all. */
  ports: number[] | null;
  /** --all: a pid is read as given (not as a thread), and a process whose fds cannot be listed shows nothing more. */
  all: boolean;
}

/** `what` names the path read, with the real pid in it: the message must say what the user can check. */
export function errorOf(error: unknown, pid: number, what: string): Unreadable {
  const code = (error as NodeJS.ErrnoException).code ?? 'ERR';
  const why: Record<string, string> = {
    ENOENT: `no such process: there is no process ${pid} (it has exited, or the id is wrong)`,
    ESRCH: `no such process: there is no process ${pid} (it has exited, or the id is wrong)`,
    EACCES: `not permitted: process ${pid} belongs to another user (run as root, or as the same user)`,
    EPERM: `not permitted: process ${pid} belongs to another user (run as root, or as the same user)`,
  };
  return { code, message: `${what}: ${code}, ${why[code] ?? (error as Error).message}` };
}

interface Gathering extends GatherOptions {
  rowsByNamespace: Map<string, Map<number, ProcTcpRow>>;
}

/** One connection: the kernel's values when `fd` could be duplicated and nothing refused it before. */
function gatherConnection(pid: number, fd: number | null, row: ProcTcpRow, refused: Unreadable | null): GatheredConnection {
  const connection: GatheredConnection = { fd, row, kernel: null, unreadable: refused, tcpInfo: null };
  if (refused === null && fd !== null) {
    const reading = readPeerSocket(pid, fd, row.inode);
    if (isUnreadable(reading)) connection.unreadable = reading;
    else ({ keepalive: connection.kernel, tcpInfo: connection.tcpInfo } = reading);
  }
  return connection;
}

function portMatches(row: ProcTcpRow, ports: number[] | null): boolean {
  return ports === null || ports.includes(row.local.port) || ports.includes(row.remote.port);
}

function gatherProcess(pid: number, gathering: Gathering): GatheredProcess {
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
  const report: GatheredProcess = {
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
    const rows = gathering.rowsByNamespace.get(namespaceKey) ?? tcpRowsOf(pid);
    gathering.rowsByNamespace.set(namespaceKey, rows);
    return rows;
  };
  let fds: Map<number, number>;
  try {
    fds = socketFdsOf(pid);
  } catch (error) {
    report.error = errorOf(error, pid, `listing the sockets (/proc/${pid}/fd)`);
    if (!gathering.all && report.uid !== null) {
      // What /proc still gives: the sockets of the process's user in its network namespace (ss shows them too),
      // from the timer only, and without claiming which process holds them.
      try {
        for (const row of rowsOf().values()) {
          if (row.uid === report.uid && row.state !== 'listen' && portMatches(row, gathering.ports)) {
            report.sameUserSockets.push(gatherConnection(pid, null, row, report.error));
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
    if (!portMatches(row, gathering.ports)) continue;
    const connection = gatherConnection(pid, fd, row, refusedForProcess);
    if (connection.unreadable !== null && PROCESS_WIDE_REFUSALS.includes(connection.unreadable.code))
      refusedForProcess = connection.unreadable;
    report.connections.push(connection);
  }
  return report;
}

/** The processes `pids` (a thread id, without --all, stands for its process), read in the order given. */
export function gatherDoctor(pids: readonly number[], options: GatherOptions): GatheredProcess[] {
  const gathering: Gathering = { ...options, rowsByNamespace: new Map() };
  return pids.map((pid) => {
    const owner = options.all ? null : processOfThread(pid);
    if (owner === null) return gatherProcess(pid, gathering);
    return { ...gatherProcess(owner, gathering), thread: pid };
  });
}
