/**
 * Drizzle ORM on the local PostgreSQL, over node-postgres and over postgres.js. Drizzle adds no
 * connection layer of its own: the driver's socket option is the hook, given either in the
 * `connection` options Drizzle builds the driver from, or on a client you build and pass as `client`.
 * The socket under test is the one whose local port PostgreSQL reports; after its backend is
 * terminated, the next query runs on a new socket from the same factory.
 */
import net from 'node:net';
import { sql as drizzleSql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePostgresJs } from 'drizzle-orm/postgres-js';
import { Client, Pool } from 'pg';
import postgres from 'postgres';
import { withKeepalive } from '../../src/integrations';
import { closed, PG_WHO_AM_I, recordingFactory, socketOnLocalPort } from './fixtures/client-sockets';
import { describeService, expectConfigured, POLICY, within } from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const WHO_AM_I = drizzleSql.raw(`SELECT ${PG_WHO_AM_I}`);

/** Rows of db.execute: node-postgres gives a QueryResult, postgres.js an array. */
function firstRow(result: unknown): { port: number; pid: number } {
  const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
  return rows[0] as { port: number; pid: number };
}

describeService('Drizzle on PostgreSQL 127.0.0.1:5432', 5432, () => {
  const sockets: net.Socket[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];
  let admin: Client;
  beforeAll(async () => {
    admin = new Client(PG);
    await within(10_000, 'admin connect', admin.connect());
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    sockets.length = 0;
  });
  afterAll(() => admin.end());

  /** Configured on the first connection; then the backend is terminated and the next query runs on a new, configured socket. */
  async function expectConfiguredAcrossReconnect(execute: () => Promise<unknown>): Promise<void> {
    const first = firstRow(await within(10_000, 'drizzle query', execute()));
    const firstSocket = socketOnLocalPort(sockets, first.port);
    expectConfigured(firstSocket);
    await admin.query('SELECT pg_terminate_backend($1)', [first.pid]);
    await within(15_000, 'the terminated backend to close', closed(firstSocket));
    const second = firstRow(await within(10_000, 'drizzle query after the backend was terminated', execute()));
    const secondSocket = socketOnLocalPort(sockets, second.port);
    expect(secondSocket).not.toBe(firstSocket);
    expectConfigured(secondSocket);
  }

  const pgStream = () =>
    withKeepalive(
      recordingFactory(() => new net.Socket(), sockets),
      POLICY,
    );
  type SocketOption = (options: { host: string[]; port: number[] }) => net.Socket;
  const postgresJsSocket = () =>
    withKeepalive(
      recordingFactory<Parameters<SocketOption>, net.Socket>(({ host: [host], port: [port] }) => net.connect(port!, host!), sockets),
      POLICY,
    );

  test('node-postgres, drizzle({ connection: { ...config, stream } }): Drizzle builds the pg Pool with the factory', async () => {
    const db = drizzlePg({ connection: { ...PG, keepAlive: true, stream: pgStream() } });
    db.$client.on('error', () => undefined); // the terminated backend is reported on the pool
    cleanups.push(() => db.$client.end());
    await expectConfiguredAcrossReconnect(() => db.execute(WHO_AM_I));
  });

  test('node-postgres, drizzle({ client: new Pool({ ...config, stream }) })', async () => {
    const pool = new Pool({ ...PG, keepAlive: true, stream: pgStream() });
    pool.on('error', () => undefined);
    cleanups.push(() => pool.end());
    const db = drizzlePg({ client: pool });
    await expectConfiguredAcrossReconnect(() => db.execute(WHO_AM_I));
  });

  test('postgres.js, drizzle({ client: postgres({ ...config, socket }) })', async () => {
    // `socket` is a documented postgres.js option its typings do not declare.
    const client = postgres({ ...PG, max: 1, onnotice: () => undefined, socket: postgresJsSocket() } as postgres.Options<
      Record<string, never>
    >);
    cleanups.push(() => client.end({ timeout: 1 }));
    const db = drizzlePostgresJs({ client });
    await expectConfiguredAcrossReconnect(() => db.execute(WHO_AM_I));
  });
});
