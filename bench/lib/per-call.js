'use strict';
// The per-call contenders that run inside Node (this process, or the Node 26
// worker). Every call gets values different from the call before (idle,
// interval and count all move), so neither Node's own "same delay, skip"
// shortcut nor any cache of ours can turn a call into a no-op. Each loop is
// written out rather than passed as a callback so every contender gets its own
// monomorphic, inlinable call site.
const path = require('node:path');

const packageRoot = path.resolve(__dirname, '..', '..');
const { configureKeepalive, getKeepalive } = require(path.join(packageRoot, 'dist', 'index.js'));

const SECONDS_SPAN = 32000;
const COUNT_SPAN = 127;

/** The configuration for call number i: seconds for idle/interval, probes for count. */
function configurationFor(i) {
  return {
    idleSeconds: 1 + (i % SECONDS_SPAN),
    intervalSeconds: 1 + ((i + SECONDS_SPAN / 2) % SECONDS_SPAN),
    count: 1 + (i % COUNT_SPAN),
  };
}

function elapsedNsPerCall(start, calls) {
  return Number(process.hrtime.bigint() - start) / calls;
}

/** One call counter per contender, carried across rounds, so rounds never repeat a value. */
function createCounters() {
  return { configure: 0, nodeSetKeepAlive: 0, nodeSetKeepAlive4: 0, minimal: 0, netKeepalive: 0, read: 0, sink: 0 };
}

function runConfigureKeepalive(socket, counters, calls) {
  let i = counters.configure;
  const start = process.hrtime.bigint();
  for (const end = i + calls; i < end; i++) {
    configureKeepalive(socket, {
      idle: (1 + (i % SECONDS_SPAN)) * 1000,
      interval: (1 + ((i + SECONDS_SPAN / 2) % SECONDS_SPAN)) * 1000,
      count: 1 + (i % COUNT_SPAN),
    });
  }
  const result = elapsedNsPerCall(start, calls);
  counters.configure = i;
  return result;
}

/** Node's own setKeepAlive(true, delay): on libuv, SO_KEEPALIVE + TCP_KEEPIDLE + TCP_KEEPINTVL=1 + TCP_KEEPCNT=10. */
function runNodeSetKeepAlive(socket, counters, calls) {
  let i = counters.nodeSetKeepAlive;
  const start = process.hrtime.bigint();
  for (const end = i + calls; i < end; i++) {
    socket.setKeepAlive(true, (1 + (i % SECONDS_SPAN)) * 1000);
  }
  const result = elapsedNsPerCall(start, calls);
  counters.nodeSetKeepAlive = i;
  return result;
}

/** Node ≥ 26.4: setKeepAlive(enable, delay, interval, count), the same four setsockopt calls as ours. */
function runNodeSetKeepAlive4(socket, counters, calls) {
  let i = counters.nodeSetKeepAlive4;
  const start = process.hrtime.bigint();
  for (const end = i + calls; i < end; i++) {
    socket.setKeepAlive(true, (1 + (i % SECONDS_SPAN)) * 1000, (1 + ((i + SECONDS_SPAN / 2) % SECONDS_SPAN)) * 1000, 1 + (i % COUNT_SPAN));
  }
  const result = elapsedNsPerCall(start, calls);
  counters.nodeSetKeepAlive4 = i;
  return result;
}

/**
 * bench/minimal-addon: the fd read as any addon must (socket._handle.fd), then
 * one N-API call making the same four setsockopt calls; nothing else.
 */
function runMinimalAddon(minimal, socket, counters, calls) {
  let i = counters.minimal;
  const start = process.hrtime.bigint();
  for (const end = i + calls; i < end; i++) {
    minimal.apply(socket._handle.fd, 1 + (i % SECONDS_SPAN), 1 + ((i + SECONDS_SPAN / 2) % SECONDS_SPAN), 1 + (i % COUNT_SPAN), -1);
  }
  const result = elapsedNsPerCall(start, calls);
  counters.minimal = i;
  return result;
}

/** net-keepalive's documented recipe: Node's setKeepAlive for idle, then its ffi setters for interval and count. */
function runNetKeepalive(netKeepalive, socket, counters, calls) {
  let i = counters.netKeepalive;
  const start = process.hrtime.bigint();
  for (const end = i + calls; i < end; i++) {
    socket.setKeepAlive(true, (1 + (i % SECONDS_SPAN)) * 1000);
    netKeepalive.setKeepAliveInterval(socket, (1 + ((i + SECONDS_SPAN / 2) % SECONDS_SPAN)) * 1000);
    netKeepalive.setKeepAliveProbes(socket, 1 + (i % COUNT_SPAN));
  }
  const result = elapsedNsPerCall(start, calls);
  counters.netKeepalive = i;
  return result;
}

/** getKeepalive, with every field consumed so the result object cannot be optimised away. */
function runGetKeepalive(socket, counters, calls) {
  let sink = counters.sink;
  const start = process.hrtime.bigint();
  for (let k = 0; k < calls; k++) {
    const state = getKeepalive(socket);
    sink = (sink + state.idle + state.interval + state.count + state.userTimeout + (state.enable ? 1 : 0)) | 0;
  }
  const result = elapsedNsPerCall(start, calls);
  counters.sink = sink;
  counters.read += calls;
  return result;
}

/**
 * Throws unless the kernel holds the last configuration a contender wrote, read
 * back independently of the contender (getKeepalive → getsockopt).
 * `nodeDefaults` marks the contenders that set only idle (libuv: interval 1 s, count 10).
 */
function assertKernelHolds(socket, lastCall, label, nodeDefaults = false) {
  const expected = configurationFor(lastCall);
  const state = getKeepalive(socket);
  const want = nodeDefaults
    ? { idle: expected.idleSeconds * 1000, interval: 1000, count: 10 }
    : { idle: expected.idleSeconds * 1000, interval: expected.intervalSeconds * 1000, count: expected.count };
  if (!state.enable || state.idle !== want.idle || state.interval !== want.interval || state.count !== want.count) {
    throw new Error(`${label}: kernel holds ${JSON.stringify(state)}, expected ${JSON.stringify(want)} after call ${lastCall}`);
  }
}

module.exports = {
  packageRoot,
  configurationFor,
  createCounters,
  runConfigureKeepalive,
  runNodeSetKeepAlive,
  runNodeSetKeepAlive4,
  runMinimalAddon,
  runNetKeepalive,
  runGetKeepalive,
  assertKernelHolds,
};
