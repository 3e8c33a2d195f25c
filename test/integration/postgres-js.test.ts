/**
 * postgres.js (porsager/postgres) on the local PostgreSQL, through its documented `socket` option
 * (a function returning the socket to use) wrapped with withKeepalive. The socket under test is found
 * from the server's side: inet_client_port() is the client's local port as PostgreSQL sees it.
 */
import net from 'node:net';
import tls from 'node:tls';
import postgres from 'postgres';
import { withKeepalive } from '../../src/integrations';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { closed, PG_WHO_AM_I, recordingFactory, socketOnLocalPort } from './fixtures/client-sockets';
import {
  describeService,
  describeWhen,
  expectConfigured,
  expectEveryPoolConnectionConfigured,
  expectLibuvDefaults,
  opensslMissing,
  POLICY,
  within,
} from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', connect_timeout: 5, onnotice: () => undefined };

/** postgres.js calls `socket(options)` with its parsed options (host and port are arrays) and expects a socket it can write to at once. */
type SocketOption = (options: { host: string[]; port: number[] }) => net.Socket;
const connectLikePostgresJs: SocketOption = ({ host: [host], port: [port] }) => net.connect(port!, host!);

describeService('postgres.js on PostgreSQL 127.0.0.1:5432', 5432, () => {
  const sockets: net.Socket[] = [];
  const clients: postgres.Sql[] = [];
  afterEach(async () => {
    for (const sql of clients.splice(0)) await sql.end({ timeout: 1 });
    sockets.length = 0;
  });

  /** `socket` is a documented option the typings do not declare. */
  function connect(options: { socket: SocketOption; keep_alive?: number | null; max?: number }): postgres.Sql {
    const sql = postgres({ ...PG, ...options } as postgres.Options<Record<string, never>>);
    clients.push(sql);
    return sql;
  }

  /** The socket the server talks to on this connection. */
  async function serverSideSocket(sql: postgres.Sql | postgres.ReservedSql): Promise<{ socket: net.Socket; pid: number }> {
    const [row] = await within(10_000, 'postgres.js query', sql.unsafe(`SELECT ${PG_WHO_AM_I}`));
    return { socket: socketOnLocalPort(sockets, row!.port as number), pid: row!.pid as number };
  }

  test("control: postgres.js's own keep_alive (60 s by default) is a setKeepAlive: libuv's forced 1 s x 10", async () => {
    const sql = connect({ socket: recordingFactory(connectLikePostgresJs, sockets), keep_alive: 5 });
    const { socket } = await serverSideSocket(sql);
    expectLibuvDefaults(socket);
  });

  test("socket: withKeepalive(...): configured after connect, after postgres.js's keep_alive, and on the socket of a reconnect", async () => {
    const sql = connect({ socket: withKeepalive(recordingFactory(connectLikePostgresJs, sockets), POLICY), keep_alive: 5, max: 1 });
    const first = await serverSideSocket(sql);
    expectConfigured(first.socket);
    first.socket.setKeepAlive(true, 5000); // what postgres.js does on every connect, again by hand: re-applied after it
    expectConfigured(first.socket);

    // The server ends the backend (asked on another connection); postgres.js opens a new connection for the next query.
    const admin = connect({ socket: connectLikePostgresJs, keep_alive: null });
    await admin`SELECT pg_terminate_backend(${first.pid})`;
    await within(15_000, 'postgres.js to see the connection end', closed(first.socket));
    const second = await serverSideSocket(sql);
    expect(second.socket).not.toBe(first.socket);
    expectConfigured(second.socket);
  });

  test('pool: every reserved connection is configured, including the one replacing a terminated backend', async () => {
    const sql = connect({ socket: withKeepalive(recordingFactory(connectLikePostgresJs, sockets), POLICY), max: 2 });
    type Reserved = { reserved: postgres.ReservedSql; socket: net.Socket; pid: number };
    await expectEveryPoolConnectionConfigured<Reserved>({
      checkout: async () => {
        const reserved = await sql.reserve();
        return { reserved, ...(await serverSideSocket(reserved)) };
      },
      socketOf: (connection) => connection.socket,
      release: (connection) => connection.reserved.release(),
      drop: async (victim, other) => {
        victim.reserved.release();
        await other.reserved`SELECT pg_terminate_backend(${victim.pid})`;
        other.reserved.release();
        await within(15_000, 'postgres.js to see the terminated backend', closed(victim.socket));
      },
      query: (connection) => connection.reserved`SELECT 1`,
    });
  });

  // The local PostgreSQL has no TLS: a local TLS front answers postgres.js's SSLRequest with 'S',
  // terminates TLS with a throwaway certificate and forwards the plain protocol to PostgreSQL.
  describeWhen('postgres.js with ssl (through a local TLS front)', opensslMissing(), () => {
    let front: net.Server;
    let frontPort: number;
    beforeAll(async () => {
      const certificate = selfSignedCertificate();
      front = net.createServer((raw) => {
        raw.on('error', () => undefined);
        raw.once('data', () => {
          // the 8-byte SSLRequest
          raw.write('S');
          const secure = new tls.TLSSocket(raw, { isServer: true, ...certificate });
          const upstream = net.connect(PG.port, PG.host);
          secure.on('error', () => upstream.destroy());
          upstream.on('error', () => secure.destroy());
          secure.pipe(upstream).pipe(secure);
        });
      });
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
      frontPort = (front.address() as net.AddressInfo).port;
    });
    afterAll(() => new Promise((resolve) => front.close(resolve)));

    /** The raw TCP socket postgres.js upgraded (the front reports no client port PostgreSQL could see). */
    async function tlsSession(keepAlive: number | null): Promise<net.Socket> {
      const raw: net.Socket[] = [];
      const ssl = postgres({
        ...PG,
        port: frontPort,
        ssl: 'require',
        keep_alive: keepAlive,
        max: 1,
        socket: withKeepalive(recordingFactory(connectLikePostgresJs, raw), POLICY),
      } as postgres.Options<Record<string, never>>);
      clients.push(ssl);
      await within(10_000, 'a query over TLS', ssl`SELECT 1`);
      expect(raw).toHaveLength(1);
      return raw[0]!;
    }

    test('ssl: require, keep_alive: null: the TCP socket under the TLS upgrade is configured', async () => {
      expectConfigured(await tlsSession(null));
    });

    // postgres.js calls setKeepAlive on the TLS socket it creates after the upgrade (tls.connect({ socket })), an
    // object we never saw; its TLSWrap forwards the call to the TCP handle, whose setKeepAlive the core wraps.
    test("ssl: require with keep_alive on: the policy survives postgres.js's setKeepAlive on the TLS socket", async () => {
      const socket = await tlsSession(5);
      expectConfigured(socket);
    });
  });
});
