/**
 * Reads what the kernel holds for another process's socket: the addon
 * duplicates the fd into this process (pidfd_open + pidfd_getfd, which needs
 * ptrace-attach permission over the target), reads SO_KEEPALIVE, TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT and TCP_INFO with getsockopt on
 * the duplicate, and closes it. Reading changes nothing on the socket.
 */
import fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import type { NativeAddon, NativeFailure } from '../native/addon';
import { stateName } from './proc';

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
  /** TCP_INFO decoded by the addon (state by name); a field the kernel did not return is null. */
  tcpInfo: Record<string, number | string | null> | null;
}

/** Why a value could not be read: an errno name and a sentence. */
export interface Unreadable {
  code: string;
  message: string;
}

let native: NativeAddon | Unreadable | undefined;

/** Loads the addon on first use; the reason it cannot be used to read other processes' sockets, otherwise. */
function peerNative(): NativeAddon | Unreadable {
  if (native !== undefined) return native;
  if (process.platform !== 'linux') {
    native = { code: 'ENOSYS', message: `reading another process's sockets needs Linux (pidfd_getfd); this is ${process.platform}` };
    return native;
  }
  const { addonLoad } = require('../native/load') as typeof import('../native/load');
  const loaded = addonLoad();
  if (loaded.addon === undefined) native = { code: 'ERR_DLOPEN_FAILED', message: `the native addon is not available: ${loaded.reason}` };
  else if (!loaded.addon.capabilities.duplicateFd)
    native = { code: 'ENOSYS', message: `this build of the native addon cannot duplicate another process's fds (${loaded.file})` };
  else native = loaded.addon;
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
    EPERM:
      "not permitted: duplicating another process's fd needs ptrace-attach rights over it (root or CAP_SYS_PTRACE; " +
      'the same user only when /proc/sys/kernel/yama/ptrace_scope is 0 and the process is dumpable)',
    EACCES: "not permitted: duplicating another process's fd needs ptrace-attach rights over it (root or CAP_SYS_PTRACE)",
    ESRCH: 'the process has exited',
    EBADF: 'the process closed the fd meanwhile',
    ENOSYS: 'this kernel has no pidfd_getfd (Linux 5.6 or later needed)',
  };
  return {
    code,
    message: `${failure.syscall ?? 'pidfd_getfd'} on fd ${fd} of pid ${pid}: ${code}, ${why[code] ?? 'refused by the kernel'}`,
  };
}

/** Refusals that hold for every fd of the process (or of every process): not worth retrying fd by fd. */
export const PROCESS_WIDE_REFUSALS: readonly string[] = ['EPERM', 'EACCES', 'ESRCH', 'ENOSYS', 'ERR_DLOPEN_FAILED'];

/**
 * Reads socket `inode`, held on `fd` by `pid`; an Unreadable says exactly
 * which step failed and why. The duplicate is checked to be that socket: the
 * process may have closed the fd and opened another on the same number since
 * /proc was read.
 */
export function readPeerSocket(pid: number, fd: number, inode: number): PeerReading | Unreadable {
  const addon = peerNative();
  if (!('duplicateFd' in addon)) return addon;
  const duplicate = addon.duplicateFd(pid, fd);
  if (isFailure(duplicate)) return duplicateRefused(pid, fd, duplicate);
  try {
    if (fs.fstatSync(duplicate).ino !== inode) {
      return {
        code: 'ESTALE',
        message: `fd ${fd} of pid ${pid} is no longer socket ${inode}: the process closed or replaced it meanwhile`,
      };
    }
    const failed = addon.read(duplicate);
    if (isFailure(failed)) {
      const code = errnoName(failed.errno);
      return { code, message: `${failed.syscall}(${failed.option || '?'}) on a duplicate of fd ${fd} of pid ${pid}: ${code}` };
    }
    const [enable = 0, idle = 0, interval = 0, count = 0, userTimeout = 0] = addon.keepaliveValues;
    let tcpInfo: Record<string, number | string | null> | null = null;
    if (!isFailure(addon.tcpInfo(duplicate))) {
      const info = addon.tcpInfoValues;
      tcpInfo = {};
      addon.tcpInfoFields.forEach((name, index) => {
        tcpInfo![name] = Number.isNaN(info[index]) ? null : info[index]!;
      });
      // The state by name, as /proc's and tcpInfo()'s (tcp-keepalive/health).
      if (typeof tcpInfo.state === 'number') tcpInfo.state = stateName(tcpInfo.state);
    }
    return { keepalive: { enable: enable !== 0, idle: idle * 1000, interval: interval * 1000, count, userTimeout }, tcpInfo };
  } finally {
    addon.closeFd(duplicate);
  }
}

export function isUnreadable(value: PeerReading | Unreadable): value is Unreadable {
  return 'code' in value;
}
