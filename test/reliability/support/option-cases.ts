/**
 * Generated option objects for configureKeepalive. A case is a description
 * (shape + entries) so fast-check can print and shrink it; the object itself
 * is built fresh for every run, because getters and Proxies keep state.
 */
import fc from 'fast-check';
import { KEEPALIVE_KEYS } from './outcome';

export type Entry = readonly [key: string, value: unknown];

/** Shapes whose result the oracle (expectedChange) predicts by reading the built object. */
const ORACLE_SHAPES = [
  'plain',
  'frozen',
  'sealed',
  'null-prototype',
  'inherited',
  'class-instance',
  'getters',
  'proxy-passthrough',
  'non-enumerable',
  'symbol-keys',
  'bare-value',
] as const;

/** Shapes the library must refuse with a coded error, whatever the entries. */
const HOSTILE_SHAPES = [
  'throwing-getter',
  'proxy-throwing-ownKeys',
  'proxy-throwing-get-on-known-key',
  'proxy-throwing-every-trap',
  'revoked-proxy',
  'value-with-throwing-constructor',
  'unstable-extra-key-getter',
  'value-with-throwing-toPrimitive',
] as const;

export type Shape = (typeof ORACLE_SHAPES)[number] | (typeof HOSTILE_SHAPES)[number];

export interface OptionCase {
  shape: Shape;
  entries: Entry[];
}

const boundaryNumbers = fc.constantFrom(
  0,
  -0,
  NaN,
  Infinity,
  -Infinity,
  1,
  -1,
  999,
  999.999,
  1000,
  1000.5,
  1999,
  32_767_000,
  32_767_000.5,
  32_767_001,
  32_767_999,
  126.5,
  127,
  128,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.EPSILON,
  1e-7,
);

const oddValues = fc.oneof(
  fc.anything(),
  fc.bigInt(),
  fc.string(),
  fc.constantFrom<unknown>(null, undefined, true, false, Symbol('idle'), () => 5000, [5000], new Date(5000)),
  fc.integer({ min: -1000, max: 40_000_000 }).map((n) => Object(n) as unknown), // boxed Number
  fc.integer({ min: 1000, max: 40_000 }).map((n) => ({ valueOf: () => n })),
  fc.integer({ min: 1000, max: 40_000 }).map(String),
);

const anyNumber = fc.oneof(boundaryNumbers, fc.double(), fc.integer({ min: -5, max: 200 }), fc.double({ min: 0, max: 4e7 }));

const validFor = {
  enable: fc.boolean(),
  idle: fc.double({ min: 1000, max: 32_767_000, noNaN: true }),
  interval: fc.integer({ min: 1000, max: 32_767_000 }),
  count: fc.integer({ min: 1, max: 127 }),
  userTimeout: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
};

/** Each key's own edges: the last valid value, the first invalid one, and near misses. */
const edgesFor = {
  enable: fc.constantFrom<unknown>(0, 1, 'true', null),
  idle: fc.constantFrom(999, 999.999, 1000, 1000.5, 32_767_000, 32_767_000.5, 32_767_001, 32_767_999, 0, -0, -1000),
  interval: fc.constantFrom(999, 999.999, 1000, 1999.999, 32_767_000, 32_767_000.5, 32_767_001, 0, -0, -1000),
  count: fc.constantFrom(0, -0, 1, 1.5, 126.5, 127, 128, 255, -1),
  userTimeout: fc.constantFrom(-1, 0, -0, 0.5, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 31 - 0.5),
};

/** Mostly valid values per key, so that successes are exercised as much as refusals. */
const valueFor = Object.fromEntries(
  KEEPALIVE_KEYS.map((key) => [
    key,
    fc.oneof(
      { weight: 4, arbitrary: validFor[key] as fc.Arbitrary<unknown> },
      { weight: 2, arbitrary: edgesFor[key] },
      { weight: 1, arbitrary: anyNumber },
      { weight: 1, arbitrary: oddValues },
    ),
  ]),
) as Record<(typeof KEEPALIVE_KEYS)[number], fc.Arbitrary<unknown>>;

const extraKey = fc.oneof(
  fc.constantFrom('idleMs', 'keepAlive', 'Idle', 'timeout', 'constructor', 'toString', '__proto__', 'hasOwnProperty', ''),
  fc.string({ maxLength: 8 }).filter((key) => !(KEEPALIVE_KEYS as readonly string[]).includes(key)),
);

const entriesArbitrary: fc.Arbitrary<Entry[]> = fc
  .tuple(
    fc.oneof(fc.record(validFor, { requiredKeys: [] }), fc.record(valueFor, { requiredKeys: [] })),
    fc.oneof(
      { weight: 6, arbitrary: fc.constant<Entry[]>([]) },
      { weight: 1, arbitrary: fc.array(fc.tuple(extraKey, fc.oneof(fc.constant(undefined), oddValues)), { maxLength: 2 }) },
    ),
  )
  .map(([known, extra]) => [...Object.entries(known), ...extra]);

export function optionCases(shapes: readonly Shape[]): fc.Arbitrary<OptionCase> {
  return fc.record({ shape: fc.constantFrom(...shapes), entries: entriesArbitrary });
}

export const ALL_SHAPES: readonly Shape[] = [...ORACLE_SHAPES, ...HOSTILE_SHAPES];
export const mustRefuse = (shape: Shape): boolean => (HOSTILE_SHAPES as readonly string[]).includes(shape);

function define(target: object, entries: readonly Entry[], how: { enumerable: boolean; getters?: boolean }): object {
  for (const [key, value] of entries) {
    const descriptor: PropertyDescriptor = how.getters
      ? { get: () => value, enumerable: how.enumerable, configurable: true }
      : { value, enumerable: how.enumerable, writable: true, configurable: true };
    Object.defineProperty(target, key, descriptor);
  }
  return target;
}

const plain = (entries: readonly Entry[]): object => define({}, entries, { enumerable: true });
const fail = (what: string) => (): never => {
  throw new Error(`hostile ${what}`);
};

/** Without at least one known key a Proxy's get trap is never reached, and nothing would be hostile. */
const withKnownKey = (entries: readonly Entry[]): readonly Entry[] =>
  entries.some(([key]) => (KEEPALIVE_KEYS as readonly string[]).includes(key)) ? entries : [...entries, ['idle', 5000]];

class CallerOptions {}

export function buildOptions({ shape, entries }: OptionCase): unknown {
  switch (shape) {
    case 'plain':
      return plain(entries);
    case 'frozen':
      return Object.freeze(plain(entries));
    case 'sealed':
      return Object.seal(plain(entries));
    case 'null-prototype':
      return define(Object.create(null) as object, entries, { enumerable: true });
    case 'inherited':
      return Object.create(plain(entries)) as object;
    case 'class-instance':
      return define(new CallerOptions(), entries, { enumerable: true });
    case 'getters':
      return define({}, entries, { enumerable: true, getters: true });
    case 'proxy-passthrough':
      return new Proxy(plain(entries), {});
    case 'non-enumerable':
      return define({}, entries, { enumerable: false });
    case 'symbol-keys': {
      const target: Record<symbol, unknown> = {};
      for (const [key, value] of entries) target[Symbol.for(key)] = value;
      return target;
    }
    case 'bare-value':
      return entries[0]?.[1];
    case 'throwing-getter':
      return Object.defineProperty(plain(entries), 'idle', { get: fail('getter'), enumerable: true });
    case 'proxy-throwing-ownKeys':
      return new Proxy(plain(entries), { ownKeys: fail('ownKeys trap') });
    case 'proxy-throwing-get-on-known-key':
      return new Proxy(plain(withKnownKey(entries)), {
        get: (target, key, receiver) => {
          if ((KEEPALIVE_KEYS as readonly (string | symbol)[]).includes(key)) throw new Error('hostile get trap');
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    case 'proxy-throwing-every-trap':
      return new Proxy(plain(withKnownKey(entries)), {
        get: fail('get trap'),
        getOwnPropertyDescriptor: fail('gOPD trap'),
        getPrototypeOf: fail('getPrototypeOf trap'),
        has: fail('has trap'),
      });
    case 'revoked-proxy': {
      const { proxy, revoke } = Proxy.revocable(plain(entries), {});
      revoke();
      return proxy;
    }
    case 'value-with-throwing-constructor':
      return plain([...entries, ['count', Object.defineProperty({}, 'constructor', { get: fail('constructor getter') })]]);
    case 'value-with-throwing-toPrimitive':
      return plain([...entries, ['interval', { [Symbol.toPrimitive]: fail('toPrimitive'), valueOf: fail('valueOf') }]]);
    case 'unstable-extra-key-getter': {
      let reads = 0;
      return Object.defineProperty(plain(entries), 'extra', {
        enumerable: true,
        get: () => {
          if (reads++ > 0) throw new Error('hostile getter: a second read');
          return 1;
        },
      });
    }
  }
}
