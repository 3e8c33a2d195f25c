/**
 * TypeORM (postgres driver, over pg) on the local PostgreSQL: TypeORM documents `extra` as options
 * handed to the driver's pool as they are, so pg's `stream` option is the hook. Each QueryRunner
 * holds one pool connection; the socket under test is the one whose local port PostgreSQL reports.
 */
import net from 'node:net';
import { DataSource, type QueryRunner } from 'typeorm';
import { withKeepalive } from '../../src/integrations';
import { closed, PG_WHO_AM_I, recordingFactory, socketOnLocalPort } from './fixtures/client-sockets';
import { describeService, expectConfigured, expectEveryPoolConnectionConfigured, POLICY, within } from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

describeService('TypeORM (postgres) on PostgreSQL 127.0.0.1:5432', 5432, () => {
  const sockets: net.Socket[] = [];
  const dataSource = new DataSource({
    type: 'postgres',
    host: '127.0.0.1',
    port: 5432,
    username: 'postgres',
    database: 'test',
    // pg's keepAlive on: its setKeepAlive(true, 5000) runs on every connect before the test reads the kernel.
    extra: {
      max: 2,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      stream: withKeepalive(
        recordingFactory(() => new net.Socket(), sockets),
        POLICY,
      ),
    },
  });
  const runners: QueryRunner[] = [];
  beforeAll(() => within(10_000, 'TypeORM initialize', dataSource.initialize()));
  afterEach(async () => {
    for (const runner of runners.splice(0)) if (!runner.isReleased) await runner.release().catch(() => undefined);
  });
  afterAll(() => dataSource.destroy());

  async function whoAmI(runner: QueryRunner | DataSource): Promise<{ socket: net.Socket; pid: number }> {
    const [row] = (await within(10_000, 'TypeORM query', runner.query(`SELECT ${PG_WHO_AM_I}`))) as Array<{ port: number; pid: number }>;
    return { socket: socketOnLocalPort(sockets, row!.port), pid: row!.pid };
  }

  test("extra: { stream: withKeepalive(...) }: configured after pg's setKeepAlive, on every pool connection and its replacement", async () => {
    type Held = { runner: QueryRunner; socket: net.Socket; pid: number };
    await expectEveryPoolConnectionConfigured<Held>({
      checkout: async () => {
        const runner = dataSource.createQueryRunner();
        runners.push(runner);
        await within(10_000, 'TypeORM QueryRunner connect', runner.connect());
        return { runner, ...(await whoAmI(runner)) };
      },
      socketOf: (held) => held.socket,
      release: (held) => {
        void held.runner.release();
      },
      drop: async (victim, other) => {
        await other.runner.query('SELECT pg_terminate_backend($1)', [victim.pid]);
        await within(15_000, 'the terminated backend to close', closed(victim.socket));
        await victim.runner.release();
        await other.runner.release();
      },
      query: (held) => held.runner.query('SELECT 1'),
    });
  });

  test('DataSource.query runs on a configured socket', async () => {
    expectConfigured((await whoAmI(dataSource)).socket);
  });
});
