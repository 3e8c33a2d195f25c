/**
 * What this platform can do, and the kernel's defaults. Two strategies:
 * - "setsockopt": Linux, macOS, BSD — the addon writes and reads the fd.
 * - "node-setKeepAlive": Windows, where Node exposes no fd; only what Node's
 *   own socket.setKeepAlive can do (interval and count from Node 26.4).
 */
import fs from 'node:fs';
import { addon } from '../native/load';
import { unavailableOnPlatform } from './errors';
import type { OptionSupport } from './options';

export interface Capabilities extends OptionSupport {
  readonly strategy: 'setsockopt' | 'node-setKeepAlive';
  /** getKeepalive() reads the kernel. */
  readonly readBack: boolean;
  /** systemDefaults() can read the kernel's defaults. */
  readonly systemDefaults: boolean;
}

function nodeHasKeepaliveIntervalAndCount(version: string): boolean {
  const [major, minor] = version.slice(1).split('.').map(Number) as [number, number];
  return major > 26 || (major === 26 && minor >= 4);
}

function detectCapabilities(): Capabilities {
  if (addon === undefined) {
    const extended = nodeHasKeepaliveIntervalAndCount(process.version);
    return Object.freeze({
      strategy: 'node-setKeepAlive',
      idle: true,
      interval: extended,
      count: extended,
      userTimeout: false,
      readBack: false,
      systemDefaults: false,
    } as const);
  }
  const native = addon.capabilities;
  return Object.freeze({
    strategy: 'setsockopt',
    idle: native.idle,
    interval: native.interval,
    count: native.count,
    userTimeout: native.userTimeout,
    readBack: native.readBack,
    systemDefaults: process.platform === 'linux',
  } as const);
}

/** What configureKeepalive can honour here; anything else is an ERR_FEATURE_UNAVAILABLE_ON_PLATFORM error. */
export const capabilities: Capabilities = detectCapabilities();

/** The kernel's defaults for sockets nobody configured, in the library's units. */
export interface SystemDefaults {
  /** net.ipv4.tcp_keepalive_time, in ms. */
  readonly idle: number;
  /** net.ipv4.tcp_keepalive_intvl, in ms. */
  readonly interval: number;
  /** net.ipv4.tcp_keepalive_probes. */
  readonly count: number;
  /** net.ipv4.tcp_retries2: retransmissions before written data times out (15 ≈ 924.6 s). */
  readonly retries2: number;
}

function readSysctl(name: string): number {
  return Number.parseInt(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'), 10);
}

/** Linux only (reads /proc/sys/net/ipv4); throws ERR_FEATURE_UNAVAILABLE_ON_PLATFORM elsewhere. */
export function systemDefaults(): SystemDefaults {
  if (!capabilities.systemDefaults) throw unavailableOnPlatform('systemDefaults()');
  return {
    idle: readSysctl('tcp_keepalive_time') * 1000,
    interval: readSysctl('tcp_keepalive_intvl') * 1000,
    count: readSysctl('tcp_keepalive_probes'),
    retries2: readSysctl('tcp_retries2'),
  };
}
