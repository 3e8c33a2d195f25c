/**
 * The addon in worker_threads: several at once, each configuring a socket it
 * created and reading it back; then workers created and terminated over and
 * over (some mid-load, some mid-configuration); then the main thread still
 * works. The whole scenario runs in a child process (fixtures/workers.js, on
 * dist/), so a crash as an addon instance unloads is seen as a signal.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const CONCURRENT = 6;
const CHURN_ROUNDS = 30;
const fixture = path.join(__dirname, 'fixtures', 'workers.js');
const dist = path.join(__dirname, '..', '..', 'dist', 'index.js');

/** What the fixture configures in thread `threadId` (each thread its own idle time), and no read that was another thread's. */
function bothSides(threadId: number): unknown {
  const policy = { enable: true, idle: 30_000 + threadId * 1000, interval: 5_000, count: 3, userTimeout: 45_000 };
  return { client: policy, server: { ...policy, count: 4 }, foreignReads: 0 };
}

interface WorkerExit {
  code: number;
  errors: string[];
}
interface Report {
  together: Array<WorkerExit & { messages: Array<{ threadId: number; states: unknown }> }>;
  churned: Array<WorkerExit & { loaded: boolean }>;
  mainThread: unknown;
}

function runFixture(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fixture, String(CONCURRENT), String(CHURN_ROUNDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test(`${CONCURRENT} workers at once, ${CHURN_ROUNDS * 2} created and terminated: each works, none crashes, the process exits 0`, async () => {
  if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first (npm test does)`);
  const { code, signal, stdout, stderr } = await runFixture();
  expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  const report = JSON.parse(stdout) as Report;

  expect(report.together).toHaveLength(CONCURRENT);
  for (const worker of report.together) {
    expect(worker).toMatchObject({ code: 0, errors: [] });
    expect(worker.messages[0]!.states).toEqual(bothSides(worker.messages[0]!.threadId));
  }
  expect(new Set(report.together.map((worker) => worker.messages[0]!.threadId)).size).toBe(CONCURRENT);

  expect(report.churned).toHaveLength(CHURN_ROUNDS * 2);
  for (const worker of report.churned) {
    expect(worker.errors).toEqual([]);
    expect([0, 1]).toContain(worker.code); // 1 = terminated, 0 = terminated before it ran any code
  }
  // The point is terminating workers that hold a loaded addon and open sockets: every even round waits for that.
  expect(report.churned.filter((worker) => worker.loaded).length).toBeGreaterThanOrEqual(CHURN_ROUNDS);

  expect(report.mainThread).toEqual(bothSides(0));
}, 45_000);
