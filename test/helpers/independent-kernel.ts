/**
 * Readings of the kernel that do not go through our addon: a separately
 * compiled C program using pidfd_getfd + getsockopt, and `ss -tino` timers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let readerBinary: string | undefined;

/** Compiles kernel-reader.c once per process; the reason it cannot, otherwise. */
export function kernelReader(): { binary: string } | { unavailable: string } {
  if (readerBinary !== undefined) return { binary: readerBinary };
  const cc = spawnSync('sh', ['-c', 'command -v cc || command -v gcc || command -v clang'], { encoding: 'utf8' }).stdout.trim();
  if (cc === '') return { unavailable: 'no C compiler (cc, gcc or clang) on PATH' };
  const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-reader-')), 'kernel-reader');
  const build = spawnSync(cc, ['-O1', '-o', output, path.join(__dirname, 'kernel-reader.c')], { encoding: 'utf8', timeout: 60_000 });
  if (build.status !== 0) return { unavailable: `cannot compile kernel-reader.c: ${build.stderr}` };
  readerBinary = output;
  return { binary: output };
}

export interface RawKernelState {
  enabled: number;
  /** seconds */
  idle: number;
  /** seconds */
  interval: number;
  count: number;
  /** ms */
  userTimeout: number;
}

export function readFromOutside(binary: string, fd: number): RawKernelState {
  return JSON.parse(execFileSync(binary, [String(process.pid), String(fd)], { encoding: 'utf8', timeout: 10_000 })) as RawKernelState;
}

/** The keepalive timer `ss -tino` shows for the connection from localPort to remotePort, in ms. */
export function ssKeepaliveTimerMs(localPort: number, remotePort: number): number | undefined {
  const out = execFileSync('ss', ['-tino', 'state', 'established', `( sport = :${localPort} and dport = :${remotePort} )`], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const match = /timer:\(keepalive,(?:(\d+)min)?(?:(\d+(?:\.\d+)?)sec)?(?:(\d+)ms)?,\d+\)/.exec(out);
  if (!match) return undefined;
  return Number(match[1] ?? 0) * 60000 + Number(match[2] ?? 0) * 1000 + Number(match[3] ?? 0);
}
