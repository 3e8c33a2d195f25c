/**
 * The integration helpers' own contract, on loopback: configured on the real
 * fd (read back with getKeepalive), Unix-domain sockets left alone, coded
 * errors at setup, nothing thrown into a client later.
 */
import fs from 'node:fs';
import http from 'node:http';
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { getKeepalive } from '../../src';
import { installKeepalive, keepaliveAgent, keepaliveOnEvent, keepaliveServer, withKeepalive } from '../../src/integrations';
import { closeAll, listen, tlsServer, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';

const POLICY = { idle: 9000, interval: 2000, count: 5, userTimeout: 12000 } as const;
const CONFIGURED = { enable: true, ...POLICY };

// Diagnostics channels are process-wide (shared with other test files in this worker): always uninstall.
const installations: Array<ReturnType<typeof installKeepalive>> = [];
function install(options: Parameters<typeof installKeepalive>[0]): ReturnType<typeof installKeepalive> {
  const installation = installKeepalive(options);
  installations.push(installation);
  return installation;
}
afterEach(async () => {
  installations.splice(0).forEach((installation) => installation.uninstall());
  jest.restoreAllMocks();
  await closeAll();
});

/** Our warnings go through process.emitWarning; capture them (jest's sandbox does not forward 'warning' events). */
function captureWarnings(): Array<{ message: string; code: string | undefined }> {
  const warnings: Array<{ message: string; code: string | undefined }> = [];
  jest.spyOn(process, 'emitWarning').mockImplementation(((message: string | Error, options?: { code?: string }) => {
    warnings.push({ message: String(message), code: options?.code });
  }) as typeof process.emitWarning);
  return warnings;
}

async function connected(socket: net.Socket, event = 'connect'): Promise<net.Socket> {
  track(socket);
  await once(socket, event);
  return socket;
}

describe('withKeepalive', () => {
  test('refuses bad options and non-functions at setup, with codes', () => {
    expect(() => withKeepalive(() => new net.Socket(), { idle: 10 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => withKeepalive(() => new net.Socket(), { idel: 1000 } as object)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => withKeepalive('net.connect' as unknown as () => net.Socket)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => withKeepalive(() => new net.Socket(), 'fast' as unknown as object)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    const throwing = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('trap');
        },
      },
    );
    expect(() => withKeepalive(() => new net.Socket(), throwing)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  test('a getter is read once: what was validated is what the kernel gets', async () => {
    const { port } = await listen();
    let reads = 0;
    const shifty = {
      get idle() {
        reads += 1;
        return reads === 1 ? 9000 : 0;
      },
    };
    const factory = withKeepalive(() => net.connect(port, '127.0.0.1'), shifty);
    expect(getKeepalive(await connected(factory())).idle).toBe(9000);
    expect(reads).toBe(1);
  });

  test('options from a class with getters are honoured, as by configureKeepalive', async () => {
    const { port } = await listen();
    class Policy {
      get idle(): number {
        return 4000;
      }
      get count(): number {
        return 6;
      }
    }
    const factory = withKeepalive(() => net.connect(port, '127.0.0.1'), new Policy());
    expect(getKeepalive(await connected(factory()))).toMatchObject({ enable: true, idle: 4000, count: 6 });
  });

  test('the options object is copied: changing it later changes nothing', async () => {
    const { port } = await listen();
    const options: { idle: number } = { idle: 9000 };
    const factory = withKeepalive(() => net.connect(port, '127.0.0.1'), options);
    options.idle = 20_000;
    expect(getKeepalive(await connected(factory())).idle).toBe(9000);
  });

  test('configures unconnected, connecting and already-connected sockets; preserves `this` and arguments', async () => {
    const { port } = await listen();
    const unconnected = withKeepalive(() => new net.Socket(), POLICY)();
    unconnected.connect(port, '127.0.0.1');
    expect(getKeepalive(await connected(unconnected))).toEqual(CONFIGURED);

    const receiver = {
      host: '127.0.0.1',
      open(this: { host: string }, p: number) {
        return net.connect(p, this.host);
      },
    };
    const connecting = withKeepalive(receiver.open, POLICY).call(receiver, port);
    expect(getKeepalive(await connected(connecting))).toEqual(CONFIGURED);

    const already = await connected(net.connect(port, '127.0.0.1'));
    expect(getKeepalive(withKeepalive(() => already, POLICY)())).toEqual(CONFIGURED);
  });

  test('direct TLS and TLS upgraded over a connecting socket are configured on their TCP fd', async () => {
    const { key, cert } = selfSignedCertificate();
    const { port } = await tlsServer(key, cert);
    const direct = withKeepalive(() => tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }), POLICY)();
    expect(getKeepalive(await connected(direct, 'secureConnect'))).toEqual(CONFIGURED);
    const upgraded = withKeepalive(
      () => tls.connect({ socket: track(net.connect(port, 'localhost')), rejectUnauthorized: false }),
      POLICY,
    )();
    expect(getKeepalive(await connected(upgraded, 'secureConnect'))).toEqual(CONFIGURED);
  });

  test('error-first callback factories (Agent#createConnection style): the delivered socket is configured', async () => {
    const { port } = await listen();
    const asyncFactory = (_options: object, callback: (error: Error | null, socket?: net.Socket) => void): undefined => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => callback(null, socket));
      return undefined;
    };
    const delivered = await new Promise<net.Socket>((resolve) => withKeepalive(asyncFactory, POLICY)({}, (_e, s) => resolve(s!)));
    track(delivered);
    expect(getKeepalive(delivered)).toEqual(CONFIGURED);
  });

  test('a Unix-domain socket from the same factory is left alone and keeps working', async () => {
    const socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tcpka-unix-')), 's');
    const server = track(net.createServer((s) => s.end('unix ok')));
    server.listen(socketPath);
    await once(server, 'listening');
    const socket = withKeepalive(() => net.connect(socketPath), POLICY)();
    const errors: Error[] = [];
    socket.on('error', (error) => errors.push(error));
    track(socket);
    const [data] = (await once(socket, 'data')) as [Buffer];
    expect(data.toString()).toBe('unix ok');
    expect(errors).toEqual([]);
  });
});

describe('keepaliveAgent', () => {
  test('refuses what is not an http.Agent', () => {
    expect(() => keepaliveAgent({} as http.Agent, POLICY)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('keepaliveServer', () => {
  test('net, TLS and http (keepAlive: true) servers: every accepted socket is configured', async () => {
    const { key, cert } = selfSignedCertificate();
    const servers: Array<[string, net.Server, (port: number) => net.Socket]> = [
      ['net', net.createServer(), (port) => net.connect(port, '127.0.0.1')],
      [
        'tls',
        tls.createServer({ key, cert }, (s) => s.on('error', () => undefined)),
        (port) => tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }),
      ],
      // http's own keepAlive option calls setKeepAlive on each connection after ours: the core re-applies.
      ['http', http.createServer({ keepAlive: true, keepAliveInitialDelay: 5000 }), (port) => net.connect(port, '127.0.0.1')],
    ];
    for (const [, server, connect] of servers) {
      keepaliveServer(server, POLICY);
      const { port } = await listen('127.0.0.1', server);
      const accepted = once(server, 'connection');
      track(connect(port)).on('error', () => undefined);
      const [socket] = (await accepted) as [net.Socket];
      await new Promise((resolve) => setImmediate(resolve)); // let the server's own handlers (http's setKeepAlive) run
      expect(getKeepalive(socket)).toEqual(CONFIGURED);
    }
  });

  test("control: http's keepAlive server option alone leaves libuv's forced 1 s x 10", async () => {
    const server = http.createServer({ keepAlive: true, keepAliveInitialDelay: 5000 });
    const { port } = await listen('127.0.0.1', server);
    const accepted = once(server, 'connection');
    track(net.connect(port, '127.0.0.1'));
    const [socket] = (await accepted) as [net.Socket];
    await new Promise((resolve) => setImmediate(resolve));
    expect(getKeepalive(socket)).toMatchObject({ enable: true, interval: 1000, count: 10 });
  });

  test('refuses what is not a server', () => {
    expect(() => keepaliveServer(new EventEmitter() as net.Server, POLICY)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('keepaliveOnEvent', () => {
  test('configures the socket on each event, skips non-sockets, warns (never throws) when socketOf throws, and can be removed', async () => {
    const { port } = await listen();
    const emitter = new EventEmitter();
    let current: unknown;
    const remove = keepaliveOnEvent(
      emitter,
      'connect',
      () => {
        if (current === 'boom') throw new Error('boom');
        return current;
      },
      POLICY,
    );
    current = await connected(net.connect(port, '127.0.0.1'));
    emitter.emit('connect');
    expect(getKeepalive(current as net.Socket)).toEqual(CONFIGURED);

    current = { not: 'a socket' };
    expect(() => emitter.emit('connect')).not.toThrow();
    current = 'boom';
    const warnings = captureWarnings();
    expect(() => emitter.emit('connect')).not.toThrow();
    expect(warnings).toEqual([expect.objectContaining({ code: 'TCP_KEEPALIVE_SOCKET_OF_THREW' })]);

    remove();
    current = await connected(net.connect(port, '127.0.0.1'));
    emitter.emit('connect');
    expect(getKeepalive(current as net.Socket).enable).toBe(false);
  });
});

describe('installKeepalive', () => {
  test('refuses a bad filter or bad options with codes', () => {
    expect(() => install({ match: { port: 'x' as unknown as number } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => install({ idle: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  test('sees tls.connect on every line: Node publishes it from Socket#connect (nodejs/node#58349) or the connect hook covers it', () => {
    const installation = install({ match: { port: 1 } });
    installation.uninstall();
    installation.uninstall(); // idempotent
    const major = Number(process.versions.node.split('.')[0]);
    expect(installation.seesTlsConnect).toBe(true);
    if (major === 20) expect(installation.hooksSocketConnect).toBe(true);
    if (major >= 24) expect(installation.hooksSocketConnect).toBe(false);
    expect(installation.channels).toEqual(['net.client.socket', 'undici:client:connected', 'http.client.request.start']);
  });

  test('matches on the host name asked for and the port; leaves other connections alone', async () => {
    const { port } = await listen('127.0.0.1');
    const other = await listen('127.0.0.1');
    const targets: Array<{ host: string; port: number; channel: string }> = [];
    install({
      ...POLICY,
      match: (target) => {
        targets.push(target);
        return target.host === 'localhost' && target.port === port;
      },
    });
    const byName = await connected(net.connect({ port, host: 'localhost', family: 4 }));
    const byAddress = await connected(net.connect(other.port, '127.0.0.1'));
    expect(getKeepalive(byName)).toEqual(CONFIGURED);
    expect(getKeepalive(byAddress).enable).toBe(false);
    expect(targets).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ host: 'localhost', port, channel: 'net.client.socket' }),
        expect.objectContaining({ host: '127.0.0.1', port: other.port }),
      ]),
    );
  });

  test('a throwing filter is reported as a warning; the connection goes on unconfigured', async () => {
    const { port } = await listen();
    const warnings = captureWarnings();
    install({
      ...POLICY,
      match: (target) => {
        if (target.port === port) throw new Error('bad filter');
        return false;
      },
    });
    const socket = await connected(net.connect(port, '127.0.0.1'));
    expect(warnings).toEqual([expect.objectContaining({ code: 'TCP_KEEPALIVE_MATCH_THREW' })]);
    expect(socket.destroyed).toBe(false);
    expect(getKeepalive(socket).enable).toBe(false);
  });

  test('tls.connect and Socket#connect are seen exactly where the Node line publishes them (seesTlsConnect); https.request on every line', async () => {
    const { key, cert } = selfSignedCertificate();
    const { port } = await tlsServer(key, cert);
    const installation = install({ ...POLICY, match: { port } });
    const direct = await connected(tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }), 'secureConnect');
    if (installation.seesTlsConnect) expect(getKeepalive(direct)).toEqual(CONFIGURED);
    else expect(getKeepalive(direct).enable).toBe(false); // Node 20: documented gap

    // pg's way: connect() on a socket not made by net.connect — seen on the same lines as tls.connect.
    const plain = await listen();
    install({ ...POLICY, match: { port: plain.port } });
    const unconnected = new net.Socket();
    unconnected.connect(plain.port, '127.0.0.1');
    await connected(unconnected);
    expect(getKeepalive(unconnected).enable).toBe(installation.seesTlsConnect);

    // https.request: its TLS socket comes through http.client.request.start on every line.
    const https = await import('node:https');
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const request = https.get({ host: '127.0.0.1', port, rejectUnauthorized: false, agent: false });
      request.on('socket', (s: net.Socket) =>
        s.once('secureConnect', () => {
          resolve(s);
        }),
      );
      request.on('error', reject);
    });
    track(socket);
    expect(getKeepalive(socket)).toEqual(CONFIGURED);
  });

  test('after uninstall nothing new is configured', async () => {
    const { port } = await listen();
    install({ ...POLICY, match: { port } }).uninstall();
    expect(getKeepalive(await connected(net.connect(port, '127.0.0.1'))).enable).toBe(false);
  });
});
