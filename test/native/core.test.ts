/**
 * The portable C core (native/keepalive_posix.c) on real sockets without Node:
 * test/native/core.c is compiled with the host C compiler and run; it reads
 * every value back with plain getsockopt. .ci/cross.sh runs the same program
 * built against musl and for arm64 (under qemu).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const compiler = process.env.CC ?? 'cc';
const compilerMissing = spawnSync(compiler, ['--version']).error !== undefined;
const posix = process.platform !== 'win32';

if (!posix) {
  console.warn('test/native/core.test.ts: SKIPPED: the POSIX core is not built on Windows (native/keepalive_win32.c is)');
} else if (compilerMissing) {
  console.warn(`test/native/core.test.ts: SKIPPED: no C compiler "${compiler}" (set CC or install gcc)`);
}

const runs = posix && (!compilerMissing || process.env.CI) ? test : test.skip;

runs('the C core applies, reads back and refuses exactly as the kernel says (test/native/core.c)', () => {
  if (compilerMissing) throw new Error(`CI must have a C compiler: "${compiler}" was not found`);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-core-'));
  try {
    const binary = path.join(outDir, 'core-test');
    const sources = ['test/native/core.c', 'native/keepalive_posix.c', 'native/tcp_info.c', 'native/tcp_info_names.c', 'native/process_fd.c'].map((file) => path.join(root, file));
    execFileSync(compiler, ['-Wall', '-Wextra', '-Werror', '-std=c11', '-D_DEFAULT_SOURCE', `-I${path.join(root, 'native')}`, '-o', binary, ...sources], {
      stdio: 'pipe',
      timeout: 60_000,
    });
    const result = spawnSync(binary, { encoding: 'utf8', timeout: 30_000 });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    const [, passedCount] = /^(\d+) passed, 0 failed$/m.exec(result.stdout) ?? [];
    expect(Number(passedCount)).toBeGreaterThanOrEqual(40);
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
});
