/** amqplib on the local RabbitMQ: process-wide installKeepalive (amqplib's own keepAlive on), socket at connection.stream. */
import net from 'node:net';
import amqp from 'amqplib';
import { installKeepalive } from '../../src/integrations';
import { describeService, expectConfigured, expectLibuvDefaults, POLICY, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

const AMQP_PORT = 5672;
const URL = `amqp://guest:guest@127.0.0.1:${AMQP_PORT}`;
/** amqplib's own socket options: it calls setKeepAlive(true, 5000) on connect. */
const AMQPLIB_KEEPALIVE = { keepAlive: true, keepAliveDelay: 5000 };

function socketOf(connection: amqp.ChannelModel): net.Socket {
  return (connection as unknown as { connection: { stream: net.Socket } }).connection.stream;
}

describeService('amqplib on RabbitMQ 127.0.0.1:5672', AMQP_PORT, () => {
  test("control: amqplib's own keepAlive leaves libuv's forced 1 s x 10", async () => {
    const connection = await within(10_000, 'amqp connect', amqp.connect(URL, AMQPLIB_KEEPALIVE));
    try {
      expectLibuvDefaults(socketOf(connection));
    } finally {
      await connection.close();
    }
  });

  test("configured after connect (after amqplib's own setKeepAlive), after channel work, and on a new connection", async () => {
    const installation = installKeepalive({ ...POLICY, match: { port: AMQP_PORT } });
    try {
      const first = await within(10_000, 'amqp connect', amqp.connect(URL, AMQPLIB_KEEPALIVE));
      const firstSocket = socketOf(first);
      try {
        expectConfigured(firstSocket);
        const channel = await first.createChannel();
        const { queue } = await channel.assertQueue('', { exclusive: true });
        channel.sendToQueue(queue, Buffer.from('ping'));
        await channel.close();
        expectConfigured(firstSocket);
      } finally {
        await first.close();
      }
      // amqplib does not reconnect by itself: an application reconnects with a new connect().
      const second = await within(10_000, 'amqp reconnect', amqp.connect(URL, AMQPLIB_KEEPALIVE));
      try {
        expect(socketOf(second)).not.toBe(firstSocket);
        expectConfigured(socketOf(second));
      } finally {
        await second.close();
      }
    } finally {
      installation.uninstall();
    }
  });
});
