'use strict';
// Run under callgrind by bench/benchmarks/instructions.js: one contender on a
// connected loopback socket, `calls` calls as a warm-up (the JIT settles), then
// `calls` more inside the minimal addon's measured(), the only function
// callgrind counts in (--toggle-collect=tcpka_bench_measured): start-up,
// connecting, warm-up and exit are never counted.
const { withConnectedSockets } = require('./lib/sockets');
const perCall = require('./lib/per-call');

const [contender, callsText, minimalAddon] = process.argv.slice(2);
const calls = Number(callsText);
const minimal = require(minimalAddon);

const runs = {
  configure: (socket, counters, n) => perCall.runConfigureKeepalive(socket, counters, n),
  nodeSetKeepAlive: (socket, counters, n) => perCall.runNodeSetKeepAlive(socket, counters, n),
  minimal: (socket, counters, n) => perCall.runMinimalAddon(minimal, socket, counters, n),
  getKeepalive: (socket, counters, n) => perCall.runGetKeepalive(socket, counters, n),
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
