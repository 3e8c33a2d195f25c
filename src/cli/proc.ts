/**
 * What /proc says about a process's TCP connections, without any privilege
 * beyond reading /proc/PID/fd: which socket inodes the process holds, and for
 * each the row of /proc/PID/net/tcp{,6} (the process's own network namespace)
 * with its state, queues and the timer `ss -o` / `netstat -o` show.
 */
import fs from 'node:fs';
import os from 'node:os';
import { TCP_STATES, type TcpState } from '../health/tcp-info';

/** RFC 9293's names, spelled as tcpInfo() in tcp-keepalive/health spells them (one table for both). */
export type TcpStateName = TcpState;

/** Linux's TCP state numbers (include/net/tcp_states.h); 12, NEW_SYN_RECV, is a request, never an fd. */
export function stateName(state: number): TcpStateName {
  return TCP_STATES[state] ?? 'unknown';
}

/**
 * The timer pending on a socket, as the `tr` column of /proc/net/tcp encodes
 * it (net/ipv4/tcp_ipv4.c get_tcp4_sock): 1 retransmission (also loss probe and
 * reordering timers), 2 sk_timer — the keepalive timer on a connected socket
 * (and the FIN-WAIT-2 timer), 3 TIME-WAIT, 4 zero-window probe. Only one is
 * shown: while data is being retransmitted the keepalive timer is hidden.
 */
export type TimerKind = 'none' | 'retransmit' | 'keepalive' | 'time-wait' | 'zero-window-probe';
const TIMER_KINDS: readonly TimerKind[] = ['none', 'retransmit', 'keepalive', 'time-wait', 'zero-window-probe'];

export interface Endpoint {
  address: string;
  port: number;
}

export interface ProcTcpRow {
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
  state: TcpStateName;
  /** Bytes written and not yet acknowledged (tx_queue). */
  sendQueue: number;
  /** Bytes received and not yet read by the application (rx_queue). */
  receiveQueue: number;
  timer: TimerKind;
  /** ms until the timer fires (the kernel prints it in USER_HZ ticks). */
  timerExpiresIn: number;
  /** Unanswered keepalive (or zero-window) probes sent: what `ss -o` shows after the timer. */
  probes: number;
  /** Retransmissions of the current segment. */
  retransmits: number;
  uid: number;
  inode: number;
}

/** USER_HZ, the unit of the timer column; 100 on every Linux architecture Node supports. */
const USER_HZ = 100;

const littleEndian = os.endianness() === 'LE';

/** One 32-bit word of an address as the kernel printed it (%08X of the in-memory word). */
function wordBytes(hex: string): number[] {
  const bytes = [0, 2, 4, 6].map((offset) => parseInt(hex.slice(offset, offset + 2), 16));
  return littleEndian ? bytes.reverse() : bytes;
}

function ipv6Text(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.slice(12).join('.')}`;
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** "0100007F:1538" → 127.0.0.1:5432; 32 hex digits for IPv6. */
export function parseEndpoint(text: string): Endpoint {
  const [addressHex = '', portHex = ''] = text.split(':');
  const port = parseInt(portHex, 16);
  if (addressHex.length === 8) return { address: wordBytes(addressHex).join('.'), port };
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(addressHex.slice(i, i + 8)));
  return { address: ipv6Text(bytes), port };
}

/** Parses /proc/net/tcp or tcp6 text (the header line is skipped). */
export function parseProcNetTcp(text: string, family: 4 | 6): ProcTcpRow[] {
  const rows: ProcTcpRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout(probes) inode ...
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [txQueue = '0', rxQueue = '0'] = f[4]!.split(':');
    const [timer = '0', when = '0'] = f[5]!.split(':');
    rows.push({
      family,
      local: parseEndpoint(f[1]!),
      remote: parseEndpoint(f[2]!),
      state: stateName(parseInt(f[3]!, 16)),
      sendQueue: parseInt(txQueue, 16),
      receiveQueue: parseInt(rxQueue, 16),
      timer: TIMER_KINDS[parseInt(timer, 16)] ?? 'none',
      timerExpiresIn: (parseInt(when, 16) * 1000) / USER_HZ,
      retransmits: parseInt(f[6]!, 16),
      uid: Number(f[7]),
      probes: Number(f[8]),
      inode: Number(f[9]),
    });
  }
  return rows;
}

/** Every TCP row of the network namespace `pid` lives in, keyed by socket inode. */
export function tcpRowsOf(pid: number): Map<number, ProcTcpRow> {
  const byInode = new Map<number, ProcTcpRow>();
  for (const [file, family] of [
    ['tcp', 4],
    ['tcp6', 6],
  ] as const) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && file === 'tcp6') continue; // IPv6 disabled
      throw error;
    }
    for (const row of parseProcNetTcp(text, family)) {
      if (row.inode !== 0) byInode.set(row.inode, row); // inode 0: TIME-WAIT, owned by no process
    }
  }
  return byInode;
}

/** fd → socket inode for every socket the process holds; throws EACCES/ENOENT as readdir does. */
export function socketFdsOf(pid: number): Map<number, number> {
  const sockets = new Map<number, number>();
  for (const name of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue; // closed between readdir and readlink
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) sockets.set(Number(name), Number(match[1]));
  }
  return sockets;
}

export interface ProcessInfo {
  pid: number;
  /** The command line, or [comm] for a kernel thread / unreadable cmdline. */
  command: string;
  uid: number | null;
  user: string | null;
  /** "net:[4026531840]", or null when /proc/PID/ns/net cannot be read. */
  networkNamespace: string | null;
}

const userNames = new Map<number, string | null>();

function userName(uid: number): string | null {
  if (!userNames.has(uid)) {
    let name: string | null = null;
    try {
      const line = fs
        .readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((entry) => entry.split(':')[2] === String(uid));
      name = line?.split(':')[0] ?? null;
    } catch {
      // no /etc/passwd: show the number only
    }
    userNames.set(uid, name);
  }
  return userNames.get(uid)!;
}

/** Throws ENOENT when there is no such process. */
export function processInfo(pid: number): ProcessInfo {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const uidMatch = /^Uid:\s+(\d+)/m.exec(status);
  const uid = uidMatch ? Number(uidMatch[1]) : null;
  let command = '';
  try {
    command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    // unreadable: fall back to comm
  }
  if (command === '') command = `[${/^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?'}]`;
  let networkNamespace: string | null = null;
  try {
    networkNamespace = fs.readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    // another user's process: namespaces are not ours to see
  }
  return { pid, command, uid, user: uid === null ? null : userName(uid), networkNamespace };
}

/**
 * The process a thread id belongs to (/proc/TID/status Tgid), or null when `pid` is a process (or gone).
 * /proc/TID exists for every thread, unlisted; a thread shares its process's fds, but pidfd_open refuses a
 * thread that does not lead its group, so the process is the one to inspect.
 */
export function processOfThread(pid: number): number | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const tgid = Number(/^Tgid:\s+(\d+)/m.exec(status)?.[1]);
  return Number.isInteger(tgid) && tgid > 0 && tgid !== pid ? tgid : null;
}

/** Every pid in /proc, ascending. */
export function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}
