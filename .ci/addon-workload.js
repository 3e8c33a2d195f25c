'use strict';
// Every path through the addon (load, checkTcp, apply, read, tcpInfo, duplicateFd, closeFd, each kind of
// failure) on real loopback sockets, with results checked against the kernel so
// a broken build cannot pass quietly. Run under valgrind memcheck by
// .ci/sanitizers.sh and under qemu with the arm64 prebuild by .ci/cross.sh.
// Usage: node addon-workload.js <package dir> [rounds]
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');

const packageDir = path.resolve(process.argv[2] || '.');
const rounds = Number(process.argv[3] || 20);
const { configureKeepalive, getKeepalive, capabilities, systemDefaults } = require(path.join(packageDir, 'dist'));
const addon = require(path.join(packageDir, 'dist', 'native', 'load.js')).addon();

// A hard stop: under valgrind or qemu everything is slow, but a hang is still a failure.
setTimeout(() => {
  console.error('addon workload: timed out');
  process.exit(2);
}, 240_000).unref();

function expectCode(code, action) {
  assert.throws(action, (error) => error.code === code, `expected ${code}`);
}

async function connectedPair(server) {
  const client = net.connect(server.address().port, '127.0.0.1');
  const [accepted] = await Promise.all([once(server, 'connection'), once(client, 'connect')]);
  return { client, accepted: accepted[0] };
}

let canDuplicate = true;

async function exerciseErrorPaths() {
  // Raw binding: wrong types and ranges are refused before any syscall.
  assert.throws(() => addon.checkTcp('3'), TypeError);
  assert.throws(() => addon.apply(-5, 1, 1, 1, 1, 0), RangeError);
  assert.throws(() => addon.apply(0, 1, 1, 1, 1, -7), RangeError);
  assert.throws(() => addon.read(-1), RangeError);
  assert.throws(() => addon.read('0'), TypeError);
  assert.throws(() => addon.tcpInfo(), TypeError);
  assert.throws(() => addon.duplicateFd(0, 0), RangeError);
  // Kernel refusals, as failure objects with the errno.
  const failed = (errno, result) => assert.equal(result && result.errno, os.constants.errno[errno], `expected ${errno}`);
  failed('EBADF', addon.checkTcp(2 ** 31 - 1));
  failed('EBADF', addon.read(2 ** 31 - 1));
  failed('EBADF', addon.tcpInfo(2 ** 31 - 1));
  failed('EBADF', addon.closeFd(2 ** 31 - 1));
  // valgrind 3.19 does not know pidfd_open (syscall 434) and answers ENOSYS for it: then say so and skip
  // the duplicate checks here (the plain and qemu runs of this workload, and the core suite, do them).
  const probe = addon.duplicateFd(2 ** 31 - 1, 0);
  canDuplicate = !(probe && probe.errno === os.constants.errno.ENOSYS);
  if (canDuplicate) failed('ESRCH', probe);
  else console.log('addon workload: pidfd_open answered ENOSYS here (an emulator or valgrind that lacks it); duplicateFd not exercised');
  const file = fs.openSync(__filename, 'r');
  try {
    failed('ENOTSOCK', addon.checkTcp(file));
  } finally {
    fs.closeSync(file);
  }
  const udp = dgram.createSocket('udp4');
  // dgram offers its fd only through the deprecated _handle; the warning is noise here.
  process.noDeprecation = true;
  await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
  failed('EPROTOTYPE', addon.checkTcp(udp._handle.fd));
  udp.close();

  const socketPath = path.join(os.tmpdir(), `tcpka-valgrind-${process.pid}.sock`);
  const unixServer = net.createServer().listen(socketPath);
  await once(unixServer, 'listening');
  const unixClient = net.connect(socketPath);
  await once(unixClient, 'connect');
  expectCode('EAFNOSUPPORT', () => configureKeepalive(unixClient, { idle: 5000 }));
  unixClient.destroy();
  unixServer.close();

  // The public API: option validation and closed sockets.
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { client, accepted } = await connectedPair(server);
  expectCode('ERR_OUT_OF_RANGE', () => configureKeepalive(client, { count: 0 }));
  expectCode('ERR_INVALID_ARG_TYPE', () => configureKeepalive(client, { idle: '5s' }));
  expectCode('ERR_INVALID_ARG_TYPE', () => configureKeepalive({}, {}));
  client.destroy();
  accepted.destroy();
  await once(client, 'close');
  expectCode('ERR_SOCKET_CLOSED', () => getKeepalive(client));
  server.close();
}

async function exerciseConfigureAndRead() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  for (let round = 0; round < rounds; round++) {
    const policy = { idle: 1000 * (round + 1), interval: 2000, count: (round % 127) + 1, userTimeout: 1000 + round };
    const { client, accepted } = await connectedPair(server);
    configureKeepalive(client, policy);
    configureKeepalive(accepted, { ...policy, enable: false });
    assert.deepEqual(getKeepalive(client), { enable: true, ...policy });
    assert.deepEqual(getKeepalive(accepted), { enable: false, ...policy });
    // TCP_INFO, and the same socket read through a duplicate of its fd.
    assert.equal(addon.tcpInfo(client._handle.fd), undefined);
    assert.equal(addon.tcpInfoValues[addon.tcpInfoFields.indexOf('state')], 1);
    if (canDuplicate) {
      const copy = addon.duplicateFd(process.pid, client._handle.fd);
      assert.equal(addon.read(copy), undefined);
      assert.equal(addon.keepaliveValues[3], policy.count);
      assert.equal(addon.closeFd(copy), undefined);
    }
    // A pending socket is configured on 'connect'.
    const pending = net.connect(server.address().port, '127.0.0.1');
    configureKeepalive(pending, policy);
    const [pendingAccepted] = await Promise.all([once(server, 'connection'), once(pending, 'connect')]);
    assert.deepEqual(getKeepalive(pending), { enable: true, ...policy });
    // A client library's setKeepAlive does not undo the policy.
    client.setKeepAlive(true, 1000);
    assert.deepEqual(getKeepalive(client), { enable: true, ...policy });
    for (const socket of [client, accepted, pending, pendingAccepted[0]]) socket.destroy();
  }
  server.close();
}

async function main() {
  // .ci/sanitizers.sh checks this line: the binary under test is the one it built.
  console.log(`addon: ${require(path.join(packageDir, 'node_modules', 'node-gyp-build')).path(packageDir)}`);
  assert.equal(typeof addon.sourceHash, 'string');
  assert.equal(capabilities.userTimeout, true);
  assert.ok(systemDefaults().idle > 0);
  await exerciseErrorPaths();
  await exerciseConfigureAndRead();
  console.log(`addon workload: ${rounds} rounds of configure/read plus every error path, all checked against the kernel`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
