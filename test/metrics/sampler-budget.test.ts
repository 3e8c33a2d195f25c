/**
 * The sampler's tick budget: a tick stops sampling once it has used its budget and the next tick goes on
 * where it stopped, so many connections followed at once are sampled over several ticks. Ticks are driven
 * by hand here (the sampler's own timer is stopped), and the exporter spends RECORD_MS per record, so 40
 * samples cannot fit in one tick's budget.
 */
import net from 'node:net';
import { configureKeepalive } from '../../src';
import { type Exporter, Sampler, TICK_BUDGET_MS } from '../../src/metrics/sampler';
import { closeAll, listen, track } from '../helpers/sockets';

const onLinux = process.platform === 'linux' ? test : test.skip;

const RECORD_MS = 0.8;
const CONNECTIONS = 40;

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a record that costs `ms`
  }
}

/** Stops the sampler's own timer: the test's ticks are the only ones. */
function handDriven(running: Sampler): void {
  clearInterval((running as unknown as { timer: NodeJS.Timeout }).timer);
}

let sampler: Sampler | undefined;
afterEach(async () => {
  sampler?.stop();
  sampler = undefined;
  await closeAll();
});

/**
 * A hand-driven sampler whose exporter spends RECORD_MS per record, following `count` connected sockets
 * (configured, so followed, and due on the next tick); `records()` counts the records so far.
 */
async function slowSamplerOver(count: number): Promise<{ running: Sampler; sockets: net.Socket[]; records(): number; tick(): void }> {
  let records = 0;
  const exporter: Exporter = {
    record() {
      records += 1;
      busy(RECORD_MS);
    },
    dead() {},
    stop() {},
  };
  const running = new Sampler({ interval: 3_600_000, maxSeries: 100, policyName: undefined });
  sampler = running;
  running.start(exporter);
  handDriven(running);
  const { port } = await listen();
  const sockets = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = track(net.connect(port, '127.0.0.1'));
      await new Promise((resolve) => socket.once('connect', resolve));
      configureKeepalive(socket, { idle: 30_000 });
      return socket;
    }),
  );
  return { running, sockets, records: () => records, tick: () => (running as unknown as { tick(): void }).tick() };
}

onLinux('a tick stops at its budget and the next ticks go on from there; a connection closed while waiting is skipped', async () => {
  const { running, sockets, records, tick } = await slowSamplerOver(CONNECTIONS);
  expect(CONNECTIONS * RECORD_MS).toBeGreaterThan(3 * TICK_BUDGET_MS);
  tick();
  const first = records();
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThan(CONNECTIONS); // stopped at the budget
  tick();
  const second = records() - first;
  expect(second).toBeGreaterThan(0); // went on where the first stopped
  const sampledByTicks = first + second;
  expect(sampledByTicks).toBeLessThan(CONNECTIONS);

  // Those still waiting close now: every connection is sampled once at its close, and none again by a tick.
  for (const socket of sockets) socket.destroy();
  expect(records()).toBe(sampledByTicks + CONNECTIONS);
  for (let i = 0; i < 20; i++) tick();
  expect(records()).toBe(sampledByTicks + CONNECTIONS);
  expect(running.open).toBe(0);
});

onLinux('every connection waiting in a budget-cut tick is sampled by the ticks after it', async () => {
  const { running, records, tick } = await slowSamplerOver(30);
  tick();
  expect(records()).toBeLessThan(30);
  let ticks = 1;
  while (records() < 30 && ticks < 100) {
    tick();
    ticks += 1;
  }
  expect(records()).toBe(30); // each exactly once
  expect(running.open).toBe(30);
  tick();
  expect(records()).toBe(30); // each is next due a random 10–110 % of an hour from now
});
