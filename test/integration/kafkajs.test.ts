/**
 * kafkajs has no broker here: a local listener stands in, and the test reads
 * the kernel on the socket kafkajs really opened to it — through its
 * documented socketFactory (wrapping kafkajs's own default factory, which
 * calls setKeepAlive(true, 60000)) and through the process-wide install.
 */
import net from 'node:net';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import { installKeepalive, withKeepalive } from '../../src/integrations';
import { clientEndOf, eventually, expectConfigured, expectLibuvDefaults, holdingListener, observeClientSockets, POLICY } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

// kafkajs's default factory (not re-exported by its index; the file is the documented default).

const kafkaDefaultSocketFactory = (require('kafkajs/src/network/socketFactory') as () => ISocketFactory)();

describe('kafkajs against a local listener', () => {
  let listener: Awaited<ReturnType<typeof holdingListener>>;
  const observer = observeClientSockets();
  beforeEach(async () => {
    listener = await holdingListener();
  });
  afterEach(() => listener.close());
  afterAll(() => observer.stop());

  /** Starts producer.connect() (it never completes: nobody answers) and returns the producer. */
  function startProducer(socketFactory?: ISocketFactory): { disconnect(): Promise<void> } {
    const kafka = new Kafka({
      clientId: 'tcp-keepalive-test',
      brokers: [`127.0.0.1:${listener.port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 5000,
      requestTimeout: 5000,
      retry: { retries: 0 },
      ...(socketFactory ? { socketFactory } : {}),
    });
    const producer = kafka.producer();
    producer.connect().catch(() => undefined); // fails when the listener closes; we only need its socket
    return producer;
  }

  test("control: kafkajs's default factory leaves libuv's forced 1 s x 10 (its setKeepAlive(true, 60000))", async () => {
    startProducer();
    const accepted = await listener.accepted(0);
    const socket = await eventually(2000, 'the kafkajs socket', () => clientEndOf(accepted, observer.connectedTo(listener.port)));
    expectLibuvDefaults(socket);
    expect(socket.remotePort).toBe(listener.port);
  });

  test('socketFactory: withKeepalive(default factory): each socket kafkajs opens is configured', async () => {
    const opened: net.Socket[] = [];
    const recordingFactory: ISocketFactory = (args) => {
      const socket = kafkaDefaultSocketFactory(args);
      opened.push(socket);
      return socket;
    };
    const socketFactory = withKeepalive(recordingFactory, POLICY);
    startProducer(socketFactory);
    startProducer(socketFactory); // a second client connection: a new socket from the same factory
    for (const index of [0, 1]) {
      const accepted = await listener.accepted(index);
      const socket = await eventually(2000, 'the kafkajs socket', () =>
        clientEndOf(
          accepted,
          opened.filter((s) => !s.connecting),
        ),
      );
      expectConfigured(socket);
    }
  });

  test('process-wide installKeepalive: the default factory (net.connect) socket is configured', async () => {
    const installation = installKeepalive({ ...POLICY, match: { port: listener.port } });
    try {
      startProducer();
      const accepted = await listener.accepted(0);
      expectConfigured(await eventually(2000, 'the kafkajs socket', () => clientEndOf(accepted, observer.connectedTo(listener.port))));
    } finally {
      installation.uninstall();
    }
  });
});
