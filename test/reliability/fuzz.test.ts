/**
 * Property-based tests of configureKeepalive over option objects and
 * socket-like inputs. The invariant, checked against the kernel every run:
 * either every requested value is applied exactly (read back with
 * getKeepalive), or a coded Error is thrown and the kernel state is
 * unchanged — and `victim`, a connection nobody configures, is never touched.
 *
 * FUZZ_RUNS sets the number of runs (default 3000, CI); `npm run fuzz` sets
 * 1 000 000. The total is printed at the end.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { configureKeepalive, getKeepalive, type KeepaliveState } from '../../src';
import { kernelReader } from '../helpers/independent-kernel';
import { listen, track } from '../helpers/sockets';
import { ALL_SHAPES, buildOptions, mustRefuse, type OptionCase, optionCases } from './support/option-cases';
import { assertCoded, assertUnchanged, expectedChange, sameState, show } from './support/outcome';
import { buildZoo, type Target, type Zoo } from './support/socket-zoo';

const RUNS = runCount(process.env.FUZZ_RUNS);
const CONNECT_RUNS = Math.max(30, Math.floor(RUNS / 2000));
/** Far above what RUNS needs (~15 µs a run); only a hang reaches it. */
jest.setTimeout(60_000 + RUNS * 2);

function runCount(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 3000;
  const runs = Number(raw);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got ${JSON.stringify(raw)}`);
  return runs;
}

let zoo: Zoo;
let executed = 0;
/** How runs ended, so a generator that only ever produces refusals (or successes) shows. */
const outcomes = { applied: 0, refused: 0 };

beforeAll(async () => {
  zoo = await buildZoo();
});

afterAll(async () => {
  await zoo?.dispose();
  console.log(
    `fuzz: ${executed.toLocaleString('en')} cases run (FUZZ_RUNS=${RUNS}): ` +
      `${outcomes.applied.toLocaleString('en')} applied, ${outcomes.refused.toLocaleString('en')} refused with a code`,
  );
});

/** A connected client of its own, so that one test's policy cannot be mistaken for another's. */
async function freshClient(port: number): Promise<net.Socket> {
  const client = track(net.connect(port, '127.0.0.1'));
  await once(client, 'connect');
  return client;
}

function merged(before: KeepaliveState, change: Partial<KeepaliveState>): KeepaliveState {
  return { ...before, ...change };
}

/** One call of configureKeepalive, judged against the oracle and the kernel. */
function checkOneCall(target: Target, optionCase: OptionCase): void {
  executed++;
  const options = buildOptions(optionCase);
  // Hostile shapes are judged by construction; the oracle reads the others (their getters are stable).
  const change = mustRefuse(optionCase.shape) ? undefined : expectedChange(options);
  const victimBefore = getKeepalive(zoo.victim);
  const before = target.tcp === undefined ? undefined : getKeepalive(target.tcp);
  let returned: unknown;
  let thrown: unknown;
  let threw = false;
  try {
    returned = configureKeepalive(target.value as net.Socket, options as never);
  } catch (error) {
    threw = true;
    thrown = error;
  }
  const context = `${target.name} with ${optionCase.shape} ${show(optionCase.entries)}`;
  assertUnchanged(victimBefore, getKeepalive(zoo.victim), `${context}: the victim socket`);

  if (threw) {
    outcomes.refused++;
    assertCoded(thrown, context);
    if (before !== undefined) assertUnchanged(before, getKeepalive(target.tcp!), `${context} threw ${thrown.code}, yet`);
    if (change === undefined) return; // refused bad options: right
    if (target.kind === 'tcp' || target.kind === 'pending') {
      throw new Error(`${context}: valid options refused on a ${target.kind} socket: ${thrown.code} ${thrown.message}`);
    }
    if (target.code !== undefined && thrown.code !== target.code) {
      throw new Error(`${context}: expected ${target.code}, got ${thrown.code}: ${thrown.message}`);
    }
    return;
  }
  outcomes.applied++;
  if (target.kind === 'pending' && (target.value as net.Socket).listenerCount('connect') > 1) {
    throw new Error(`${context}: 'connect' listeners pile up on a pending socket`);
  }
  if (returned !== target.value) throw new Error(`${context}: did not return the socket it was given`);
  if (change === undefined) throw new Error(`${context}: accepted options the contract refuses`);
  if (target.kind === 'refused') throw new Error(`${context}: accepted a target that must be refused`);
  if (before !== undefined) {
    const after = getKeepalive(target.tcp!);
    const wanted = merged(before, change);
    if (!sameState(after, wanted)) throw new Error(`${context}: kernel holds ${show(after)}, expected ${show(wanted)}`);
  }
}

/** Real TCP sockets are where exactness is checked, so they get half the runs. */
function targetsArbitrary(targets: Target[]): fc.Arbitrary<Target> {
  const tcp = targets.filter((target) => target.kind === 'tcp');
  return tcp.length === 0 || tcp.length === targets.length
    ? fc.constantFrom(...targets)
    : fc.oneof(fc.constantFrom(...tcp), fc.constantFrom(...targets));
}

test(`every option shape on every socket-like input (${RUNS.toLocaleString('en')} runs)`, () => {
  fc.assert(fc.property(targetsArbitrary(zoo.targets), optionCases(ALL_SHAPES), checkOneCall), { numRuns: RUNS });
  expect(executed).toBeGreaterThanOrEqual(RUNS);
  // Both sides of the invariant must be exercised, or the property proves little.
  expect(outcomes.applied).toBeGreaterThan(RUNS / 10);
  expect(outcomes.refused).toBeGreaterThan(RUNS / 10);
});

test(`sockets mid-connect: applied exactly on 'connect', or refused and untouched (${CONNECT_RUNS} runs)`, async () => {
  const { port } = await listen();
  const defaults = getKeepalive(await freshClient(port));
  const connectFamilies = fc.constantFrom('net.connect', 'new Socket then connect', 'localhost, autoSelectFamily');

  await fc.assert(
    fc.asyncProperty(connectFamilies, optionCases(ALL_SHAPES), async (family, optionCase) => {
      executed++;
      const socket =
        family === 'new Socket then connect'
          ? new net.Socket()
          : family === 'net.connect'
            ? net.connect(port, '127.0.0.1')
            : net.connect({ port, host: 'localhost', autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 10 });
      try {
        const options = buildOptions(optionCase);
        const change = mustRefuse(optionCase.shape) ? undefined : expectedChange(options);
        const listenersBefore = socket.listenerCount('connect');
        let refused = false;
        try {
          configureKeepalive(socket, options as never);
        } catch (error) {
          assertCoded(error, `${family} with ${optionCase.shape} ${show(optionCase.entries)}`);
          refused = true;
        }
        expect(refused).toBe(change === undefined);
        if (family === 'new Socket then connect') socket.connect(port, '127.0.0.1');
        const connected = once(socket, 'connect');
        const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no connect within 5 s')), 5000).unref());
        await Promise.race([connected, timeout]);
        expect(getKeepalive(socket)).toEqual(change === undefined ? defaults : merged(defaults, change));
        // One listener of ours if accepted (it stays, for a later connect of the same object), none if refused.
        expect(socket.listenerCount('connect')).toBe(listenersBefore + (change === undefined ? 0 : 1));
        expect(socket.listenerCount('close')).toBe(0);
      } finally {
        socket.destroy();
      }
    }),
    { numRuns: CONNECT_RUNS },
  );
});

const STICKY_RUNS = Math.max(300, Math.floor(RUNS / 10));
test(`a client library's setKeepAlive with any arguments leaves the policy in force (${STICKY_RUNS} runs)`, async () => {
  const client = await freshClient((await listen()).port);
  const policy = { idle: 30_000, interval: 5_000, count: 3, userTimeout: 45_000 };
  configureKeepalive(client, policy);
  const argument = fc.oneof(fc.boolean(), fc.integer({ min: -5, max: 100_000 }), fc.double(), fc.anything(), fc.constant(undefined));
  // What Node's own setKeepAlive throws for the same arguments, on a socket nobody configured: the
  // wrapper must pass that through unchanged (e.g. setKeepAlive(0, { toString: false }) is Node's
  // uncoded "Cannot convert object to primitive value"), never add or swallow an error.
  const control = await freshClient((await listen()).port);
  const nodeOutcome = (args: unknown[]): string => {
    try {
      (control.setKeepAlive as (...a: unknown[]) => unknown)(...args);
      return 'returned';
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  };
  fc.assert(
    fc.property(fc.array(argument, { maxLength: 4 }), (args) => {
      executed++;
      let outcome = 'returned';
      try {
        (client.setKeepAlive as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        outcome = `${(error as Error).name}: ${(error as Error).message}`;
      }
      const expected = nodeOutcome(args);
      if (outcome !== expected) throw new Error(`setKeepAlive(${show(args)}): ${outcome}, but Node's own gives ${expected}`);
      const state = getKeepalive(client);
      if (!sameState(state, { enable: true, ...policy }))
        throw new Error(`after setKeepAlive(${show(args)}) the kernel holds ${show(state)}`);
    }),
    { numRuns: STICKY_RUNS },
  );
});

test('getKeepalive on every socket-like input: the kernel state of a TCP socket, otherwise a coded error', () => {
  for (const target of zoo.targets) {
    const victimBefore = getKeepalive(zoo.victim);
    let state: KeepaliveState | undefined;
    let error: unknown;
    try {
      state = getKeepalive(target.value as net.Socket);
    } catch (thrown) {
      error = thrown;
    }
    assertUnchanged(victimBefore, getKeepalive(zoo.victim), `getKeepalive(${target.name}): the victim socket`);
    if (target.kind === 'tcp') {
      expect({ target: target.name, state }).toEqual({ target: target.name, state: getKeepalive(target.tcp!) });
    } else if (state !== undefined) {
      // Only a socket that is the TCP socket (tcp-either) may be read; anything else must be refused.
      expect({ target: target.name, kind: target.kind }).toEqual({ target: target.name, kind: 'tcp-either' });
      expect(state).toEqual(getKeepalive(target.tcp!));
    } else if ((error as { code?: unknown }).code !== 'ENOTCONN' || target.kind !== 'pending') {
      assertCoded(error, `getKeepalive(${target.name})`);
    }
  }
});

// Needs a fresh process: what the library learns from the first handle it ever sees (found by this suite, fixed).
const reader = kernelReader();
const distBuilt = fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'index.js'));
const cannotRun =
  'unavailable' in reader
    ? `kernel-reader unavailable: ${reader.unavailable}`
    : distBuilt
      ? undefined
      : 'dist/ is not built (npm run build)';
if (cannotRun !== undefined) {
  console.warn(`fuzz: the forged-first-handle check is SKIPPED: ${cannotRun}`);
  if (process.env.CI)
    test('CI must run the forged-first-handle check', () => {
      throw new Error(cannotRun);
    });
}
(cannotRun === undefined ? test : test.skip)(
  'a forged handle as the first ever seen (fresh process): refused, the victim untouched (read from outside), real sockets still work',
  () => {
    const binary = (reader as { binary: string }).binary;
    const report = JSON.parse(
      execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'forged-first-handle.js'), binary], {
        encoding: 'utf8',
        timeout: 10_000,
      }),
    ) as { forged: string; before: unknown; after: unknown; realAfterwards: string; readBack: number };
    expect(report.forged).toBe('ERR_INVALID_ARG_TYPE');
    expect(report.after).toEqual(report.before);
    expect(report).toMatchObject({ realAfterwards: 'accepted', readBack: 9000 });
  },
);
