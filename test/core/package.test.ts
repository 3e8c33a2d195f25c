/** The package as users load it: by name, from CommonJS and from ESM, through the exports map. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const run = (args: string[]): string => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();

test("require('tcp-keepalive')", () => {
  expect(run(['-e', "const k = require('tcp-keepalive'); console.log(typeof k.configureKeepalive, typeof k.getKeepalive, k.capabilities.strategy)"]))
    .toBe('function function setsockopt');
});

test("import { configureKeepalive } from 'tcp-keepalive'", () => {
  expect(run(['--input-type=module', '-e', "import { configureKeepalive, getKeepalive, systemDefaults } from 'tcp-keepalive'; console.log(typeof configureKeepalive, typeof getKeepalive, typeof systemDefaults)"]))
    .toBe('function function function');
});

test('typed: the published declarations compile against a consumer', () => {
  const consumer = `
    import net from 'node:net';
    import { configureKeepalive, getKeepalive, type KeepaliveOptions, type KeepaliveState } from 'tcp-keepalive';
    import { planKeepalive, IDLE_TIMEOUT_PRESETS, DEFAULT_COUNT, type KeepalivePlan, type PresetName } from 'tcp-keepalive';
    const options: KeepaliveOptions = { idle: 30_000, interval: 5_000, count: 3, userTimeout: 45_000 };
    const socket: net.Socket = configureKeepalive(new net.Socket(), options);
    const state: KeepaliveState = getKeepalive(socket);
    // @ts-expect-error idle is a number of milliseconds
    configureKeepalive(socket, { idle: '30s' });
    export const enabled: boolean = state.enabled;
    const preset: PresetName = 'aws-nlb';
    const plan: KeepalivePlan = planKeepalive({ path: [{ preset }], detectWithin: 60_000 });
    export const planned: Array<number | undefined> = [IDLE_TIMEOUT_PRESETS[preset].idleTimeout, plan.options.count, DEFAULT_COUNT];
    // @ts-expect-error the presets are read-only
    IDLE_TIMEOUT_PRESETS[preset].idleTimeout = 1;
  `;
  const fs = require('node:fs') as typeof import('node:fs');
  const dir = fs.mkdtempSync(path.join(root, '.tmp-consumer-'));
  try {
    fs.writeFileSync(path.join(dir, 'consumer.ts'), consumer);
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', path.join(dir, 'consumer.ts')], { cwd: root, encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('importing loads neither node:net nor the planner; the planner exports load it on first use, from CommonJS and ESM', () => {
  const cjs = run(['-e', `
    const loaded = () => Object.keys(require.cache).filter((file) => file.includes('/dist/planner/')).length;
    const k = require('tcp-keepalive');
    const before = loaded();
    const netBefore = process.moduleLoadList.some((name) => name === 'NativeModule net');
    const preset = k.IDLE_TIMEOUT_PRESETS['aws-nlb'].idleTimeout;
    const plan = k.planKeepalive({ path: [{ preset: 'aws-nlb' }], detectWithin: 60000 });
    console.log(before, netBefore, loaded() > 0, preset, k.DEFAULT_COUNT, k.DEFAULT_MARGIN, plan.options.count);
  `]);
  expect(cjs).toBe('0 false true 350000 3 0.2 3');
  const esm = run(['--input-type=module', '-e',
    "import { planKeepalive, IDLE_TIMEOUT_PRESETS, DEFAULT_COUNT, DEFAULT_MARGIN } from 'tcp-keepalive'; " +
    'console.log(typeof planKeepalive, Object.keys(IDLE_TIMEOUT_PRESETS).length > 0, DEFAULT_COUNT, DEFAULT_MARGIN)']);
  expect(esm).toBe('function true 3 0.2');
});
