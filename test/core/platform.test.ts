/** Capabilities and system defaults, compared with what `sysctl` reports. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { capabilities, systemDefaults } from '../../src';
import { untouchedKeepalive } from '../../src/core/platform';

test('Linux: every option is supported and read back', () => {
  expect(capabilities).toEqual({
    runtime: 'node',
    strategy: 'setsockopt',
    idle: true,
    interval: true,
    count: true,
    userTimeout: true,
    readBack: true,
    tcpInfo: true,
    systemDefaults: true,
    reason: undefined,
  });
});

test('systemDefaults() agrees with sysctl', () => {
  const sysctl = (name: string): number => Number(execFileSync('sysctl', ['-n', name], { encoding: 'utf8' }).trim());
  expect(systemDefaults()).toEqual({
    idle: sysctl('net.ipv4.tcp_keepalive_time') * 1000,
    interval: sysctl('net.ipv4.tcp_keepalive_intvl') * 1000,
    count: sysctl('net.ipv4.tcp_keepalive_probes'),
    retries2: sysctl('net.ipv4.tcp_retries2'),
  });
});

test('an unconfigured socket holds the sysctls: what the fallback writes for options never given', () => {
  const defaults = systemDefaults();
  expect(untouchedKeepalive()).toEqual({
    idleSeconds: defaults.idle / 1000,
    intervalSeconds: defaults.interval / 1000,
    count: defaults.count,
  });
});

test('console.log and JSON show the values, not getters', () => {
  const shown = inspect(capabilities);
  expect(shown).not.toMatch(/Getter/);
  expect(shown).toMatch(/strategy: 'setsockopt'/);
  expect(shown).toMatch(/userTimeout: true/);
  expect(JSON.parse(JSON.stringify(capabilities))).toEqual({ ...capabilities, reason: undefined });
  // Still read-only getters underneath.
  expect(Object.isFrozen(capabilities)).toBe(true);
  expect(typeof Object.getOwnPropertyDescriptor(capabilities, 'strategy')?.get).toBe('function');
});

test('the reason for running without the addon is one line, even when the loader says more', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-no-build-'));
  let reason: unknown;
  jest.isolateModules(() => {
    const realGypBuild = jest.requireActual<{ resolve(dir: string): string }>('node-gyp-build');
    // node-gyp-build's real error for a directory with no build: "No native build was found for ...\n    loaded from: <dir>\n".
    jest.doMock('node-gyp-build', () => Object.assign(() => undefined, { resolve: () => realGypBuild.resolve(empty) }));
    const existsSync = jest.spyOn(fs, 'existsSync').mockReturnValue(false);
    try {
      reason = (require('../../src/core/platform') as typeof import('../../src/core/platform')).capabilities.reason;
    } finally {
      existsSync.mockRestore();
      jest.dontMock('node-gyp-build');
    }
  });
  expect(reason).toMatch(
    /^no working build of the native addon .*: No native build was found for .* loaded from: .*\. To build it from source/,
  );
  expect(reason).not.toMatch(/\n/);
  expect(reason).not.toMatch(/ {2}/);
});
