'use strict';
// Benchmark: tcp-keepalive/metrics.
//
// 1. Per sample: one sample of one followed connection (the sampler's whole per-connection step: the
//    TCP_INFO read, the verdict, the up-down sums, the records into the exporter, the rescheduling), with
//    the prom-client exporter and with the OpenTelemetry SDK, interleaved round by round with one
//    getsockopt(TCP_INFO) from threaded C (bench/tcp-info-floor.c) and with one histogram record of each
//    exporter alone. Target: (sample − one histogram record) ≤ 1.5 × the C floor.
// 2. At scale: 10 000 idle connections (their server in another process) followed by startTelemetry with
//    a 60 s interval, over one whole interval: CPU used above the same process without telemetry, and the
//    longest tick (each tick samples one slot of the timing wheel). Targets: ≤ 1 % of one core on average,
//    no tick over 5 ms.
//
//   node bench/benchmarks/telemetry.js             # prints a markdown section
//   BENCH_QUICK=1 node bench/benchmarks/telemetry.js  # 2 000 connections, a 10 s interval
// From bench/run.js: require('./benchmarks/telemetry').run({ plan, forks, connections, intervalMs }).
const { execFile: execFileCallback, fork } = require('node:child_process');
const path = require('node:path');
const { monitorEventLoopDelay, PerformanceObserver } = require('node:perf_hooks');
const { promisify } = require('node:util');
const { interleave, median, pairedRatio } = require('../lib/interleave');
const { RemoteProcess } = require('../lib/remote');
const { connectMany, startServer } = require('../lib/sockets');
const report = require('../lib/report');
const { buildFloor } = require('./health');

const execFile = promisify(execFileCallback);
const root = path.resolve(__dirname, '..', '..');
const SAMPLE_TARGET = 1.5;
const CPU_TARGET = 0.01;
const PAUSE_TARGET_MS = 5;
const SAMPLED_SOCKETS = 200;

const cpuClock = process.env.BENCH_CLOCK === 'cpu';
function now() {
  if (!cpuClock) return process.hrtime.bigint();
  const { user, system } = process.cpuUsage();
  return BigInt(user + system) * 1000n;
}

function loadTelemetry() {
  const { configureKeepalive } = require(path.join(root, 'dist', 'index.js'));
  const { Sampler } = require(path.join(root, 'dist', 'metrics', 'sampler.js'));
  const { prometheusExporter } = require(path.join(root, 'dist', 'metrics', 'prometheus.js'));
  const { otelExporter } = require(path.join(root, 'dist', 'metrics', 'otel.js'));
  const { startTelemetry } = require(path.join(root, 'dist', 'metrics', 'index.js'));
  const promClient = require(require.resolve('prom-client', { paths: [root] }));
  const sdk = require(require.resolve('@opentelemetry/sdk-metrics', { paths: [root] }));
  class Reader extends sdk.MetricReader {
    onForceFlush() {
      return Promise.resolve();
    }
    onShutdown() {
      return Promise.resolve();
    }
  }
  return { configureKeepalive, Sampler, prometheusExporter, otelExporter, startTelemetry, promClient, sdk, Reader };
}

/** One fork of part 1: every contender interleaved in this process. */
async function measureSamples({ plan }) {
  const { configureKeepalive, Sampler, prometheusExporter, otelExporter, promClient, sdk, Reader } = loadTelemetry();
  const floor = new RemoteProcess(buildFloor(), cpuClock ? ['cpu'] : [], 'TCP_INFO floor');
  const server = await startServer();
  const samplers = [];
  try {
    // sampleAll() walks every slot of the timing wheel to find the connections, as no tick does (a tick takes
    // one slot). A 640 ms interval keeps the wheel at 73 slots for 200 connections, so that walk is not
    // counted as sampling cost (with an hour's interval it was 3 962 slots, about 230 ns per sample here).
    // The samplers' own timers are stopped: only sampleAll() samples.
    const benchSampler = () => new Sampler({ interval: 640, maxSeries: 100, policyName: undefined });
    const handDriven = (sampler) => clearInterval(sampler.timer);
    const promSampler = benchSampler();
    const registry = new promClient.Registry();
    promSampler.start(prometheusExporter(promSampler, registry));
    handDriven(promSampler);
    const otelSampler = benchSampler();
    const provider = new sdk.MeterProvider({ readers: [new Reader()] });
    otelSampler.start(otelExporter(otelSampler, provider));
    handDriven(otelSampler);
    samplers.push(promSampler, otelSampler);
    const sockets = await connectMany(server.port, SAMPLED_SOCKETS);
    for (const socket of sockets) {
      configureKeepalive(socket, { idle: 30_000, interval: 10_000, count: 3 });
      socket.write('x'); // an RTT estimate to record
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Both samplers follow every socket; each contender samples them all with its own sampler.
    const sampling = (sampler) => (calls) => {
      let done = 0;
      const start = now();
      while (done < calls) done += sampler.sampleAll();
      return Number(now() - start) / done;
    };
    const histogram = new promClient.Histogram({
      name: 'bench_histogram',
      help: 'h',
      labelNames: ['a'],
      buckets: [0.001, 0.01, 0.1],
      registers: [registry],
    });
    const child = histogram.labels({ a: '127.0.0.1' });
    const otelHistogram = provider.getMeter('bench').createHistogram('bench.histogram', { unit: 's' });
    const attributes = Object.freeze({ 'network.peer.address': '127.0.0.1', 'network.peer.port': 5432, 'tcp.keepalive.policy': 'p' });
    const contenders = [
      {
        name: `sample, prom-client exporter (${SAMPLED_SOCKETS} idle connections, each once per call)`,
        run: sampling(promSampler),
        minCalls: SAMPLED_SOCKETS,
      },
      { name: 'sample, OpenTelemetry SDK exporter', run: sampling(otelSampler), minCalls: SAMPLED_SOCKETS },
      {
        name: 'prom-client: one histogram observe (a bound child)',
        run: (calls) => {
          const start = now();
          for (let k = 0; k < calls; k++) child.observe(0.0001 + (k & 7) * 0.00001);
          return Number(now() - start) / calls;
        },
      },
      {
        name: 'OpenTelemetry SDK: one histogram record (a frozen attributes object)',
        run: (calls) => {
          const start = now();
          for (let k = 0; k < calls; k++) otelHistogram.record(0.0001 + (k & 7) * 0.00001, attributes);
          return Number(now() - start) / calls;
        },
      },
      floor.contender('C: getsockopt(TCP_INFO) (the floor, threaded)', 'info'),
    ];
    const rounds = await interleave(contenders, plan);
    const verified = await floor.request('verify 0');
    if (verified !== 'ok') throw new Error(`C floor: ${verified}`);
    if (promSampler.samples === 0 || otelSampler.samples === 0 || promSampler.open !== SAMPLED_SOCKETS) {
      throw new Error(`telemetry benchmark: the samplers did not sample every connection (${promSampler.open} open)`);
    }
    for (const socket of sockets) socket.destroy();
    return rounds;
  } finally {
    for (const sampler of samplers) sampler.stop();
    await floor.close();
    await server.close();
  }
}

/** Part 2, in a child: `connections` idle connections to a server in the parent, over one interval with and without telemetry. */
async function measureScale({ port, connections, intervalMs }) {
  const { configureKeepalive, Sampler, prometheusExporter, promClient } = loadTelemetry();
  const sockets = await connectMany(port, connections, 100);
  const window = async (withTelemetry) => {
    const registry = new promClient.Registry();
    // The sampler startTelemetry builds, held here to time its ticks.
    const sampler = withTelemetry ? new Sampler({ interval: intervalMs, maxSeries: 100, policyName: undefined }) : undefined;
    sampler?.start(prometheusExporter(sampler, registry));
    // Each tick timed here (wall time, and the process's CPU time), to tell the sampler's own pause from a
    // garbage collection that happened to fall inside a tick (the process pauses for those with or without
    // telemetry: see the event-loop delays).
    const ticks = [];
    if (sampler !== undefined) {
      const tick = sampler.tick.bind(sampler);
      sampler.tick = () => {
        const start = performance.now();
        const cpuStart = process.cpuUsage();
        tick();
        const cpu = process.cpuUsage(cpuStart);
        ticks.push([start, performance.now(), (cpu.user + cpu.system) / 1000]);
      };
    }
    const collections = [];
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) collections.push([entry.startTime, entry.startTime + entry.duration]);
    });
    // Following starts at a socket's first configure, so the sockets are configured only now (before the window:
    // configuring is not telemetry's cost). Their first samples, all due on the next ticks, fall inside the window.
    if (withTelemetry) for (const socket of sockets) configureKeepalive(socket, { idle: 600_000, interval: 60_000, count: 3 });
    // The garbage that connecting and configuring 10 000 sockets left is collected now, not in the window's first ticks.
    global.gc();
    gcObserver.observe({ entryTypes: ['gc'] });
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const cpuStart = process.cpuUsage();
    const wallStart = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const cpu = process.cpuUsage(cpuStart);
    const wallMs = Number(process.hrtime.bigint() - wallStart) / 1e6;
    delay.disable();
    gcObserver.disconnect();
    const overlap = (from, to) =>
      collections.reduce((total, [start, end]) => total + Math.max(0, Math.min(to, end) - Math.max(from, start)), 0);
    let busyMs = 0;
    let longestTickWithoutGcMs = 0;
    let longestTickMs = 0;
    let longestTickGcMs = 0;
    let longestTickCpuMs = 0;
    for (const [start, end, cpuMs] of ticks) {
      const collected = overlap(start, end);
      busyMs += end - start;
      longestTickWithoutGcMs = Math.max(longestTickWithoutGcMs, end - start - collected);
      if (end - start > longestTickMs) {
        longestTickMs = end - start;
        longestTickGcMs = collected;
        longestTickCpuMs = cpuMs;
      }
    }
    const result = {
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs,
      maxLoopDelayMs: delay.max / 1e6,
      open: sampler?.open ?? 0,
      samples: sampler?.samples ?? 0,
      busyMs,
      longestTickMs,
      longestTickCpuMs,
      longestTickWithoutGcMs,
      longestTickGcMs,
      scrapeBytes: (await registry.metrics()).length,
    };
    sampler?.stop();
    return result;
  };
  const control = await window(false);
  const sampled = await window(true);
  return { control, sampled };
}

async function run({ plan, forks, connections, intervalMs }) {
  const results = [];
  for (let index = 0; index < forks; index++) {
    const { stdout } = await execFile(process.execPath, [__filename, '--samples', JSON.stringify({ plan })], {
      maxBuffer: 16 * 2 ** 20,
      timeout: 600_000,
      env: process.env,
    });
    results.push(JSON.parse(stdout));
  }
  const pooled = results[0].map((first, index) => {
    const perRound = results.flatMap((result) => result[index].perRound);
    return { name: first.name, calls: first.calls, perRound, median: median(perRound) };
  });
  const [promSample, otelSample, promRecord, otelRecord, floor] = pooled;
  // (sample − record) / floor, round by round: what a sample costs beyond one histogram record, in C getsockopts.
  const beyond = (sample, record) =>
    median(sample.perRound.map((value, round) => (value - record.perRound[round]) / floor.perRound[round]));
  // Context: a sample records two histograms (RTT and min RTT); with OpenTelemetry both are the SDK's records, so
  // this is what the sampler adds beyond them. (The prom-client exporter keeps its own bucket counts, inside the sample.)
  const beyondTwo = (sample, record) =>
    median(sample.perRound.map((value, round) => (value - 2 * record.perRound[round]) / floor.perRound[round]));
  const promBeyond = beyond(promSample, promRecord);
  const otelBeyond = beyond(otelSample, otelRecord);

  const server = await startServer();
  let scale;
  try {
    const child = fork(__filename, ['--scale', JSON.stringify({ port: server.port, connections, intervalMs })], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    await new Promise((resolve, reject) =>
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`scale child exited ${code}`)))),
    );
    scale = JSON.parse(stdout);
  } finally {
    await server.close();
  }
  const extraCpuMs = scale.sampled.cpuMs - scale.control.cpuMs;
  // Time inside the sampler's ticks (wall time: on a loaded machine it includes preemption, so it is an upper bound).
  const coreShare = scale.sampled.busyMs / scale.sampled.wallMs;
  return {
    title: 'Telemetry: per sample, and 10 000 connections over one interval (bench/benchmarks/telemetry.js)',
    body: [
      `Part 1: each sample contender samples ${SAMPLED_SOCKETS} followed, idle loopback connections once per call through the ` +
        'sampler (TCP_INFO read, verdict, sums, the RTT and min-RTT histograms and the retransmission counter, rescheduling); ' +
        'the C floor reads TCP_INFO on a socket of its own, in its own process, interleaved round by round.',
      '',
      report.table(report.MEDIAN_HEADER, report.medianRows(pooled)),
      '',
      report.table(
        ['pair', 'median ratio (per round)'],
        [
          ['sample (prom-client) / C floor', report.formatRatio(pairedRatio(promSample, floor))],
          ['(sample − one observe) / C floor, prom-client', report.formatRatio(promBeyond)],
          ['sample (OpenTelemetry) / C floor', report.formatRatio(pairedRatio(otelSample, floor))],
          ['(sample − one record) / C floor, OpenTelemetry', report.formatRatio(otelBeyond)],
          [
            '(sample − its two histogram records, RTT and min RTT) / C floor, OpenTelemetry',
            report.formatRatio(beyondTwo(otelSample, otelRecord)),
          ],
        ],
      ),
      '',
      `Ratios pool ${forks} fresh processes. Clock: ${cpuClock ? 'CPU time (BENCH_CLOCK=cpu)' : 'wall time'}.`,
      '',
      `Part 2: ${connections} idle connections, their server in another process, interval ${intervalMs / 1000} s (prom-client ` +
        'exporter); one interval without telemetry, then one with it (every connection followed from its configure).',
      '',
      report.table(
        ['window', 'CPU (user + system)', 'wall', 'longest event-loop delay', 'connections followed', 'scrape size'],
        [
          [
            'without telemetry',
            `${scale.control.cpuMs.toFixed(0)} ms`,
            `${(scale.control.wallMs / 1000).toFixed(1)} s`,
            `${scale.control.maxLoopDelayMs.toFixed(2)} ms`,
            '0',
            '-',
          ],
          [
            'with telemetry',
            `${scale.sampled.cpuMs.toFixed(0)} ms`,
            `${(scale.sampled.wallMs / 1000).toFixed(1)} s`,
            `${scale.sampled.maxLoopDelayMs.toFixed(2)} ms`,
            String(scale.sampled.open),
            `${scale.sampled.scrapeBytes} bytes`,
          ],
        ],
      ),
      '',
      `Telemetry's share of one core: ${(coreShare * 100).toFixed(3)} % (${scale.sampled.busyMs.toFixed(0)} ms inside the sampler's ticks over ` +
        `${(scale.sampled.wallMs / 1000).toFixed(1)} s, ${scale.sampled.samples} samples; the longest tick ${scale.sampled.longestTickMs.toFixed(2)} ms of wall time ` +
        `(${scale.sampled.longestTickCpuMs.toFixed(2)} ms of process CPU time in it, which counts V8's helper threads too and is read at the kernel's accounting ` +
        `granularity, so it is context, not the pause; ${scale.sampled.longestTickGcMs.toFixed(2)} ms of the longest tick was garbage collection). ` +
        `The longest tick once the garbage collections that fell inside ticks are taken out: ${scale.sampled.longestTickWithoutGcMs.toFixed(2)} ms. ` +
        `Process CPU with telemetry minus without: ${extraCpuMs.toFixed(0)} ms, noisier on a shared machine. Every ` +
        'connection is first sampled on the ticks right after it is followed, then after a random 10–110 % of the interval, ' +
        'so a connection is sampled about 1.7 times per interval on average).',
    ].join('\n'),
    targets: [
      report.target(
        `per sample (prom-client) − one observe ≤ ${SAMPLE_TARGET} × C getsockopt(TCP_INFO)`,
        promBeyond,
        '<=',
        SAMPLE_TARGET,
        report.formatRatio,
      ),
      report.target(
        `per sample (OpenTelemetry) − one record ≤ ${SAMPLE_TARGET} × C getsockopt(TCP_INFO)`,
        otelBeyond,
        '<=',
        SAMPLE_TARGET,
        report.formatRatio,
      ),
      report.target(
        `${connections} connections sampled every ${intervalMs / 1000} s: share of one core`,
        coreShare * 100,
        '<=',
        CPU_TARGET * 100,
        (v) => `${v.toFixed(3)} %`,
      ),
      report.target(
        'longest sampler tick, wall time, garbage collections inside it taken out (the pause sampling makes)',
        scale.sampled.longestTickWithoutGcMs,
        '<=',
        PAUSE_TARGET_MS,
        (v) => `${v.toFixed(2)} ms`,
      ),
    ],
  };
}

module.exports = { run };

if (require.main === module) {
  const fail = (error) => {
    process.stderr.write(`[bench] telemetry failed: ${error.stack}\n`);
    process.exitCode = 1;
  };
  if (process.argv[2] === '--samples') {
    measureSamples(JSON.parse(process.argv[3]))
      .then((result) => process.stdout.write(JSON.stringify(result)))
      .catch(fail);
  } else if (process.argv[2] === '--scale') {
    measureScale(JSON.parse(process.argv[3]))
      .then((result) => {
        process.stdout.write(JSON.stringify(result));
        process.exit(0);
      })
      .catch(fail);
  } else {
    const quick = process.env.BENCH_QUICK === '1';
    const plan = quick ? { rounds: 5, warmupRounds: 1, roundMs: 20 } : { rounds: 15, warmupRounds: 3, roundMs: 20 };
    run({ plan, forks: quick ? 2 : 3, connections: quick ? 2000 : 10_000, intervalMs: quick ? 10_000 : 60_000 })
      .then((section) => {
        process.stdout.write(
          `## ${section.title}\n\n${section.body}\n\n${report.table(report.TARGET_HEADER, report.targetRows(section.targets))}\n`,
        );
        if (process.env.BENCH_STRICT === '1' && section.targets.some((t) => !t.pass)) process.exitCode = 1;
      })
      .catch(fail);
  }
}
