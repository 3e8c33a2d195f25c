/**
 * The published declarations compile in a strict TypeScript consumer under each
 * module resolution users have: "node" (node10: no exports map, so typesVersions
 * must point at the subpaths), "node16" (CommonJS and ESM files) and "bundler".
 * The consumer sees the package through node_modules, as after `npm install`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const consumer = `
  import net from 'node:net';
  import { capabilities, configureKeepalive, getKeepalive, planKeepalive, type KeepaliveOptions, type KeepalivePlan, type KeepaliveState,
    type PresetName } from 'tcp-keepalive';
  import { DEFAULT_COUNT, IDLE_TIMEOUT_PRESETS, planKeepalive as planOnly, type PlanRequest } from 'tcp-keepalive/planner';
  import { keepaliveOnEvent, withKeepalive } from 'tcp-keepalive/integrations';
  import type * as Register from 'tcp-keepalive/register';
  import { startTelemetry, type Telemetry, type TelemetryOptions } from 'tcp-keepalive/metrics';

  const options: KeepaliveOptions = { idle: 30_000, interval: 5_000, count: 3, userTimeout: 45_000 };
  const socket: net.Socket = configureKeepalive(new net.Socket(), options);
  export const state: KeepaliveState = getKeepalive(socket);
  // @ts-expect-error idle is a number of milliseconds
  configureKeepalive(socket, { idle: '30s' });
  export const strategy: string = capabilities.strategy;

  const preset: PresetName = 'aws-nlb';
  const request: PlanRequest = { path: [{ preset }], detectWithin: 60_000 };
  export const plans: KeepalivePlan[] = [planKeepalive(request), planOnly(request)];
  export const count: number = DEFAULT_COUNT;
  export const idle: number | undefined = IDLE_TIMEOUT_PRESETS[preset].idleTimeout;
  // @ts-expect-error the presets are read-only
  IDLE_TIMEOUT_PRESETS[preset].idleTimeout = 1;

  export const connect = withKeepalive(() => new net.Socket(), options);
  export const onEvent: typeof keepaliveOnEvent = keepaliveOnEvent;
  export type RegisterModule = typeof Register;

  export const telemetryOptions: TelemetryOptions = { exporter: 'prometheus', interval: 60_000, maxSeries: 50, policyName: (s) => String(s.remotePort) };
  export const start: (options: TelemetryOptions) => Telemetry = startTelemetry;
  // @ts-expect-error the exporter is 'otel' or 'prometheus'
  export const wrong: TelemetryOptions = { exporter: 'statsd' };
`;

const MODES: Array<{ name: string; file: string; flags: string[] }> = [
  {
    name: 'moduleResolution node (node10), CommonJS',
    file: 'consumer.ts',
    flags: ['--module', 'commonjs', '--moduleResolution', 'node', '--esModuleInterop'],
  },
  { name: 'moduleResolution node16, CommonJS file', file: 'consumer.ts', flags: ['--module', 'node16', '--moduleResolution', 'node16'] },
  { name: 'moduleResolution node16, ESM file', file: 'consumer.mts', flags: ['--module', 'node16', '--moduleResolution', 'node16'] },
  { name: 'moduleResolution bundler', file: 'consumer.ts', flags: ['--module', 'esnext', '--moduleResolution', 'bundler'] },
];

let consumerDir: string;
// The four compilations start together (each takes seconds; they are independent), and each test awaits its own.
const compiled = new Map<string, Promise<string | undefined>>();

beforeAll(() => {
  consumerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-consumer-'));
  fs.mkdirSync(path.join(consumerDir, 'node_modules'));
  fs.symlinkSync(root, path.join(consumerDir, 'node_modules', 'tcp-keepalive'), 'dir');
  fs.writeFileSync(path.join(consumerDir, 'consumer.ts'), consumer);
  fs.writeFileSync(path.join(consumerDir, 'consumer.mts'), consumer);
  for (const { name, file, flags } of MODES) {
    const args = [
      tsc,
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      ...flags,
      '--types',
      'node',
      '--typeRoots',
      path.join(root, 'node_modules', '@types'),
      path.join(consumerDir, file),
    ];
    compiled.set(
      name,
      new Promise((resolve) => {
        execFile(process.execPath, args, { cwd: consumerDir, encoding: 'utf8', timeout: 120_000 }, (error, stdout) => {
          resolve(error ? `tsc ${flags.join(' ')} failed:\n${stdout || String(error)}` : undefined);
        });
      }),
    );
  }
});

afterAll(() => fs.rmSync(consumerDir, { recursive: true, force: true }));

test.each(MODES)(
  'a strict consumer compiles: $name',
  async ({ name }) => {
    expect(await compiled.get(name)).toBeUndefined();
  },
  120_000,
);
