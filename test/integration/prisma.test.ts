/**
 * Prisma ORM with its node-postgres driver adapter (@prisma/adapter-pg) on the local PostgreSQL:
 * the adapter takes a pg Pool (or the options to build one), so pg's `stream` option is the hook.
 * The client is generated at test time into test/integration/generated/prisma (git-ignored);
 * `prisma generate` here needs no engine download: PRISMA_SCHEMA_ENGINE_BINARY points at /bin/true
 * (the client generator does not run the schema engine; the adapter-based client runs no engine).
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client, Pool } from 'pg';
import { withKeepalive } from '../../src/integrations';
import { closed, PG_WHO_AM_I, recordingFactory, socketOnLocalPort } from './fixtures/client-sockets';
import { describeService, expectConfigured, POLICY, within } from './support';

// prisma generate takes a few seconds on a loaded machine; each step is bounded by within().
jest.setTimeout(30_000);

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const SCHEMA = path.join(__dirname, 'fixtures', 'prisma', 'schema.prisma');
const GENERATED = path.join(__dirname, 'generated', 'prisma');

/** The generated client's surface used here (its own typings live in the git-ignored output). */
interface GeneratedPrismaClient {
  $queryRawUnsafe<T>(query: string): Promise<T>;
  $disconnect(): Promise<void>;
}
type PrismaClientConstructor = new (options: { adapter: unknown }) => GeneratedPrismaClient;

function generateClient(): PrismaClientConstructor {
  execFileSync(process.execPath, [require.resolve('prisma/build/index.js'), 'generate', '--schema', SCHEMA], {
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: 'pipe',
    timeout: 25_000,
  });
  return (require(GENERATED) as { PrismaClient: PrismaClientConstructor }).PrismaClient;
}

describeService('Prisma (@prisma/adapter-pg) on PostgreSQL 127.0.0.1:5432', 5432, () => {
  let PrismaClient: PrismaClientConstructor;
  const sockets: net.Socket[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];
  let admin: Client;
  beforeAll(async () => {
    PrismaClient = generateClient();
    admin = new Client(PG);
    await within(10_000, 'admin connect', admin.connect());
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    sockets.length = 0;
  });
  afterAll(() => admin?.end());

  const stream = () =>
    withKeepalive(
      recordingFactory(() => new net.Socket(), sockets),
      POLICY,
    );

  /** Configured on the first connection; then the backend is terminated and the next query runs on a new, configured socket. */
  async function expectConfiguredAcrossReconnect(prisma: GeneratedPrismaClient): Promise<void> {
    const whoAmI = async () => {
      const [row] = await within(
        10_000,
        'Prisma query',
        prisma.$queryRawUnsafe<Array<{ port: number; pid: number }>>(`SELECT ${PG_WHO_AM_I}`),
      );
      return { socket: socketOnLocalPort(sockets, row!.port), pid: row!.pid };
    };
    const first = await whoAmI();
    expectConfigured(first.socket);
    await admin.query('SELECT pg_terminate_backend($1)', [first.pid]);
    await within(15_000, 'the terminated backend to close', closed(first.socket));
    const second = await whoAmI();
    expect(second.socket).not.toBe(first.socket);
    expectConfigured(second.socket);
  }

  test("new PrismaPg(new Pool({ ...config, stream })): configured after pg's keepAlive, and on the connection replacing a terminated backend", async () => {
    const pool = new Pool({ ...PG, max: 2, keepAlive: true, keepAliveInitialDelayMillis: 5000, stream: stream() });
    cleanups.push(() => pool.end());
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    cleanups.push(() => prisma.$disconnect());
    await expectConfiguredAcrossReconnect(prisma);
  });

  test('new PrismaPg({ ...config, stream }): the adapter builds the pool with the factory', async () => {
    const prisma = new PrismaClient({ adapter: new PrismaPg({ ...PG, max: 2, stream: stream() }) });
    cleanups.push(() => prisma.$disconnect());
    await expectConfiguredAcrossReconnect(prisma);
  });
});
