/**
 * @grpc/grpc-js (HTTP/2 over its own TCP connections) with a local gRPC server.
 *
 * Server: grpc-js's public Server#createConnectionInjector(credentials) takes connections from any
 * listener you own, so a net.Server wrapped with keepaliveServer configures every connection before
 * grpc-js sees it. (Server#bindAsync creates its listeners inside grpc-js, with no hook.)
 * Client: grpc-js opens its connections with net.connect and exposes neither the socket nor the
 * HTTP/2 session, and has no channel option for socket options; the process-wide installKeepalive
 * (net.connect is published on net.client.socket on every Node line) is the only way in.
 *
 * The server answers each call with the client's port as it sees it (call.getPeer()), so the test
 * reads the kernel on the client socket the server really talks to.
 */
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { getKeepalive } from '../../src';
import { installKeepalive, keepaliveServer } from '../../src/integrations';
import { closed, portOfAddress } from './fixtures/client-sockets';
import { expectConfigured, observeClientSockets, POLICY, within } from './support';

/** SO_KEEPALIVE as the kernel holds it (getKeepalive's flag; read by name so either spelling, `enable` or the older `enabled`, works). */
function keepaliveEnabled(socket: net.Socket): unknown {
  const state = getKeepalive(socket) as unknown as Record<string, unknown>;
  return 'enable' in state ? state.enable : state.enabled;
}

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

/** One unary method with raw bytes in and out: no .proto needed. */
const identity = (value: Buffer): Buffer => value;
const PROBE_SERVICE = {
  whoAmI: {
    path: '/keepalive.Probe/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;
const ProbeClient = grpc.makeGenericClientConstructor(PROBE_SERVICE, 'Probe');
type Probe = InstanceType<typeof ProbeClient> & {
  whoAmI(request: Buffer, callback: (error: grpc.ServiceError | null, response?: Buffer) => void): grpc.ClientUnaryCall;
};

describe('@grpc/grpc-js with a local server (createConnectionInjector behind keepaliveServer)', () => {
  const observer = observeClientSockets();
  const grpcServer = new grpc.Server();
  /** The server's end of each connection, by the client's port. */
  const serverSockets = new Map<number, net.Socket>();
  let listener: net.Server;
  let port: number;
  const clients: grpc.Client[] = [];
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    grpcServer.addService(PROBE_SERVICE, {
      whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        callback(null, Buffer.from(String(portOfAddress(call.getPeer()))));
      },
    });
    const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    listener = keepaliveServer(
      net.createServer((socket) => {
        serverSockets.set(socket.remotePort!, socket);
        injector.injectConnection(socket);
      }),
      POLICY,
    );
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as net.AddressInfo).port;
  });
  afterEach(() => {
    clients.splice(0).forEach((client) => client.close());
    cleanups.splice(0).forEach((cleanup) => cleanup());
  });
  afterAll(async () => {
    observer.stop();
    grpcServer.forceShutdown();
    serverSockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => listener.close(resolve));
  });

  function newClient(options: grpc.ChannelOptions = {}): Probe {
    const client = new ProbeClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as Probe;
    clients.push(client);
    return client;
  }

  /** One call; the client socket (and the server's end) of the connection it ran on. */
  async function call(client: Probe): Promise<{ client: net.Socket; server: net.Socket }> {
    const reported = await within(
      10_000,
      'a gRPC call',
      new Promise<number>((resolve, reject) => {
        client.whoAmI(Buffer.alloc(0), (error, response) => (error ? reject(error) : resolve(Number(String(response)))));
      }),
    );
    const clientSocket = observer.connectedTo(port).find((socket) => socket.localPort === reported);
    if (clientSocket === undefined) throw new Error(`no client socket on local port ${reported}`);
    return { client: clientSocket, server: serverSockets.get(reported)! };
  }

  test('control: a grpc-js client connection has no TCP keepalive, even with grpc.keepalive_time_ms (HTTP/2 pings); the server side is configured', async () => {
    const { client, server } = await call(newClient({ 'grpc.keepalive_time_ms': 60_000 }));
    expect(keepaliveEnabled(client)).toBe(false);
    expectConfigured(server);
  });

  test("installKeepalive({ ...policy, match: { port } }): the channel's connection is configured, and so is the one it reconnects on", async () => {
    const installation = installKeepalive({ ...POLICY, match: { host: '127.0.0.1', port } });
    cleanups.push(() => installation.uninstall());
    const client = newClient();
    const first = await call(client);
    expectConfigured(first.client);
    expectConfigured(first.server);

    first.server.destroy(); // the connection drops (a balancer, a server restart): the channel reconnects on the next call
    await within(10_000, 'the client to see the drop', closed(first.client));
    const second = await call(client);
    expect(second.client).not.toBe(first.client);
    expectConfigured(second.client);
    expectConfigured(second.server);
  });
});
