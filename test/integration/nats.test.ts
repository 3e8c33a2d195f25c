/** nats on the local NATS server: process-wide installKeepalive (nats exposes no socket publicly). */
import net from 'node:net';
import { connect, type NatsConnection } from 'nats';
import { getKeepalive } from '../../src';
import { installKeepalive } from '../../src/integrations';
import { describeService, eventually, expectConfigured, observeClientSockets, POLICY, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

const NATS_PORT = 4222;

/** nats keeps its socket at nc.protocol.transport.socket; read it only to cross-check the observed one. */
function internalSocketOf(nc: NatsConnection): net.Socket | undefined {
  return (nc as unknown as { protocol?: { transport?: { socket?: net.Socket } } }).protocol?.transport?.socket;
}

describeService('nats on NATS 127.0.0.1:4222', NATS_PORT, () => {
  const observer = observeClientSockets();
  afterAll(() => observer.stop());

  test('control: without the install, a nats socket has no keepalive policy', async () => {
    const nc = await within(10_000, 'nats connect', connect({ servers: `127.0.0.1:${NATS_PORT}`, reconnect: false }));
    try {
      const socket = internalSocketOf(nc)!;
      expect(observer.connectedTo(NATS_PORT)).toContain(socket);
      expect(getKeepalive(socket)).not.toMatchObject({ interval: POLICY.interval, count: POLICY.count });
    } finally {
      await nc.close();
    }
  });

  test('configured after connect and after a reconnect', async () => {
    const installation = installKeepalive({ ...POLICY, match: { host: 'localhost', port: NATS_PORT } });
    const nc = await within(
      10_000,
      'nats connect',
      connect({
        servers: `localhost:${NATS_PORT}`,
        reconnectTimeWait: 50,
        maxReconnectAttempts: -1,
        waitOnFirstConnect: false,
      }),
    );
    try {
      const first = internalSocketOf(nc)!;
      expect(observer.connectedTo(NATS_PORT)).toContain(first); // the socket nats really talks on
      expectConfigured(first);
      await nc.flush();

      first.destroy(); // a dropped connection: nats reconnects on a new socket
      const second = await eventually(10_000, 'nats to reconnect', () => {
        const socket = internalSocketOf(nc);
        return socket !== undefined && socket !== first && !socket.connecting && socket.remotePort === NATS_PORT ? socket : undefined;
      });
      await within(10_000, 'a round trip after the reconnect', nc.flush());
      expect(observer.connectedTo(NATS_PORT)).toContain(second);
      expectConfigured(second);
    } finally {
      installation.uninstall();
      await nc.close();
    }
  });
});
