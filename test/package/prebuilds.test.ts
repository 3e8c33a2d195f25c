/**
 * Every committed prebuild, checked without loading it (most are for another OS
 * or CPU): object format and CPU, imports (N-API and the C library only; no glibc
 * symbol versions in musl builds), the N-API module entry point, and the source
 * hash of the current native/ sources (a stale binary fails). See
 * scripts/check-prebuild.js; the binaries come from prebuildify (glibc) and
 * scripts/prebuild-cross.sh (musl, macOS).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const hasLlvm = ['llvm-readobj', 'llvm-readobj-14', 'llvm-readobj-15', 'llvm-readobj-16'].some(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
);

const TARGETS = ['linux-x64', 'linux-arm64', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64'];

if (!hasLlvm && !inCi) {
  console.warn('SKIPPED prebuild checks: no llvm-readobj / llvm-nm (apt-get install llvm)');
}

(hasLlvm || inCi ? test.each(TARGETS) : test.skip.each(TARGETS))('prebuild %s: format, imports, entry point, source hash', (target) => {
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'check-prebuild.js'), target], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(`${result.stdout}${result.stderr}`).toMatch(/^ok /);
  expect(result.status).toBe(0);
});
