/**
 * The sampler's tick budget: a tick stops sampling once it has used its budget and the next tick goes on
 * where it stopped, so many connections followed at once are sampled over several ticks. Ticks are driven
 * by hand here (the sampler's own timer is stopped), and the exporter spends 0.5 ms per record, so a
 * tick's budget runs out after a known number of samples.
 */
import net from 'node:net';
import { configureKeepalive } from '../../src';
import { type Exporter, Sampler, TICK_BUDGET_MS } from '../../src/metrics/sampler';
import { closeAll, listen, track } from '../helpers/sockets';

const onLinux = process.platform === 'linux' ? test : test.skip;

/** Samples between two looks at the clock (sampler.ts). */
const CHECK_EVERY = 8;

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

onLinux('a tick stops at its budget and the next ticks go on from there; a connection closed while waiting is skipped', async () => {
  let records = 0;
  const exporter: Exporter = {
    record() {
      records += 1;
      busy(0.5);
    },
    dead() {},
    stop() {},
  };
  sampler = new Sampler({ interval: 3_600_000, maxSeries: 100, policyName: undefined });
  sampler.start(exporter);
  handDriven(sampler);
  const { port } = await listen();
  const sockets = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const socket = track(net.connect(port, '127.0.0.1'));
      await new Promise((resolve) => socket.once('connect', resolve));
      configureKeepalive(socket, { idle: 30_000 }); // followed from here, due on the next tick
      return socket;
    }),
  );
  const tick = (): void => (sampler as unknown as { tick(): void }).tick();

  tick();
  // 8 samples × 0.5 ms is past the 3 ms budget at the first look at the clock.
  expect(CHECK_EVERY * 0.5).toBeGreaterThan(TICK_BUDGET_MS);
  expect(records).toBe(CHECK_EVERY);
  tick();
  expect(records).toBe(2 * CHECK_EVERY);

  // The 24 still waiting close now: each is sampled once at its close, and never again by a tick.
  for (const socket of sockets) socket.destroy();
  expect(records).toBe(2 * CHECK_EVERY + 40);
  for (let i = 0; i < 10; i++) tick();
  expect(records).toBe(2 * CHECK_EVERY + 40);
  expect(sampler.open).toBe(0);
});

onLinux('every connection waiting in a budget-cut tick is sampled by the ticks after it', async () => {
  let records = 0;
  const exporter: Exporter = {
    record() {
      records += 1;
      busy(0.5);
    },
    dead() {},
    stop() {},
  };
  sampler = new Sampler({ interval: 3_600_000, maxSeries: 100, policyName: undefined });
  sampler.start(exporter);
  handDriven(sampler);
  const { port } = await listen();
  for (let i = 0; i < 30; i++) {
    const socket = track(net.connect(port, '127.0.0.1'));
    await new Promise((resolve) => socket.once('connect', resolve));
    configureKeepalive(socket, { idle: 30_000 });
  }
  const tick = (): void => (sampler as unknown as { tick(): void }).tick();
  for (let i = 0; i < 4; i++) tick(); // 8 + 8 + 8 + 6
  expect(records).toBe(30);
  expect(sampler.open).toBe(30);
  tick();
  expect(records).toBe(30); // each is next due a random 10–110 % of an hour from now
});
