/**
 * Sequelize on the local PostgreSQL (dialect 'postgres', over pg) and MariaDB (dialect 'mariadb', over
 * the mariadb connector): `dialectOptions.stream` reaches the driver (the postgres dialect passes a
 * fixed list of dialectOptions to pg.Client, `stream` among them; the mariadb dialect passes them all).
 * Two open transactions hold two pool connections; the socket under test is the one whose local port
 * the server reports.
 */
import net from 'node:net';
import { QueryTypes, Sequelize, type Transaction } from 'sequelize';
import { withKeepalive } from '../../src/integrations';
import { closed, MARIADB_WHO_AM_I, PG_WHO_AM_I, portOfAddress, recordingFactory, socketOnLocalPort } from './fixtures/client-sockets';
import { describeService, expectConfigured, expectEveryPoolConnectionConfigured, POLICY, within } from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

interface Stack {
  dialect: 'postgres' | 'mariadb';
  port: number;
  /** The driver's socket factory, unconfigured (the test wraps it with withKeepalive). */
  factory: (...args: never[]) => unknown;
  /** Driver options besides `stream` that make the driver call setKeepAlive itself. */
  driverKeepalive: Record<string, unknown>;
  whoAmI: string;
  portOf(row: Record<string, unknown>): number;
  idOf(row: Record<string, unknown>): number;
  kill(id: number): string;
}

const STACKS: Stack[] = [
  {
    dialect: 'postgres',
    port: 5432,
    factory: () => new net.Socket(),
    driverKeepalive: { keepAlive: true }, // pg: setKeepAlive(true, 0) on every connect
    whoAmI: `SELECT ${PG_WHO_AM_I}`,
    portOf: (row) => Number(row.port),
    idOf: (row) => Number(row.pid),
    kill: (id) => `SELECT pg_terminate_backend(${Number(id)})`,
  },
  {
    dialect: 'mariadb',
    port: 3306,
    // The mariadb connector calls stream(callback); hand it a connecting socket.
    factory: (callback: (error?: Error, socket?: net.Socket) => void) => callback(undefined, net.connect(3306, '127.0.0.1')),
    driverKeepalive: { keepAliveDelay: 5000 }, // mariadb: setKeepAlive(true, 5000) on connect
    whoAmI: MARIADB_WHO_AM_I,
    portOf: (row) => portOfAddress(String(row.address)),
    idOf: (row) => Number(row.id),
    kill: (id) => `KILL ${Number(id)}`,
  },
];

describe.each(STACKS)('Sequelize, dialect $dialect', (stack) => {
  describeService(`Sequelize (${stack.dialect}) on 127.0.0.1:${stack.port}`, stack.port, () => {
    const sockets: net.Socket[] = [];
    let sequelize: Sequelize;
    beforeAll(() => {
      const stream = withKeepalive(recordingFactory(stack.factory as (...args: unknown[]) => unknown, sockets), POLICY);
      sequelize = new Sequelize({
        dialect: stack.dialect,
        host: '127.0.0.1',
        port: stack.port,
        username: stack.dialect === 'postgres' ? 'postgres' : 'root',
        password: '',
        database: 'test',
        logging: false,
        pool: { min: 0, max: 2 },
        dialectOptions: { ...stack.driverKeepalive, stream },
      });
    });
    // A failed assertion must not leave a transaction holding a pool connection (close() would wait for it).
    const open: Transaction[] = [];
    afterEach(async () => {
      for (const transaction of open.splice(0)) await transaction.rollback().catch(() => undefined);
    });
    afterAll(() => sequelize.close());

    async function whoAmI(transaction?: Transaction): Promise<{ socket: net.Socket; id: number }> {
      const [row] = await within(
        10_000,
        'Sequelize query',
        sequelize.query<Record<string, unknown>>(stack.whoAmI, { type: QueryTypes.SELECT, transaction }),
      );
      return { socket: socketOnLocalPort(sockets, stack.portOf(row!)), id: stack.idOf(row!) };
    }

    test("dialectOptions: { stream: withKeepalive(...) }: configured after the driver's own setKeepAlive, on every pool connection and its replacement", async () => {
      type Held = { transaction: Transaction; socket: net.Socket; id: number };
      await expectEveryPoolConnectionConfigured<Held>({
        checkout: async () => {
          const transaction = await within(10_000, 'Sequelize transaction', sequelize.transaction());
          open.push(transaction);
          return { transaction, ...(await whoAmI(transaction)) };
        },
        socketOf: (held) => held.socket,
        release: (held) => {
          void held.transaction.commit();
        },
        drop: async (victim, other) => {
          await sequelize.query(stack.kill(victim.id), { transaction: other.transaction });
          // The rollback fails on the killed connection and Sequelize destroys it; it warns (console.warn): expected here.
          const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
          await victim.transaction
            .rollback()
            .catch(() => undefined)
            .finally(() => warn.mockRestore());
          await other.transaction.commit();
          await within(15_000, 'the killed connection to close', closed(victim.socket));
        },
        query: (held) => sequelize.query('SELECT 1', { type: QueryTypes.SELECT, transaction: held.transaction }),
      });
    });

    test('plain queries run on configured sockets', async () => {
      expectConfigured((await whoAmI()).socket);
    });
  });
});
