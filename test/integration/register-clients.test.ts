/**
 * `--require tcp-keepalive/register` (CommonJS app) and `--import
 * tcp-keepalive/register` (ES module app) in front of unmodified client code
 * for pg, mysql2, ioredis, node-redis, amqplib, MQTT.js, NATS, fetch and
 * https, against the local services: the child is started with only its
 * environment set, and the kernel of its connection is read from OUTSIDE it.
 * TCP_KEEPALIVE_CHILD_NODE=/path/to/node runs the children on another Node line.
 */
import { once } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';
import {
  apps,
  appsStoppedAfterEach,
  assertRegisterBuilt,
  expectedRaw,
  outsideReader,
  POLICY,
  POLICY_ENV,
  readChild,
  requireOutsideReader,
  runApp,
  waitForSockets,
} from '../register/support';
import { describeService, describeWhen } from './support';

jest.setTimeout(60_000);

const running = appsStoppedAfterEach();

const MODES = [
  ['--require', 'a CommonJS app', path.join(apps, 'libraries.cjs')],
  ['--import', 'an ES module app', path.join(apps, 'libraries.mjs')],
] as const;

/** Runs CLIENT in a child under `flag`, and returns what the kernel holds for each of its sockets to `port`. */
async function kernelOfClient(client: string, flag: string, app: string, port: number, targetPort?: number): Promise<object[]> {
  const child = runApp(app, {
    NODE_OPTIONS: `${flag} tcp-keepalive/register`,
    TCP_KEEPALIVE: POLICY_ENV,
    CLIENT: client,
    ...(targetPort === undefined ? {} : { TARGET_PORT: String(targetPort), NODE_TLS_REJECT_UNAUTHORIZED: '0' }),
    NODE_NO_WARNINGS: '1',
  });
  running.push(child);
  await child.line(/^READY$/m, 20_000);
  const sockets = await waitForSockets(child.pid, { remotePort: port });
  return sockets.map((socket) => readChild(requireOutsideReader(), child.pid, socket.fd));
}

const reader = outsideReader();
describeWhen('register in front of client libraries', 'binary' in reader ? undefined : reader.unavailable, () => {
  beforeAll(() => assertRegisterBuilt());

  const services: Array<[string, string, number]> = [
    ['pg', 'PostgreSQL', 5432],
    ['mysql2', 'MariaDB', 3306],
    ['ioredis', 'Redis', 6379],
    ['redis', 'Redis', 6379],
    ['amqplib', 'RabbitMQ', 5672],
    ['mqtt', 'Mosquitto', 1883],
    ['nats', 'NATS', 4222],
  ];
  for (const [client, service, port] of services) {
    describeService(`${client} on ${service} 127.0.0.1:${port}`, port, () => {
      test.each(MODES)(`%s tcp-keepalive/register, %s: ${client}'s connection holds the policy`, async (flag, _what, app) => {
        const kernels = await kernelOfClient(client, flag, app, port);
        expect(kernels.length).toBeGreaterThan(0);
        kernels.forEach((kernel) => expect(kernel).toEqual(expectedRaw(POLICY)));
      });
    });
  }

  describe('fetch and https against a local HTTPS server', () => {
    let port = 0;
    beforeEach(async () => {
      const { key, cert } = selfSignedCertificate();
      const server = track(
        https.createServer({ key, cert, keepAliveTimeout: 30_000 }, (request, response) => {
          request.resume();
          response.end('ok');
        }),
      );
      server.on('connection', (socket: net.Socket) => track(socket));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as net.AddressInfo).port;
    });
    for (const client of ['fetch', 'https']) {
      test.each(MODES)(`%s tcp-keepalive/register, %s: ${client}`, async (flag, _what, app) => {
        const kernels = await kernelOfClient(client, flag, app, port, port);
        expect(kernels).toHaveLength(1);
        expect(kernels[0]).toEqual(expectedRaw(POLICY));
      });
    }
  });
});
