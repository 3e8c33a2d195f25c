/**
 * undici: an Agent whose connector is keepaliveConnector(buildConnector(...)),
 * Node's global fetch through setGlobalDispatcher, and global fetch through the
 * process-wide install alone (Node's bundled undici publishes
 * undici:client:connected). Plain HTTP and HTTPS local servers.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Agent, buildConnector, request } from 'undici';
import type { KeepaliveState } from '../../src';
import { keepaliveConnector } from '../../src/integrations';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { assertBuilt, CONFIGURED, describeWhen, expectConfigured, opensslMissing, POLICY, portEchoServer, within } from './support';

// The waits inside are bounded by within() and eventually() (10-15 s); the test limit sits above them, so a
// slow service fails naming what was awaited, not by abandoning the test body with its clients still open.
jest.setTimeout(30_000);

function runGlobalFetch(mode: string, url: string, insecureTls: boolean): Promise<{ serverSawPort: number; state: KeepaliveState }> {
  assertBuilt();
  const script = path.join(__dirname, 'fixtures', 'global-fetch-majors.js'); // with npm undici 7 as the dispatcher's
  // The throwaway certificate is self-signed; only this child is told to accept it.
  const env = { ...process.env, ...(insecureTls ? { NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1' } : {}) };
  return within(
    15_000,
    `global fetch child (${mode})`,
    new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [script, JSON.stringify({ module: 'undici', mode, url, policy: POLICY })],
        { env, timeout: 12_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`global-fetch child failed (${mode}): ${error.message}\n${stderr}`));
          else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { serverSawPort: number; state: KeepaliveState });
        },
      );
    }),
  );
}

type Connector = ReturnType<typeof buildConnector>;

/** Records the sockets a connector delivers: the sockets undici really uses. */
function recording(connector: Connector, sockets: net.Socket[]): Connector {
  return (options, callback) =>
    connector(options, (...result) => {
      if (result[1] !== null) sockets.push(result[1]);
      callback(...result);
    });
}

/** The recorded socket whose local port is the one the server saw. */
function socketServerSaw(sockets: net.Socket[], body: string): net.Socket {
  const found = sockets.find((socket) => socket.localPort === Number(body));
  if (found === undefined) throw new Error(`no recorded socket on local port ${body}`);
  return found;
}

describe.each([
  ['http', false],
  ['https', true],
] as const)('undici over %s', (scheme, useTls) => {
  describeWhen(`undici ${scheme}`, useTls ? opensslMissing() : undefined, () => {
    let server: Awaited<ReturnType<typeof portEchoServer>>;
    const sockets: net.Socket[] = [];
    const connectOptions = useTls ? { rejectUnauthorized: false } : {};
    beforeAll(async () => {
      server = await portEchoServer(useTls ? selfSignedCertificate() : undefined);
    });
    afterEach(() => {
      sockets.length = 0;
    });
    afterAll(() => server.close());

    test('Agent({ connect: keepaliveConnector(...) }): configured on connect and on the new connection after a drop', async () => {
      const agent = new Agent({ connect: keepaliveConnector(recording(buildConnector(connectOptions), sockets), POLICY) });
      try {
        const first = await within(
          10_000,
          'request',
          request(server.url, { dispatcher: agent }).then((r) => r.body.text()),
        );
        const firstSocket = socketServerSaw(sockets, first);
        expectConfigured(firstSocket);

        const closed = new Promise((resolve) => firstSocket.once('close', resolve));
        server.dropIdle();
        await within(5000, 'the idle connection to close', closed);
        const second = await within(
          10_000,
          'request',
          request(server.url, { dispatcher: agent }).then((r) => r.body.text()),
        );
        const secondSocket = socketServerSaw(sockets, second);
        expect(secondSocket).not.toBe(firstSocket);
        expectConfigured(secondSocket);
      } finally {
        await agent.close();
      }
    });

    // Node's global fetch lives outside jest's sandbox: each case runs in a plain Node child (needs `npm run build`).
    test.each([
      ['setGlobalDispatcher(new Agent({ connect: keepaliveConnector(...) }))', 'setGlobalDispatcher', true],
      ["Node's own dispatcher + installKeepalive (undici:client:connected)", 'install', true],
      ['control: no helper', 'none', false],
    ] as const)('global fetch, %s', async (_name, mode, configured) => {
      const { serverSawPort, state } = await runGlobalFetch(mode, server.url, useTls);
      expect(serverSawPort).toBeGreaterThan(0);
      if (configured) expect(state).toEqual(CONFIGURED);
      else expect(state).not.toMatchObject({ interval: POLICY.interval, count: POLICY.count, userTimeout: POLICY.userTimeout });
    });
  });
});
