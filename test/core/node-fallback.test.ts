/**
 * The node-setKeepAlive strategy for real: a child process under `--no-addons` on this Node line
 * configures loopback connections, and after every call the kernel is read from outside that process
 * (test/helpers/kernel-reader.c). Node writes idle, interval and count together (libuv's
 * uv_tcp_keepalive_ex), so every option subset and every partial call in sequence must leave the kernel
 * holding the merged policy, with the system defaults for options never given; anything Node cannot do
 * is a coded error that leaves the kernel as it was. Children run dist/: `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { kernelReader, type RawKernelState } from '../helpers/independent-kernel';
import { closeAll, connection } from '../helpers/sockets';

const root = path.resolve(__dirname, '..', '..');
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
/** Node 26.4 added interval and count to setKeepAlive (backported: 24.22 has them); the kernel readings check the claim. */
const full = major > 26 || (major === 26 && minor >= 4) || (major >= 24 && net.Socket.prototype.setKeepAlive.length >= 4);

type Options = { enable?: boolean; idle?: number; interval?: number; count?: number; userTimeout?: number };
type Step = { configure: Options | null } | { setKeepAlive: unknown[] };
interface StepResult {
  ok: boolean;
  code?: string;
  message?: string;
  kernel: RawKernelState;
}
interface Report {
  capabilities: Record<string, unknown>;
  results: Array<{ before: RawKernelState; steps: StepResult[] }>;
}

const sysctl = (name: string): number => Number(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'));
type Defaults = { idle: number; interval: number; count: number };
/** What a socket nobody configured holds, in seconds: the sysctls. */
const sysctls: Defaults = {
  idle: sysctl('tcp_keepalive_time'),
  interval: sysctl('tcp_keepalive_intvl'),
  count: sysctl('tcp_keepalive_probes'),
};
/** Where /proc cannot be read (the permission model), the library falls back to the kernel's built-in defaults. */
const builtIn: Defaults = { idle: 7200, interval: 75, count: 9 };

function runChild(cases: Step[][], flags: readonly string[]): Report {
  const reader = kernelReader();
  if (!('binary' in reader)) throw new Error(`the outside kernel reader is needed: ${reader.unavailable}`);
  const result = spawnSync(
    process.execPath,
    [...flags, path.join(__dirname, '..', 'helpers', 'fallback-child.js'), path.join(root, 'dist'), reader.binary, JSON.stringify(cases)],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0) throw new Error(`the child failed (${result.status ?? result.signal}): ${result.stderr}`);
  return JSON.parse(result.stdout) as Report;
}

/**
 * What the kernel must hold after each step, from the rules of the strategy: the policy kept so far
 * (merged field by field), the system default for a field never given, keepalive off changing nothing
 * else; before Node 26.4 an idle-only write, which libuv follows with interval 1 s and count 10.
 */
function expected(
  before: RawKernelState,
  steps: Step[],
  defaults: Defaults,
): Array<{ ok: boolean; code?: string; kernel: RawKernelState }> {
  const kept: Options = {};
  let kernel = { ...before };
  return steps.map((step) => {
    if ('setKeepAlive' in step) {
      // A client's own call: the sticky policy is written again whole, so nothing moves (once there is a policy).
      if (Object.keys(kept).length === 0) throw new Error('model: setKeepAlive before any policy');
      return { ok: true, kernel: { ...kernel } };
    }
    const options = step.configure ?? {};
    // userTimeout 0 (none) is what this strategy always holds: accepted, and nothing to write.
    if ((options.userTimeout ?? 0) > 0 || (!full && (options.interval !== undefined || options.count !== undefined))) {
      return { ok: false, code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', kernel: { ...kernel } };
    }
    Object.assign(kept, options, { enable: options.enable ?? true });
    if (kept.enable === false) {
      kernel = { ...kernel, enabled: 0 };
    } else {
      kernel = {
        enabled: 1,
        idle: (kept.idle ?? defaults.idle * 1000) / 1000,
        interval: full ? (kept.interval ?? defaults.interval * 1000) / 1000 : 1,
        count: full ? (kept.count ?? defaults.count) : 10,
        userTimeout: 0,
      };
    }
    return { ok: true, kernel: { ...kernel } };
  });
}

function check(cases: Step[][], flags: readonly string[] = ['--no-addons'], defaults: Defaults = sysctls): void {
  const report = runChild(cases, flags);
  expect(report.capabilities).toMatchObject({ strategy: 'node-setKeepAlive', interval: full, count: full, userTimeout: false });
  expect(report.capabilities.reason).toMatch(/^native addons are disabled in this process/);
  report.results.forEach((result, index) => {
    const got = result.steps.map((step) => ({ ok: step.ok, ...(step.ok ? {} : { code: step.code }), kernel: step.kernel }));
    expect({ case: cases[index], steps: got }).toEqual({ case: cases[index], steps: expected(result.before, cases[index]!, defaults) });
  });
}

const values = { idle: 31_000, interval: 7000, count: 4 };
const fields = Object.keys(values) as Array<keyof typeof values>;
/** Every subset of { idle, interval, count }, the empty one included (keepalive on, nothing else given). */
const subsets: Options[] = Array.from({ length: 1 << fields.length }, (_, mask) =>
  Object.fromEntries(fields.filter((_, bit) => mask & (1 << bit)).map((field) => [field, values[field]])),
);

test(`every option subset on a fresh socket: the kernel holds it, the system defaults for the rest (Node ${process.version}, --no-addons)`, () => {
  check(subsets.map((options) => [{ configure: options }]));
});

test('partial calls in sequence merge into the kept policy; a client setKeepAlive, keepalive off and on, nothing resets', () => {
  const idleOnly: Step[] = [
    { configure: { idle: 20_000 } },
    { setKeepAlive: [true, 60_000] },
    { configure: { enable: false } },
    { configure: null },
  ];
  check(
    full
      ? [
          [
            { configure: { count: 3 } },
            { configure: { interval: 5000 } },
            { configure: { idle: 20_000 } },
            { setKeepAlive: [true, 60_000] },
            { setKeepAlive: [{ enable: true, initialDelay: 90_000, interval: 1000, count: 10 }] },
            { configure: { enable: false } },
            { configure: null },
            { configure: { count: 6 } },
          ],
          [
            { configure: { idle: 12_000, interval: 3000, count: 4 } },
            { configure: { count: 5 } },
            { configure: { interval: 2000 } },
            { configure: { idle: 9000 } },
          ],
          [{ configure: { interval: 9000, count: 2 } }, { configure: { idle: 40_000 } }, { configure: null }],
          idleOnly,
        ]
      : [idleOnly],
  );
});

test('what Node cannot do is a coded error, and the kernel keeps what it held', () => {
  check([
    [
      { configure: { idle: 15_000, interval: 4000, count: 3 } },
      { configure: { userTimeout: 10_000 } },
      { configure: { count: 8, userTimeout: 5000 } },
      { configure: { count: 8, userTimeout: 0 } },
    ],
    ...(full ? [] : [[{ configure: { idle: 15_000 } }, { configure: { count: 3 } }, { configure: { interval: 4000 } }]]),
  ]);
});

// The permission model's flag was --experimental-permission before Node 22.13; Node 26 also guards the network.
// Only the package is readable: no addon, and no /proc/sys either.
const permissionFlags = [['--permission', '--allow-net'], ['--permission'], ['--experimental-permission']]
  .map((flags) => [...flags, `--allow-fs-read=${root}`, '--allow-child-process'])
  .find((flags) => spawnSync(process.execPath, [...flags, '-e', '0'], { timeout: 10_000 }).status === 0);
(permissionFlags ? test : test.skip)(
  `under ${permissionFlags?.[0] ?? '--permission'} with only the package readable: the kernel's built-in defaults fill what was never given`,
  () => {
    check(
      [
        [{ configure: { count: 3 } }],
        [{ configure: { idle: 20_000 } }, { configure: null }],
        subsets.slice(1).map((options) => ({ configure: options })),
      ],
      permissionFlags,
      builtIn,
    );
  },
);

afterEach(closeAll);

test('a system default that setsockopt cannot take is refused before anything is written', async () => {
  const { addon } = jest.requireActual<typeof import('../../src/native/load')>('../../src/native/load');
  const { client } = await connection();
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  expect(addon()!.read(fd)).toBeUndefined();
  const before = [...addon()!.keepaliveValues];
  // A machine whose tcp_keepalive_time is above what setsockopt takes (32767 s).
  const realRead = fs.readFileSync;
  const read = jest
    .spyOn(fs, 'readFileSync')
    .mockImplementation(((file: fs.PathOrFileDescriptor, options?: unknown) =>
      String(file).endsWith('tcp_keepalive_time') ? '40000\n' : realRead(file, options as BufferEncoding)) as typeof fs.readFileSync);
  try {
    jest.isolateModules(() => {
      // The package as it runs without the addon.
      jest.doMock('../../src/native/load', () => ({
        ...jest.requireActual<object>('../../src/native/load'),
        addonLoad: () => ({ addon: undefined, reason: 'native addons are disabled in this process (test)' }),
        addon: () => undefined,
      }));
      const pkg = require('../../src') as typeof import('../../src');
      expect(pkg.capabilities.strategy).toBe('node-setKeepAlive');
      expect(() => pkg.configureKeepalive(client)).toThrow(
        expect.objectContaining({
          code: 'ERR_OUT_OF_RANGE',
          message: expect.stringMatching(/system default for options\.idle.*pass options\.idle.*40000/),
        }),
      );
      jest.dontMock('../../src/native/load');
    });
  } finally {
    read.mockRestore();
  }
  expect(addon()!.read(fd)).toBeUndefined();
  expect([...addon()!.keepaliveValues]).toEqual(before);
});
