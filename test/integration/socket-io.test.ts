/**
 * socket.io client and server against a local server. Client: socket.io-client (engine.io-client)
 * hands its `agent` option to the HTTP long-polling requests and to the ws WebSocket, so a
 * KeepaliveHttpAgent configures every connection it opens, including those of its automatic
 * reconnects. Server: new Server(keepaliveServer(http.createServer(), policy)).
 */
import http from 'node:http';
import net from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { getKeepalive } from '../../src';
import { KeepaliveHttpAgent, keepaliveServer } from '../../src/integrations';
import { closed } from './fixtures/client-sockets';
import { eventually, expectConfigured, observeClientSockets, POLICY, within } from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

describe('socket.io against a local Server(keepaliveServer(http.createServer(), policy))', () => {
  const observer = observeClientSockets();
  let httpServer: http.Server;
  let ioServer: Server;
  let port: number;
  const serverSockets = new Set<net.Socket>();
  const clients: ClientSocket[] = [];
  const agents: http.Agent[] = [];

  beforeAll(async () => {
    httpServer = keepaliveServer(http.createServer(), POLICY);
    httpServer.on('connection', (socket) => serverSockets.add(socket));
    ioServer = new Server(httpServer);
    // The port of the connection this socket.io session runs on, as the server sees it.
    ioServer.on('connection', (socket) => socket.on('who', (reply: (port: number) => void) => reply(socket.request.socket.remotePort!)));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = (httpServer.address() as net.AddressInfo).port;
  });
  afterEach(() => {
    clients.splice(0).forEach((client) => client.disconnect());
    agents.splice(0).forEach((agent) => agent.destroy());
  });
  afterAll(async () => {
    observer.stop();
    await new Promise((resolve) => ioServer.close(resolve));
  });

  function connect(options: Parameters<typeof io>[1]): ClientSocket {
    const client = io(`http://127.0.0.1:${port}`, { reconnectionDelay: 50, reconnectionDelayMax: 100, ...options });
    clients.push(client);
    return client;
  }

  /** The client socket the server sees this session on (websocket transport: the upgrade request's connection). */
  async function sessionSocket(client: ClientSocket): Promise<{ client: net.Socket; server: net.Socket }> {
    const reported = await within(10_000, 'the server to report the port', client.timeout(8000).emitWithAck('who') as Promise<number>);
    const clientSocket = observer.connectedTo(port).find((socket) => socket.localPort === reported);
    const serverSocket = [...serverSockets].find((socket) => !socket.destroyed && socket.remotePort === reported);
    if (clientSocket === undefined || serverSocket === undefined) throw new Error(`no live connection on client port ${reported}`);
    return { client: clientSocket, server: serverSocket };
  }

  test('control: without the agent the client socket is not configured; the server side is (keepaliveServer)', async () => {
    const { client, server } = await sessionSocket(connect({ transports: ['websocket'] }));
    expect(getKeepalive(client)).not.toMatchObject({ interval: POLICY.interval, count: POLICY.count, userTimeout: POLICY.userTimeout });
    expectConfigured(server);
  });

  test("transports: ['websocket'], agent: KeepaliveHttpAgent: configured, and again on socket.io's own reconnect", async () => {
    const agent = new KeepaliveHttpAgent({}, POLICY);
    agents.push(agent);
    const client = connect({ transports: ['websocket'], agent: agent as unknown as string });
    const first = await sessionSocket(client);
    expectConfigured(first.client);
    expectConfigured(first.server);

    const reconnected = new Promise((resolve) => client.io.once('reconnect', resolve));
    first.server.destroy(); // the connection drops under socket.io; it reconnects by itself
    await within(10_000, 'the client socket to close', closed(first.client));
    await within(10_000, "socket.io's reconnect", reconnected);
    const second = await sessionSocket(client);
    expect(second.client).not.toBe(first.client);
    expectConfigured(second.client);
    expectConfigured(second.server);
  });

  test('default transports (long-polling, then the upgrade to WebSocket), agent: KeepaliveHttpAgent: every client connection is configured', async () => {
    const earlier = new Set(observer.connectedTo(port)); // earlier tests' connections may still be closing
    const agent = new KeepaliveHttpAgent({ keepAlive: true }, POLICY);
    agents.push(agent);
    const client = connect({ agent: agent as unknown as string });
    await within(
      10_000,
      'the upgrade to WebSocket',
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (client.io.engine?.transport.name === 'websocket') resolve();
          else client.io.engine?.once('upgrade', () => resolve());
        };
        if (client.connected) check();
        else client.once('connect', check);
      }),
    );
    expectConfigured((await sessionSocket(client)).client); // the WebSocket the session now runs on
    const sockets = await eventually(5000, 'client connections to the server', () => {
      const live = observer.connectedTo(port).filter((socket) => !earlier.has(socket));
      return live.length > 0 ? live : undefined;
    });
    sockets.forEach(expectConfigured);
  });
});
