'use strict';
// The package.json that ships is the consumer's, not the repository's. `npm pack` and `npm publish` run
// `strip` before packing (prepack) and `restore` after (postpack):
// - no lifecycle scripts: a consumer's `npm install` runs nothing of ours and prints nothing (npm warns
//   about every dependency with an install script, and from npm 12 does not run them unless approved).
//   The addon loads from prebuilds/ at run time; where none matches, the library runs on Node's own
//   setKeepAlive and `capabilities` says why. Building from source is a documented command instead.
// - "gypfile": false, or npm would add `node-gyp rebuild` as an implicit install script (binding.gyp ships,
//   for that documented build).
// - no devDependencies, no development scripts, no allowScripts: they concern the repository only.
// The repository's package.json is kept aside and put back by `restore`, also after a failed pack.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const manifestPath = path.join(root, 'package.json');
const keptPath = path.join(root, '.package.json.repository');

function restore() {
  if (fs.existsSync(keptPath)) fs.renameSync(keptPath, manifestPath);
}

function strip() {
  restore(); // a pack interrupted before postpack left the repository's manifest aside
  const text = fs.readFileSync(manifestPath, 'utf8');
  const manifest = JSON.parse(text);
  delete manifest.scripts;
  delete manifest.devDependencies;
  delete manifest.allowScripts;
  manifest.gypfile = false;
  fs.writeFileSync(keptPath, text);
  fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

const action = process.argv[2];
if (action === 'strip') strip();
else if (action === 'restore') restore();
else {
  process.stderr.write('usage: node scripts/published-manifest.js strip|restore\n');
  process.exit(64);
}
