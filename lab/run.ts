/**
 * Runs a script in its own private network namespace and returns its JSON report.
 *
 *   import { runInNamespace } from '../../lab';
 *   const report = await runInNamespace<MyReport>({ script: '/abs/path/child.js', args: { idleMs: 1000 }, timeoutMs: 15_000 });
 *
 * The script is plain JS run as `unshare -rn <node> <script> '<args as JSON>'`.
 * Inside, it reads its args with `scenarioArgs()` and ends with `report(value)`
 * (both from ./inside): one marked JSON line on stdout. The namespace — its
 * loopback, nft rules, conntrack table and sockets — vanishes with the process.
 * The child is SIGKILLed at `timeoutMs` whatever it is doing; the promise then
 * rejects with code ERR_LAB_TIMEOUT. A child that exits without a report
 * rejects with ERR_LAB_NO_REPORT, one that reports an error with ERR_LAB_CHILD_FAILED
 * (both carry the child's stderr).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const REPORT_MARKER = '@@lab-report ';

export interface RunOptions {
  /** Absolute path of a plain-JS script. */
  script: string;
  /** Passed to the child as one JSON argument. */
  args?: unknown;
  /** Hard bound: the child is SIGKILLed after this many ms. */
  timeoutMs: number;
  /** The Node binary to run the script with; defaults to this process's. */
  nodePath?: string;
}

export type LabErrorCode = 'ERR_LAB_TIMEOUT' | 'ERR_LAB_NO_REPORT' | 'ERR_LAB_CHILD_FAILED' | 'ERR_LAB_NOT_BUILT';

export interface LabError extends Error {
  code: LabErrorCode;
  /** The child's stderr, for the reader of a failed test. */
  stderr?: string;
}

export function labError(code: LabErrorCode, message: string, stderr?: string): LabError {
  const error = new Error(stderr ? `${message}\n--- child stderr ---\n${stderr.trimEnd()}` : message) as LabError;
  error.code = code;
  if (stderr !== undefined) error.stderr = stderr;
  return error;
}

/** A report line written by `report()`: either the value or the error the child died of. */
export type ReportEnvelope<R> = { ok: true; value: R } | { ok: false; error: { message: string; code?: string; stack?: string } };

function lastReport<R>(stdout: string): ReportEnvelope<R> | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(REPORT_MARKER));
  return line === undefined ? undefined : (JSON.parse(line.slice(REPORT_MARKER.length)) as ReportEnvelope<R>);
}

export function runInNamespace<R>(options: RunOptions): Promise<R> {
  const argv = ['-rn', options.nodePath ?? process.execPath, options.script, JSON.stringify(options.args ?? null)];
  return new Promise<R>((resolve, reject) => {
    const child = spawn('unshare', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const hardBound = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(hardBound);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(hardBound);
      const name = path.basename(options.script);
      if (timedOut) {
        reject(labError('ERR_LAB_TIMEOUT', `${name} did not finish within ${options.timeoutMs} ms and was killed`, stderr));
        return;
      }
      let envelope: ReportEnvelope<R> | undefined;
      try {
        envelope = lastReport<R>(stdout);
      } catch (cause) {
        reject(labError('ERR_LAB_NO_REPORT', `${name} wrote an unreadable report: ${(cause as Error).message}`, stderr));
        return;
      }
      if (envelope === undefined) {
        reject(labError('ERR_LAB_NO_REPORT', `${name} exited (${code ?? signal}) without a report`, stderr));
      } else if (!envelope.ok) {
        const { message, code: childCode, stack } = envelope.error;
        reject(
          labError('ERR_LAB_CHILD_FAILED', `${name} failed: ${childCode ? `[${childCode}] ` : ''}${message}`, `${stack ?? ''}\n${stderr}`),
        );
      } else {
        resolve(envelope.value);
      }
    });
  });
}

/** Where the lab is compiled to (lab/tsconfig.json); this file runs from lab/ under jest and from lab-dist/ compiled. */
export const labOutput = path.resolve(__dirname, '..', 'lab-dist');

/**
 * The compiled scenario runner (lab-dist/child.js). Children run plain JS, so
 * the lab must be built; ERR_LAB_NOT_BUILT says so rather than failing obscurely.
 */
export function scenarioRunnerPath(): string {
  const runner = path.join(labOutput, 'child.js');
  if (!fs.existsSync(runner)) {
    throw labError('ERR_LAB_NOT_BUILT', `${runner} is missing: run \`npm run build\` first`);
  }
  return runner;
}
