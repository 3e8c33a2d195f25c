/**
 * `npm run demo`: the case this package exists for — an MQ client behind a load balancer that
 * silently forgets idle flows, and a broker that vanishes — played for real in
 * private network namespaces, side by side: no keepalive, Node's own
 * setKeepAlive, and tcp-keepalive with a planKeepalive() plan. About 15 s.
 * Without namespaces it says why and shows what the kernel holds instead.
 */
import { once } from 'node:events';
import net from 'node:net';
import { configureKeepalive, getKeepalive, type KeepalivePlan, type KeepaliveState, planKeepalive, systemDefaults } from '../dist';
import { kernelTimes } from '../dist/core/kernel-timers';
import { type KeepaliveChoice, probeLab, runScenario, type Scenario, type ScenarioReport } from './index';
import { socketTimerFor, type SocketLine } from './inside';
import { type Cell, renderTable } from './table';

const BALANCER_IDLE_SECONDS = 3;
const SILENCE_MS = 5000;
const DELIVERY_WATCH_MS = 2000;
const DETECTION_BUDGET_MS = 4000;
/** Long enough for Node's fixed 1 s + 10 × 1 s to show, with room. */
const VANISH_WATCH_MS = 12_500;

interface Contender {
  title: Cell;
  keepalive: KeepaliveChoice;
}

const print = (text = ''): void => {
  process.stdout.write(`${text}\n`);
};

const secondsText = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const wholeSeconds = (ms: number): string => `${ms / 1000} s`;
const hoursAndMinutes = (ms: number): string => `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;

function kernelCells(state: KeepaliveState | undefined): Cell[] {
  if (state === undefined) return ['—', '—'];
  const probes = state.enable
    ? [`on: idle ${wholeSeconds(state.idle)},`, `then ${wholeSeconds(state.interval)} × ${state.count} probes`]
    : ['off'];
  const userTimeout = state.userTimeout === 0 ? '0 (kernel default)' : `${state.userTimeout} ms`;
  return [probes, userTimeout];
}

function timerText(line: SocketLine | null | undefined): string {
  if (line == null) return '—';
  // ss prints 1 s 312 ms as "1.312ms"; show seconds so nobody reads milliseconds.
  return line.timer === null ? 'no timer' : `${line.timer.name},${(line.timer.expiresInMs / 1000).toFixed(2)}s,${line.timer.attempts}`;
}

function deliveryCell(report: ScenarioReport | Error | undefined): Cell {
  if (report === undefined) return 'skipped';
  if (report instanceof Error) return ['error:', report.message.split('\n')[0]!.slice(0, 40)];
  if (report.deliveredAfterMs !== null) return ['✔ delivered', `  ${report.deliveredAfterMs.toFixed(1)} ms after publish`];
  if (report.detected !== null) return [`✘ ${report.detected.code}`, `  ${secondsText(report.detected.afterMs)} after publish`];
  return ['✘ lost, and no error:', '  a zombie connection', `  timer ${timerText(report.ssLastSeen)}`];
}

function detectionCell(report: ScenarioReport | Error | undefined): Cell {
  if (report === undefined) return 'skipped';
  if (report instanceof Error) return ['error:', report.message.split('\n')[0]!.slice(0, 40)];
  if (report.detected !== null) return `✔ ${report.detected.code} at ${secondsText(report.detected.afterMs)}`;
  const state = report.ssLastSeen?.state === 'ESTAB' ? 'ESTABLISHED' : (report.ssLastSeen?.state ?? 'open');
  const timer = report.ssLastSeen?.timer == null ? '  no timer: forever' : `  timer ${timerText(report.ssLastSeen)}`;
  return [`✘ not noticed in ${secondsText(report.watchedMs)}`, `  still ${state}`, timer];
}

async function settle(scenario: Scenario | undefined): Promise<ScenarioReport | Error | undefined> {
  if (scenario === undefined) return undefined;
  try {
    return await runScenario(scenario);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function describeDefaults(): string[] {
  try {
    const defaults = systemDefaults();
    const times = kernelTimes({ ...defaults, userTimeout: 0 });
    return [
      `This machine's defaults (systemDefaults()): tcp_keepalive_time ${defaults.idle / 1000} s,`,
      `intvl ${defaults.interval / 1000} s, probes ${defaults.count}, tcp_retries2 ${defaults.retries2}.`,
      `With SO_KEEPALIVE on and nothing else, an idle dead peer is noticed after ${hoursAndMinutes(times.idleDeadPeer)};`,
      `with data in flight, after ${wholeSeconds(times.deadWithDataInFlight)} of retransmissions. Without SO_KEEPALIVE: never.`,
    ];
  } catch (error) {
    return [`System defaults: unavailable here (${(error as Error).message}).`];
  }
}

function describePlan(plan: KeepalivePlan, request: string): string[] {
  const { idle, interval, count, userTimeout } = plan.options;
  return [
    `  ${request}`,
    `  → idle ${wholeSeconds(idle)}, interval ${wholeSeconds(interval)} × count ${count}, userTimeout ${wholeSeconds(userTimeout)}; ` +
      `a dead peer noticed after ${wholeSeconds(plan.times.idleDeadPeer)} idle, ${wholeSeconds(plan.times.deadWithDataInFlight)} ` +
      `with data in flight; a live peer that stops reading survives ${wholeSeconds(plan.times.survivableStall)}`,
  ];
}

async function runInNamespaces(contenders: Contender[], loadBalancer: { available: boolean; reason?: string }): Promise<boolean> {
  const vanish = (keepalive: KeepaliveChoice, dataInFlight: boolean): Scenario => ({
    name: 'vanishing-peer',
    side: 'client',
    keepalive,
    dataInFlight,
    vanish: dataInFlight ? 'drop-incoming' : 'link-down',
    observeMs: VANISH_WATCH_MS,
  });
  const scenarioCount = contenders.length * (loadBalancer.available ? 3 : 1);
  print(`Running ${scenarioCount} scenarios at once, each in its own namespace (about ${Math.ceil(VANISH_WATCH_MS / 1000) + 2} s)…`);
  const started = Date.now();
  const results = await Promise.all(
    contenders.map(async ({ keepalive }) => {
      const [balancer, idle, inFlight] = await Promise.all([
        settle(
          loadBalancer.available
            ? {
                name: 'load-balancer-idle',
                keepalive,
                balancerIdleSeconds: BALANCER_IDLE_SECONDS,
                silenceMs: SILENCE_MS,
                observeMs: DELIVERY_WATCH_MS,
              }
            : undefined,
        ),
        settle(vanish(keepalive, false)),
        settle(loadBalancer.available ? vanish(keepalive, true) : undefined),
      ]);
      return { balancer, idle, inFlight };
    }),
  );
  print(`…done in ${secondsText(Date.now() - started)}.`);
  print();

  const kernelOf = (index: number): KeepaliveState | undefined => {
    const report = results[index]!.idle;
    return report instanceof Error || report === undefined ? undefined : report.kernel;
  };
  const ssOf = (index: number): string => {
    const report = results[index]!.idle;
    return report instanceof Error || report === undefined ? '—' : timerText(report.ssBefore);
  };
  const noBalancer = loadBalancer.available ? [] : ['   (skipped: needs nft)'];
  if (!loadBalancer.available) print(`Load balancer unavailable, rows A and C skipped: ${loadBalancer.reason}\n`);
  print(
    renderTable([
      ['', ...contenders.map((contender) => contender.title)],
      null,
      [['What the kernel holds', '(getKeepalive)'], ...contenders.map((_, i) => kernelCells(kernelOf(i))[0]!)],
      ['TCP_USER_TIMEOUT', ...contenders.map((_, i) => kernelCells(kernelOf(i))[1]!)],
      [['ss -tino timer', "(netstat -o's timer)"], ...contenders.map((_, i) => ssOf(i))],
      null,
      [
        [
          'A. silent 5 s behind a',
          '   load balancer that',
          `   forgets idle flows`,
          `   after ${BALANCER_IDLE_SECONDS} s; then publish`,
          ...noBalancer,
        ],
        ...results.map((result) => deliveryCell(result.balancer)),
      ],
      null,
      [
        ['B. the broker vanishes', '   (power cut: no FIN,', '   no RST) while the', '   client is idle'],
        ...results.map((result) => detectionCell(result.idle)),
      ],
      null,
      [
        ['C. the broker vanishes', '   while a publish is', '   unacknowledged', '   (data in flight)', ...noBalancer],
        ...results.map((result) => detectionCell(result.inFlight)),
      ],
    ]),
  );
  return results.every((result) => [result.balancer, result.idle, result.inFlight].every((report) => !(report instanceof Error)));
}

/** Without namespaces: configure three loopback sockets in this process and read them back. */
async function showConfigurationOnly(contenders: Contender[]): Promise<void> {
  const server = net.createServer((socket) => socket.on('error', () => undefined));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const rows: Cell[][] = [];
  try {
    for (const contender of contenders) {
      const client = net.connect(port, '127.0.0.1');
      await once(client, 'connect');
      if (contender.keepalive.kind === 'node') client.setKeepAlive(true, contender.keepalive.initialDelayMs);
      if (contender.keepalive.kind === 'tcp-keepalive') configureKeepalive(client, contender.keepalive.options);
      let kernel: Cell[];
      let ss = '—';
      try {
        kernel = kernelCells(getKeepalive(client));
      } catch (error) {
        kernel = [`unreadable: ${(error as Error).message.slice(0, 40)}`, '—'];
      }
      try {
        ss = timerText(socketTimerFor(client.localPort ?? -1, port));
      } catch {
        ss = '(ss not available)';
      }
      rows.push([contender.title, ...kernel, ss]);
      client.destroy();
    }
  } finally {
    server.close();
  }
  print(renderTable([['', 'What the kernel holds (getKeepalive)', 'TCP_USER_TIMEOUT', 'ss -tino timer'], null, ...rows]));
}

async function main(): Promise<number> {
  const plan = planKeepalive({ path: BALANCER_IDLE_SECONDS * 1000, detectWithin: DETECTION_BUDGET_MS });
  const contenders: Contender[] = [
    { title: ['no keepalive', "(many clients' default)"], keepalive: { kind: 'none' } },
    { title: ["Node's own", 'setKeepAlive(true, 1000)'], keepalive: { kind: 'node', initialDelayMs: 1000 } },
    {
      title: ['tcp-keepalive', 'configureKeepalive(', '  socket, plan.options)'],
      keepalive: { kind: 'tcp-keepalive', options: plan.options },
    },
  ];

  print('tcp-keepalive demo: an MQ client behind a load balancer, and a broker that vanishes');
  print('═'.repeat(84));
  print('The case: a load balancer (or NAT, or firewall) keeps a table of flows and silently');
  print('forgets one that stays idle too long. The client is not told: its next publish goes nowhere,');
  print('and it keeps a "zombie" connection. A broker that loses power leaves the same kind of zombie.');
  print();
  print('The plan for the third column, from what a service owner knows:');
  const request = `planKeepalive({ path: ${BALANCER_IDLE_SECONDS * 1000}, detectWithin: ${DETECTION_BUDGET_MS} })`;
  for (const line of describePlan(plan, `${request}   // the balancer's idle timeout; the detection budget`)) print(line);
  print();

  const lab = probeLab();
  let healthy = true;
  if (lab.namespaces.available) {
    print('Setup, all inside private network namespaces on this machine (unshare -rn); nothing leaves it:');
    print(`  client ──▶ 127.0.0.2:9000 [nftables DNAT + conntrack, idle timeout ${BALANCER_IDLE_SECONDS} s] ──▶ broker 127.0.0.1:9001`);
    print('  "vanishes" = every packet dropped from then on (lo down / nft drop), like a pulled cable.');
    print();
    const loadBalancer = lab.loadBalancer.available ? { available: true } : { available: false, reason: lab.loadBalancer.reason };
    healthy = await runInNamespaces(contenders, loadBalancer);
    print();
    print('Reading the table:');
    print("  A. Only probes (idle below the balancer's timeout) keep the flow in its table. Without them");
    print('     the publish is silently dropped and the client hears nothing: it retransmits for ~15 min.');
    print('  B. No keepalive: the socket stays ESTABLISHED forever. Node: delay + 10 × 1 s, the interval');
    print('     and count libuv forces on every setKeepAlive(enable, delay) call (and the only ones');
    print('     possible before Node 26.4). Planned: the first probe at or after userTimeout (with it');
    print('     set, Linux ignores the count; docs/kernel-timers.md).');
    print('  C. Keepalive never probes while data is unacknowledged; only TCP_USER_TIMEOUT ends it.');
    print('     Node cannot set it; the plan sets it to the detection budget (and no lower than the');
    print('     read stall a live peer must survive).');
    print('  Timers, as `ss -tino` shows them: keepalive,<due in>,<probes sent> while idle or probing;');
    print('  on,<due in>,<retransmissions> while resending unacknowledged data.');
  } else {
    print(`Namespaces unavailable: ${lab.namespaces.reason}`);
    print('So no peer can be made to vanish here. What this process can show: the same three');
    print('configurations on real loopback sockets, read back from the kernel.');
    print();
    await showConfigurationOnly(contenders);
    print();
    print('To see detection times: Linux with user namespaces (unshare -rn) and nftables (apt-get install nftables).');
  }
  print();
  for (const line of describeDefaults()) print(line);
  print();
  print('Your own values (see docs/planner.md):');
  const production = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000 });
  for (const line of describePlan(production, "planKeepalive({ path: 'aws-nlb', detectWithin: 60_000 })")) print(line);
  return healthy ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
