/**
 * Jest glue for the fault lab: skip loudly (or fail under CI) when the machine
 * cannot run namespaces, make sure the scenario children run the current
 * code, and start a file's scenarios all at once so the suite takes as long as
 * its longest scenario.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type LabSupport, probeLab, runScenario, type Scenario, type ScenarioReport } from '../../lab';

const root = path.resolve(__dirname, '..', '..');

/** A CI run must have the lab; a developer's machine may not. */
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * describe() when the lab feature is available; otherwise a loud skip with the
 * reason — or, under CI, a failing test with that reason.
 */
export function describeInLab(feature: keyof LabSupport, title: string, body: () => void): void {
  const support = probeLab()[feature];
  if (support.available) {
    describe(title, body);
    return;
  }
  const message = `${feature === 'namespaces' ? 'namespaces' : 'load balancer (nft + conntrack)'} unavailable: ${support.reason}`;
  if (inCi) {
    describe(title, () => {
      test(`needs the fault lab (${message})`, () => {
        throw new Error(`CI must run the fault tests, but ${message}`);
      });
    });
    return;
  }
  console.warn(`SKIPPED "${title}": ${message}`);
  describe.skip(title, body);
}

function newestMtime(directory: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Children run lab-dist/ and dist/ (plain JS): rebuild both when src/ or lab/ is
 * newer, so a test never runs stale code. (`npm run build` does the same.)
 */
export function ensureBuilt(): void {
  const runner = path.join(root, 'lab-dist', 'child.js');
  const builtAt = fs.existsSync(runner) ? fs.statSync(runner).mtimeMs : 0;
  if (builtAt >= Math.max(newestMtime(path.join(root, 'src')), newestMtime(path.join(root, 'lab')))) return;
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit', timeout: 120_000 });
  execFileSync(process.execPath, [path.join(root, 'scripts', 'copy-declarations.js')], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [tsc, '-p', path.join('lab', 'tsconfig.json')], { cwd: root, stdio: 'inherit', timeout: 120_000 });
  // tsc leaves unchanged outputs alone; mark the build as current.
  const now = new Date();
  fs.utimesSync(runner, now, now);
}

/**
 * Scenarios registered while describing, started together in one beforeAll
 * (each in its own namespace), awaited by the tests that need them.
 */
export class ScenarioBatch {
  private readonly scenarios: Array<{ scenario: Scenario; report?: Promise<ScenarioReport> }> = [];

  /** Registers a scenario; the returned function gives its report (starting it if the batch has not). */
  add(scenario: Scenario): () => Promise<ScenarioReport> {
    const entry: { scenario: Scenario; report?: Promise<ScenarioReport> } = { scenario };
    this.scenarios.push(entry);
    return () => this.start(entry);
  }

  private start(entry: { scenario: Scenario; report?: Promise<ScenarioReport> }): Promise<ScenarioReport> {
    if (entry.report === undefined) {
      entry.report = runScenario(entry.scenario);
      // A test filtered out by -t never awaits its report; its failure must not be "unhandled".
      entry.report.catch(() => undefined);
    }
    return entry.report;
  }

  /** Starts every registered scenario whose lab feature is available. */
  startAll(): void {
    const support = probeLab();
    for (const entry of this.scenarios) {
      const needs = requiredFeature(entry.scenario);
      if (support[needs].available) void this.start(entry);
    }
  }
}

export function requiredFeature(scenario: Scenario): keyof LabSupport {
  return scenario.name === 'load-balancer-idle' || scenario.vanish === 'drop-incoming' ? 'loadBalancer' : 'namespaces';
}

/**
 * The fault tests' timing rule: never before the configured deadline, and at
 * most 10 % after it.
 */
export function expectWithinDeadline(measuredMs: number, deadlineMs: number): void {
  expect(measuredMs).toBeGreaterThanOrEqual(deadlineMs);
  expect(measuredMs).toBeLessThanOrEqual(deadlineMs * 1.1);
}
