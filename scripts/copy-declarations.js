'use strict';
// tsc does not emit hand-written .d.ts files; the compiled declarations import them.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
for (const file of ['native/addon.d.ts']) {
  fs.mkdirSync(path.dirname(path.join(root, 'dist', file)), { recursive: true });
  fs.copyFileSync(path.join(root, 'src', file), path.join(root, 'dist', file));
}
