/**
 * The sampler behind startTelemetry: follows the sockets the library
 * configures or inherits (src/core/follow.ts), reads each one's TCP_INFO from
 * ONE timer, and once more just before it closes, and hands the numbers to an
 * exporter.
 *
 * Scheduling, as gRPC's TCP telemetry proposal (A80) and Envoy's tcp_stats do
 * it: a socket is sampled on the first tick after it is followed, then again
 * after a random 10–110 % of the interval, so 10 000 connections opened at
 * once spread over the interval instead of all waking together. The timer
 * ticks every interval/64 (at most once a second) and works through one slot
 * of a timing wheel; a slot that would take longer than TICK_BUDGET_MS leaves
 * its rest to the next tick, so no tick pauses the event loop for long.
 *
 * Memory: a socket is held through a WeakRef only; its entry leaves the wheel
 * and every map when the socket closes (the last sample is taken in its
 * `_destroy`, before Node closes the fd, the same place as the
 * tcp-keepalive:dead channel reads its evidence).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { following } from '../core/follow';
import { policyOf } from '../core/keepalive';
import { type Destroy, destroyStep, handleOf } from '../core/node-internals';
import type { KeepaliveOptions } from '../core/options';
import { connectionHealth } from '../health/connection-health';
import { DEAD_CHANNEL, type DeadConnectionMessage, deathSubscribed, watchForDeath } from '../health/dead-channel';
import { readTcpInfo, type TcpInfo } from '../health/tcp-info';
import { addon } from '../native/load';
import { CAUSES, OTHER, type Series, type Verdict, VERDICTS } from './series';

/** What an exporter is told; every value is already a per-series number. NaN = not reported. */
export interface Exporter {
  /** One sample of a connection in `series`: RTT and min RTT in seconds, retransmissions since its previous sample. */
  record(series: Series, rttSeconds: number, minRttSeconds: number, retransmittedSegments: number, retransmittedBytes: number): void;
  /** A connection in `series` was ended by the kernel; cause index into CAUSES. */
  dead(series: Series, cause: number): void;
  /** Once per tick, before sampling (the OpenTelemetry exporter looks for a newly set global MeterProvider). */
  tick?(): void;
  stop(): void;
}

export interface SamplerOptions {
  /** ms between two samples of a connection, on average (each is 10–110 % of it). */
  interval: number;
  /** Distinct (address, port, policy) series before everything new goes to the `other` series. */
  maxSeries: number;
  /** The policy attribute of a socket; undefined = described from the policy. */
  policyName: ((socket: net.Socket, policy: Readonly<KeepaliveOptions> | undefined) => string) | undefined;
}

/** The longest a tick may sample before leaving the rest of its slot to the next tick, ms. */
export const TICK_BUDGET_MS = 3;

interface Entry {
  readonly socket: WeakRef<net.Socket>;
  readonly inheritedPolicy: Readonly<KeepaliveOptions> | undefined;
  series: Series | undefined;
  /** Index into VERDICTS of the last sample; -1 before the first. */
  verdict: number;
  /** The kernel's totals at the last sample. */
  retransmits: number;
  bytesRetransmitted: number;
  /** What this connection adds to its series' sums. */
  unacked: number;
  notSent: number;
  /** Wheel slot and index in it; slot -1 when not scheduled. */
  slot: number;
  index: number;
  /** Set when the entry is gone (closed, or the sampler stopped): its _destroy wrapper only passes through. */
  done: boolean;
  /** The socket's own `_destroy` before ours (undefined: it used the prototype's). */
  previousDestroy: PropertyDescriptor | undefined;
  wrapper: ((this: net.Socket, error: Error | null, callback: (error?: Error | null) => void) => void) | undefined;
  /** The handle the fd was read from, and that fd: a connected handle keeps its fd, a reconnect brings a new handle. */
  handle: object | undefined;
  fd: number;
  /**
   * The socket, held strongly only while its handle is cached above: an open handle refers back to its socket,
   * so this retains nothing the handle does not, and spares the sample a WeakRef deref (which makes V8 keep
   * the target until the end of the job, a hash-set insertion per sample).
   */
  owner: net.Socket | undefined;
}

const SECONDS_PER_MS = 0.001;

/** `idle=30s,interval=10s,count=3,userTimeout=60s`: the policy attribute when no name is given. */
export function describePolicy(policy: Readonly<KeepaliveOptions> | undefined): string {
  if (policy === undefined) return 'none';
  const parts: string[] = [];
  if (policy.enable === false) parts.push('enable=false');
  const seconds = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  if (policy.idle !== undefined) parts.push(`idle=${seconds(policy.idle)}`);
  if (policy.interval !== undefined) parts.push(`interval=${seconds(policy.interval)}`);
  if (policy.count !== undefined) parts.push(`count=${policy.count}`);
  if (policy.userTimeout !== undefined) parts.push(`userTimeout=${seconds(policy.userTimeout)}`);
  return parts.length === 0 ? 'default' : parts.join(',');
}

/** The fd of a socket, from its handle's native accessor (TLS: the TCP fd under it); -1 if none. */
function handleFd(socket: net.Socket): number {
  const handle = handleOf(socket);
  if (handle == null) return -1;
  try {
    const fd = handle.fd;
    return typeof fd === 'number' ? fd : -1;
  } catch {
    return -1;
  }
}

/** The numbers one sample needs (NaN = not reported), filled by readSample or fromInfo; read right after. */
const reading = { unacked: NaN, notSent: NaN, totalRetransmits: NaN, bytesRetransmitted: NaN, rtt: NaN, minRtt: NaN };

const HEALTHY = VERDICTS.indexOf('healthy');

/** Slots of the addon's TCP_INFO array, by name (tcp-info.ts checks the order once; here only these are read). */
interface Slots {
  readonly state: number;
  readonly retransmits: number;
  readonly probes: number;
  readonly backoff: number;
  readonly unacked: number;
  readonly totalRetransmits: number;
  readonly bytesRetransmitted: number;
  readonly notSent: number;
  readonly rtt: number;
  readonly minRtt: number;
}

function slotsOf(fields: readonly string[]): Slots {
  const at = (name: string): number => {
    const index = fields.indexOf(name);
    if (index < 0) throw new Error(`tcp-keepalive: the native addon has no TCP_INFO field ${name}; reinstall the package`);
    return index;
  };
  return {
    state: at('state'),
    retransmits: at('retransmits'),
    probes: at('probes'),
    backoff: at('backoff'),
    unacked: at('unacked'),
    totalRetransmits: at('totalRetransmits'),
    bytesRetransmitted: at('bytesRetransmitted'),
    notSent: at('notSentBytes'),
    rtt: at('rtt'),
    minRtt: at('minRtt'),
  };
}

function fromInfo(info: TcpInfo): void {
  reading.unacked = info.unacked ?? NaN;
  reading.notSent = info.notSentBytes ?? NaN;
  reading.totalRetransmits = info.totalRetransmits ?? NaN;
  reading.bytesRetransmitted = info.bytesRetransmitted ?? NaN;
  reading.rtt = info.rtt ?? NaN;
  reading.minRtt = info.minRtt ?? NaN;
}

/**
 * One sample of an open connection into `reading`; returns its verdict (index into VERDICTS). Throws
 * the library's errors when the kernel refuses.
 *
 * Most followed connections, most of the time, are idle and established: nothing unacknowledged, nothing
 * waiting to be sent, no probe out, no retransmission timer running. connectionHealth can only find such
 * a connection healthy (every other verdict needs one of those to be non-zero, or a state other than
 * established), so for them one getsockopt into the addon's array is the whole sample, without building
 * the TcpInfo object (docs/performance.md, section 9). Anything else is judged by connectionHealth
 * itself, from its own read. A new rule in connectionHealth that can find such a connection unhealthy
 * must be reflected here.
 */
function readSample(socket: net.Socket, fd: number): number {
  const raw = (rawRead ??= rawReader());
  if (raw !== false && raw(fd)) return HEALTHY;
  const health = connectionHealth(socket);
  fromInfo(health.info);
  const verdict = VERDICTS.indexOf(health.verdict as Verdict);
  return verdict < 0 ? VERDICTS.indexOf('suspect') : verdict;
}

/**
 * The addon's read, specialised once (the addon's exports are looked up, and the slots found, at the first
 * sample only): reads TCP_INFO into the addon's array and, for an idle established connection, fills
 * `reading` from the few slots a sample uses and answers true; false sends the sample to connectionHealth.
 * False for good without TCP_INFO.
 */
let rawRead: ((fd: number) => boolean) | false | undefined;
function rawReader(): ((fd: number) => boolean) | false {
  const native = addon();
  if (native === undefined || !native.capabilities.tcpInfo) return false;
  // The function itself, called without its object: a property lookup on the addon's exports saved per sample.
  const tcpInfo = native.tcpInfo;
  const v = native.tcpInfoValues;
  const at = slotsOf(native.tcpInfoFields);
  const { state, probes, retransmits, backoff, unacked, notSent, totalRetransmits, bytesRetransmitted, rtt, minRtt } = at;
  return (fd) => {
    if (tcpInfo(fd) !== undefined) return false;
    // state 1 = established; NaN (not reported) never compares equal, so it goes to connectionHealth.
    if (v[state] !== 1 || v[probes] !== 0 || v[retransmits] !== 0 || v[backoff] !== 0 || v[unacked] !== 0) return false;
    const waiting = v[notSent]!;
    if (waiting > 0) return false;
    reading.unacked = 0;
    reading.notSent = waiting;
    reading.totalRetransmits = v[totalRetransmits]!;
    reading.bytesRetransmitted = v[bytesRetransmitted]!;
    reading.rtt = v[rtt]!;
    reading.minRtt = v[minRtt]!;
    return true;
  };
}

export class Sampler {
  readonly interval: number;
  readonly tickMs: number;
  private readonly maxSeries: number;
  private readonly policyName: SamplerOptions['policyName'];
  private exporter: Exporter | undefined;
  private readonly entries = new WeakMap<net.Socket, Entry>();
  private readonly series = new Map<string, Series>();
  private other: Series | undefined;
  private readonly wheel: Entry[][];
  private cursor = 0;
  /**
   * Slots a tick took but could not finish within TICK_BUDGET_MS, oldest first, and how far into the first
   * one sampling got: the next tick goes on from there before its own slot. Carrying the unfinished lists
   * whole keeps a tick's overrun O(1), however many connections were followed at once (moving each left-over
   * entry to the next slot instead was itself a pause of its own at 10 000 connections: docs/performance.md).
   * Entries in it keep their old slot number; unschedule() tells them by their slot list no longer holding them.
   */
  private readonly backlog: Entry[][] = [];
  private backlogAt = 0;
  /** The wheel's lists sampleAll is sampling. */
  private readonly drained: Entry[][] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly onDead = (message: unknown): void => this.countDeath(message as DeadConnectionMessage);
  /** Followed connections now open (for tests and the bench). */
  open = 0;
  /** Samples taken, close samples included. */
  samples = 0;

  constructor(options: SamplerOptions) {
    this.interval = options.interval;
    this.maxSeries = options.maxSeries;
    this.policyName = options.policyName;
    this.tickMs = Math.min(1000, Math.max(10, Math.floor(options.interval / 64)));
    const slots = Math.ceil((1.1 * options.interval) / this.tickMs) + 2;
    this.wheel = Array.from({ length: slots }, () => []);
  }

  /** Starts following and sampling; the exporter is told everything from now on. */
  start(exporter: Exporter): void {
    this.exporter = exporter;
    diagnosticsChannel.subscribe(DEAD_CHANNEL, this.onDead);
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
    followers.add(this);
    following.socket = followAll;
  }

  stop(): void {
    if (this.exporter === undefined) return;
    followers.delete(this);
    if (followers.size === 0) following.socket = undefined;
    clearInterval(this.timer);
    diagnosticsChannel.unsubscribe(DEAD_CHANNEL, this.onDead);
    for (const slot of [...this.backlog.splice(0), ...this.wheel]) {
      // Taken out first: release() unschedules by swapping within the slot being walked.
      for (const entry of slot.splice(0)) {
        entry.slot = -1;
        this.release(entry);
      }
    }
    this.backlogAt = 0;
    this.series.clear();
    this.other = undefined;
    this.open = 0;
    const exporter = this.exporter;
    this.exporter = undefined;
    exporter.stop();
  }

  /** Every series now, for the exporters' up-down instruments (read at collection time). */
  forEachSeries(callback: (series: Series) => void): void {
    for (const series of this.series.values()) callback(series);
    if (this.other !== undefined) callback(this.other);
  }

  /** How many distinct series exist (the `other` series included). */
  get seriesCount(): number {
    return this.series.size + (this.other === undefined ? 0 : 1);
  }

  follow(socket: net.Socket, inheritedPolicy: Readonly<KeepaliveOptions> | undefined): void {
    if (this.entries.has(socket) || socket.destroyed || !Object.isExtensible(socket)) return;
    const current: unknown = destroyStep.of(socket);
    if (typeof current !== 'function') return;
    // An inherited socket was never configureKeepalive'd, so its death is not watched yet: watch it with the server's policy.
    if (inheritedPolicy !== undefined && deathSubscribed()) watchForDeath(socket, (s) => policyOf(s) ?? inheritedPolicy);
    const entry: Entry = {
      socket: new WeakRef(socket),
      inheritedPolicy,
      series: undefined,
      verdict: -1,
      retransmits: 0,
      bytesRetransmitted: 0,
      unacked: 0,
      notSent: 0,
      slot: -1,
      index: -1,
      done: false,
      previousDestroy: destroyStep.own(socket),
      wrapper: undefined,
      handle: undefined,
      fd: -1,
      owner: undefined,
    };
    const inner = current as Destroy;
    const closing = (): void => this.sampleClosing(entry, socket);
    const forget = (): void => this.forget(entry, socket);
    entry.wrapper = function _destroy(this: net.Socket, error: Error | null, callback: (error?: Error | null) => void): void {
      if (entry.done) {
        inner.call(this, error, callback);
        return;
      }
      closing();
      try {
        inner.call(this, error, callback);
      } finally {
        forget();
      }
    };
    try {
      destroyStep.set(socket, entry.wrapper);
    } catch {
      return;
    }
    this.entries.set(socket, entry);
    this.schedule(entry, this.tickMs);
  }

  private schedule(entry: Entry, delayMs: number): void {
    const slots = this.wheel.length;
    const ahead = Math.min(slots - 1, Math.max(1, Math.round(delayMs / this.tickMs)));
    const slot = (this.cursor + ahead) % slots;
    const list = this.wheel[slot]!;
    entry.slot = slot;
    entry.index = list.length;
    list.push(entry);
  }

  private unschedule(entry: Entry): void {
    if (entry.slot < 0) return;
    const list = this.wheel[entry.slot]!;
    if (list[entry.index] !== entry) {
      // In the backlog: it stays in its list, and the tick that reaches it skips it (it is done).
      entry.slot = -1;
      return;
    }
    const last = list.pop()!;
    if (last !== entry) {
      list[entry.index] = last;
      last.index = entry.index;
    }
    entry.slot = -1;
  }

  /** The next sample of a connection: a random 10–110 % of the interval from now. */
  private nextDelay(): number {
    return this.interval * (0.1 + Math.random());
  }

  private tick(): void {
    const start = performance.now();
    try {
      this.exporter?.tick?.();
    } catch {
      // An exporter's trouble must not stop sampling.
    }
    const slots = this.wheel.length;
    this.cursor = (this.cursor + 1) % slots;
    const due = this.wheel[this.cursor]!;
    if (due.length > 0) {
      this.backlog.push(due);
      this.wheel[this.cursor] = [];
    }
    const backlog = this.backlog;
    while (backlog.length > 0) {
      const list = backlog[0]!;
      let index = this.backlogAt;
      for (; index < list.length; index++) {
        const entry = list[index]!;
        if (entry.done) continue;
        entry.slot = -1;
        this.sampleOpen(entry);
        // The clock after every sample: a first sample of a connection just followed can take a millisecond.
        if (performance.now() - start > TICK_BUDGET_MS) break;
      }
      if (index < list.length) {
        this.backlogAt = index + 1;
        break;
      }
      backlog.shift();
      this.backlogAt = 0;
    }
  }

  /** Samples every followed connection once, now, in this call (the benchmark's per-sample measurement); returns how many. */
  sampleAll(): number {
    // Each non-empty slot's list is taken whole and replaced, as a tick takes its slot (emptying it in place
    // instead, by setting its length, is a runtime call per slot that no tick makes).
    const lists = this.drained;
    const wheel = this.wheel;
    if (this.backlog.length > 0) {
      lists.push(this.backlog[0]!.slice(this.backlogAt), ...this.backlog.slice(1));
      this.backlog.length = 0;
      this.backlogAt = 0;
    }
    for (let slot = 0; slot < wheel.length; slot++) {
      const list = wheel[slot]!;
      if (list.length === 0) continue;
      lists.push(list);
      wheel[slot] = [];
    }
    let count = 0;
    for (let at = 0; at < lists.length; at++) {
      const list = lists[at]!;
      for (let index = 0; index < list.length; index++) {
        const entry = list[index]!;
        if (entry.done) continue;
        entry.slot = -1;
        this.sampleOpen(entry);
        count += 1;
      }
    }
    // Reused by the next call (the benchmark calls this in a loop), and holding no connection in between.
    lists.length = 0;
    return count;
  }

  private sampleOpen(entry: Entry): void {
    const socket = entry.owner ?? entry.socket.deref();
    if (socket === undefined || socket.destroyed) {
      // Collected or destroyed without its _destroy (a subclass that replaced it): nothing more to read.
      if (socket !== undefined) this.forget(entry, socket);
      else this.release(entry);
      return;
    }
    let fd = -1;
    if (!socket.connecting) {
      const handle = handleOf(socket) ?? undefined;
      if (handle !== undefined && handle === entry.handle) fd = entry.fd;
      else {
        fd = handleFd(socket);
        entry.handle = fd < 0 ? undefined : handle;
        entry.owner = fd < 0 ? undefined : socket;
        entry.fd = fd;
      }
    }
    if (fd < 0) {
      this.schedule(entry, this.tickMs);
      return;
    }
    let verdict: number;
    try {
      verdict = readSample(socket, fd);
    } catch {
      this.schedule(entry, this.nextDelay());
      return;
    }
    const series = (entry.series ??= this.seriesOf(socket, entry.inheritedPolicy));
    if (verdict !== entry.verdict) {
      if (entry.verdict >= 0) series.connections[entry.verdict]! -= 1;
      else this.open += 1;
      series.connections[verdict]! += 1;
      entry.verdict = verdict;
    }
    const unacked = reading.unacked === reading.unacked ? reading.unacked : 0;
    const notSent = reading.notSent === reading.notSent ? reading.notSent : 0;
    series.unacked += unacked - entry.unacked;
    series.notSent += notSent - entry.notSent;
    entry.unacked = unacked;
    entry.notSent = notSent;
    this.record(entry, series);
    this.schedule(entry, this.nextDelay());
  }

  /** The last sample, in the socket's _destroy: the fd is still open. Never throws. */
  private sampleClosing(entry: Entry, socket: net.Socket): void {
    try {
      const fd = handleFd(socket);
      if (fd < 0 || socket.connecting) return;
      fromInfo(readTcpInfo(fd, 'telemetry'));
      const series = (entry.series ??= this.seriesOf(socket, entry.inheritedPolicy));
      this.record(entry, series);
    } catch {
      // The fd went away under us, or the kernel refused: this connection's last numbers are its previous sample's.
    }
  }

  /** Hands `reading` to the exporter: retransmissions as the change since this connection's previous sample. */
  private record(entry: Entry, series: Series): void {
    this.samples += 1;
    const total = reading.totalRetransmits === reading.totalRetransmits ? reading.totalRetransmits : entry.retransmits;
    const known = reading.bytesRetransmitted === reading.bytesRetransmitted;
    const bytes = known ? reading.bytesRetransmitted : entry.bytesRetransmitted;
    const segments = total > entry.retransmits ? total - entry.retransmits : 0;
    const retransmittedBytes = !known ? NaN : bytes > entry.bytesRetransmitted ? bytes - entry.bytesRetransmitted : 0;
    entry.retransmits = total;
    entry.bytesRetransmitted = bytes;
    // A connection that never carried data has no RTT estimate (0), and min RTT is ~0U µs until it has one.
    const rtt = reading.rtt > 0 ? reading.rtt * SECONDS_PER_MS : NaN;
    const minRtt = reading.minRtt > 0 && reading.minRtt < 4294967 ? reading.minRtt * SECONDS_PER_MS : NaN;
    try {
      this.exporter?.record(series, rtt, minRtt, segments, retransmittedBytes);
    } catch {
      // A meter provider's instrument that throws must not reach the sampler's timer (and the process).
    }
  }

  /** The connection closed: its entry leaves the wheel and its series' up-down sums. */
  private forget(entry: Entry, socket: net.Socket): void {
    if (entry.done) return;
    const series = entry.series;
    if (series !== undefined) {
      if (entry.verdict >= 0) {
        series.connections[entry.verdict]! -= 1;
        this.open -= 1;
      }
      series.unacked -= entry.unacked;
      series.notSent -= entry.notSent;
    }
    this.entries.delete(socket);
    this.release(entry);
  }

  /** Unschedules the entry and takes its _destroy off the socket if it is still on top. */
  private release(entry: Entry): void {
    entry.done = true;
    this.unschedule(entry);
    entry.series = undefined;
    entry.handle = undefined;
    entry.owner = undefined;
    const socket = entry.socket.deref();
    if (socket === undefined) return;
    this.entries.delete(socket);
    try {
      const own = destroyStep.own(socket);
      if (own?.value === entry.wrapper) destroyStep.restore(socket, entry.previousDestroy);
    } catch {
      // Left in place: a done wrapper only passes through.
    }
    // The wrapper closes over the socket, and a done entry can wait in the backlog until a tick passes it:
    // nothing of the socket is kept through the entry.
    entry.wrapper = undefined;
    entry.previousDestroy = undefined;
  }

  private countDeath(message: DeadConnectionMessage): void {
    const exporter = this.exporter;
    if (exporter === undefined) return;
    try {
      const socket = message.socket;
      const entry = this.entries.get(socket);
      const series = entry?.series ?? this.seriesOf(socket, entry?.inheritedPolicy ?? message.policy);
      const cause = CAUSES.indexOf(message.cause);
      exporter.dead(series, cause < 0 ? CAUSES.indexOf('unknown') : cause);
    } catch {
      // diagnostics_channel would report a subscriber's throw as uncaught: never from telemetry.
    }
  }

  private seriesOf(socket: net.Socket, inheritedPolicy: Readonly<KeepaliveOptions> | undefined): Series {
    const policy = policyOf(socket) ?? inheritedPolicy;
    let name: string | undefined;
    if (this.policyName !== undefined) {
      try {
        const given = this.policyName(socket, policy);
        if (typeof given === 'string' && given !== '') name = given;
      } catch {
        name = undefined;
      }
    }
    name ??= describePolicy(policy);
    let address: string | undefined;
    let port: number | undefined;
    try {
      address = socket.remoteAddress;
      // An accepted connection's peer port is the client's ephemeral port: one series per connection. Left out.
      if ((socket as net.Socket & { server?: unknown }).server == null) port = socket.remotePort;
    } catch {
      address = undefined;
    }
    address ??= 'unknown';
    const key = `${address}\u0000${port ?? ''}\u0000${name}`;
    let series = this.series.get(key);
    if (series !== undefined) return series;
    if (this.series.size >= this.maxSeries) return (this.other ??= newSeries(OTHER, undefined, OTHER));
    series = newSeries(address, port, name);
    this.series.set(key, series);
    return series;
  }
}

function newSeries(address: string, port: number | undefined, policy: string): Series {
  return { address, port, policy, connections: [0, 0, 0, 0], unacked: 0, notSent: 0, slot: undefined };
}

/** Every running sampler; the core's hook is set while there is one. */
const followers = new Set<Sampler>();

function followAll(socket: net.Socket, inheritedPolicy: Readonly<KeepaliveOptions> | undefined): void {
  for (const sampler of followers) {
    try {
      sampler.follow(socket, inheritedPolicy);
    } catch {
      // Never into configureKeepalive's caller or a server's 'connection'.
    }
  }
}
