/**
 * The MariaDB connector (npm `mariadb`) on the local MariaDB, connection and pool, through its
 * documented `stream` option (a function given an error-first callback to hand over the socket)
 * wrapped with withKeepalive. The socket under test is the one whose local port MariaDB reports in
 * information_schema.PROCESSLIST for the connection.
 */
import net from 'node:net';
import * as mariadb from 'mariadb';
import { withKeepalive } from '../../src/integrations';
import { MARIADB_WHO_AM_I, portOfAddress, recordingFactory, socketOnLocalPort } from './fixtures/client-sockets';
import { describeService, expectConfigured, expectEveryPoolConnectionConfigured, expectLibuvDefaults, POLICY, within } from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectTimeout: 5000 };

type StreamCallback = (error?: Error, stream?: net.Socket) => void;
/** The recipe's factory: the connector calls `stream(callback)`; hand it a connecting socket. */
const connectToMariadb = (callback: StreamCallback): void => callback(undefined, net.connect(MARIADB.port, MARIADB.host));

describeService('mariadb connector on MariaDB 127.0.0.1:3306', 3306, () => {
  const sockets: net.Socket[] = [];
  afterEach(() => {
    sockets.length = 0;
  });

  /** The socket MariaDB talks to on this connection, and the connection's id there. */
  async function serverSideSocket(connection: mariadb.Connection | mariadb.PoolConnection): Promise<{ socket: net.Socket; id: number }> {
    const [row] = (await within(10_000, 'mariadb query', connection.query(MARIADB_WHO_AM_I))) as Array<{
      address: string;
      id: number | bigint;
    }>;
    return { socket: socketOnLocalPort(sockets, portOfAddress(row!.address)), id: Number(row!.id) };
  }

  test("control: the connector's own keepAliveDelay is a setKeepAlive: libuv's forced 1 s x 10", async () => {
    const connection = await within(
      10_000,
      'mariadb connect',
      mariadb.createConnection({ ...MARIADB, keepAliveDelay: 5000, stream: recordingFactory(connectToMariadb, sockets) }),
    );
    try {
      const { socket } = await serverSideSocket(connection);
      expectLibuvDefaults(socket);
    } finally {
      await connection.end();
    }
  });

  test("connection: configured after connect and after the connector's keepAliveDelay; a new connection gets a new configured socket", async () => {
    const stream = withKeepalive(recordingFactory(connectToMariadb, sockets), POLICY);
    const first = await within(10_000, 'mariadb connect', mariadb.createConnection({ ...MARIADB, keepAliveDelay: 5000, stream }));
    const firstSocket = (await serverSideSocket(first)).socket;
    try {
      expectConfigured(firstSocket);
      firstSocket.setKeepAlive(true, 5000); // what the connector does on connect with keepAliveDelay, again by hand
      expectConfigured(firstSocket);
    } finally {
      await first.end();
    }
    const second = await within(10_000, 'mariadb reconnect', mariadb.createConnection({ ...MARIADB, stream }));
    try {
      const secondSocket = (await serverSideSocket(second)).socket;
      expect(secondSocket).not.toBe(firstSocket);
      expectConfigured(secondSocket);
    } finally {
      await second.end();
    }
  });

  test('pool: every pool connection is configured, including the one replacing a destroyed connection', async () => {
    const pool = mariadb.createPool({
      ...MARIADB,
      stream: withKeepalive(recordingFactory(connectToMariadb, sockets), POLICY),
      connectionLimit: 2,
      minimumIdle: 0,
    });
    type Checked = { connection: mariadb.PoolConnection; socket: net.Socket; id: number };
    try {
      await expectEveryPoolConnectionConfigured<Checked>({
        checkout: async () => {
          const connection = await pool.getConnection();
          return { connection, ...(await serverSideSocket(connection)) };
        },
        socketOf: (checked) => checked.socket,
        release: (checked) => {
          void checked.connection.release();
        },
        drop: async (victim, other) => {
          await victim.connection.destroy(); // the pool forgets it and opens a new one through the same factory
          await other.connection.release();
        },
        query: (checked) => checked.connection.query('SELECT 1'),
      });
    } finally {
      await pool.end();
    }
  });
});
