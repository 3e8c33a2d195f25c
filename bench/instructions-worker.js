'use strict';
// Run under callgrind by bench/benchmarks/instructions.js: one contender for a
// given number of calls on a connected loopback socket, nothing else. The
// caller subtracts a short run from a long one, so start-up, JIT warm-up and
// exit cancel out and what is left is the cost of the calls themselves.
const { withConnectedSockets } = require('./lib/sockets');
const perCall = require('./lib/per-call');

const [contender, callsText, minimalAddon] = process.argv.slice(2);
const calls = Number(callsText);

const runs = {
  configure: (socket, counters) => perCall.runConfigureKeepalive(socket, counters, calls),
  nodeSetKeepAlive: (socket, counters) => perCall.runNodeSetKeepAlive(socket, counters, calls),
  minimal: (socket, counters) => perCall.runMinimalAddon(require(minimalAddon), socket, counters, calls),
  getKeepalive: (socket, counters) => {
    perCall.runConfigureKeepalive(socket, counters, 1);
    return perCall.runGetKeepalive(socket, counters, calls);
  },
};

withConnectedSockets(['socket'], async ({ socket }) => {
  const run = runs[contender];
  if (!run) throw new Error(`unknown contender ${contender}`);
  run(socket, perCall.createCounters());
}).catch((error) => {
  process.stderr.write(`instructions-worker: ${error.stack}\n`);
  process.exitCode = 1;
});
