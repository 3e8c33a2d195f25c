/**
 * The binary that loads is the committed prebuild, built from the native
 * sources as they are now: a stale prebuild fails here (and so in CI).
 */
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import { addon, packageRoot } from '../../src/native/load';

const { nativeSourceHash, nativeSourceFiles } = require('../../native/source-hash.js') as {
  nativeSourceHash(): string;
  nativeSourceFiles(): string[];
};

test('the loaded addon was compiled from the current native/ and binding.gyp', () => {
  expect(nativeSourceFiles()).toEqual(expect.arrayContaining(['binding.gyp', 'native/binding.cc', 'native/keepalive_posix.c']));
  expect(addon()!.sourceHash).toBe(nativeSourceHash());
});

test('on linux-x64 the addon comes from prebuilds/, not a local build', () => {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.warn(`SKIPPED: the committed prebuild is linux-x64; this is ${process.platform}-${process.arch}`);
    return;
  }
  const loaded = (nodeGypBuild as unknown as { path(root: string): string }).path(packageRoot);
  if (process.env.TCP_KEEPALIVE_EXPECT_SOURCE_BUILD === '1') {
    expect(path.relative(packageRoot, loaded)).toMatch(/^build[\\/]/);
  } else {
    expect(path.relative(packageRoot, loaded)).toBe(path.join('prebuilds', 'linux-x64', 'tcp-keepalive.node'));
  }
});
