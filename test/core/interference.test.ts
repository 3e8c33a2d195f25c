/**
 * The binding's promises with code a real service runs beside us: HTTP/2,
 * Proxies, APM shims, patched prototypes, a second copy of this package,
 * reconnecting clients, forged links. Every kernel value is read from OUTSIDE
 * the process (test/helpers/kernel-reader.c: pidfd_getfd + getsockopt), not
 * through our addon.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { configureKeepalive, getKeepalive } from '../../src';
import { installKeepalive, keepaliveOnEvent, keepaliveServer, withKeepalive } from '../../src/integrations';
import { kernelReader, readFromOutside, type RawKernelState } from '../helpers/independent-kernel';
import { closeAll, connection, listen, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';

const reader = kernelReader();
if ('unavailable' in reader && process.env.CI) throw new Error(`CI must read the kernel from outside: ${reader.unavailable}`);
const describeOutside = 'binary' in reader ? describe : describe.skip;
if ('unavailable' in reader) console.warn(`SKIPPED interference tests: ${reader.unavailable}`);

const root = path.resolve(__dirname, '..', '..');
const policyA = { idle: 17_000, interval: 3000, count: 4, userTimeout: 21_000 };
const policyB = { idle: 23_000, interval: 6000, count: 7, userTimeout: 33_000 };

function fdOf(socket: net.Socket): number {
  return (socket as unknown as { _handle: { fd: number } })._handle.fd;
}

/** What the kernel holds, from outside, in the library's units. */
function outside(socket: net.Socket): { enable: boolean; idle: number; interval: number; count: number; userTimeout: number } {
  const raw: RawKernelState = readFromOutside((reader as { binary: string }).binary, fdOf(socket));
  return {
    enable: raw.enabled === 1,
    idle: raw.idle * 1000,
    interval: raw.interval * 1000,
    count: raw.count,
    userTimeout: raw.userTimeout,
  };
}

const holds = (policy: typeof policyA) => ({ enable: true, ...policy });

/**
 * The warnings the library emitted while `body` ran. (A spy rather than a
 * 'warning' listener: jest's sandbox does not see the real process's events.)
 */
async function warningsDuring(body: () => Promise<void>): Promise<Array<{ message: string; code?: string }>> {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
    return spy.mock.calls.map(([warning, options]) => ({
      message: String(warning),
      code: (options as { code?: string } | undefined)?.code,
    }));
  } finally {
    spy.mockRestore();
  }
}

function code(action: () => unknown): string {
  try {
    action();
    return 'accepted';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}

async function h2Server(): Promise<{
  server: http2.Http2Server;
  url: string;
  sessions: http2.ServerHttp2Session[];
  sockets: net.Socket[];
}> {
  const server = http2.createServer();
  const sessions: http2.ServerHttp2Session[] = [];
  const sockets: net.Socket[] = [];
  server.on('connection', (socket: net.Socket) => sockets.push(track(socket)));
  server.on('session', (session) => sessions.push(session));
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const { port } = await listen('127.0.0.1', server);
  return { server, url: `http://127.0.0.1:${port}`, sessions, sockets };
}

async function get(session: http2.ClientHttp2Session): Promise<number> {
  const request = session.request({ ':path': '/' });
  const [headers] = (await once(request, 'response')) as [http2.IncomingHttpHeaders];
  request.resume();
  await once(request, 'end');
  return Number(headers[':status']);
}

afterEach(closeAll);

describeOutside('1. nothing is thrown into a client event handler', () => {
  test("keepaliveOnEvent(http2Session, 'connect', (s) => s.socket): a warning; the process and the session live", async () => {
    const { url } = await h2Server();
    const session = http2.connect(url);
    let realSocket: net.Socket | undefined;
    session.on('connect', (_session, socket) => {
      realSocket = socket as net.Socket;
    });
    keepaliveOnEvent(session, 'connect', (s) => (s as http2.ClientHttp2Session).socket, policyA);
    const warnings = await warningsDuring(async () => {
      await once(session, 'connect');
    });
    expect(warnings.map((w) => w.code)).toEqual(['TCP_KEEPALIVE_NOT_APPLIED']);
    expect(warnings[0]!.message).toMatch(/Proxy/);
    expect(await get(session)).toBe(200);
    expect(outside(realSocket!).enable).toBe(false); // refused, so untouched
    session.close();
  });

  test('withKeepalive whose factory returns a transparent Proxy of a connecting socket: a warning, a healthy connection', async () => {
    const { server, port } = await listen();
    server.on('connection', (socket: net.Socket) => socket.pipe(socket)); // echo
    const factory = withKeepalive(() => new Proxy(track(net.connect(port, '127.0.0.1')), {}), policyA);
    let proxied: net.Socket | undefined;
    const warnings = await warningsDuring(async () => {
      proxied = factory();
      await once(proxied, 'connect');
    });
    expect(warnings.map((w) => w.code)).toEqual(['TCP_KEEPALIVE_NOT_APPLIED']);
    proxied!.write('ping');
    const [echo] = (await once(proxied!, 'data')) as [Buffer];
    expect(echo.toString()).toBe('ping');
    expect(proxied!.destroyed).toBe(false);
  });
});

describeOutside('2. HTTP/2', () => {
  test('configureKeepalive(session) right after http2.connect(): applied when it connects, client side, read from outside', async () => {
    const { url } = await h2Server();
    const session = http2.connect(url);
    const [, socket] = await Promise.all([
      Promise.resolve(configureKeepalive(session, policyA)),
      once(session, 'connect').then(([, s]) => s as net.Socket),
    ]);
    expect(outside(socket)).toEqual(holds(policyA));
    expect(getKeepalive(session)).toEqual(holds(policyA));
    expect(await get(session)).toBe(200);
    session.close();
  });

  test('server sessions: configureKeepalive(session) on the server side, read from outside', async () => {
    const { url, sessions, sockets } = await h2Server();
    const session = http2.connect(url);
    await once(session, 'connect');
    expect(await get(session)).toBe(200);
    expect(configureKeepalive(sessions[0]!, policyB)).toBe(sessions[0]);
    expect(outside(sockets[0]!)).toEqual(holds(policyB));
    session.close();
  });

  test('session.socket (a Proxy that refuses socket manipulation): a coded throw, nothing applied, the session lives', async () => {
    const { url } = await h2Server();
    const session = http2.connect(url);
    expect(code(() => configureKeepalive(session.socket, policyA))).toBe('ERR_INVALID_ARG_VALUE'); // still connecting
    const [, socket] = (await once(session, 'connect')) as [unknown, net.Socket];
    expect(code(() => configureKeepalive(session.socket, policyA))).toBe('ERR_INVALID_ARG_TYPE'); // connected
    expect(outside(socket).enable).toBe(false);
    expect(await get(session)).toBe(200);
    session.close();
  });

  test('over TLS (h2): configureKeepalive(session) reaches the TCP socket under the TLS session', async () => {
    const { key, cert } = selfSignedCertificate();
    const server = http2.createSecureServer({ key, cert });
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    server.on('secureConnection', (socket: net.Socket) => track(socket));
    const { port } = await listen('127.0.0.1', server);
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    configureKeepalive(session, policyB);
    const [, socket] = (await once(session, 'connect')) as [unknown, tls.TLSSocket];
    expect(outside(socket)).toEqual(holds(policyB));
    expect(await get(session)).toBe(200);
    session.close();
  });
});

describeOutside('3. a refusal is a synchronous coded throw, never a destroyed healthy connection', () => {
  test('a transparent Proxy of a connecting socket: refused now; the connection connects and works', async () => {
    const { server, port } = await listen();
    server.on('connection', (socket: net.Socket) => socket.pipe(socket));
    const socket = track(net.connect(port, '127.0.0.1'));
    expect(code(() => configureKeepalive(new Proxy(socket, {}), policyA))).toBe('ERR_INVALID_ARG_VALUE');
    await once(socket, 'connect');
    socket.write('still here');
    const [echo] = (await once(socket, 'data')) as [Buffer];
    expect(echo.toString()).toBe('still here');
    expect(outside(socket).enable).toBe(false);
  });
});

describeOutside('4. sticky means sticky', () => {
  test('an APM shim already on the instance: the policy survives its setKeepAlive, and the shim saw the call', async () => {
    const { client } = await connection();
    const seen: unknown[][] = [];
    const original = client.setKeepAlive;
    client.setKeepAlive = function apmShim(this: net.Socket, ...args: unknown[]) {
      seen.push(args);
      return original.apply(this, args as Parameters<net.Socket['setKeepAlive']>);
    } as net.Socket['setKeepAlive'];
    configureKeepalive(client, policyA);
    client.setKeepAlive(true, 1000);
    expect(seen).toEqual([[true, 1000]]);
    expect(outside(client)).toEqual(holds(policyA));
  });

  test('s.setKeepAlive = s.setKeepAlive.bind(s) before configuring: still sticky', async () => {
    const { client } = await connection();
    client.setKeepAlive = client.setKeepAlive.bind(client);
    configureKeepalive(client, policyA);
    expect(client.setKeepAlive(true, 2000)).toBe(client);
    expect(outside(client)).toEqual(holds(policyA));
  });

  test('net.Socket.prototype.setKeepAlive patched before and after configuring: both patches see the call, the policy survives', async () => {
    const { client } = await connection();
    const original = net.Socket.prototype.setKeepAlive;
    const calls: string[] = [];
    const patch = (name: string, inner: typeof original) =>
      function patched(this: net.Socket, ...args: unknown[]) {
        calls.push(name);
        return inner.apply(this, args as Parameters<typeof original>);
      } as typeof original;
    net.Socket.prototype.setKeepAlive = patch('before', original);
    try {
      configureKeepalive(client, policyA);
      net.Socket.prototype.setKeepAlive = patch('after', net.Socket.prototype.setKeepAlive);
      client.setKeepAlive(true, 1000);
      expect(calls).toEqual(['after', 'before']);
      expect(outside(client)).toEqual(holds(policyA));
    } finally {
      net.Socket.prototype.setKeepAlive = original;
    }
  });

  test('two copies of the package on one socket: the later configureKeepalive wins, also after a client setKeepAlive', async () => {
    const { client } = await connection();
    let second: typeof import('../../src') | undefined;
    jest.isolateModules(() => {
      second = require('../../src') as typeof import('../../src');
    });
    expect(second!.configureKeepalive).not.toBe(configureKeepalive);
    configureKeepalive(client, policyA);
    second!.configureKeepalive(client, policyB);
    client.setKeepAlive(true, 1000);
    expect(outside(client)).toEqual(holds(policyB));
    configureKeepalive(client, policyA); // the first copy again: now it is the later one
    client.setKeepAlive(true, 1000);
    expect(outside(client)).toEqual(holds(policyA));
  });

  test('a raw socket configured with A and the TLS socket upgraded over it with B: B after setKeepAlive on either', async () => {
    const { key, cert } = selfSignedCertificate();
    const server = tls.createServer({ key, cert }, (socket) => track(socket).on('error', () => {}));
    const { port } = await listen('127.0.0.1', server);
    const raw = track(net.connect(port, '127.0.0.1'));
    await once(raw, 'connect');
    configureKeepalive(raw, policyA);
    const upgraded = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
    await once(upgraded, 'secureConnect');
    configureKeepalive(upgraded, policyB);
    raw.setKeepAlive(true, 1000);
    expect(outside(raw)).toEqual(holds(policyB));
    upgraded.setKeepAlive(true, 1000);
    expect(outside(raw)).toEqual(holds(policyB));
  });

  test('a TLS socket a client library makes over our configured raw socket: its setKeepAlive leaves the policy in force', async () => {
    const { key, cert } = selfSignedCertificate();
    const server = tls.createServer({ key, cert }, (socket) => track(socket).on('error', () => {}));
    const { port } = await listen('127.0.0.1', server);
    const raw = track(net.connect(port, '127.0.0.1'));
    configureKeepalive(raw, policyA); // as withKeepalive does for postgres.js's socket option
    await once(raw, 'connect');
    const secure = track(tls.connect({ socket: raw, rejectUnauthorized: false })); // the client's own upgrade
    await once(secure, 'secureConnect');
    secure.setKeepAlive(true, 60_000); // postgres.js keep_alive: on the TLS socket, which we never saw
    expect(outside(raw)).toEqual(holds(policyA));
  });

  test("what we leave as it was, and the handle's wrapper: behaves like Node's native setKeepAlive", async () => {
    const { client } = await connection();
    const shim = function shim(this: net.Socket, a: unknown, b: unknown, c: unknown) {
      if (a === 'boom') throw new RangeError('from the shim');
      return { returned: [a, b, c] };
    };
    (client as unknown as { setKeepAlive: unknown }).setKeepAlive = shim;
    const prototypeMethod = net.Socket.prototype.setKeepAlive;
    configureKeepalive(client, policyA);
    // The socket's own method and the prototype's are untouched: return values, throws and length are theirs.
    expect(client.setKeepAlive).toBe(shim);
    expect(net.Socket.prototype.setKeepAlive).toBe(prototypeMethod);
    expect((client.setKeepAlive as unknown as (...a: unknown[]) => unknown)(1, 2, 3)).toEqual({ returned: [1, 2, 3] });
    expect(() => (client.setKeepAlive as unknown as (a: unknown) => unknown)('boom')).toThrow(new RangeError('from the shim'));
    // The TCP handle's wrapper: libuv's status, the native's length, and the policy after it.
    const handle = (client as unknown as { _handle: { setKeepAlive: (enable: boolean, delay: number) => number } })._handle;
    const native = Object.getPrototypeOf(handle).setKeepAlive as (enable: boolean, delay: number) => number;
    expect(handle.setKeepAlive).not.toBe(native);
    expect(handle.setKeepAlive.length).toBe(native.length);
    expect(handle.setKeepAlive(true, 1)).toBe(0);
    expect(outside(client)).toEqual(holds(policyA));
  });
});

describeOutside('5. a policy belongs to the socket object, not to one connection attempt', () => {
  test('configured while pending, first attempt refused, the same object connects again: applied', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const { port } = await listen();
    const socket = track(new net.Socket());
    socket.on('error', () => {});
    configureKeepalive(socket, policyA);
    socket.connect(closedPort, '127.0.0.1');
    await new Promise((resolve) => socket.once('close', resolve)); // events.once would reject on the ECONNREFUSED 'error'
    expect(socket.listenerCount('connect')).toBe(1);
    socket.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    expect(outside(socket)).toEqual(holds(policyA));
  });

  test('configured, closed, the same object reconnects: applied again', async () => {
    const { port } = await listen();
    const socket = track(net.connect(port, '127.0.0.1'));
    await once(socket, 'connect');
    configureKeepalive(socket, policyB);
    socket.destroy();
    await once(socket, 'close');
    socket.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    expect(outside(socket)).toEqual(holds(policyB));
  });

  test('removeAllListeners() on a pending configured socket, then configure again: applied', async () => {
    const { port } = await listen();
    const socket = track(net.connect(port, '127.0.0.1'));
    configureKeepalive(socket, policyA);
    socket.removeAllListeners();
    configureKeepalive(socket, policyB);
    await once(socket, 'connect');
    expect(outside(socket)).toEqual(holds(policyB));
  });

  test('Happy Eyeballs (localhost, autoSelectFamily): applied to the attempt that wins', async () => {
    const { port } = await listen('127.0.0.1');
    const socket = track(net.connect({ port, host: 'localhost', autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 10 }));
    configureKeepalive(socket, policyA);
    await once(socket, 'connect');
    expect(outside(socket)).toEqual(holds(policyA));
  });
});

describeOutside('6. ownership without side effects', () => {
  test("a socket given another socket's handle as _handle._parent or as _parent: refused, the victim untouched, also after the properties are removed", async () => {
    const victim = await connection();
    const victimBefore = outside(victim.client);
    const { client: borrower } = await connection();
    const handle = (borrower as unknown as { _handle: { _parent?: unknown } })._handle;
    handle._parent = (victim.client as unknown as { _handle: unknown })._handle;
    expect(code(() => configureKeepalive(borrower, policyA))).toBe('ERR_INVALID_ARG_TYPE');
    delete handle._parent;
    (borrower as unknown as { _parent?: unknown })._parent = victim.client;
    expect(code(() => configureKeepalive(borrower, policyA))).toBe('ERR_INVALID_ARG_TYPE');
    (borrower as unknown as { _parent?: unknown })._parent = null; // as Node leaves it
    expect(outside(victim.client)).toEqual(victimBefore);
    // With the borrowed links gone, the borrower is configured on its own fd and nothing else.
    configureKeepalive(borrower, policyB);
    expect(outside(borrower)).toEqual(holds(policyB));
    expect(outside(victim.client)).toEqual(victimBefore);
  });

  test('first use in a fresh process opens no socket, publishes nothing and calls no wrapped Socket#connect', () => {
    const script = `
      const net = require('node:net');
      const dc = require('node:diagnostics_channel');
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const client = net.connect(server.address().port, '127.0.0.1', () => {
          const published = [];
          dc.subscribe('net.client.socket', () => published.push('net.client.socket'));
          const connect = net.Socket.prototype.connect;
          let connects = 0;
          net.Socket.prototype.connect = function () { connects++; return connect.apply(this, arguments); };
          const resources = process.getActiveResourcesInfo().length;
          const { configureKeepalive, getKeepalive } = require(${JSON.stringify(path.join(root, 'dist'))});
          configureKeepalive(client, { idle: 9000 });
          const idle = getKeepalive(client).idle;
          // Counted before process.stdout is touched: its getter opens the stdout pipe.
          const newResources = process.getActiveResourcesInfo().length - resources;
          process.stdout.write(JSON.stringify({ published, connects, idle, newResources }));
          client.destroy(); server.close();
        });
      });`;
    const report = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 }));
    expect(report).toEqual({ published: [], connects: 0, idle: 9000, newResources: 0 });
  });
});

describe('7-8. options read the same way everywhere, and getKeepalive round-trips', () => {
  class Policy {
    readonly #port: number; // a private field: not an enumerable key, so not mistaken for a typo
    constructor(port: number) {
      this.#port = port;
    }
    get idle(): number {
      return 19_000;
    }
    get interval(): number {
      return 4000;
    }
    get count(): number {
      return 5;
    }
    get match(): { port: number } {
      return { port: this.#port };
    }
  }

  test('a class instance with getters: installKeepalive reads them (match included), as configureKeepalive does', async () => {
    const { port } = await listen();
    const installation = installKeepalive(new Policy(port));
    try {
      const client = track(net.connect(port, '127.0.0.1'));
      await once(client, 'connect');
      await new Promise((resolve) => setImmediate(resolve));
      expect(getKeepalive(client)).toMatchObject({ enable: true, idle: 19_000, interval: 4000, count: 5 });
    } finally {
      installation.uninstall();
    }
  });

  test('every entry point: a throwing getter is ERR_INVALID_ARG_VALUE, a typo ERR_INVALID_ARG_VALUE, at setup', () => {
    const throwing = {
      get idle(): number {
        throw new Error('getter');
      },
    };
    const entryPoints: Array<[string, (options: object) => unknown]> = [
      ['installKeepalive', (options) => installKeepalive(options).uninstall()],
      ['withKeepalive', (options) => withKeepalive(() => undefined, options)],
      ['keepaliveOnEvent', (options) => keepaliveOnEvent(new net.Socket(), 'connect', () => undefined, options)],
      ['keepaliveServer', (options) => keepaliveServer(net.createServer(), options)],
    ];
    for (const [, enter] of entryPoints) {
      expect(code(() => enter(throwing))).toBe('ERR_INVALID_ARG_VALUE');
      expect(code(() => enter({ intervall: 5000 }))).toBe('ERR_INVALID_ARG_VALUE');
    }
    expect(
      code(() =>
        installKeepalive({
          get match(): never {
            throw new Error('getter');
          },
        } as object).uninstall(),
      ),
    ).toBe('ERR_INVALID_ARG_VALUE');
  });

  test("configureKeepalive(b, getKeepalive(a)) gives b exactly a's policy", async () => {
    const { client: a } = await connection();
    const { client: b } = await connection();
    configureKeepalive(a, policyB);
    configureKeepalive(b, getKeepalive(a));
    expect(getKeepalive(b)).toEqual(getKeepalive(a));
    if ('binary' in reader) expect(outside(b)).toEqual(holds(policyB));
  });
});

describe('9. clear load errors', () => {
  const run = (flags: string[], body: string) => spawnSync(process.execPath, [...flags, '-e', body], { encoding: 'utf8', timeout: 10_000 });
  const program = `
    const net = require('node:net');
    const ka = require(${JSON.stringify(path.join(root, 'dist'))});
    const plan = require(${JSON.stringify(path.join(root, 'dist', 'planner'))}).planKeepalive({ path: 'aws-nlb', detectWithin: 60000 });
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const client = net.connect(server.address().port, '127.0.0.1', () => {
        const codeOf = (f) => { try { f(); return 'accepted'; } catch (e) { return e.code + ': ' + e.message; } };
        process.stdout.write(JSON.stringify({
          strategy: ka.capabilities.strategy, reason: ka.capabilities.reason, planned: plan.options.idle,
          idleOnly: codeOf(() => ka.configureKeepalive(client, { idle: 30000 })),
          interval: codeOf(() => ka.configureKeepalive(client, { interval: 5000 })),
          read: codeOf(() => ka.getKeepalive(client)),
        }));
        client.destroy(); server.close();
      });
    });`;

  test('under --no-addons: the planner works, idle goes through Node, the rest is refused saying addons are disabled', () => {
    const result = run(['--no-addons'], program);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ strategy: 'node-setKeepAlive', planned: 30000, idleOnly: 'accepted' });
    expect(report.reason).toMatch(/native addons are disabled in this process \(--no-addons/);
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    // Node 26.4 added them; backported to 24.22 (the socket method's two new parameters show it).
    const nodeHasIntervalAndCount =
      major > 26 || (major === 26 && minor >= 4) || (major >= 24 && net.Socket.prototype.setKeepAlive.length >= 4);
    if (!nodeHasIntervalAndCount) expect(report.interval).toMatch(/^ERR_FEATURE_UNAVAILABLE_ON_PLATFORM: .*native addons are disabled/);
    expect(report.read).toMatch(/^ERR_FEATURE_UNAVAILABLE_ON_PLATFORM: getKeepalive\(\).*native addons are disabled/);
  });

  // The permission model's flag was --experimental-permission before Node 22.13; Node 26 also guards the network.
  const permissionFlags = [
    ['--permission', '--allow-fs-read=*', '--allow-net'],
    ['--permission', '--allow-fs-read=*'],
    ['--experimental-permission', '--allow-fs-read=*'],
  ].find((flags) => run(flags, '0').status === 0);
  (permissionFlags ? test : test.skip)(
    `under ${permissionFlags?.[0] ?? '--permission'} without --allow-addons: the same clear reason`,
    () => {
      const result = run(permissionFlags!, program);
      const report = JSON.parse(result.stdout);
      expect(report.strategy).toBe('node-setKeepAlive');
      expect(report.reason).toMatch(/native addons are disabled/);
    },
  );
});
