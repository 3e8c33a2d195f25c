/**
 * ioredis (keepaliveOnEvent on 'connect') and node-redis (process-wide
 * installKeepalive: it exposes no socket) on the local Redis. Each client's
 * socket is identified from the server's side: CLIENT INFO gives the client's
 * address as Redis sees it.
 */
import net from 'node:net';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { installKeepalive, keepaliveOnEvent } from '../../src/integrations';
import { describeService, eventually, expectConfigured, expectLibuvDefaults, observeClientSockets, POLICY, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

const REDIS_PORT = 6379;

/** The client's local port as Redis reports it (`addr=127.0.0.1:54321`). */
function localPortFromClientInfo(info: string): number {
  const match = /(?:^|\s)addr=\S*:(\d+)(?:\s|$)/.exec(info);
  if (!match) throw new Error(`no addr= in CLIENT INFO: ${info}`);
  return Number(match[1]);
}

describeService('ioredis on Redis 127.0.0.1:6379', REDIS_PORT, () => {
  const clients: Redis[] = [];
  afterEach(() => clients.splice(0).forEach((client) => client.disconnect()));

  function connect(options: { keepAlive: number }): Redis {
    const client = new Redis({ host: '127.0.0.1', port: REDIS_PORT, ...options, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    clients.push(client);
    return client;
  }

  async function socketOf(client: Redis): Promise<net.Socket> {
    const port = localPortFromClientInfo(String(await client.client('INFO')));
    const stream = (client as unknown as { stream: net.Socket }).stream;
    expect(stream.localPort).toBe(port); // the socket Redis talks to is the one we read
    return stream;
  }

  test("control: ioredis's own keepAlive leaves libuv's forced 1 s x 10", async () => {
    const client = connect({ keepAlive: 5000 });
    await within(10_000, 'ioredis ready', new Promise((resolve) => client.once('ready', resolve)));
    expectLibuvDefaults(await socketOf(client));
  });

  test("configured after connect (after ioredis's own setKeepAlive) and again after a reconnect", async () => {
    const client = connect({ keepAlive: 5000 });
    keepaliveOnEvent(client, 'connect', (redis) => (redis as unknown as { stream: net.Socket }).stream, POLICY);
    await within(10_000, 'ioredis ready', new Promise((resolve) => client.once('ready', resolve)));
    const first = await socketOf(client);
    expectConfigured(first);

    const reconnected = new Promise((resolve) => client.once('ready', resolve));
    first.destroy(); // as if the server or the network dropped it: ioredis reconnects with a new socket
    await within(10_000, 'ioredis reconnect', reconnected);
    const second = await socketOf(client);
    expect(second).not.toBe(first);
    expectConfigured(second);
  });
});

describeService('node-redis on Redis 127.0.0.1:6379 (process-wide install)', REDIS_PORT, () => {
  const newClient = () =>
    createClient({
      socket: { host: '127.0.0.1', port: REDIS_PORT, keepAlive: true, keepAliveInitialDelay: 5000, reconnectStrategy: () => 50 },
    });
  type NodeRedis = ReturnType<typeof newClient>;
  const observer = observeClientSockets();
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => observer.stop());

  async function connected(): Promise<NodeRedis> {
    const client = newClient();
    client.on('error', () => undefined); // reconnects report the dropped socket here
    cleanups.push(() => client.destroy());
    await within(10_000, 'node-redis connect', client.connect());
    return client;
  }

  /** The client socket this process holds whose local port Redis reports for `client`. */
  async function socketOf(client: NodeRedis): Promise<net.Socket> {
    const port = localPortFromClientInfo(String(await client.sendCommand(['CLIENT', 'INFO'])));
    return eventually(2000, `the client socket on local port ${port}`, () =>
      observer.connectedTo(REDIS_PORT).find((socket) => socket.localPort === port),
    );
  }

  test('a filter that does not match leaves node-redis with its own keepalive (libuv 1 s x 10)', async () => {
    const installation = installKeepalive({ ...POLICY, match: { port: REDIS_PORT + 1 } });
    cleanups.push(() => installation.uninstall());
    expectLibuvDefaults(await socketOf(await connected()));
  });

  test("configured after connect (after node-redis's own setKeepAlive) and after a reconnect", async () => {
    const installation = installKeepalive({ ...POLICY, match: { host: ['127.0.0.1'], port: REDIS_PORT } });
    cleanups.push(() => installation.uninstall());
    const client = await connected();
    const first = await socketOf(client);
    expectConfigured(first);

    // Not events.once: it would reject on the 'error' node-redis emits for the dropped socket.
    const reconnected = new Promise((resolve) => client.once('ready', resolve));
    first.destroy(); // node-redis reconnects on its own
    await within(10_000, 'node-redis to reconnect', reconnected);
    const reconnectedSocket = await socketOf(client);
    expect(reconnectedSocket).not.toBe(first);
    expectConfigured(reconnectedSocket);
  });

  test('after uninstall, new connections are left alone', async () => {
    installKeepalive({ ...POLICY, match: { port: REDIS_PORT } }).uninstall();
    expectLibuvDefaults(await socketOf(await connected()));
  });
});
