/**
 * http.Agent / https.Agent (KeepaliveHttpAgent, KeepaliveHttpsAgent) and
 * http.request({ createConnection }) against local HTTP and HTTPS servers.
 * Each response names the client port the server saw; the test reads the
 * kernel on the client socket with that local port.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { KeepaliveHttpAgent, KeepaliveHttpsAgent, withKeepalive } from '../../src/integrations';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { describeWhen, expectConfigured, expectLibuvDefaults, opensslMissing, POLICY, portEchoServer, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

interface Exchange {
  /** The client's local port as the server reported it. */
  serverSawPort: number;
  socket: net.Socket;
}

/** One GET; resolves once the response is read and the socket is back in the agent's pool (keepSocketAlive has run). */
function get(url: string, options: http.RequestOptions, waitForPool = true): Promise<Exchange> {
  const client = url.startsWith('https:') ? https : http;
  return within(
    10_000,
    `GET ${url}`,
    new Promise<Exchange>((resolve, reject) => {
      const request = client.get(url, { rejectUnauthorized: false, ...options } as https.RequestOptions, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => {
          const socket = request.socket as net.Socket;
          const done = (): void => resolve({ serverSawPort: Number(body), socket });
          if (!waitForPool || !(options.agent instanceof http.Agent)) done();
          else options.agent.once('free', () => setImmediate(done));
        });
      });
      request.on('error', reject);
    }),
  );
}

function expectSameConnection(exchange: Exchange): void {
  expect(exchange.socket.localPort).toBe(exchange.serverSawPort);
}

const POOLING = { keepAlive: true, keepAliveMsecs: 5000 };

describe.each([
  ['http', undefined],
  ['https', 'tls'],
] as const)('%s.Agent against a local server', (scheme, withTls) => {
  describeWhen(`${scheme}.Agent`, withTls === 'tls' ? opensslMissing() : undefined, () => {
    let server: Awaited<ReturnType<typeof portEchoServer>>;
    const agents: http.Agent[] = [];
    beforeAll(async () => {
      server = await portEchoServer(withTls === 'tls' ? selfSignedCertificate() : undefined);
    });
    afterEach(() => agents.splice(0).forEach((agent) => agent.destroy()));
    afterAll(() => server.close());

    const makeAgent = (configured: boolean): http.Agent => {
      const agent =
        scheme === 'https'
          ? configured
            ? new KeepaliveHttpsAgent(POOLING, POLICY)
            : new https.Agent(POOLING)
          : configured
            ? new KeepaliveHttpAgent(POOLING, POLICY)
            : new http.Agent(POOLING);
      agents.push(agent);
      return agent;
    };

    test("control: Agent's keepSocketAlive leaves libuv's forced 1 s x 10 on a pooled socket", async () => {
      const exchange = await get(server.url, { agent: makeAgent(false) });
      expectSameConnection(exchange);
      expectLibuvDefaults(exchange.socket);
    });

    test('configured on connect, after keepSocketAlive, on reuse, and on the new socket after the server drops the idle one', async () => {
      const agent = makeAgent(true);
      const first = await get(server.url, { agent });
      expectSameConnection(first);
      expectConfigured(first.socket); // pooled: keepSocketAlive's setKeepAlive has run

      const reused = await get(server.url, { agent });
      expect(reused.socket).toBe(first.socket);
      expectConfigured(reused.socket);

      const closed = new Promise((resolve) => first.socket.once('close', resolve));
      server.dropIdle();
      await within(5000, 'the idle socket to close', closed);
      const fresh = await get(server.url, { agent });
      expect(fresh.socket).not.toBe(first.socket);
      expectSameConnection(fresh);
      expectConfigured(fresh.socket);
    });

    test('http.request({ createConnection: withKeepalive(...) }) configures the socket it creates', async () => {
      const createConnection = (scheme === 'https' ? tls.connect : net.createConnection) as (options: object) => net.Socket;
      // No `agent` option: Node uses createConnection only when no agent is given (agent: false means a fresh Agent).
      const exchange = await get(server.url, { createConnection: withKeepalive(createConnection, POLICY) }, false);
      expectSameConnection(exchange);
      expectConfigured(exchange.socket);
    });
  });
});
