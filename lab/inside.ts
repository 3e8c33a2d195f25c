/**
 * Helpers for a script running inside the namespace (started by runInNamespace).
 * The script is plain JS, so it requires the compiled file (`npm run build` first):
 *
 *   const { runInside, bringLoopbackUp, installLoadBalancer, takeLoopbackDown, socketTimers } =
 *     require(path.join(repoRoot, 'lab-dist', 'inside.js'));
 *   runInside(async (args) => {
 *     bringLoopbackUp();
 *     installLoadBalancer({ virtualIp: '127.0.0.2', virtualPort: 9000, backendPort: 9001, idleTimeoutSeconds: 3 });
 *     // … start a backend on 127.0.0.1:9001, connect to 127.0.0.2:9000, wait, write …
 *     return { delivered: true };                        // becomes the parent's resolved value
 *   }, { deadlineMs: 10_000 });
 *
 * Every helper acts on this process's private namespace only (loopback, its own
 * conntrack table): nothing outside the namespace is touched.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { REPORT_MARKER, type ReportEnvelope } from './run';

// ss on a busy host (10 000 sockets) prints megabytes.
const MAX_OUTPUT = 256 * 1024 * 1024;
const execFileAsync = promisify(execFile);

function run(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: MAX_OUTPUT });
}

export function bringLoopbackUp(): void {
  run('ip', ['link', 'set', 'lo', 'up']);
}

/**
 * The peer vanishes (fault-lab.md recipe 1): from now on every packet on
 * loopback, keepalive probes and retransmissions included, is dropped — like a
 * peer that lost power. No FIN, no RST.
 */
export function takeLoopbackDown(): void {
  run('ip', ['link', 'set', 'lo', 'down']);
}

/** Adds an address to lo, e.g. the load balancer's virtual IP. */
export function addLoopbackAddress(address: string, prefixLength = 8): void {
  run('ip', ['addr', 'add', `${address}/${prefixLength}`, 'dev', 'lo']);
}

/**
 * The load balancer's flow table: conntrack forgets an established TCP flow
 * after `establishedSeconds` without a packet; with tcp_loose=0 a packet of a
 * forgotten flow is not picked up again mid-stream (it becomes INVALID).
 */
export function setConntrackIdleTimeout(establishedSeconds: number): void {
  fs.writeFileSync('/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established', `${establishedSeconds}\n`);
  fs.writeFileSync('/proc/sys/net/netfilter/nf_conntrack_tcp_loose', '0\n');
}

/**
 * The peer vanishes, seen from a sender with data in flight: every packet
 * arriving in the namespace is dropped, while the sender's own transmits
 * succeed — so unacknowledged data is retransmitted as it would be to a dead
 * remote host (with lo down, the transmit itself fails and the kernel's
 * timing differs). Needs nft.
 */
export function dropAllIncoming(): void {
  run('nft', ['-f', '-'], 'table inet blackhole {\n  chain in { type filter hook input priority -300; drop; }\n}\n');
}

export interface LoadBalancerSpec {
  /** The address clients connect to; added to lo. */
  virtualIp: string;
  virtualPort: number;
  /** Where flows are sent; defaults to 127.0.0.1. */
  backendIp?: string;
  backendPort: number;
  /** The balancer's idle timeout: conntrack's established timeout, whole seconds. */
  idleTimeoutSeconds: number;
}

/**
 * An L4 load balancer that silently forgets idle flows (fault-lab.md recipe 2):
 * DNAT virtualIp:virtualPort → backend, flows tracked by conntrack with the
 * given idle timeout, packets of forgotten flows dropped. Call after
 * bringLoopbackUp().
 *
 * Unlike the recipe, forgotten packets are dropped on the receive side (input
 * hook), not on output: a drop on output fails the sender's own transmit, and
 * TCP then waits on its zero-window "persist" timer instead of retransmitting
 * as it would to a real, remote balancer.
 */
export function installLoadBalancer(spec: LoadBalancerSpec): void {
  addLoopbackAddress(spec.virtualIp);
  const backend = `${spec.backendIp ?? '127.0.0.1'}:${spec.backendPort}`;
  const rules = `table ip lb {
  chain out  { type nat hook output priority -100; ip daddr ${spec.virtualIp} tcp dport ${spec.virtualPort} dnat to ${backend}; }
  chain in   { type filter hook input priority 0; ct state invalid drop; }
}
`;
  run('nft', ['-f', '-'], rules);
  // After nft: its ct rule is what makes conntrack track this namespace.
  setConntrackIdleTimeout(spec.idleTimeoutSeconds);
}

export interface SocketTimer {
  /** keepalive, on (retransmission), persist, timewait, … */
  name: string;
  /** As ss prints it: "1.996ms" (1 s 996 ms), "12sec", "119min", "" when due now. */
  expiresIn: string;
  /** The same in ms (minutes-long timers are printed, and so parsed, to the minute). */
  expiresInMs: number;
  /** Probes or retransmissions sent so far. */
  attempts: number;
}

export interface SocketLine {
  state: string;
  local: string;
  peer: string;
  timer: SocketTimer | null;
  /** ss's whole line, for humans. */
  raw: string;
}

const TIMER = /timer:\((\w+),([^,]*),(\d+)\)/;

/** Reads ss's print_ms_timer() format: [<m>min][<s>sec | <s>.][<ms>ms]. */
export function parseSsDuration(text: string): number {
  const match = /^(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$/.exec(text);
  if (match === null) return Number.NaN;
  const [, minutes = '0', seconds = '0', millis = '0'] = match;
  return Number(minutes) * 60_000 + Number(seconds) * 1000 + Number(millis);
}

/**
 * `ss -tino` (the modern `netstat -o`): the TCP sockets of this network
 * namespace with their kernel timers; `filter` is an ss filter expression,
 * e.g. ['sport', '=', ':9000'].
 */
export function socketTimers(filter: readonly string[] = []): SocketLine[] {
  return parseSs(run('ss', ['-tinoaH', ...filter]));
}

/**
 * socketTimers() without blocking the event loop: for sampling while a
 * measurement runs, so the socket's error event is never held up by ss.
 */
export async function readSocketTimers(filter: readonly string[] = []): Promise<SocketLine[]> {
  const { stdout } = await execFileAsync('ss', ['-tinoaH', ...filter], { encoding: 'utf8', maxBuffer: MAX_OUTPUT });
  return parseSs(stdout);
}

function parseSs(output: string): SocketLine[] {
  const lines: SocketLine[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      // ss -i puts details on a continuation line.
      const last = lines[lines.length - 1];
      if (last !== undefined) last.raw += ` ${line.trim()}`;
      continue;
    }
    const [state = '', , , local = '', peer = ''] = line.trim().split(/\s+/);
    const match = TIMER.exec(line);
    lines.push({
      state,
      local,
      peer,
      timer:
        match === null
          ? null
          : {
              name: match[1]!,
              expiresIn: match[2]!,
              expiresInMs: parseSsDuration(match[2]!),
              attempts: Number(match[3]),
            },
      raw: line.trim(),
    });
  }
  return lines;
}

const connectionFilter = (localPort: number, peerPort: number): string[] => [
  'sport',
  '=',
  `:${localPort}`,
  'and',
  'dport',
  '=',
  `:${peerPort}`,
];
const isConnection =
  (localPort: number, peerPort: number) =>
  (line: SocketLine): boolean =>
    line.local.endsWith(`:${localPort}`) && line.peer.endsWith(`:${peerPort}`);

/** One connection as ss sees it, by its local and peer ports. */
export function socketTimerFor(localPort: number, peerPort: number): SocketLine | undefined {
  return socketTimers(connectionFilter(localPort, peerPort)).find(isConnection(localPort, peerPort));
}

/** socketTimerFor() without blocking the event loop. */
export async function readSocketTimerFor(localPort: number, peerPort: number): Promise<SocketLine | undefined> {
  return (await readSocketTimers(connectionFilter(localPort, peerPort))).find(isConnection(localPort, peerPort));
}

/** The JSON argument runInNamespace passed to this script. */
export function scenarioArgs<A>(): A {
  return JSON.parse(process.argv[2] ?? 'null') as A;
}

function writeReport<R>(envelope: ReportEnvelope<R>): void {
  process.stdout.write(`${REPORT_MARKER}${JSON.stringify(envelope)}\n`);
}

export interface InsideOptions {
  /** The child's own hard bound: it reports a failure and exits at this point. */
  deadlineMs: number;
}

/**
 * Runs the scenario body and reports its result (or the error it threw) to
 * the parent, then exits — open sockets and servers die with the namespace.
 */
export function runInside<A, R>(body: (args: A) => Promise<R>, options: InsideOptions): void {
  const exitAfter = (envelope: ReportEnvelope<R>, code: number): void => {
    writeReport(envelope);
    process.exitCode = code;
    // Flush stdout to the pipe before leaving; sockets left open must not keep us alive.
    process.stdout.write('', () => process.exit(code));
  };
  const deadline = setTimeout(() => {
    exitAfter(
      {
        ok: false,
        error: { message: `scenario did not finish within its own deadline of ${options.deadlineMs} ms`, code: 'ERR_LAB_TIMEOUT' },
      },
      2,
    );
  }, options.deadlineMs);
  body(scenarioArgs<A>()).then(
    (value) => {
      clearTimeout(deadline);
      exitAfter({ ok: true, value }, 0);
    },
    (error: unknown) => {
      clearTimeout(deadline);
      const { message, code, stack } =
        error instanceof Error
          ? { message: error.message, code: (error as { code?: unknown }).code, stack: error.stack }
          : { message: String(error), code: undefined, stack: undefined };
      exitAfter({ ok: false, error: { message, code: typeof code === 'string' ? code : undefined, stack } }, 1);
    },
  );
}
