'use strict';
// Benchmark 1: one configuration (idle, interval, count) on a connected
// socket, against Node's setKeepAlive, Node 26's 4-argument setKeepAlive, the
// same setsockopt calls in C, a minimal addon and net-keepalive; then
// getKeepalive against five getsockopt calls in C. All contenders of a table
// run interleaved, in rounds. The C floor that the targets use has a second,
// idle thread, as every Node process does (bench/floor.c says why that
// matters); the single-threaded floor is shown for comparison only.
const path = require('node:path');
const { execFile: execFileCallback } = require('node:child_process');
const { promisify } = require('node:util');
const { interleave, median, pairedRatio } = require('../lib/interleave');
const { RemoteProcess } = require('../lib/remote');
const { withConnectedSockets } = require('../lib/sockets');
const perCall = require('../lib/per-call');
const report = require('../lib/report');

const execFile = promisify(execFileCallback);
const NODE26_WORKER = path.join(__dirname, '..', 'node26-worker.js');

function loadNetKeepalive() {
  try {
    return { module: require('net-keepalive') };
  } catch (error) {
    return { error: `net-keepalive could not be loaded: ${error.message.split('\n')[0]}` };
  }
}

async function expectOk(remote, label) {
  const answer = await remote.request('verify 0');
  if (answer !== 'ok') throw new Error(`${label}: ${answer}`);
}

/**
 * One fork: all contenders interleaved in this process.
 * @param {{ floorBinary: string, node26Binary: string | undefined, plan: object }} setup
 */
async function measure({ floorBinary, node26Binary, minimalAddon, plan }) {
  const netKeepalive = loadNetKeepalive();
  const minimal = require(minimalAddon);
  const floor = new RemoteProcess(floorBinary, [], 'C floor');
  const singleFloor = new RemoteProcess(floorBinary, ['single'], 'C floor, single thread');
  const node26 = node26Binary ? new RemoteProcess(node26Binary, [NODE26_WORKER], 'Node 26 worker') : undefined;
  try {
    const node26Version = node26 ? await node26.request('version 0') : undefined;
    return await withConnectedSockets(['ours', 'node', 'minimal', 'netKeepalive', 'reader'], async (sockets) => {
      const counters = perCall.createCounters();
      const setters = [
        { name: 'configureKeepalive (idle, interval, count)', run: (n) => perCall.runConfigureKeepalive(sockets.ours, counters, n) },
        {
          name: `Node ${process.version} socket.setKeepAlive(true, idle)`,
          run: (n) => perCall.runNodeSetKeepAlive(sockets.node, counters, n),
        },
        floor.contender('C: 4 × setsockopt, process with a second thread (the floor)', 'set'),
        singleFloor.contender('C: 4 × setsockopt, single-threaded process', 'set'),
        {
          name: 'minimal addon: socket._handle.fd, apply(fd, idle, interval, count, -1)',
          run: (n) => perCall.runMinimalAddon(minimal, sockets.minimal, counters, n),
        },
      ];
      if (node26) {
        setters.push(node26.contender(`configureKeepalive under Node ${node26Version}`, 'configure'));
        setters.push(node26.contender(`Node ${node26Version} socket.setKeepAlive(true, idle, interval, count)`, 'setKeepAlive4'));
      }
      if (netKeepalive.module) {
        setters.push({
          name: 'net-keepalive (setKeepAlive + setKeepAliveInterval + setKeepAliveProbes)',
          minCalls: 20,
          run: (n) => perCall.runNetKeepalive(netKeepalive.module, sockets.netKeepalive, counters, n),
        });
      }
      const set = await interleave(setters, plan);

      // The loops really ran: each socket holds the last values its contender wrote.
      perCall.assertKernelHolds(sockets.ours, counters.configure - 1, 'configureKeepalive');
      perCall.assertKernelHolds(sockets.node, counters.nodeSetKeepAlive - 1, 'Node setKeepAlive', true);
      await expectOk(floor, 'C floor');
      await expectOk(singleFloor, 'C floor, single thread');
      perCall.assertKernelHolds(sockets.minimal, counters.minimal - 1, 'minimal addon');
      if (node26) await expectOk(node26, 'Node 26 worker');
      if (netKeepalive.module) perCall.assertKernelHolds(sockets.netKeepalive, counters.netKeepalive - 1, 'net-keepalive');

      perCall.runConfigureKeepalive(sockets.reader, counters, 1);
      const get = await interleave(
        [
          { name: 'getKeepalive', run: (n) => perCall.runGetKeepalive(sockets.reader, counters, n) },
          floor.contender('C: 5 × getsockopt, process with a second thread (the floor)', 'get'),
          singleFloor.contender('C: 5 × getsockopt, single-threaded process', 'get'),
        ],
        plan,
      );

      return { set, get, netKeepaliveError: netKeepalive.error };
    });
  } finally {
    await floor.close();
    await singleFloor.close();
    if (node26) await node26.close();
  }
}

/**
 * Runs `forks` fresh processes one after another (bench/per-call-fork.js), each
 * measuring every contender interleaved, and pools their rounds. Like JMH's
 * forks: the same code gave configureKeepalive / C floor from 1.16 to 1.33
 * between processes (JIT code placement, ASLR, where the kernel put the
 * sockets), more than between the rounds of one process, so one process's
 * verdict is partly luck. Rounds stay paired within their fork.
 */
async function run({ floorBinary, node26Binary, minimalAddon, plan, forks }) {
  const forkScript = path.join(__dirname, '..', 'per-call-fork.js');
  const results = [];
  for (let fork = 0; fork < forks; fork++) {
    const { stdout } = await execFile(process.execPath, [forkScript, JSON.stringify({ floorBinary, node26Binary, minimalAddon, plan })], {
      maxBuffer: 16 * 2 ** 20,
      timeout: 600_000,
    });
    results.push(JSON.parse(stdout));
  }
  const pool = (key) =>
    results[0][key].map((first, index) => {
      const perRound = results.flatMap((result) => result[key][index].perRound);
      return { name: first.name, calls: first.calls, perRound, median: median(perRound) };
    });
  const set = pool('set');
  const perFork = results.map((result) => pairedRatio(result.set[0], result.set[2]));
  return summarize(set, pool('get'), results[0].netKeepaliveError, perFork);
}

const find = (results, prefix) => results.find((r) => r.name.startsWith(prefix));

function summarize(set, get, netKeepaliveError, floorRatioPerFork) {
  const [ours, node, floor, singleFloor, minimal] = set;
  const ours26 = find(set, 'configureKeepalive under Node');
  const node26 = set.find((r) => / socket\.setKeepAlive\(true, idle, interval, count\)$/.test(r.name));
  const netKeepalive = find(set, 'net-keepalive');
  const ratio = (a, b) => report.formatRatio(pairedRatio(a, b));
  const ratioRows = [
    ['configureKeepalive / C floor (second thread)', ratio(ours, floor)],
    ['configureKeepalive / Node setKeepAlive', ratio(ours, node)],
    ['configureKeepalive / minimal addon', ratio(ours, minimal)],
    ['minimal addon / C floor (second thread)', ratio(minimal, floor)],
    ['Node setKeepAlive / C floor (second thread)', ratio(node, floor)],
    ['C floor (second thread) / C single-threaded: what the second thread costs', ratio(floor, singleFloor)],
  ];
  const targets = [
    report.target('configureKeepalive ≤ 1.10 × C floor (second thread)', pairedRatio(ours, floor), '<=', 1.1, report.formatRatio),
    report.target('configureKeepalive ≤ 1.10 × Node setKeepAlive', pairedRatio(ours, node), '<=', 1.1, report.formatRatio),
  ];
  if (ours26 && node26) {
    ratioRows.push(['configureKeepalive / Node 26 setKeepAlive (4 args), both under Node 26', ratio(ours26, node26)]);
    ratioRows.push(['Node 26 setKeepAlive (4 args) / C floor (second thread)', ratio(node26, floor)]);
  }
  if (netKeepalive) {
    const speedup = pairedRatio(netKeepalive, ours);
    ratioRows.push(['net-keepalive / configureKeepalive', report.formatRatio(speedup)]);
    targets.push(report.target('configureKeepalive ≥ 20 × faster than net-keepalive', speedup, '>=', 20, report.formatRatio));
  }
  const [read, readFloor, readSingle] = get;
  ratioRows.push(['getKeepalive / C floor (second thread)', ratio(read, readFloor)]);
  ratioRows.push(['C get floor (second thread) / C single-threaded', ratio(readFloor, readSingle)]);
  targets.push(report.target('getKeepalive ≤ 1.10 × C floor (second thread)', pairedRatio(read, readFloor), '<=', 1.1, report.formatRatio));

  const notes = netKeepaliveError ? [`**net-keepalive not measured**: ${netKeepaliveError}`] : [];
  return {
    title: '1. Per call, on a connected socket',
    body: [
      'Every call writes values different from the call before (idle, interval and count all move). ' +
        "After the rounds, each contender's socket is read back from the kernel and must hold the last values written. " +
        'The C floor runs in a process with one extra, idle thread, like every Node process (bench/floor.c explains why that costs more per syscall); ' +
        'the single-threaded C rows only show by how much.',
      '',
      report.table(report.MEDIAN_HEADER, report.medianRows(set)),
      '',
      report.table(report.MEDIAN_HEADER, report.medianRows(get)),
      '',
      `Ratios are medians of the per-round ratios (contenders of a round ran back to back), over the rounds of ` +
        `${floorRatioPerFork.length} fresh processes (forks) run one after another. configureKeepalive / C floor in each ` +
        `fork alone: ${floorRatioPerFork.map((r) => report.formatRatio(r)).join(', ')}.`,
      '',
      report.table(['pair', 'median ratio'], ratioRows),
      ...notes,
    ].join('\n'),
    targets,
  };
}

module.exports = { run, measure };
