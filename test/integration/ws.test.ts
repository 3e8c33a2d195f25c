/**
 * ws (WebSocket client and server) against a local server. Client: ws passes `agent` and
 * `createConnection` to http.request, so KeepaliveHttpAgent or withKeepalive(net.createConnection)
 * configures the socket the WebSocket runs on. Server: WebSocketServer({ server }) on an http.Server
 * wrapped with keepaliveServer. The server sends each client its port as the server sees it, so the
 * test reads the kernel on the client socket the server really talks to.
 */
import http from 'node:http';
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { getKeepalive } from '../../src';
import { KeepaliveHttpAgent, keepaliveServer, withKeepalive } from '../../src/integrations';
import { closed } from './fixtures/client-sockets';
import { expectConfigured, observeClientSockets, POLICY, within } from './support';

/** SO_KEEPALIVE as the kernel holds it (getKeepalive's flag; read by name so either spelling, `enable` or the older `enabled`, works). */
function keepaliveEnabled(socket: net.Socket): unknown {
  const state = getKeepalive(socket) as unknown as Record<string, unknown>;
  return 'enable' in state ? state.enable : state.enabled;
}

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

describe('ws against a local WebSocketServer({ server: keepaliveServer(http.createServer(), policy) })', () => {
  const observer = observeClientSockets();
  /** The server's end of each connection, by the client's port. */
  const serverSockets = new Map<number, net.Socket>();
  let httpServer: http.Server;
  let url: string;
  let port: number;
  const clients: WebSocket[] = [];
  const agents: http.Agent[] = [];

  beforeAll(async () => {
    httpServer = keepaliveServer(http.createServer(), POLICY);
    const wss = new WebSocketServer({ server: httpServer });
    wss.on('connection', (webSocket, request) => {
      serverSockets.set(request.socket.remotePort!, request.socket);
      webSocket.send(String(request.socket.remotePort));
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = (httpServer.address() as net.AddressInfo).port;
    url = `ws://127.0.0.1:${port}/updates`;
  });
  afterEach(() => {
    clients.splice(0).forEach((client) => client.terminate());
    agents.splice(0).forEach((agent) => agent.destroy());
  });
  afterAll(async () => {
    observer.stop();
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
  });

  /** Opens a WebSocket; resolves with the client socket whose local port the server reported, and the server's end. */
  async function open(options: WebSocket.ClientOptions): Promise<{ client: net.Socket; server: net.Socket }> {
    const webSocket = new WebSocket(url, options);
    clients.push(webSocket);
    const reported = await within(
      10_000,
      'the WebSocket to open and the server to report the port',
      new Promise<number>((resolve, reject) => {
        webSocket.once('message', (data) => resolve(Number(String(data))));
        webSocket.once('error', reject);
      }),
    );
    const client = observer.connectedTo(port).find((socket) => socket.localPort === reported);
    if (client === undefined) throw new Error(`no client socket on local port ${reported}`);
    return { client, server: serverSockets.get(reported)! };
  }

  test('control: a plain ws client has no keepalive (SO_KEEPALIVE off); the server side is configured by keepaliveServer', async () => {
    const { client, server } = await open({});
    expect(client.remotePort).toBe(port);
    expect(keepaliveEnabled(client)).toBe(false);
    expectConfigured(server);
  });

  test.each([
    [
      'agent: new KeepaliveHttpAgent({}, policy)',
      () => {
        const agent = new KeepaliveHttpAgent({}, POLICY);
        agents.push(agent);
        return { agent };
      },
    ],
    [
      'createConnection: withKeepalive(net.createConnection, policy)',
      () => ({ createConnection: withKeepalive(net.createConnection, POLICY) }),
    ],
  ] as const)('%s: configured; after the server drops it, the new WebSocket is on a new configured socket', async (_name, options) => {
    const clientOptions = options() as WebSocket.ClientOptions;
    const first = await open(clientOptions);
    expectConfigured(first.client);
    expectConfigured(first.server);

    first.server.destroy(); // the server (or a balancer) drops the connection; the application reconnects
    await within(10_000, 'the client to see the drop', closed(first.client));
    const second = await open(clientOptions);
    expect(second.client).not.toBe(first.client);
    expectConfigured(second.client);
    expectConfigured(second.server);
  });
});
