// Smoke checks of tcp-keepalive under the running runtime (Node.js, Bun or Deno): capabilities, configure
// and partial configure, a client's later setKeepAlive, a socket configured while connecting, and zero-code
// preload. The kernel is read from outside this process (test/helpers/kernel-reader.c: pidfd_getfd and
// getsockopt in another process). A plain script, no test framework: prints each check, then
// "N passed, N failed", and exits 1 if anything failed.
//
//   node|bun test/runtimes/smoke.mjs PROJECT READER
//   deno run -A test/runtimes/smoke.mjs PROJECT READER
// PROJECT: a directory where this package is installed (node_modules/tcp-keepalive, not a symlink: Deno then
// reads its files as CommonJS); READER: the compiled kernel reader.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

const [project, reader] = process.argv.slice(2);
if (!project || !reader) throw new Error('usage: smoke.mjs PROJECT READER');
const require = createRequire(path.join(path.resolve(project), 'smoke.cjs'));
const ka = require('tcp-keepalive');
const runtime = typeof process.versions.bun === 'string' ? 'bun' : typeof process.versions.deno === 'string' ? 'deno' : 'node';
const here = path.dirname(fileURLToPath(import.meta.url));

let passed = 0;
let failed = 0;
function check(name, condition, detail) {
  if (condition) passed += 1;
  else failed += 1;
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${runtime}: ${name}${condition || detail === undefined ? '' : `\n       ${detail}`}`);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The fd of the connection whose local port is `port` in process `pid`, from `ss` (Deno's handles have no fd). */
function fdOf(pid, port) {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  const match = new RegExp(`pid=${pid},fd=(\\d+)`).exec(out);
  if (!match) throw new Error(`ss shows no socket of pid ${pid} on local port ${port}:\n${out}`);
  return Number(match[1]);
}
function kernel(socket) {
  const raw = JSON.parse(execFileSync(reader, [String(process.pid), String(fdOf(process.pid, socket.localPort))], { encoding: 'utf8' }));
  return {
    enable: raw.enabled === 1,
    idle: raw.idle * 1000,
    interval: raw.interval * 1000,
    count: raw.count,
    userTimeout: raw.userTimeout,
  };
}
function codeOf(action) {
  try {
    action();
    return 'accepted';
  } catch (error) {
    return error.code ?? String(error);
  }
}
const sysctl = (name) => Number(execFileSync('cat', [`/proc/sys/net/ipv4/${name}`], { encoding: 'utf8' }));
const defaults = {
  idle: sysctl('tcp_keepalive_time') * 1000,
  interval: sysctl('tcp_keepalive_intvl') * 1000,
  count: sysctl('tcp_keepalive_probes'),
};

const server = net.createServer((socket) => socket.on('error', () => {}));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
async function connected() {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/** Runs one group of checks; an exception in it is one failed check, and the others still run. */
async function section(name, body) {
  try {
    await body();
  } catch (error) {
    check(`${name}: no exception`, false, error?.stack ?? String(error));
  }
}

// 1. capabilities: the running runtime and what it can do, printed as values.
const caps = ka.capabilities;
const fdless = runtime === 'deno';
check('capabilities.runtime names this runtime', caps.runtime === runtime, `got ${caps.runtime}`);
check(
  `capabilities.strategy is ${fdless ? "'node-setKeepAlive' (no fd)" : "'setsockopt' (the addon)"}`,
  caps.strategy === (fdless ? 'node-setKeepAlive' : 'setsockopt'),
  inspect(caps),
);
check(
  fdless ? 'idle only: no interval, count, userTimeout, read-back or TCP_INFO' : 'every option, read-back and TCP_INFO',
  same(
    [caps.idle, caps.interval, caps.count, caps.userTimeout, caps.readBack, caps.tcpInfo],
    fdless ? [true, false, false, false, false, false] : [true, true, true, true, true, true],
  ),
  inspect(caps),
);
check(
  'the reason is one line, and given exactly when the addon is not used',
  fdless ? /^[^\n]+$/.test(caps.reason ?? '') : caps.reason === undefined,
  caps.reason,
);
check('console.log shows values, not getters', !/Getter/.test(inspect(caps)) && inspect(caps).includes(caps.strategy), inspect(caps));

// 2. configure: the kernel holds it; a partial call keeps the rest; a client's setKeepAlive does not undo it.
await section('configure', async () => {
  const socket = await connected();
  if (fdless) {
    ka.configureKeepalive(socket, { idle: 21_000 });
    const want = { enable: true, idle: 21_000, interval: defaults.interval, count: defaults.count, userTimeout: 0 };
    check('configureKeepalive({ idle }) reaches the kernel', same(kernel(socket), want), inspect(kernel(socket)));
    const refused = codeOf(() => ka.configureKeepalive(socket, { idle: 30_000, interval: 5000 }));
    check(
      'interval is refused with ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, the kernel untouched',
      refused === 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' && same(kernel(socket), want),
      `${refused} ${inspect(kernel(socket))}`,
    );
    socket.setKeepAlive(true, 60_000);
    check("a client's setKeepAlive(true, 60000) does not undo the policy", same(kernel(socket), want), inspect(kernel(socket)));
    ka.configureKeepalive(socket, { enable: false });
    ka.configureKeepalive(socket);
    check('keepalive off, then on again with the kept idle', same(kernel(socket), want), inspect(kernel(socket)));
    check(
      'getKeepalive is refused with ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
      codeOf(() => ka.getKeepalive(socket)) === 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
    );
    check(
      'tcpInfo is refused with ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
      codeOf(() => ka.tcpInfo(socket)) === 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
    );
  } else {
    const policy = { idle: 21_000, interval: 4000, count: 3, userTimeout: 9000 };
    ka.configureKeepalive(socket, policy);
    const want = { enable: true, ...policy };
    check('configureKeepalive: the kernel holds all four options', same(kernel(socket), want), inspect(kernel(socket)));
    ka.configureKeepalive(socket, { count: 5 });
    want.count = 5;
    check('a partial call ({ count }) keeps the rest', same(kernel(socket), want), inspect(kernel(socket)));
    socket.setKeepAlive(true, 60_000);
    check("a client's setKeepAlive(true, 60000) does not undo the policy", same(kernel(socket), want), inspect(kernel(socket)));
    check('getKeepalive agrees with the kernel', same(ka.getKeepalive(socket), kernel(socket)), inspect(ka.getKeepalive(socket)));
    const health = ka.connectionHealth?.(socket);
    check('connectionHealth reads TCP_INFO', health === undefined || typeof health.verdict === 'string', inspect(health));
  }
  socket.destroy();
});

// 2b. TLS: the policy reaches the TCP socket under the TLS socket.
await section('TLS', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-smoke-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const tlsServer = tls.createServer(
    { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) },
    (socket) => socket.on('error', () => {}),
  );
  await new Promise((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const socket = tls.connect({ port: tlsServer.address().port, host: '127.0.0.1', rejectUnauthorized: false });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const outcome = codeOf(() => ka.configureKeepalive(socket, fdless ? { idle: 24_000 } : { idle: 24_000, interval: 6000, count: 2 }));
  const want = fdless ? { idle: 24_000, interval: defaults.interval, count: defaults.count } : { idle: 24_000, interval: 6000, count: 2 };
  const held = kernel(socket);
  check(
    'a TLS socket: the TCP socket under it holds the policy',
    outcome === 'accepted' && same({ idle: held.idle, interval: held.interval, count: held.count }, want),
    `${outcome} ${inspect(held)}`,
  );
  socket.destroy();
  tlsServer.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// 3. A socket configured while still connecting gets the policy at connect.
await section('a connecting socket', async () => {
  const socket = net.connect(port, '127.0.0.1');
  ka.configureKeepalive(socket, { idle: 23_000 });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  await new Promise((resolve) => setImmediate(resolve));
  check(
    'a socket configured while connecting holds the policy once connected',
    kernel(socket).idle === 23_000 && kernel(socket).enable,
    inspect(kernel(socket)),
  );
  socket.destroy();
});

// 4. Zero-code: the register entry preloaded by the runtime's own flag, the policy from TCP_KEEPALIVE.
await section('zero-code', async () => {
  const policy = fdless ? 'idle=22s' : 'idle=22s,interval=4s,count=3,userTimeout=9s';
  const want = fdless
    ? { enable: true, idle: 22_000, interval: defaults.interval, count: defaults.count, userTimeout: 0 }
    : { enable: true, idle: 22_000, interval: 4000, count: 3, userTimeout: 9000 };
  // Deno's --require takes a file path, not a package specifier.
  const flags = {
    node: ['--require', 'tcp-keepalive/register'],
    bun: ['--preload', 'tcp-keepalive/register'],
    deno: ['run', '-A', '--require', './node_modules/tcp-keepalive/dist/register/index.js'],
  }[runtime];
  const child = spawnSync(process.execPath, [...flags, path.join(here, 'preload-app.mjs'), reader], {
    cwd: project,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TCP_KEEPALIVE: policy, TCP_KEEPALIVE_DEBUG: '1' },
  });
  let got;
  try {
    got = JSON.parse(child.stdout);
  } catch {
    got = undefined;
  }
  check(
    `zero-code (${flags.join(' ')}): a client connection holds TCP_KEEPALIVE=${policy}`,
    child.status === 0 && same(got, want),
    `exit ${child.status}; stdout ${child.stdout.trim()}; stderr ${child.stderr.trim()}`,
  );
  check(
    'zero-code: the debug log says the connection was configured',
    /tcp-keepalive: configured client 127\.0\.0\.1:/.test(child.stderr),
    child.stderr.trim(),
  );
});

server.close();
console.log(`${runtime} ${process.versions[runtime]}: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
