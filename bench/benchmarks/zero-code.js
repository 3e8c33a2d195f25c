'use strict';
// Zero-code's costs, each against the same work without it, interleaved:
// - process start: `node -e 1` against `node --require <package>/register -e 1`,
//   whole processes timed from the parent (what a service's start pays);
// - per connection: CPU time (process.cpuUsage, user + system) of a client
//   process that connects to a server in another process and resets each
//   socket on 'connect', sequentially. Four arms: plain; plain plus the five
//   setsockopt of the minimal addon on each socket (the floor: what any
//   configuring costs); under register with TCP_KEEPALIVE_MATCH matching the
//   server (configured); and matching nothing (the hook's cost alone).
// The server runs in its own process, so its accept work is in no arm.
// Two more arms show what Node itself charges any zero-code approach, for context: loading `node:net` at
// start (the Socket#connect hook needs it on lines that do not publish from Socket#connect), and a minimal
// `net.client.socket` subscriber that only reads each connection's peer port on 'connect' (the least any
// filter by peer can do).
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { interleave } = require('../lib/interleave');
const { packageRoot } = require('../lib/per-call');
const report = require('../lib/report');

const POLICY = 'idle=15s,interval=15s,count=9,userTimeout=60s';

/** Preloaded by the context arms. */
const LOAD_NET = "require('node:net');\n";
const MINIMAL_SUBSCRIBER = `
require('node:diagnostics_channel').subscribe('net.client.socket', ({ socket }) => {
  socket.once('connect', () => socket.remotePort === 1);
});
`;

/** A client: `connections` sequential connect + reset cycles after a warm-up; prints CPU ns per connection. */
const CLIENT = `
const net = require('node:net');
const [port, connections, minimalAddon] = process.argv.slice(2).map((v, i) => (i < 2 ? Number(v) : v));
const minimal = minimalAddon ? require(minimalAddon) : undefined;
function once() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      if (minimal) minimal.apply(socket._handle.fd, 15, 15, 9, 60000);
      // RST: no TIME_WAIT. Closed normally, the client's TIME_WAIT sockets pile up across the rounds (tens of
      // thousands within their 60 s) and make every later connect() search longer for a free port, which
      // charged the contenders run later in a round for the order they ran in.
      socket.resetAndDestroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
(async () => {
  for (let i = 0; i < 200; i++) await once();
  const start = process.cpuUsage();
  for (let i = 0; i < connections; i++) await once();
  const used = process.cpuUsage(start);
  process.stdout.write(String(((used.user + used.system) * 1000) / connections));
})().catch((error) => { console.error(error); process.exit(1); });
`;

function startServer() {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s = require('net').createServer((c) => c.on('error', () => {}).resume()).listen(0, '127.0.0.1', () => console.log(s.address().port));",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (data) => resolve({ port: Number(String(data).trim()), stop: () => child.kill() }));
    child.once('error', reject);
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median over rounds of a.perRound[i] − b.perRound[i]. */
function pairedDifference(a, b) {
  return median(a.perRound.map((value, round) => value - b.perRound[round]));
}

async function run({ plan, minimalAddon, connections }) {
  const register = path.join(packageRoot, 'dist', 'register', 'index.js'); // the package's ./register export
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-keepalive-zero-code-'));
  const clientFile = path.join(directory, 'client.js');
  fs.writeFileSync(clientFile, CLIENT);
  const loadNetFile = path.join(directory, 'load-net.js');
  fs.writeFileSync(loadNetFile, LOAD_NET);
  const subscriberFile = path.join(directory, 'minimal-subscriber.js');
  fs.writeFileSync(subscriberFile, MINIMAL_SUBSCRIBER);
  const server = await startServer();
  const env = (extra) => ({ ...process.env, TCP_KEEPALIVE_DEBUG: '', ...extra });
  const timedProcess = (args, extra) => () => {
    const start = process.hrtime.bigint();
    execFileSync(process.execPath, args, { env: env(extra), stdio: 'ignore' });
    return Number(process.hrtime.bigint() - start);
  };
  const client =
    (args, extra, addon = '') =>
    () =>
      Number(
        execFileSync(process.execPath, [...args, clientFile, String(server.port), String(connections), addon], {
          env: env(extra),
          encoding: 'utf8',
        }),
      );
  const processPlan = { ...plan, roundMs: 0 };
  try {
    const start = await interleave(
      [
        { name: '`node -e 1`', minCalls: 1, run: timedProcess(['-e', '1'], {}) },
        {
          name: '`node --require tcp-keepalive/register -e 1`',
          minCalls: 1,
          run: timedProcess(['--require', register, '-e', '1'], { TCP_KEEPALIVE: POLICY }),
        },
        {
          name: "`node --require <a file: require('node:net')> -e 1` (context)",
          minCalls: 1,
          run: timedProcess(['--require', loadNetFile, '-e', '1'], {}),
        },
      ],
      processPlan,
    );
    const perConnection = await interleave(
      [
        { name: 'plain connect + reset', minCalls: 1, run: client([], {}) },
        { name: 'plain + the five setsockopt (minimal addon)', minCalls: 1, run: client([], {}, minimalAddon) },
        {
          name: 'under register, matched (configured)',
          minCalls: 1,
          run: client(['--require', register], { TCP_KEEPALIVE: POLICY, TCP_KEEPALIVE_MATCH: `127.0.0.1:${server.port}` }),
        },
        {
          name: 'under register, not matched',
          minCalls: 1,
          run: client(['--require', register], { TCP_KEEPALIVE: POLICY, TCP_KEEPALIVE_MATCH: '127.0.0.2:1' }),
        },
        {
          name: 'a minimal net.client.socket subscriber reading the peer port (context)',
          minCalls: 1,
          run: client(['--require', subscriberFile], {}),
        },
      ],
      processPlan,
    );
    const [plainStart, registerStart, netStart] = start;
    const [plain, floor, matched, unmatched, subscriber] = perConnection;
    const addedStart = pairedDifference(registerStart, plainStart);
    const netCost = pairedDifference(netStart, plainStart);
    const subscriberCost = pairedDifference(subscriber, plain);
    const floorCost = pairedDifference(floor, plain);
    const matchedCost = pairedDifference(matched, plain);
    const unmatchedCost = pairedDifference(unmatched, plain);
    return {
      title: 'Zero-code: process start and CPU per connection',
      body: [
        'Process start: each round starts one process per contender and times it whole from the parent. ' +
          `Per connection: CPU time of a client process making ${connections} sequential connect + reset cycles ` +
          '(after 200 to warm up) to a server in another process, one process per contender and round. ' +
          'Differences are medians of per-round differences against the plain contender.',
        '',
        report.table(
          ['contender', 'median', 'rounds'],
          [...start, ...perConnection].map((r) => [r.name, report.formatNs(r.median), String(r.perRound.length)]),
        ),
        '',
        `Added by register to a process start: ${report.formatNs(addedStart)}. Per connection: the five setsockopt ` +
          `${report.formatNs(floorCost)}; matched ${report.formatNs(matchedCost)}; not matched ${report.formatNs(unmatchedCost)}. ` +
          `Context: loading node:net adds ${report.formatNs(netCost)} to a process start; a minimal net.client.socket subscriber ` +
          `adds ${report.formatNs(subscriberCost)} per connection (what Node charges any zero-code approach that filters by peer).`,
      ].join('\n'),
      targets: [
        report.target(
          '`--require tcp-keepalive/register` adds ≤ 5 ms to a process start',
          addedStart / 1e6,
          '<=',
          5,
          (ms) => `${ms.toFixed(2)} ms`,
        ),
        report.target(
          'zero-code, matched connection: ≤ the five setsockopt + 1 µs',
          (matchedCost - floorCost) / 1000,
          '<=',
          1,
          (us) => `five setsockopt + ${us.toFixed(2)} µs`,
        ),
        report.target('zero-code, unmatched connection: ≤ 0.5 µs', unmatchedCost / 1000, '<=', 0.5, (us) => `${us.toFixed(2)} µs`),
      ],
    };
  } finally {
    server.stop();
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

module.exports = { run };
