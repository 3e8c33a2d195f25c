/** pg (Client and Pool) on the local PostgreSQL, through withKeepalive as pg's `stream` factory. */
import net from 'node:net';
import { Client, Pool, type PoolClient } from 'pg';
import { getKeepalive } from '../../src';
import { withKeepalive } from '../../src/integrations';
import { describeService, expectConfigured, expectEveryPoolConnectionConfigured, expectLibuvDefaults, POLICY, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', connectionTimeoutMillis: 5000 };

/** pg keeps the socket at client.connection.stream (not in its typings). */
function socketOf(client: Client | PoolClient): net.Socket {
  return (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
}

describeService('pg on PostgreSQL 127.0.0.1:5432', 5432, () => {
  // pg connects the socket itself: the factory returns it unconnected.
  const stream = withKeepalive(() => new net.Socket(), POLICY);

  test("control: pg's own keepAlive: true leaves libuv's forced 1 s x 10 (so the next tests can fail)", async () => {
    const client = new Client({ ...PG, keepAlive: true, keepAliveInitialDelayMillis: 5000 });
    await within(10_000, 'pg connect', client.connect());
    try {
      expectLibuvDefaults(socketOf(client));
      expect(getKeepalive(socketOf(client)).idle).toBe(5000);
    } finally {
      await client.end();
    }
  });

  test("Client, keepAlive: true: the policy holds after connect, after pg's setKeepAlive, after queries", async () => {
    const client = new Client({ ...PG, keepAlive: true, keepAliveInitialDelayMillis: 5000, stream });
    await within(10_000, 'pg connect', client.connect());
    try {
      expectConfigured(socketOf(client));
      await client.query('SELECT 1');
      // What pg does on every connect, done again by hand: the core re-applies after it.
      socketOf(client).setKeepAlive(true, 5000);
      expectConfigured(socketOf(client));
    } finally {
      await client.end();
    }
  });

  test('reconnect: a new Client through the same factory gets a new socket, configured', async () => {
    const first = new Client({ ...PG, keepAlive: true, stream });
    await within(10_000, 'pg connect', first.connect());
    const firstSocket = socketOf(first);
    await first.end();
    const second = new Client({ ...PG, keepAlive: true, stream });
    await within(10_000, 'pg reconnect', second.connect());
    try {
      expect(socketOf(second)).not.toBe(firstSocket);
      expectConfigured(socketOf(second));
    } finally {
      await second.end();
    }
  });

  test('Pool: every pool connection is configured, including the one replacing a terminated backend', async () => {
    const pool = new Pool({ ...PG, keepAlive: true, stream, max: 2 });
    const poolErrors: Error[] = [];
    pool.on('error', (error) => poolErrors.push(error));
    try {
      await expectEveryPoolConnectionConfigured<PoolClient>({
        checkout: () => pool.connect(),
        socketOf,
        release: (client) => client.release(),
        drop: async (victim, other) => {
          const socket = socketOf(victim);
          const pid = (victim as unknown as { processID: number }).processID;
          victim.release();
          await other.query('SELECT pg_terminate_backend($1)', [pid]); // the server ends it; the pool drops it
          other.release();
          await within(
            5000,
            'pg to notice the terminated backend',
            new Promise<void>((resolve) => {
              if (socket.destroyed) resolve();
              else socket.once('close', () => resolve());
            }),
          );
        },
        query: (client) => client.query('SELECT 1'),
      });
    } finally {
      await pool.end();
    }
  });
});
