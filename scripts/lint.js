'use strict';
// `npm run lint`: every check runs, each one's output is shown, and the summary
// says which failed (exit 1 if any did).
//   ESLint (eslint.config.mjs), Prettier (.prettierrc.json), the TypeScript
//   type check of src/, lab/, test/ and bench/ (tsconfig.json), clang-format
//   (.clang-format) over native/.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const nativeFiles = fs
  .readdirSync(path.join(root, 'native'))
  .filter((file) => /\.(c|cc|h)$/.test(file))
  .map((file) => path.join('native', file));

const checks = [
  ['eslint', bin('eslint'), ['.']],
  ['prettier', bin('prettier'), ['--check', '.']],
  ['tsc (src, lab, test, bench)', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']],
  ['clang-format (native/)', bin('clang-format'), ['--dry-run', '--Werror', ...nativeFiles]],
];

const failed = [];
for (const [name, command, args] of checks) {
  process.stdout.write(`\n=== lint: ${name}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed.push(name);
}
process.stdout.write(`\n=== lint: ${failed.length ? `FAILED: ${failed.join(', ')}` : 'all checks passed'}\n`);
process.exit(failed.length ? 1 : 0);
