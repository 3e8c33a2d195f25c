/**
 * The package's entry points as users load them: by name, through the exports
 * map, from CommonJS and from ESM. Both module systems must see the same names
 * with the same values, and the planner must stay usable on its own.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const node = (args: string[]): string => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 30_000 }).trim();

// Entry points that have no side effect on import (tcp-keepalive/register patches Node by design).
const ENTRY_POINTS = ['tcp-keepalive', 'tcp-keepalive/planner', 'tcp-keepalive/integrations', 'tcp-keepalive/metrics'];

// Each export's name and type, sorted; `default` exists on the ESM side only and
// `__esModule` is TypeScript's marker, not an export.
// Node adds 'default' (and, from Node 23, 'module.exports') to the namespace of any CommonJS module it imports.
const exportShape = `(m) => JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule' && k !== 'module.exports').sort().map((k) => [k, typeof m[k]]))`;

test("require('tcp-keepalive') and import from 'tcp-keepalive' give the API", () => {
  expect(
    node([
      '-e',
      "const k = require('tcp-keepalive'); console.log(typeof k.configureKeepalive, typeof k.getKeepalive, k.capabilities.strategy)",
    ]),
  ).toBe('function function setsockopt');
  expect(
    node([
      '--input-type=module',
      '-e',
      "import { configureKeepalive, getKeepalive, systemDefaults } from 'tcp-keepalive'; console.log(typeof configureKeepalive, typeof getKeepalive, typeof systemDefaults)",
    ]),
  ).toBe('function function function');
});

test.each(ENTRY_POINTS)('%s: ESM sees the same named exports as CommonJS', (entry) => {
  const cjs = JSON.parse(node(['-e', `console.log((${exportShape})(require(${JSON.stringify(entry)})))`])) as Array<[string, string]>;
  const esm = JSON.parse(
    node(['--input-type=module', '-e', `import * as m from ${JSON.stringify(entry)}; console.log((${exportShape})(m))`]),
  ) as Array<[string, string]>;
  expect(cjs.length).toBeGreaterThan(0);
  expect(esm).toEqual(cjs);
});

test('planKeepalive from the root plans what tcp-keepalive/planner plans, in ESM and CommonJS, and shares its presets', () => {
  const program = (load: string): string => `
    ${load}
    const request = { path: ['aws-nlb', 'gcp-conntrack'], detectWithin: 60000 };
    const fromRoot = root.planKeepalive(request);
    const fromPlanner = planner.planKeepalive(request);
    planner.IDLE_TIMEOUT_PRESETS['aws-nlb'].idleTimeout; // the same frozen table serves both
    console.log(JSON.stringify({ fromRoot, same: JSON.stringify(fromRoot) === JSON.stringify(fromPlanner),
      constants: [planner.DEFAULT_COUNT, planner.DEFAULT_MARGIN] }));
  `;
  const cjs = node(['-e', program("const root = require('tcp-keepalive'); const planner = require('tcp-keepalive/planner');")]);
  const esm = node([
    '--input-type=module',
    '-e',
    program("import * as root from 'tcp-keepalive'; import * as planner from 'tcp-keepalive/planner';"),
  ]);
  expect(esm).toBe(cjs);
  expect(JSON.parse(cjs)).toMatchObject({
    fromRoot: { options: { enable: true, idle: 30_000, interval: 10_000, count: 3, userTimeout: 60_000 }, worstCaseDetection: 60_000 },
    same: true,
    constants: [3, 0.2],
  });
});

test('importing the root loads no planner file and not node:net, from CommonJS and ESM; the first planKeepalive() call loads the planner', () => {
  const probe = `const plannerFiles = () => Object.keys(require.cache).filter((file) => file.includes('/dist/planner/')).length;
    const net = () => process.moduleLoadList.includes('NativeModule net');`;
  const cjs = node([
    '-e',
    `${probe}
    const { planKeepalive } = require('tcp-keepalive');
    const before = [plannerFiles(), net()];
    planKeepalive({ path: 'aws-nlb', detectWithin: 60000 });
    console.log(JSON.stringify([before, plannerFiles() > 0]));`,
  ]);
  expect(JSON.parse(cjs)).toEqual([[0, false], true]);
  const esm = node([
    '--input-type=module',
    '-e',
    `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${probe}
    const { planKeepalive } = await import('tcp-keepalive');
    const before = [plannerFiles(), net()];
    planKeepalive({ path: 'aws-nlb', detectWithin: 60000 });
    console.log(JSON.stringify([before, plannerFiles() > 0]));`,
  ]);
  expect(JSON.parse(esm)).toEqual([[0, false], true]);
});

test('tcp-keepalive/planner loads neither the addon nor node:net (it works under --no-addons)', () => {
  const out = node([
    '--no-addons',
    '-e',
    `
    const { planKeepalive } = require('tcp-keepalive/planner');
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 60000 });
    const addons = Object.keys(require.cache).filter((file) => file.endsWith('.node'));
    const net = process.moduleLoadList.includes('NativeModule net');
    console.log(plan.options.idle, addons.length, net);
  `,
  ]);
  expect(out).toBe('30000 0 false');
});
