/**
 * knex on the local PostgreSQL (client 'pg') and MariaDB (client 'mysql2'): knex hands its
 * `connection` object to the driver as it is, so the driver's own `stream` option is the hook —
 * withKeepalive there, as in the pg and mysql2 recipes. Two open transactions hold two pool
 * connections; the socket under test is the one whose local port the server reports.
 */
import net from 'node:net';
import knex, { type Knex } from 'knex';
import { withKeepalive } from '../../src/integrations';
import { closed, MARIADB_WHO_AM_I, PG_WHO_AM_I, portOfAddress, recordingFactory, socketOnLocalPort } from './fixtures/client-sockets';
import { describeService, expectConfigured, expectEveryPoolConnectionConfigured, POLICY, within } from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

interface Stack {
  client: 'pg' | 'mysql2';
  port: number;
  connection: Record<string, unknown>;
  /** The driver's socket factory, unconfigured (the test wraps it with withKeepalive). */
  factory: (...args: never[]) => net.Socket;
  /** The client's local port and the server's id for this connection. */
  whoAmI(db: Knex | Knex.Transaction): Promise<{ port: number; id: number }>;
  kill(db: Knex | Knex.Transaction, id: number): Promise<unknown>;
}

/** Rows of a raw query: pg returns { rows }, mysql2 returns [rows, fields]. */
function rowsOf(result: unknown): Array<Record<string, unknown>> {
  return Array.isArray(result) ? (result[0] as Array<Record<string, unknown>>) : (result as { rows: Array<Record<string, unknown>> }).rows;
}

const STACKS: Stack[] = [
  {
    client: 'pg',
    port: 5432,
    // pg's own keepAlive on, so its setKeepAlive(true, 5000) runs on every connect before the test reads the kernel.
    connection: { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', keepAlive: true, keepAliveInitialDelayMillis: 5000 },
    factory: () => new net.Socket(),
    whoAmI: async (db) => {
      const [row] = rowsOf(await db.raw(`SELECT ${PG_WHO_AM_I}`));
      return { port: Number(row!.port), id: Number(row!.pid) };
    },
    kill: (db, id) => db.raw('SELECT pg_terminate_backend(?)', [id]),
  },
  {
    client: 'mysql2',
    port: 3306,
    connection: { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' },
    factory: ({ config }: { config: { host: string; port: number } }) => net.connect(config.port, config.host),
    whoAmI: async (db) => {
      const [row] = rowsOf(await db.raw(MARIADB_WHO_AM_I));
      return { port: portOfAddress(String(row!.address)), id: Number(row!.id) };
    },
    kill: (db, id) => db.raw(`KILL ${Number(id)}`),
  },
];

/** knex logs the killed connection's error (expected here) with console.log. */
const QUIET = { warn: () => undefined, error: () => undefined, deprecate: () => undefined, debug: () => undefined };

describe.each(STACKS)('knex, client $client', (stack) => {
  describeService(`knex (${stack.client}) on 127.0.0.1:${stack.port}`, stack.port, () => {
    const sockets: net.Socket[] = [];
    let db: Knex;
    beforeAll(() => {
      const stream = withKeepalive(recordingFactory(stack.factory as (...args: unknown[]) => net.Socket, sockets), POLICY);
      db = knex({ client: stack.client, connection: { ...stack.connection, stream }, pool: { min: 0, max: 2 }, log: QUIET });
    });
    // A failed assertion must not leave a transaction holding a pool connection.
    const open: Knex.Transaction[] = [];
    afterEach(async () => {
      for (const transaction of open.splice(0)) if (!transaction.isCompleted()) await transaction.rollback().catch(() => undefined);
    });
    afterAll(() => db.destroy());

    test('connection: { stream: withKeepalive(...) }: every pool connection is configured, including the one replacing a killed one', async () => {
      type Held = { transaction: Knex.Transaction; socket: net.Socket; id: number };
      await expectEveryPoolConnectionConfigured<Held>({
        // An open transaction holds its pool connection until it ends.
        checkout: async () => {
          const transaction = await within(10_000, 'knex transaction', db.transaction());
          open.push(transaction);
          const { port, id } = await stack.whoAmI(transaction);
          return { transaction, socket: socketOnLocalPort(sockets, port), id };
        },
        socketOf: (held) => held.socket,
        release: (held) => {
          void held.transaction.commit();
        },
        drop: async (victim, other) => {
          await stack.kill(other.transaction, victim.id);
          await within(15_000, 'the killed connection to close', closed(victim.socket));
          await victim.transaction.rollback().catch(() => undefined);
          await other.transaction.commit();
        },
        query: (held) => held.transaction.raw('SELECT 1'),
      });
    });

    test('plain queries run on configured sockets', async () => {
      const { port } = await stack.whoAmI(db);
      expectConfigured(socketOnLocalPort(sockets, port));
    });
  });
});
