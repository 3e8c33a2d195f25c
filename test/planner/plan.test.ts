/**
 * planKeepalive: the numbers it returns satisfy both constraints, are what the
 * kernel then holds, and impossible requests fail with a coded error.
 * (Plans are proven against a real kernel in the fault suite, test/faults/.)
 */
import fc from 'fast-check';
import { configureKeepalive, getKeepalive } from '../../src';
import { kernelTimes, retransmissionTimeout } from '../../src/core/kernel-timers';
import { IDLE_TIMEOUT_PRESETS, planKeepalive, type PlanRequest } from '../../src/planner';
import { closeAll, connection } from '../helpers/sockets';

afterEach(closeAll);

describe('presets', () => {
  test.each(Object.entries(IDLE_TIMEOUT_PRESETS))('%s is documented with a source and a note', (_name, preset) => {
    expect(preset.source).toMatch(/^https:\/\//);
    expect(preset.note.length).toBeGreaterThan(20);
  });

  test('the published defaults: NLB 350 s, Azure 4 min, GCP conntrack 10 min, NAT gateway 350 s, nginx stream 10 min', () => {
    expect(IDLE_TIMEOUT_PRESETS['aws-nlb'].idleTimeout).toBe(350_000);
    expect(IDLE_TIMEOUT_PRESETS['azure-lb'].idleTimeout).toBe(240_000);
    expect(IDLE_TIMEOUT_PRESETS['gcp-conntrack'].idleTimeout).toBe(600_000);
    expect(IDLE_TIMEOUT_PRESETS['aws-nat-gateway'].idleTimeout).toBe(350_000);
    expect(IDLE_TIMEOUT_PRESETS['nginx-stream'].idleTimeout).toBe(600_000);
  });

  test('proxies that terminate TCP are marked: probes do not reset their idle timers', () => {
    for (const name of ['aws-alb', 'nginx-stream', 'haproxy'] as const) expect(IDLE_TIMEOUT_PRESETS[name].probesRefresh).toBe(false);
    for (const name of ['aws-nlb', 'aws-nat-gateway', 'azure-lb', 'gcp-conntrack', 'gcp-cloud-nat'] as const) {
      expect(IDLE_TIMEOUT_PRESETS[name].probesRefresh).toBe(true);
    }
  });
});

describe('plans', () => {
  test('AWS NLB, dead peer within 60 s: idle 30 s, 10 s × 3, userTimeout 60 s', () => {
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000 });
    expect(plan.options).toEqual({ enable: true, idle: 30_000, interval: 10_000, count: 3, userTimeout: 60_000 });
    expect(plan.times).toEqual({ idleDeadPeer: 60_000, deadWithDataInFlight: 60_000, survivableStall: 60_000 });
    expect(plan.worstCaseDetection).toBe(60_000);
    expect(plan.limitingHop).toMatchObject({ label: 'AWS Network Load Balancer', idleTimeout: 350_000 });
    expect(plan.heartbeatWithin).toBeNull();
  });

  test("a generous budget goes to the stall a live peer survives; idle + interval stays within the balancer's usable time", () => {
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 3_600_000 });
    expect(plan.options.idle + plan.options.interval).toBeLessThanOrEqual(350_000 * 0.8);
    expect(plan.worstCaseDetection).toBe(3_600_000);
    expect(plan.times.survivableStall).toBe(3_600_000);
  });

  test('the smallest idle timeout on the path wins', () => {
    const plan = planKeepalive({ path: ['gcp-cloud-nat', 'azure-lb', 600_000], detectWithin: 600_000 });
    expect(plan.limitingHop?.label).toBe('Azure Load Balancer');
    expect(plan.options.idle).toBeLessThanOrEqual(240_000 * 0.8);
  });

  test('an L7 hop (ALB) does not bound idle but asks for an application heartbeat', () => {
    const plan = planKeepalive({ path: ['aws-alb', 'aws-nat-gateway'], detectWithin: 120_000 });
    expect(plan.limitingHop?.label).toBe('AWS NAT gateway');
    expect(plan.heartbeatWithin).toBe(60_000);
    expect(plan.notes.join('\n')).toMatch(/AWS Application Load Balancer terminates TCP .* application heartbeat/);
  });

  test('HAProxy needs its configured timeout', () => {
    expect(() => planKeepalive({ path: 'haproxy', detectWithin: 30_000 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    const plan = planKeepalive({
      path: [
        { preset: 'haproxy', idleTimeout: 50_000 },
        { preset: 'aws-nlb', idleTimeout: 120_000 },
      ],
      detectWithin: 30_000,
    });
    expect(plan.heartbeatWithin).toBe(50_000);
    expect(plan.limitingHop?.idleTimeout).toBe(120_000);
  });

  test('a small budget probes every second and lowers count when count was not pinned', () => {
    expect(planKeepalive({ path: 3000, detectWithin: 4000 }).options).toEqual({
      enable: true,
      idle: 1000,
      interval: 1000,
      count: 3,
      userTimeout: 4000,
    });
    expect(planKeepalive({ path: 60_000, detectWithin: 3000 }).options).toMatchObject({ idle: 1000, interval: 1000, count: 2 });
  });

  test('a pinned count is kept', () => {
    expect(planKeepalive({ path: 'azure-lb', detectWithin: 120_000, count: 5 }).options.count).toBe(5);
  });

  test('too tight to retry a lost probe before the balancer forgets: planned, with a note saying so', () => {
    const plan = planKeepalive({ path: 2000, detectWithin: 10_000 });
    expect(plan.options.idle).toBe(1000);
    expect(plan.notes.join('\n')).toMatch(/one lost probe/);
  });
});

describe('the stall a live peer that stops reading survives (stallTolerance)', () => {
  test('by default, detectWithin: a budget between probes moves idle so that a probe falls on it', () => {
    // 61 s: the old plan (30 s + 10 s × 3, userTimeout 60 s) would end a 60.5 s stall; with userTimeout
    // 61 s Linux ends an idle dead connection at the first probe at or after 61 s, so a probe is put there.
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 61_000 });
    expect(plan.options).toEqual({ enable: true, idle: 31_000, interval: 10_000, count: 3, userTimeout: 61_000 });
    expect(plan.times).toEqual({ idleDeadPeer: 61_000, deadWithDataInFlight: 61_000, survivableStall: 61_000 });
  });

  test('a hop that keeps idle short: the probes continue until the stall, and count says how many', () => {
    const plan = planKeepalive({ path: 20_000, detectWithin: 600_000 });
    expect(plan.options).toEqual({ enable: true, idle: 8000, interval: 8000, count: 74, userTimeout: 600_000 });
    expect(plan.worstCaseDetection).toBe(600_000);
  });

  test('a smaller tolerance keeps the detection plan: userTimeout = idle + interval × count', () => {
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: 5000 });
    expect(plan.options.userTimeout).toBe(60_000);
    expect(plan.times.survivableStall).toBe(60_000);
  });

  test('between the probes and the budget: userTimeout is raised to it, with a probe there', () => {
    const plan = planKeepalive({ path: 20_000, detectWithin: 600_000, stallTolerance: 96_000 });
    expect(plan.options).toEqual({ enable: true, idle: 8000, interval: 8000, count: 11, userTimeout: 96_000 });
    expect(plan.times.idleDeadPeer).toBe(96_000);
    expect(plan.times.idleDeadPeer).toBe(plan.options.idle + plan.options.interval * plan.options.count);
  });

  test('Infinity: never end a live slow reader, so no userTimeout; the notes say what that costs', () => {
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: Infinity });
    expect(plan.options).toEqual({ enable: true, idle: 30_000, interval: 10_000, count: 3, userTimeout: 0 });
    expect(plan.times).toEqual({ idleDeadPeer: 60_000, deadWithDataInFlight: retransmissionTimeout(15), survivableStall: Infinity });
    expect(plan.worstCaseDetection).toBe(924_600);
    expect(plan.notes.join('\n')).toMatch(/never cut off.*userTimeout is left unset.*924\.6 s \(tcp_retries2 15\)/);
  });

  test('longer than detectWithin: userTimeout at the tolerance when that is the smaller worst case, with the trade-off noted', () => {
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: 90_000 });
    expect(plan.options).toEqual({ enable: true, idle: 30_000, interval: 10_000, count: 6, userTimeout: 90_000 });
    expect(plan.worstCaseDetection).toBe(90_000);
    expect(plan.notes.join('\n')).toMatch(/stallTolerance 90 s is longer than detectWithin 60 s, and Linux cannot honour both/);
  });

  test('longer than the retransmission limit: no userTimeout (the smaller worst case)', () => {
    const plan = planKeepalive({ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: 1_000_000 });
    expect(plan.options.userTimeout).toBe(0);
    expect(plan.times.survivableStall).toBe(Infinity);
  });
});

describe('conflicts and bad input', () => {
  test.each<[string, PlanRequest]>([
    ['a balancer idle timeout too short for a 1 s probe', { path: 1000, detectWithin: 60_000 }],
    ['a detection budget below 2 s', { path: 'aws-nlb', detectWithin: 1500 }],
    ['a pinned count that cannot fit the budget', { path: 'aws-nlb', detectWithin: 5000, count: 10 }],
  ])('%s → ERR_KEEPALIVE_PLAN_CONFLICT', (_why, request) => {
    expect(() => planKeepalive(request)).toThrow(expect.objectContaining({ code: 'ERR_KEEPALIVE_PLAN_CONFLICT', name: 'RangeError' }));
  });

  test.each<[unknown, string]>([
    [undefined, 'ERR_INVALID_ARG_TYPE'],
    [{ path: [], detectWithin: 1000 }, 'ERR_INVALID_ARG_VALUE'],
    [{ path: 'f5-bigip', detectWithin: 10_000 }, 'ERR_INVALID_ARG_VALUE'],
    [{ path: '350000', detectWithin: 10_000 }, 'ERR_INVALID_ARG_VALUE'],
    [{ path: -5, detectWithin: 10_000 }, 'ERR_OUT_OF_RANGE'],
    [{ path: Number.NaN, detectWithin: 10_000 }, 'ERR_OUT_OF_RANGE'],
    [{ path: 'aws-nlb', detectWithin: '60s' }, 'ERR_INVALID_ARG_TYPE'],
    [{ path: 'aws-nlb', detectWithin: Infinity }, 'ERR_OUT_OF_RANGE'],
    [{ path: 'aws-nlb', detectWithin: 60_000, margin: 1 }, 'ERR_OUT_OF_RANGE'],
    [{ path: 'aws-nlb', detectWithin: 60_000, count: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ path: 'aws-nlb', detectWithin: 60_000, count: 2.5 }, 'ERR_OUT_OF_RANGE'],
    [{ path: [{ name: 'f5', idleTimeout: 300_000, probesRefresh: 'yes' }], detectWithin: 60_000 }, 'ERR_INVALID_ARG_TYPE'],
    [{ path: [{ idleTimeout: 300_000 }], detectWithin: 60_000 }, 'ERR_INVALID_ARG_TYPE'],
    [{ path: [null], detectWithin: 60_000 }, 'ERR_INVALID_ARG_TYPE'],
    [{ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: '90s' }, 'ERR_INVALID_ARG_TYPE'],
    [{ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: Number.NaN }, 'ERR_OUT_OF_RANGE'],
    [{ path: 'aws-nlb', detectWithin: 60_000, stallTolerance: 2 ** 31 }, 'ERR_OUT_OF_RANGE'],
  ])('%o → %s', (request, code) => {
    expect(() => planKeepalive(request as PlanRequest)).toThrow(expect.objectContaining({ code }));
  });
});

describe('every plan is valid for configureKeepalive and keeps its promises', () => {
  const request = fc.record({
    path: fc.array(
      fc.oneof(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.constantFrom('aws-nlb', 'aws-nat-gateway', 'aws-alb', 'azure-lb', 'gcp-conntrack', 'gcp-cloud-nat', 'nginx-stream'),
      ),
      { minLength: 1, maxLength: 4 },
    ),
    detectWithin: fc.oneof(fc.integer({ min: 1, max: 100_000_000 }), fc.integer({ min: 100_000_000, max: 100_000_000_000 })),
    margin: fc.option(fc.double({ min: 0, max: 0.9, noNaN: true }), { nil: undefined }),
    count: fc.option(fc.integer({ min: 1, max: 127 }), { nil: undefined }),
    stallTolerance: fc.option(
      fc.oneof(fc.integer({ min: 0, max: 100_000_000 }), fc.integer({ min: 0, max: 2_147_483_000 }), fc.constant(Infinity)),
      {
        nil: undefined,
      },
    ),
  });

  test('whole seconds, kernel ranges, the kernel model, detection within budget unless the stall asked more, never a shorter stall', () => {
    fc.assert(
      fc.property(request, (input) => {
        let plan;
        try {
          plan = planKeepalive(input as PlanRequest);
        } catch (error) {
          expect((error as { code?: string }).code).toBe('ERR_KEEPALIVE_PLAN_CONFLICT');
          return;
        }
        const { idle, interval, count, userTimeout } = plan.options;
        for (const ms of [idle, interval]) {
          expect(ms % 1000).toBe(0);
          expect(ms).toBeGreaterThanOrEqual(1000);
          expect(ms).toBeLessThanOrEqual(32_767_000);
        }
        expect(Number.isInteger(count) && count >= 1 && count <= 127).toBe(true);
        expect(Number.isInteger(userTimeout) && userTimeout >= 0 && userTimeout <= 2 ** 31 - 1).toBe(true);
        expect(plan.times).toEqual(kernelTimes(plan.options));
        expect(plan.worstCaseDetection).toBe(Math.max(plan.times.idleDeadPeer, plan.times.deadWithDataInFlight));
        const stall = input.stallTolerance ?? Math.min(Math.floor(input.detectWithin / 1000), 2_147_483) * 1000;
        // A live peer that stops reading is never cut off before the stall it was promised.
        expect(plan.times.survivableStall).toBeGreaterThanOrEqual(stall);
        if (Math.ceil(stall / 1000) <= Math.floor(input.detectWithin / 1000)) {
          expect(plan.worstCaseDetection).toBeLessThanOrEqual(input.detectWithin);
          expect(userTimeout).toBeGreaterThan(0);
          if (input.count === undefined && count < 127) expect(userTimeout).toBe(idle + interval * count);
        } else {
          // The trade-off: the smaller worst case of the two ways to honour the stall.
          expect(plan.worstCaseDetection).toBeLessThanOrEqual(Math.max(retransmissionTimeout(15), input.detectWithin));
        }
        if (input.count !== undefined) expect(count).toBe(input.count);
        if (plan.limitingHop !== null) expect(idle).toBeLessThanOrEqual(plan.limitingHop.idleTimeout * (1 - (input.margin ?? 0.2)));
      }),
      { numRuns: 2000 },
    );
  });

  test.each<PlanRequest>([
    { path: 'aws-nlb', detectWithin: 60_000 },
    { path: ['azure-lb', 'aws-alb'], detectWithin: 600_000 },
    { path: 3000, detectWithin: 4000 },
  ])('the kernel holds the plan for %o', async (input) => {
    const plan = planKeepalive(input);
    const { client } = await connection();
    configureKeepalive(client, plan.options);
    const { enable, ...numbers } = plan.options;
    expect(getKeepalive(client)).toEqual({ enable, ...numbers });
  });
});

describe('docs/planner.md', () => {
  const seconds = (text: string): number => {
    if (text === 'not set') return 0;
    if (text === 'never') return Infinity;
    const match = /^([\d.]+) (s|min|h)/.exec(text);
    if (!match) throw new Error(`not a duration in docs/planner.md: ${text}`);
    return Number(match[1]) * { s: 1000, min: 60_000, h: 3_600_000 }[match[2] as 's' | 'min' | 'h'];
  };
  const paths: Record<string, PlanRequest['path']> = {
    "`'aws-nlb'`": 'aws-nlb',
    "`['azure-lb', 'aws-alb']`": ['azure-lb', 'aws-alb'],
    "`3000` (the demo's balancer)": 3000,
    '`10_000` (a fault-lab plan)': 10_000,
  };

  test('the example plans are what planKeepalive() returns', () => {
    const doc = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', '..', 'docs', 'planner.md'), 'utf8') as string;
    const rows = doc
      .slice(doc.indexOf('Example plans'))
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) =>
        line
          .slice(1, -1)
          .split('|')
          .map((cell) => cell.trim()),
      );
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const [path, detectWithin, stall, idle, probes, userTimeout, idleDead, inFlight, survivable] of rows) {
      const plan = planKeepalive({
        path: paths[path!]!,
        detectWithin: seconds(detectWithin!),
        ...(stall === '(default)' ? {} : { stallTolerance: stall === '`Infinity`' ? Infinity : seconds(stall!) }),
      });
      const [interval, count] = probes!.split(' × ');
      expect([path, plan.options.idle, plan.options.interval, plan.options.count, plan.options.userTimeout]).toEqual([
        path,
        seconds(idle!),
        seconds(interval!),
        Number(count),
        seconds(userTimeout!),
      ]);
      expect([path, plan.times]).toEqual([
        path,
        { idleDeadPeer: seconds(idleDead!), deadWithDataInFlight: seconds(inFlight!), survivableStall: seconds(survivable!) },
      ]);
    }
  });
});
