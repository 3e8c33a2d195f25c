/** mysql2 (connection and pool) on the local MariaDB, through withKeepalive as mysql2's `stream` factory. */
import net from 'node:net';
import mysql from 'mysql2/promise';
import { withKeepalive } from '../../src/integrations';
import { describeService, expectConfigured, expectEveryPoolConnectionConfigured, expectLibuvDefaults, POLICY, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectTimeout: 5000 };

/** mysql2's promise wrappers keep the callback connection, which keeps the socket at .stream. */
function socketOf(connection: mysql.Connection | mysql.PoolConnection): net.Socket {
  return (connection as unknown as { connection: { stream: net.Socket } }).connection.stream;
}

/** mysql2 calls a function `stream` with its options and uses the returned socket; connect it like mysql2 would. */
const stream = withKeepalive((options: { config: { host: string; port: number } }) => {
  const socket = net.connect(options.config.port, options.config.host);
  socket.setNoDelay(true);
  return socket;
}, POLICY);

describeService('mysql2 on MariaDB 127.0.0.1:3306', 3306, () => {
  test("control: mysql2's own enableKeepAlive with a delay leaves libuv's forced 1 s x 10", async () => {
    const connection = await within(10_000, 'mysql2 connect', mysql.createConnection({ ...MARIADB, keepAliveInitialDelay: 10_000 }));
    try {
      expectLibuvDefaults(socketOf(connection));
    } finally {
      await connection.end();
    }
  });

  test('connection: configured after connect and after queries; a new connection gets a new configured socket', async () => {
    const first = await within(10_000, 'mysql2 connect', mysql.createConnection({ ...MARIADB, stream }));
    const firstSocket = socketOf(first);
    try {
      expectConfigured(firstSocket);
      await first.query('SELECT 1');
      // What mysql2 does on the sockets it creates itself (with a custom stream it does not); the core re-applies after it.
      firstSocket.setKeepAlive(true, 10_000);
      expectConfigured(firstSocket);
    } finally {
      await first.end();
    }
    const second = await within(10_000, 'mysql2 reconnect', mysql.createConnection({ ...MARIADB, stream }));
    try {
      expect(socketOf(second)).not.toBe(firstSocket);
      expectConfigured(socketOf(second));
    } finally {
      await second.end();
    }
  });

  test('pool: every pool connection is configured, including the one replacing a destroyed connection', async () => {
    const pool = mysql.createPool({ ...MARIADB, stream, connectionLimit: 2 });
    try {
      await expectEveryPoolConnectionConfigured<mysql.PoolConnection>({
        checkout: () => pool.getConnection(),
        socketOf,
        release: (connection) => connection.release(),
        drop: async (victim, other) => {
          victim.destroy(); // the pool forgets it and opens a new one on demand
          other.release();
        },
        query: (connection) => connection.query('SELECT 1'),
      });
    } finally {
      await pool.end();
    }
  });
});
