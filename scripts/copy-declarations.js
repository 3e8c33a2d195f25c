'use strict';
// After tsc: the hand-written .d.ts files it does not emit (the compiled declarations import them), and the bin's mode.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
for (const file of ['native/addon.d.ts']) {
  fs.mkdirSync(path.dirname(path.join(root, 'dist', file)), { recursive: true });
  fs.copyFileSync(path.join(root, 'src', file), path.join(root, 'dist', file));
}
// The command's entry point: executable however it is reached (npx caches the bin link from an earlier build).
fs.chmodSync(path.join(root, 'dist', 'cli', 'main.js'), 0o755);
