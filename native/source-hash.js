'use strict';
// One hash over every file the native build reads: binding.gyp compiles it
// into the addon and test/core/prebuild.test.ts recomputes it, so a prebuild that
// is not rebuilt after a native change fails the tests.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function nativeSourceFiles() {
  const files = fs
    .readdirSync(__dirname)
    .filter((name) => /\.(c|cc|h|js)$/.test(name))
    .map((name) => path.join('native', name));
  return ['binding.gyp', ...files].sort();
}

function nativeSourceHash() {
  const hash = crypto.createHash('sha256');
  for (const file of nativeSourceFiles()) {
    // Line endings normalised so a Windows checkout hashes the same.
    const text = fs.readFileSync(path.join(root, file), 'utf8').replace(/\r\n/g, '\n');
    hash.update(`${file}\0${text}\0`);
  }
  return `h${hash.digest('hex').slice(0, 32)}`;
}

module.exports = { nativeSourceFiles, nativeSourceHash };

if (require.main === module) process.stdout.write(nativeSourceHash());
