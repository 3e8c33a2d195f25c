/**
 * The register entry's environment grammar: what operators write, what it
 * means, and one clear error naming the bad part for everything else.
 */
import { checkedOptions } from '../../src/integrations/connected';
import type { ConnectionTarget } from '../../src/integrations/process-wide';
import { planKeepalive } from '../../src/planner';
import {
  DEFAULT_OPTIONS,
  parseDuration,
  parseEnvironment,
  parseKeepalive,
  parseMatch,
  quoted,
  RegisterConfigError,
} from '../../src/register/env';

const resolve = { plan: (request: Parameters<typeof planKeepalive>[0]) => planKeepalive(request).options, check: checkedOptions };
const parse = (env: NodeJS.ProcessEnv) => parseEnvironment(env, resolve);

/** The one line the register entry prints for a bad environment. */
function errorOf(env: NodeJS.ProcessEnv): string {
  try {
    parse(env);
  } catch (error) {
    expect(error).toBeInstanceOf(RegisterConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('durations', () => {
  test.each([
    ['30000', 30_000],
    ['30000ms', 30_000],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['0', 0],
    ['250ms', 250],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration('TCP_KEEPALIVE', `idle=${text}`, text)).toBe(ms);
  });

  test.each(['30x', '-1s', '1e3', 's', '1.5', '', ' 30s', '1h', '0.0005s'])('%j is refused', (text) => {
    expect(() => parseDuration('TCP_KEEPALIVE', `idle=${text}`, text)).toThrow(RegisterConfigError);
  });
});

describe('TCP_KEEPALIVE', () => {
  test('explicit options, with units and spaces', () => {
    expect(parse({ TCP_KEEPALIVE: 'idle=30s, interval=10s ,count=3,userTimeout=60s' }).options).toEqual({
      enable: true,
      idle: 30_000,
      interval: 10_000,
      count: 3,
      userTimeout: 60_000,
    });
    expect(parse({ TCP_KEEPALIVE: 'idle=45000' }).options).toEqual({ enable: true, idle: 45_000 });
    expect(parse({ TCP_KEEPALIVE: 'enable=false' }).options).toEqual({ enable: false });
  });

  test("unset or empty: Go's dialer default (15 s / 15 s / 9), said so in the source", () => {
    for (const value of [undefined, '', '  ']) {
      const config = parse({ TCP_KEEPALIVE: value });
      expect(config.options).toEqual({ enable: true, ...DEFAULT_OPTIONS });
      expect(config.source).toMatch(/default, because TCP_KEEPALIVE is unset/);
    }
  });

  test("a plan is the planner's options for the same request", () => {
    const config = parse({ TCP_KEEPALIVE: 'path=aws-nlb,detectWithin=60s' });
    expect(config.options).toEqual(planKeepalive({ path: 'aws-nlb', detectWithin: 60_000 }).options);
    expect(config.options).toEqual({ enable: true, idle: 30_000, interval: 10_000, count: 3, userTimeout: 60_000 });
    expect(config.source).toBe('plan path=aws-nlb,detectWithin=60s');
  });

  test('plans with several hops, a timeout in place of a preset, count and margin (fraction or %)', () => {
    expect(parseKeepalive('path=aws-nat-gateway+gcp-conntrack,detectWithin=2m,count=4,margin=25%').plan).toEqual({
      path: ['aws-nat-gateway', 'gcp-conntrack'],
      detectWithin: 120_000,
      count: 4,
      margin: 0.25,
    });
    expect(parseKeepalive('path=300s,detectWithin=90000,margin=0.1').plan).toEqual({ path: [300_000], detectWithin: 90_000, margin: 0.1 });
    expect(parse({ TCP_KEEPALIVE: 'path=300s,detectWithin=90s' }).options).toEqual(
      planKeepalive({ path: 300_000, detectWithin: 90_000 }).options,
    );
  });

  test.each([
    ['idle=30x', /"idle=30x": "30x" is not a duration/],
    ['idle30s', /"idle30s" is not key=value/],
    ['idle=', /"idle=" is not key=value/],
    ['idle=30s,,count=3', /empty item/],
    ['idle=30s,idle=40s', /"idle" is given twice/],
    ['idel=30s', /unknown key "idel"/],
    ['count=three', /"count=three": "three" is not a whole number/],
    ['enable=maybe', /"enable=maybe".*not a switch/],
    ['idle=500ms', /TCP_KEEPALIVE: "idle=500ms": .*options\.idle.*out of range/],
    ['count=200', /options\.count.*out of range/],
    ['path=aws-nlb', /a plan needs detectWithin=/],
    ['detectWithin=60s', /a plan needs path=/],
    ['path=aws-nlb,detectWithin=60s,idle=30s', /"idle=30s": "idle" cannot be combined with a plan/],
    ['path=aws-nbl,detectWithin=60s', /aws-nbl.*not a known preset/],
    ['path=aws-nlb+,detectWithin=60s', /empty hop/],
    ['path=aws-nlb,detectWithin=1s', /impossible/],
    ['path=aws-nlb,detectWithin=60s,margin=lots', /"margin=lots": "lots" is not a fraction/],
    ['idle=30', /options\.idle.*out of range.*Received 30 \(a number without a unit is milliseconds: did you mean idle=30s\?\)$/],
    ['idle=30,interval=5,count=3', /did you mean idle=30s,interval=5s\?\)$/],
    ['path=aws-nlb,detectWithin=60', /did you mean detectWithin=60s\?\)$/],
  ])('%j is refused with one line naming the bad part', (value, expected) => {
    const message = errorOf({ TCP_KEEPALIVE: value });
    expect(message).toMatch(/^TCP_KEEPALIVE: /);
    expect(message).toMatch(expected);
  });
});

describe('values too long to echo', () => {
  const long = `idle=30s,${'x'.repeat(120 * 1024)}`;

  test.each([
    ['TCP_KEEPALIVE', long],
    ['TCP_KEEPALIVE', `idle=${'9'.repeat(120 * 1024)}`],
    ['TCP_KEEPALIVE', `path=aws-nlb,detectWithin=60s,margin=${'1'.repeat(120 * 1024)}x`],
    ['TCP_KEEPALIVE_MATCH', `6379,${'a'.repeat(120 * 1024)} b`],
    ['TCP_KEEPALIVE_SERVER', 'y'.repeat(120 * 1024)],
  ])('%s of %#: the error quotes its start and says how long it was', (variable, value) => {
    const message = errorOf({ [variable]: value });
    expect(message.length).toBeLessThan(400);
    expect(message).toMatch(/…" \(cut; \d+ characters\)/);
  });

  test('a short value is quoted whole', () => {
    expect(quoted('idle=30s')).toBe('"idle=30s"');
    expect(quoted('a'.repeat(100))).toBe(`"${'a'.repeat(80)}…" (cut; 100 characters)`);
  });
});

describe('TCP_KEEPALIVE plan: stallTolerance', () => {
  test('a duration, or never (no TCP_USER_TIMEOUT)', () => {
    expect(parseKeepalive('path=aws-nlb,detectWithin=60s,stallTolerance=90s').plan).toEqual({
      path: ['aws-nlb'],
      detectWithin: 60_000,
      stallTolerance: 90_000,
    });
    expect(parseKeepalive('path=aws-nlb,detectWithin=60s,stallTolerance=never').plan).toMatchObject({ stallTolerance: Infinity });
    expect(parseKeepalive('stallTolerance=never,path=aws-nlb,detectWithin=60s').plan).toMatchObject({ stallTolerance: Infinity });
    expect(() => parseKeepalive('path=aws-nlb,detectWithin=60s,stallTolerance=forever')).toThrow(/stallTolerance=forever/);
  });
});

describe('TCP_KEEPALIVE_MATCH', () => {
  const target = (host: string, address: string, port: number): ConnectionTarget => ({
    host,
    address,
    port,
    family: 'IPv4',
    channel: 'test',
  });
  const redis = target('cache.internal', '10.0.0.7', 6379);
  const postgres = target('db.internal', '10.0.0.5', 5432);
  const local = target('localhost', '127.0.0.1', 5432);
  const v6 = { ...target('::1', '::1', 5432), family: 'IPv6' };

  test('unset: everything', () => {
    expect(parseMatch(undefined)).toBeUndefined();
    expect(parseMatch(' ')).toBeUndefined();
  });

  test('ports', () => {
    const match = parseMatch('6379,5432')!;
    expect([redis, postgres, local].map(match)).toEqual([true, true, true]);
    expect(match(target('x', '10.0.0.9', 80))).toBe(false);
  });

  test('host:port, a host alone (name or address), case-insensitive, *.suffix', () => {
    expect([redis, postgres, local].map(parseMatch('DB.internal:5432')!)).toEqual([false, true, false]);
    expect([redis, postgres, local].map(parseMatch('10.0.0.7')!)).toEqual([true, false, false]);
    expect([redis, postgres, local].map(parseMatch('*.internal')!)).toEqual([true, true, false]);
  });

  test('! excludes, with or without positive rules', () => {
    expect([redis, postgres, local].map(parseMatch('!127.0.0.1')!)).toEqual([true, true, false]);
    expect([redis, postgres, local].map(parseMatch('5432,!localhost')!)).toEqual([false, true, false]);
    expect([redis, postgres, local].map(parseMatch('!*.internal:5432')!)).toEqual([true, false, true]);
  });

  test('IPv6: bare, or bracketed with a port', () => {
    expect(parseMatch('::1')!(v6)).toBe(true);
    expect(parseMatch('[::1]:5432')!(v6)).toBe(true);
    expect(parseMatch('[::1]:6379')!(v6)).toBe(false);
    expect(parseMatch('::ffff:10.0.0.5,255.255.255.255,[::]:80')).toBeDefined();
  });

  test.each([
    ['6379,,5432', /empty rule/],
    ['!', /empty rule/],
    ['70000', /"70000": "70000" is not a port/],
    ['db.internal:', /"db.internal:": "" is not a port/],
    ['db.internal:pg', /"pg" is not a port/],
    ['db internal', /"db internal" is not a host name/],
    ['[::1', /is not a host name|IPv6/],
    ['[zz::1]:5432', /"zz::1" is not an IPv6 address/],
    ['999.1.1.1', /"999.1.1.1": "999.1.1.1" is not an IPv4 address/],
    ['10.0.0.256:5432', /"10.0.0.256:5432": "10.0.0.256" is not an IPv4 address/],
    ['!1.2.3', /"!1.2.3": "1.2.3" is not an IPv4 address/],
    ['::::', /"::::": "::::" is not an IPv6 address/],
    ['[1::2::3]:80', /"1::2::3" is not an IPv6 address/],
  ])('%j is refused', (value, expected) => {
    const message = errorOf({ TCP_KEEPALIVE_MATCH: value });
    expect(message).toMatch(/^TCP_KEEPALIVE_MATCH: /);
    expect(message).toMatch(expected);
  });
});

describe('switches', () => {
  test('TCP_KEEPALIVE_SERVER and TCP_KEEPALIVE_DEBUG: 1/0, true/false, on/off, yes/no; unset = off', () => {
    expect(parse({})).toMatchObject({ server: false, debug: false });
    expect(parse({ TCP_KEEPALIVE_SERVER: '1', TCP_KEEPALIVE_DEBUG: 'true' })).toMatchObject({ server: true, debug: true });
    expect(parse({ TCP_KEEPALIVE_SERVER: 'off', TCP_KEEPALIVE_DEBUG: '0' })).toMatchObject({ server: false, debug: false });
    expect(errorOf({ TCP_KEEPALIVE_SERVER: 'sure' })).toBe('TCP_KEEPALIVE_SERVER: "sure" is not a switch (use 1 or 0)');
    expect(errorOf({ TCP_KEEPALIVE_DEBUG: '2' })).toMatch(/^TCP_KEEPALIVE_DEBUG: "2"/);
  });
});
