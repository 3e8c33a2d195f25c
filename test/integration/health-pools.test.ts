/**
 * The pool recipes of docs/health.md on real servers: a pooled connection
 * whose server end went away while the application was busy (its event loop
 * blocked, so Node has not read the FIN yet) must not be handed out.
 *
 * How the fault is made: a separate process, run with spawnSync so this
 * process's event loop is blocked meanwhile, has the server close one pooled
 * connection (pg_terminate_backend, waiting until the backend has exited;
 * Redis CLIENT KILL). When spawnSync returns, the kernel holds the connection
 * in CLOSE_WAIT and the client library has not noticed: the acquire that
 * follows in the same tick is exactly the moment a pool would hand it out.
 * (A connection that is suspect rather than dead needs packets to vanish,
 * which only the fault lab can do: test/faults/health.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import genericPool from 'generic-pool';
import Redis from 'ioredis';
import { Pool, type PoolClient } from 'pg';
import { configureKeepalive, connectionHealth } from '../../src';
import { describeService, POLICY, within } from './support';

jest.setTimeout(30_000);

const root = path.resolve(__dirname, '..', '..');
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', connectionTimeoutMillis: 5000 };
const REDIS_PORT = 6379;

/** Runs `script` in another Node process while this one's event loop stays blocked. */
function blockedWhile(script: string): void {
  const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 15_000 });
  if (result.status !== 0) throw new Error(`the killer process failed (${result.status}): ${result.stderr}`);
}

// ---- recipe: pg Pool, check on acquire (docs/health.md) ----
const socketOfPg = (client: PoolClient): net.Socket => (client as unknown as { connection: { stream: net.Socket } }).connection.stream;

async function connectHealthy(pool: Pool): Promise<PoolClient> {
  for (;;) {
    const client = await pool.connect();
    const { verdict, reasons } = connectionHealth(socketOfPg(client));
    if (verdict === 'healthy') return client;
    client.release(new Error(`discarded a ${verdict} connection (${reasons.join(', ')})`)); // release(error) destroys it
  }
}

describeService('health recipe: pg Pool, check on acquire', PG.port, () => {
  const terminate = (pid: number): string => `
    const { Client } = require('pg');
    (async () => {
      const admin = new Client(${JSON.stringify(PG)});
      await admin.connect();
      await admin.query('SELECT pg_terminate_backend($1)', [${pid}]);
      // The backend has closed its socket once it has left pg_stat_activity.
      for (let k = 0; k < 200; k++) {
        const { rowCount } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [${pid}]);
        if (rowCount === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await admin.end();
    })().catch((error) => { console.error(error); process.exit(1); });`;

  async function poolWithOneIdleClient(): Promise<{ pool: Pool; pid: number; socket: net.Socket }> {
    const pool = new Pool({ ...PG, max: 2 });
    pool.on('error', () => undefined); // pg-pool reports idle clients that die; the test looks at the sockets itself
    const client = await pool.connect();
    configureKeepalive(socketOfPg(client), POLICY);
    const pid = (client as unknown as { processID: number }).processID;
    const socket = socketOfPg(client);
    client.release();
    return { pool, pid, socket };
  }

  test('a client whose backend was terminated is discarded on acquire; the query runs on a fresh connection', async () => {
    const { pool, pid, socket } = await poolWithOneIdleClient();
    try {
      blockedWhile(terminate(pid));
      // Same tick: pg has not read the FIN, the kernel has.
      expect(connectionHealth(socket)).toMatchObject({ verdict: 'dead', info: { state: 'close-wait' } });
      const client = await within(10_000, 'a healthy pg client', connectHealthy(pool));
      try {
        expect(socketOfPg(client)).not.toBe(socket);
        const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
        expect(rows[0].pid).not.toBe(pid);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  test('control: without the check, the pool hands out the dead client and the query fails', async () => {
    const { pool, pid, socket } = await poolWithOneIdleClient();
    try {
      blockedWhile(terminate(pid));
      const client = await pool.connect();
      expect(socketOfPg(client)).toBe(socket);
      await expect(within(10_000, 'the query on a dead client', client.query('SELECT 1'))).rejects.toThrow();
      client.release(new Error('dead'));
    } finally {
      await pool.end();
    }
  });
});

// ---- recipe: ioredis, check before a command after idle (docs/health.md) ----
const IDLE_BEFORE_CHECK_MS = 0; // the docs use 1000; 0 here so the test need not wait

async function healthyRedis(redis: Redis, idleSinceMs: number): Promise<Redis> {
  const stream = (redis as unknown as { stream?: net.Socket }).stream;
  if (idleSinceMs < IDLE_BEFORE_CHECK_MS || stream === undefined || stream.destroyed) return redis;
  if (connectionHealth(stream).verdict === 'healthy') return redis;
  // Reconnect before the command rather than after it failed.
  const ready = once(redis, 'ready');
  redis.disconnect(true);
  await ready;
  return redis;
}

function killRedisClient(localPort: number): string {
  return `
    const Redis = require('ioredis');
    const admin = new Redis({ host: '127.0.0.1', port: ${REDIS_PORT}, lazyConnect: true });
    admin.connect().then(() => admin.client('KILL', 'ADDR', '127.0.0.1:${localPort}')).then(() => admin.quit())
      .catch((error) => { console.error(error); process.exit(1); });`;
}

describeService('health recipe: ioredis, check before a command after idle', REDIS_PORT, () => {
  test('a connection the server killed is replaced before the command, which runs on the new connection', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: REDIS_PORT, maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    redis.on('error', () => undefined);
    try {
      await once(redis, 'ready');
      const first = (redis as unknown as { stream: net.Socket }).stream;
      configureKeepalive(first, POLICY);
      await redis.set('health-recipe', 'ok');
      const lastUsed = Date.now();
      blockedWhile(killRedisClient(first.localPort!));
      expect(connectionHealth(first)).toMatchObject({ verdict: 'dead', info: { state: 'close-wait' } });
      await within(10_000, 'a healthy ioredis connection', healthyRedis(redis, Date.now() - lastUsed));
      const second = (redis as unknown as { stream: net.Socket }).stream;
      expect(second).not.toBe(first);
      expect(connectionHealth(second).verdict).toBe('healthy');
      expect(await redis.get('health-recipe')).toBe('ok');
    } finally {
      redis.disconnect();
    }
  });
});

// ---- recipe: generic-pool's validate (docs/health.md) ----
describeService('health recipe: generic-pool validate with testOnBorrow', REDIS_PORT, () => {
  test('validate refuses a connection the server closed; the pool destroys it and creates a new one', async () => {
    const created: net.Socket[] = [];
    const destroyed: net.Socket[] = [];
    const pool = genericPool.createPool<net.Socket>(
      {
        create: async () => {
          const socket = net.connect(REDIS_PORT, '127.0.0.1');
          await once(socket, 'connect');
          configureKeepalive(socket, POLICY);
          socket.on('error', () => undefined);
          created.push(socket);
          return socket;
        },
        destroy: async (socket) => {
          destroyed.push(socket);
          socket.destroy();
        },
        // The recipe: one TCP_INFO read, no round trip.
        validate: async (socket) => !socket.destroyed && connectionHealth(socket).verdict === 'healthy',
      },
      { max: 1, testOnBorrow: true },
    );
    try {
      const first = await pool.acquire();
      await pool.release(first);
      blockedWhile(killRedisClient(first.localPort!));
      expect(connectionHealth(first).verdict).toBe('dead');
      const second = await within(10_000, 'a validated connection', pool.acquire());
      expect(second).not.toBe(first);
      expect(destroyed).toEqual([first]);
      second.write('PING\r\n');
      const [reply] = await once(second, 'data');
      expect(String(reply)).toBe('+PONG\r\n');
      await pool.release(second);
    } finally {
      await pool.drain();
      await pool.clear();
    }
  });
});
