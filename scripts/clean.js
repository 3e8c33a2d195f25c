'use strict';
// `npm pack` / `npm publish` run this first (prepack), then the build: the package
// then carries exactly what the current sources compile to, never a file left in
// dist/ by an older layout.
const fs = require('node:fs');
const path = require('node:path');

fs.rmSync(path.join(__dirname, '..', 'dist'), { recursive: true, force: true });
