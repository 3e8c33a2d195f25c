'use strict';
// Run under callgrind by bench/benchmarks/instructions.js: one contender on a
// connected loopback socket, `calls` calls as a warm-up (the JIT settles), then
// `calls` more inside the minimal addon's measured(), the only function
// callgrind counts in (--toggle-collect=tcpka_bench_measured): start-up,
// connecting, warm-up and exit are never counted.
const { withConnectedSockets } = require('./lib/sockets');
const path = require('node:path');
const perCall = require('./lib/per-call');

const [contender, callsText, minimalAddon] = process.argv.slice(2);
const calls = Number(callsText);
const minimal = require(minimalAddon);

/** The raw binding's function `name` called `n` times on the socket's fd (what the glue adds to the C core). */
function runBinding(name, args) {
  const { addon } = require(path.join(__dirname, '..', 'dist', 'native', 'load.js'));
  const native = addon();
  return (socket, counters, n) => {
    const fd = socket._handle.fd;
    for (let i = 0; i < n; i++) {
      if (native[name](fd, ...args) !== undefined) throw new Error(`${name}(${fd}) failed`);
    }
  };
}

const runs = {
  configure: (socket, counters, n) => perCall.runConfigureKeepalive(socket, counters, n),
  nodeSetKeepAlive: (socket, counters, n) => perCall.runNodeSetKeepAlive(socket, counters, n),
  minimal: (socket, counters, n) => perCall.runMinimalAddon(minimal, socket, counters, n),
  getKeepalive: (socket, counters, n) => perCall.runGetKeepalive(socket, counters, n),
  // Not in the benchmark's table; for measuring the glue alone (docs/performance.md, "The native glue").
  bindingApply: runBinding('apply', [1, 60, 10, 5, -1]),
  bindingRead: runBinding('read', []),
  bindingTcpInfo: runBinding('tcpInfo', []),
  bindingCheckTcp: runBinding('checkTcp', []),
};

withConnectedSockets(['socket'], async ({ socket }) => {
  const run = runs[contender];
  if (!run) throw new Error(`unknown contender ${contender}`);
  const counters = perCall.createCounters();
  if (contender === 'getKeepalive') perCall.runConfigureKeepalive(socket, counters, 1);
  run(socket, counters, calls);
  minimal.measured(() => run(socket, counters, calls));
}).catch((error) => {
  process.stderr.write(`instructions-worker: ${error.stack}\n`);
  process.exitCode = 1;
});
