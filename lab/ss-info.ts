/**
 * `ss -tinoe` for one connection, parsed: the kernel's TCP_INFO as iproute2
 * reads it (over inet_diag netlink, not getsockopt), to check tcpInfo()
 * against an independent reader. Units as ss prints them: ms (rtt with three
 * decimals, rto as %g), counts, bytes.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface SsInfo {
  /** ss's state column: ESTAB, CLOSE-WAIT, … */
  state: string;
  /** Every `name:value` field of the detail line, as numbers (rtt's "a/b" split into rtt and rttvar, retrans's into retransOut and totalRetrans). */
  fields: Record<string, number>;
  /** timer:(name,expires,attempts), if any. */
  timer: { name: string; attempts: number } | null;
  raw: string;
}

const FIELD = /(?:^|\s)([a-z_]+):([0-9.]+(?:\/[0-9.]+)?)(?=\s|$)/g;

export function parseSsInfo(output: string): SsInfo | undefined {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) return undefined;
  const text = lines.join(' ').replace(/\s+/g, ' ').trim();
  const [state = ''] = text.split(' ');
  const fields: Record<string, number> = {};
  for (const [, name, value] of text.matchAll(FIELD)) {
    if (name === undefined || value === undefined) continue;
    if (value.includes('/')) {
      const [first, second] = value.split('/').map(Number) as [number, number];
      if (name === 'rtt') {
        fields.rtt = first;
        fields.rttvar = second;
      } else if (name === 'retrans') {
        fields.retransOut = first;
        fields.totalRetrans = second;
      } else {
        fields[name] = first;
      }
    } else {
      fields[name] = Number(value);
    }
  }
  const timer = /timer:\((\w+),[^,]*,(\d+)\)/.exec(text);
  return { state, fields, timer: timer === null ? null : { name: timer[1]!, attempts: Number(timer[2]) }, raw: text };
}

const filterFor = (localPort: number, peerPort: number): string[] => ['sport', '=', `:${localPort}`, 'and', 'dport', '=', `:${peerPort}`];

/** `ss -tinoeH` for the connection from localPort to peerPort (all states). */
export function ssInfoFor(localPort: number, peerPort: number): SsInfo | undefined {
  return parseSsInfo(execFileSync('ss', ['-tinoeaH', ...filterFor(localPort, peerPort)], { encoding: 'utf8' }));
}

/** ssInfoFor() without blocking the event loop. */
export async function readSsInfoFor(localPort: number, peerPort: number): Promise<SsInfo | undefined> {
  const { stdout } = await execFileAsync('ss', ['-tinoeaH', ...filterFor(localPort, peerPort)], { encoding: 'utf8' });
  return parseSsInfo(stdout);
}
