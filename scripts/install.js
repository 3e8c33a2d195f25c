'use strict';
// The repository's npm "install" script (`npm install` in a clone; the published package runs no
// install script, see scripts/published-manifest.js). Installing must never fail:
// - Windows: the addon is never loaded there (Node exposes no socket fd; the
//   library uses Node's own socket.setKeepAlive), so nothing is built.
// - Elsewhere node-gyp-build does the work: it keeps a prebuild that loads,
//   and builds from native/ with node-gyp when none does. If that build fails
//   too (no compiler, no Python, no Node headers), this prints one warning and
//   exits 0: the library then runs on Node's own setKeepAlive, `capabilities`
//   says so, and an option that strategy cannot honour is an
//   ERR_FEATURE_UNAVAILABLE_ON_PLATFORM error at call time.
// npm shows a dependency's install output only with --foreground-scripts, so
// the warning is for whoever looks; `capabilities.strategy` is what code checks.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const packageRoot = path.join(__dirname, '..');

if (process.platform === 'win32') process.exit(0);

// node-gyp-build's test step skips itself when an environment variable named
// after the package is set; here that name (TCP_KEEPALIVE) carries the options
// of tcp-keepalive/register, so it must not turn the check off.
const env = { ...process.env };
delete env.TCP_KEEPALIVE;

const result = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], {
  cwd: packageRoot,
  env,
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (result.status === 0) {
  process.stdout.write(result.stdout);
  process.exit(0);
}

const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
// `npm install --verbose` (or --foreground-scripts --loglevel verbose) shows the build's own output.
if (['verbose', 'silly'].includes(process.env.npm_config_loglevel ?? '')) process.stderr.write(output);
// node-gyp names what is missing in its first stack line: "not found: make", "Could not find any Python installation to use".
const reason =
  result.error?.message ??
  /gyp ERR! stack Error: (.+)/.exec(output)?.[1]?.trim() ??
  `node-gyp-build exited with ${result.status ?? result.signal}`;
process.stderr.write(
  `tcp-keepalive: WARNING: no prebuilt addon for ${process.platform}-${process.arch} loaded and the source build failed (${reason}). ` +
    "The library will use Node's own socket.setKeepAlive: idle time only (interval and count on Node >= 26.4); other options " +
    'throw ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, and `capabilities` says so. For the full feature set, install python3, make and ' +
    'a C++ compiler, then run `npx node-gyp rebuild` here.\n',
);
process.exit(0);
