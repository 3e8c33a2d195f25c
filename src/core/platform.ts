/**
 * What this platform can do, and the kernel's defaults. Two strategies:
 * - "setsockopt": Linux, macOS, BSD — the addon writes and reads the fd
 *   (Node.js and Bun).
 * - "node-setKeepAlive": where the addon is not used (Windows, where Node
 *   exposes no fd; Deno, whose node:net handles have no fd; addons disabled;
 *   no build for this platform): only what the TCP handle's own setKeepAlive
 *   can do (interval and count from Node 26.4 and 24.22; idle only on Deno).
 * Decided on first use, when the addon is loaded, never at import.
 */
import fs from 'node:fs';
import { addonLoad, runtime } from '../native/load';
import { unavailableOnPlatform } from './errors';
import type { OptionSupport } from './options';
import { socketClass } from './node-internals';

export interface Capabilities extends OptionSupport {
  /** The JavaScript runtime running the library: Node.js, or Bun or Deno through their node:net. */
  readonly runtime: 'node' | 'bun' | 'deno';
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

/**
 * Whether Node's TCP handle's setKeepAlive takes interval and count: Node 26.4, and the lines it was
 * backported to (24.22 has it; 22.23 does not). socket.setKeepAlive gained its two parameters in the same change, so
 * its declared length tells; the version covers a prototype method an APM shim has wrapped. A line
 * without it ignores the extra arguments and answers 0, so this must never say yes by mistake.
 */
function nodeHasKeepaliveIntervalAndCount(version: string): boolean {
  const [major, minor] = version.slice(1).split('.').map(Number) as [number, number];
  if (major > 26 || (major === 26 && minor >= 4)) return true;
  // Not before 24: a shim's four-parameter wrapper on Node 22 must not pass for the feature.
  return major >= 24 && socketClass().prototype.setKeepAlive.length >= 4;
}

function detectCapabilities(): Capabilities {
  const load = addonLoad();
  if (load.addon === undefined) {
    // Deno and Bun report a Node version; Deno's handle takes the idle time only, and Bun's is not measured.
    const extended = runtime === 'node' && nodeHasKeepaliveIntervalAndCount(process.version);
    return {
      runtime,
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
    runtime,
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

const FIELDS = [
  'runtime',
  'strategy',
  'idle',
  'interval',
  'count',
  'userTimeout',
  'readBack',
  'tcpInfo',
  'systemDefaults',
  'reason',
] as const;

/** A plain copy, for printing and JSON: the values, not the getters. */
function snapshot(): Capabilities {
  return { ...currentCapabilities() };
}

/**
 * What configureKeepalive can honour here; anything else is an
 * ERR_FEATURE_UNAVAILABLE_ON_PLATFORM error. Each field is a read-only getter,
 * so reading it (not importing the package) is what loads the addon;
 * console.log and JSON.stringify show the values (util.inspect.custom, toJSON).
 */
export const capabilities: Capabilities = Object.freeze(
  Object.defineProperties({} as Capabilities, {
    ...Object.fromEntries(FIELDS.map((name) => [name, { enumerable: true, get: () => currentCapabilities()[name] }])),
    // Registered symbol: no node:util import, and Bun and Deno's console honour it too.
    [Symbol.for('nodejs.util.inspect.custom')]: { value: snapshot },
    toJSON: { value: snapshot },
  }),
);

/** SO_KEEPALIVE's timers in seconds, and count, as the handle's setKeepAlive takes them. */
export interface KeepaliveSeconds {
  readonly idleSeconds: number;
  readonly intervalSeconds: number;
  readonly count: number;
}

let untouched: KeepaliveSeconds | undefined;

/**
 * What a socket nobody configured holds: the values Node's setKeepAlive
 * (node-setKeepAlive strategy) writes for options never given, since it
 * writes idle, interval and count together. Linux: the sysctls, or the
 * kernel's built-in 7200 s / 75 s / 9 where /proc cannot be read (the
 * permission model); Windows: 2 h / 1 s / 10; macOS and the BSDs 7200 s / 75 s / 8.
 * Read once. Not range-checked here: the writer checks the values it uses.
 */
export function untouchedKeepalive(): KeepaliveSeconds {
  if (untouched !== undefined) return untouched;
  let values: KeepaliveSeconds;
  if (platform === 'linux') {
    try {
      values = {
        idleSeconds: readSysctl('tcp_keepalive_time'),
        intervalSeconds: readSysctl('tcp_keepalive_intvl'),
        count: readSysctl('tcp_keepalive_probes'),
      };
    } catch {
      values = { idleSeconds: 7200, intervalSeconds: 75, count: 9 };
    }
  } else if (platform === 'win32') {
    values = { idleSeconds: 7200, intervalSeconds: 1, count: 10 };
  } else {
    values = { idleSeconds: 7200, intervalSeconds: 75, count: 8 };
  }
  return (untouched = Object.freeze(values));
}

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
