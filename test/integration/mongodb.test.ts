/**
 * mongodb has no server here and no socket hook: a local listener stands in,
 * the process-wide install configures the socket the driver's monitor opens
 * (the driver itself calls setKeepAlive(true, 120000) before connecting), and
 * the test reads the kernel on that very socket, found from the listener's side.
 */
import { MongoClient } from 'mongodb';
import { installKeepalive } from '../../src/integrations';
import { clientEndOf, eventually, expectConfigured, expectLibuvDefaults, holdingListener, observeClientSockets, POLICY } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

describe('mongodb against a local listener', () => {
  let listener: Awaited<ReturnType<typeof holdingListener>>;
  const observer = observeClientSockets();
  const clients: MongoClient[] = [];
  beforeEach(async () => {
    listener = await holdingListener();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close(true).catch(() => undefined)));
    await listener.close();
  });
  afterAll(() => observer.stop());

  function startClient(): void {
    const client = new MongoClient(
      `mongodb://127.0.0.1:${listener.port}/?directConnection=true&serverSelectionTimeoutMS=5000&connectTimeoutMS=5000&heartbeatFrequencyMS=500`,
    );
    clients.push(client);
    client.connect().catch(() => undefined); // nobody answers 'hello'; we only need the socket
  }

  test("control: the driver's own setKeepAlive(true, 120000) leaves libuv's forced 1 s x 10", async () => {
    startClient();
    const accepted = await listener.accepted(0);
    const socket = await eventually(2000, 'the driver socket', () => clientEndOf(accepted, observer.connectedTo(listener.port)));
    expectLibuvDefaults(socket);
    expect(socket.remotePort).toBe(listener.port);
  });

  test('installKeepalive: the socket the driver opens is configured, and so is the one it opens after a drop', async () => {
    const installation = installKeepalive({ ...POLICY, match: { host: '127.0.0.1', port: listener.port } });
    try {
      startClient();
      const first = await listener.accepted(0);
      const firstSocket = await eventually(2000, 'the driver socket', () => clientEndOf(first, observer.connectedTo(listener.port)));
      expectConfigured(firstSocket);

      first.destroy(); // the driver's monitor reconnects with a new socket
      const second = await listener.accepted(1);
      const secondSocket = await eventually(2000, 'the new driver socket', () => clientEndOf(second, observer.connectedTo(listener.port)));
      expect(secondSocket).not.toBe(firstSocket);
      expectConfigured(secondSocket);
    } finally {
      installation.uninstall();
    }
  });
});
