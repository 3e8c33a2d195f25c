/**
 * What this platform can do, and the kernel's defaults. Two strategies:
 * - "setsockopt": Linux, macOS, BSD — the addon writes and reads the fd.
 * - "node-setKeepAlive": where the addon is not used (Windows, where Node
 *   exposes no fd; addons disabled; no build for this platform): only what
 *   Node's own socket.setKeepAlive can do (interval and count from Node 26.4).
 * Decided on first use, when the addon is loaded, never at import.
 */
import fs from 'node:fs';
import { addonLoad } from '../native/load';
import { unavailableOnPlatform } from './errors';
import type { OptionSupport } from './options';

export interface Capabilities extends OptionSupport {
  readonly strategy: 'setsockopt' | 'node-setKeepAlive';
  /** getKeepalive() reads the kernel. */
  readonly readBack: boolean;
  /** tcpInfo() and connectionHealth() read TCP_INFO. */
  readonly tcpInfo: boolean;
  /** systemDefaults() can read the kernel's defaults. */
  readonly systemDefaults: boolean;
  /** Why the addon is not used, when strategy is 'node-setKeepAlive'. */
  readonly reason: string | undefined;
}

/** Read once, at import: the platform the package was loaded on. */
const platform = process.platform;

function nodeHasKeepaliveIntervalAndCount(version: string): boolean {
  const [major, minor] = version.slice(1).split('.').map(Number) as [number, number];
  return major > 26 || (major === 26 && minor >= 4);
}

function detectCapabilities(): Capabilities {
  const load = addonLoad();
  if (load.addon === undefined) {
    const extended = nodeHasKeepaliveIntervalAndCount(process.version);
    return {
      strategy: 'node-setKeepAlive',
      idle: true,
      interval: extended,
      count: extended,
      userTimeout: false,
      readBack: false,
      tcpInfo: false,
      systemDefaults: platform === 'linux',
      reason: load.reason,
    };
  }
  const native = load.addon.capabilities;
  return {
    strategy: 'setsockopt',
    idle: native.idle,
    interval: native.interval,
    count: native.count,
    userTimeout: native.userTimeout,
    readBack: native.readBack,
    tcpInfo: native.tcpInfo,
    systemDefaults: platform === 'linux',
    reason: undefined,
  };
}

let detected: Capabilities | undefined;

/** The capabilities, detected (and the addon loaded) on first call. */
export function currentCapabilities(): Capabilities {
  return (detected ??= Object.freeze(detectCapabilities()));
}

const FIELDS = ['strategy', 'idle', 'interval', 'count', 'userTimeout', 'readBack', 'tcpInfo', 'systemDefaults', 'reason'] as const;

/**
 * What configureKeepalive can honour here; anything else is an
 * ERR_FEATURE_UNAVAILABLE_ON_PLATFORM error. Each field is a read-only getter,
 * so reading it (not importing the package) is what loads the addon.
 */
export const capabilities: Capabilities = Object.freeze(
  Object.defineProperties(
    {} as Capabilities,
    Object.fromEntries(FIELDS.map((name) => [name, { enumerable: true, get: () => currentCapabilities()[name] }])),
  ),
);

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
  if (platform !== 'linux') throw unavailableOnPlatform('systemDefaults()');
  return {
    idle: readSysctl('tcp_keepalive_time') * 1000,
    interval: readSysctl('tcp_keepalive_intvl') * 1000,
    count: readSysctl('tcp_keepalive_probes'),
    retries2: readSysctl('tcp_retries2'),
  };
}
