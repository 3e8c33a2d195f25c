'use strict';
// Runs in a child process (under --no-addons, say): each case on a fresh loopback connection,
// a list of steps, and after each step what the kernel holds, read by the outside kernel reader
// (pidfd_getfd + getsockopt in another process). Prints one JSON line.
//   node --no-addons fallback-child.js <dist dir> <kernel-reader binary> '<cases JSON>'
// A step is { configure: options | null } (null: no options) or { setKeepAlive: [args...] }.
const { execFileSync } = require('node:child_process');
const net = require('node:net');

const [dist, reader, casesJson] = process.argv.slice(2);
const ka = require(dist);
const cases = JSON.parse(casesJson);

function kernel(socket) {
  return JSON.parse(execFileSync(reader, [String(process.pid), String(socket._handle.fd)], { encoding: 'utf8' }));
}

function run(socket, step) {
  try {
    if ('setKeepAlive' in step) socket.setKeepAlive(...step.setKeepAlive);
    else ka.configureKeepalive(socket, step.configure === null ? undefined : step.configure);
    return { ok: true, kernel: kernel(socket) };
  } catch (error) {
    return { ok: false, code: error.code, message: error.message, kernel: kernel(socket) };
  }
}

const server = net
  .createServer((accepted) => accepted.on('error', () => {}))
  .listen(0, '127.0.0.1', async () => {
    const results = [];
    for (const steps of cases) {
      const socket = net.connect(server.address().port, '127.0.0.1');
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      results.push({ before: kernel(socket), steps: steps.map((step) => run(socket, step)) });
      socket.destroy();
    }
    process.stdout.write(`${JSON.stringify({ capabilities: JSON.parse(JSON.stringify(ka.capabilities)), results })}\n`);
    server.close();
  });
