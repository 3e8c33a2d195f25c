/**
 * Reads what the kernel holds for another process's socket: the addon
 * duplicates the fd into this process (pidfd_open + pidfd_getfd, which needs
 * ptrace-attach permission over the target), reads SO_KEEPALIVE, TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT and TCP_INFO with getsockopt on
 * the duplicate, and closes it. Reading changes nothing on the socket.
 */
import { getSystemErrorName } from 'node:util';

interface NativeFailure {
  errno: number;
  syscall: string;
  option?: string;
}

/** The part of the addon this command uses (src/native/addon.d.ts). */
interface PeerNative {
  duplicateFd(pid: number, fd: number): number | NativeFailure;
  closeFd(fd: number): NativeFailure | undefined;
  read(fd: number, out: Int32Array): NativeFailure | undefined;
  tcpInfo(fd: number, out: Float64Array): NativeFailure | undefined;
  readonly tcpInfoFields: readonly string[];
}

export interface KernelKeepalive {
  enable: boolean;
  /** ms, like the library's options */
  idle: number;
  interval: number;
  count: number;
  /** ms; 0 = not set (the kernel's retransmission limit applies) */
  userTimeout: number;
}

export interface PeerReading {
  keepalive: KernelKeepalive;
  /** TCP_INFO decoded by the addon; a field the kernel did not return is null. */
  tcpInfo: Record<string, number | null> | null;
}

/** Why a value could not be read: an errno name and a sentence. */
export interface Unreadable {
  code: string;
  message: string;
}

let native: PeerNative | Unreadable | undefined;

/** Loads the addon on first use; the reason it cannot be used to read other processes' sockets, otherwise. */
function peerNative(): PeerNative | Unreadable {
  if (native !== undefined) return native;
  if (process.platform !== 'linux') {
    native = { code: 'ENOSYS', message: `reading another process's sockets needs Linux (pidfd_getfd); this is ${process.platform}` };
    return native;
  }
  try {
    const { addon } = require('../native/load') as { addon: unknown };
    // TODO(native): addon() once the function-style loader lands; until then the old value export.
    const loaded = (typeof addon === 'function' ? addon() : addon) as Partial<PeerNative> | undefined;
    native = loaded !== undefined && typeof loaded.duplicateFd === 'function'
      ? (loaded as PeerNative)
      : { code: 'ENOSYS', message: 'this build of the native addon cannot duplicate another process\'s fds' };
  } catch (error) {
    native = { code: (error as { code?: string }).code ?? 'ERR_DLOPEN_FAILED', message: (error as Error).message };
  }
  return native;
}

function isFailure(value: unknown): value is NativeFailure {
  return typeof value === 'object' && value !== null && typeof (value as NativeFailure).errno === 'number';
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `errno ${errno}`;
  }
}

/** Plain words for why pidfd_getfd refused, the common cases first. */
function duplicateRefused(pid: number, fd: number, failure: NativeFailure): Unreadable {
  const code = errnoName(failure.errno);
  const why: Record<string, string> = {
    EPERM: 'not permitted: duplicating another process\'s fd needs ptrace-attach rights over it (root or CAP_SYS_PTRACE; ' +
      'the same user only when /proc/sys/kernel/yama/ptrace_scope is 0 and the process is dumpable)',
    EACCES: 'not permitted: duplicating another process\'s fd needs ptrace-attach rights over it (root or CAP_SYS_PTRACE)',
    ESRCH: 'the process has exited',
    EBADF: 'the process closed the fd meanwhile',
    ENOSYS: 'this kernel has no pidfd_getfd (Linux 5.6 or later needed)',
  };
  return { code, message: `${failure.syscall ?? 'pidfd_getfd'} on fd ${fd} of pid ${pid}: ${code}, ${why[code] ?? 'refused by the kernel'}` };
}

/** Reads one socket of `pid`; an Unreadable says exactly which step failed and why. */
export function readPeerSocket(pid: number, fd: number): PeerReading | Unreadable {
  const addon = peerNative();
  if (!('duplicateFd' in addon)) return addon;
  const duplicate = addon.duplicateFd(pid, fd);
  if (isFailure(duplicate)) return duplicateRefused(pid, fd, duplicate);
  try {
    const values = new Int32Array(5);
    const failed = addon.read(duplicate, values);
    if (isFailure(failed)) {
      const code = errnoName(failed.errno);
      return { code, message: `${failed.syscall}(${failed.option ?? '?'}) on a duplicate of fd ${fd} of pid ${pid}: ${code}` };
    }
    const [enable = 0, idle = 0, interval = 0, count = 0, userTimeout = 0] = values;
    const info = new Float64Array(addon.tcpInfoFields.length);
    let tcpInfo: Record<string, number | null> | null = null;
    if (!isFailure(addon.tcpInfo(duplicate, info))) {
      tcpInfo = {};
      addon.tcpInfoFields.forEach((name, index) => {
        tcpInfo![name] = Number.isNaN(info[index]) ? null : info[index]!;
      });
    }
    return { keepalive: { enable: enable !== 0, idle: idle * 1000, interval: interval * 1000, count, userTimeout }, tcpInfo };
  } finally {
    addon.closeFd(duplicate);
  }
}

export function isUnreadable(value: PeerReading | Unreadable): value is Unreadable {
  return 'code' in value;
}
