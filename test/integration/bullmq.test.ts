/**
 * BullMQ on the local Redis: a Queue and a Worker, whose dedicated blocking connection (BZPOPMIN,
 * silent for as long as no job arrives) is the one a load balancer drops first. Two recipes:
 * BullMQ's documented RedisConnection.clientFactory (every connection BullMQ creates from
 * options, the blocking one included, goes through it) with keepaliveOnEvent on each ioredis
 * client; and the process-wide installKeepalive (ioredis connects with net.createConnection, which
 * every Node line publishes). Connections are identified from Redis's side (CLIENT LIST: name,
 * current command, address).
 */
import net from 'node:net';
import { createIORedisClient, Queue, RedisConnection, Worker } from 'bullmq';
import Redis, { type RedisOptions } from 'ioredis';
import { getKeepalive } from '../../src';
import { installKeepalive, keepaliveOnEvent } from '../../src/integrations';
import { portOfAddress } from './fixtures/client-sockets';
import { describeService, eventually, expectConfigured, observeClientSockets, POLICY, within } from './support';

// Each step is bounded by within()/eventually(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(30_000);

const REDIS = { host: '127.0.0.1', port: 6379 };

interface ClientEntry {
  id: string;
  port: number;
  name: string;
  cmd: string;
}

/** CLIENT LIST, parsed: each connection's id, the client's local port, its name and current command. */
async function clientList(admin: Redis): Promise<ClientEntry[]> {
  const text = String(await admin.client('LIST'));
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const field = (key: string): string => new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line)?.[1] ?? '';
      return { id: field('id'), port: portOfAddress(field('addr')), name: field('name'), cmd: field('cmd') };
    });
}

describeService('BullMQ on Redis 127.0.0.1:6379', REDIS.port, () => {
  const observer = observeClientSockets();
  let admin: Redis;
  const cleanups: Array<() => Promise<unknown> | void> = [];
  beforeAll(() => {
    admin = new Redis({ ...REDIS, keepAlive: 0 });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    observer.stop();
    await admin.quit();
  });

  /** A Queue and a Worker on a fresh queue; resolves once the worker's blocking connection sits in BZPOPMIN. */
  async function queueAndWorker(): Promise<{ queue: Queue; worker: Worker; blockingName: string }> {
    const name = `keepalive-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const queue = new Queue(name, { connection: { ...REDIS } });
    const worker = new Worker(name, async () => 'done', { connection: { ...REDIS }, drainDelay: 5 });
    worker.on('error', () => undefined); // the killed connection is reported here
    queue.on('error', () => undefined);
    // Run in reverse: the worker stops, the queue's keys are removed from Redis, the queue closes.
    cleanups.push(
      () => queue.close(),
      () => queue.obliterate({ force: true }).catch(() => undefined),
      () => worker.close(true),
    );
    await within(10_000, 'queue and worker ready', Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]));
    return { queue, worker, blockingName: `bull:${Buffer.from(name).toString('base64')}` };
  }

  /** The blocking connection as Redis sees it (named by BullMQ, waiting in BZPOPMIN), and this process's socket for it. */
  async function blockingConnection(blockingName: string): Promise<{ entry: ClientEntry; socket: net.Socket }> {
    const entry = await eventually(15_000, `the blocking connection ${blockingName} in BZPOPMIN`, () =>
      latest.find((candidate) => candidate.name === blockingName && candidate.cmd === 'bzpopmin'),
    );
    const socket = observer.connectedTo(REDIS.port).find((candidate) => candidate.localPort === entry.port);
    if (socket === undefined) throw new Error(`no client socket on local port ${entry.port}`);
    return { entry, socket };
  }
  // CLIENT LIST is asynchronous; eventually() polls synchronously, so a background loop keeps `latest` fresh.
  // The loop ends by a flag, not by clearTimeout alone: while a CLIENT LIST is in flight no timer is pending,
  // and its settling would schedule the next round after afterEach, for good (and keep Jest from exiting).
  let latest: ClientEntry[] = [];
  let stopPolling = (): void => undefined;
  beforeEach(() => {
    let active = true;
    let timer: NodeJS.Timeout | undefined;
    const poll = (): void => {
      clientList(admin)
        .then(
          (entries) => {
            if (active) latest = entries;
          },
          () => undefined,
        )
        .finally(() => {
          if (active) timer = setTimeout(poll, 50);
        });
    };
    poll();
    stopPolling = () => {
      active = false;
      clearTimeout(timer);
    };
  });
  afterEach(() => {
    stopPolling();
    latest = [];
  });

  /** Every socket this process holds to Redis, except the admin connection's. */
  async function bullSockets(): Promise<net.Socket[]> {
    const adminPort = Number((await admin.client('INFO')).match(/addr=\S*:(\d+)/)![1]);
    return observer.connectedTo(REDIS.port).filter((socket) => socket.localPort !== adminPort);
  }

  async function expectBlockingConnectionConfiguredAcrossKill(blockingName: string): Promise<void> {
    const first = await blockingConnection(blockingName);
    expectConfigured(first.socket);
    const all = await bullSockets();
    expect(all.length).toBeGreaterThanOrEqual(3); // the queue's connection, the worker's, and the blocking one
    all.forEach(expectConfigured);

    await admin.client('KILL', 'ID', first.entry.id); // as a balancer dropping the idle flow: ioredis reconnects
    const second = await eventually(15_000, 'the blocking connection to come back on a new socket', () => {
      const entry = latest.find(
        (candidate) => candidate.name === blockingName && candidate.cmd === 'bzpopmin' && candidate.id !== first.entry.id,
      );
      return entry && observer.connectedTo(REDIS.port).find((socket) => socket.localPort === entry.port);
    });
    expect(second).not.toBe(first.socket);
    expectConfigured(second);
  }

  test("control: without a recipe the blocking connection has ioredis's own keepAlive (setKeepAlive: libuv 1 s x 10)", async () => {
    const { blockingName } = await queueAndWorker();
    const { socket } = await blockingConnection(blockingName);
    expect(getKeepalive(socket)).toMatchObject({ interval: 1000, count: 10 });
  });

  test('RedisConnection.clientFactory with keepaliveOnEvent: the blocking connection (and every other) is configured, and again after it is killed', async () => {
    const previous = RedisConnection.clientFactory;
    RedisConnection.clientFactory = ({ url, ...options }: RedisOptions & { url?: string }) => {
      const redis = url === undefined ? new Redis(options) : new Redis(url, options);
      keepaliveOnEvent(redis, 'connect', (client) => (client as unknown as { stream: net.Socket }).stream, POLICY);
      return createIORedisClient(redis);
    };
    cleanups.push(() => {
      RedisConnection.clientFactory = previous;
    });
    const { blockingName } = await queueAndWorker();
    await expectBlockingConnectionConfiguredAcrossKill(blockingName);
  });

  test('installKeepalive({ ...policy, match: { port: 6379 } }): the same, process-wide', async () => {
    const installation = installKeepalive({ ...POLICY, match: { port: REDIS.port } });
    cleanups.push(() => installation.uninstall());
    const { blockingName } = await queueAndWorker();
    await expectBlockingConnectionConfiguredAcrossKill(blockingName);
  });
});
