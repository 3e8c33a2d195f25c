/**
 * The undici connector recipe across majors: npm undici 7 (`undici`) and undici 8 (the npm alias
 * `undici8`), each as an Agent whose connector is keepaliveConnector(buildConnector(...)) — with
 * undici's own connect.keepAlive on, so its setKeepAlive runs first — and each as the global
 * dispatcher behind Node's own fetch (Node's bundled undici: 6.x on Node 20 and 22, 7.x on 24, 8.x
 * on 26). undici 8 requires Node >= 22.19 (its `engines`; on Node 20 it does not load: zlib has no
 * zstd there), so its cases are skipped on older lines, saying so.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { getKeepalive, type KeepaliveState } from '../../src';
import { installKeepalive, keepaliveConnector } from '../../src/integrations';
import { selfSignedCertificate } from '../helpers/tls-cert';
import { assertBuilt, CONFIGURED, describeWhen, expectConfigured, opensslMissing, POLICY, portEchoServer, within } from './support';

// Each step is bounded by within(); a loaded CI machine needs more than jest's default 5 s per test.
jest.setTimeout(20_000);

type UndiciModule = typeof import('undici');

/** Whether this Node version satisfies a `>=X.Y.Z` engines range. */
function satisfiesMinimum(range: string, version = process.versions.node): boolean {
  const minimum = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (!minimum) throw new Error(`unexpected engines range ${range}`);
  const have = version.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) {
    if (have[i]! !== Number(minimum[i + 1])) return have[i]! > Number(minimum[i + 1]);
  }
  return true;
}

/** undici 8 when this Node line is one it supports; otherwise why not. */
function loadMajor(name: 'undici' | 'undici8'): UndiciModule | string {
  const engines = (require(`${name}/package.json`) as { engines: { node: string } }).engines.node;
  if (!satisfiesMinimum(engines)) return `${name} requires Node ${engines}; this is ${process.version}`;
  return require(name) as UndiciModule; // on a supported line a load failure is a real failure
}

function runGlobalFetch(
  module: string,
  mode: string,
  url: string,
  insecureTls: boolean,
): Promise<{ serverSawPort: number; state: KeepaliveState; bundled: string }> {
  assertBuilt();
  const script = path.join(__dirname, 'fixtures', 'global-fetch-majors.js');
  // The throwaway certificate is self-signed; only this child is told to accept it.
  const env = { ...process.env, ...(insecureTls ? { NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1' } : {}) };
  return within(
    15_000,
    `global fetch child (${module}, ${mode})`,
    new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [script, JSON.stringify({ module, mode, url, policy: POLICY })],
        { env, timeout: 12_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`global-fetch-majors child failed (${module}, ${mode}): ${error.message}\n${stderr}`));
          else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { serverSawPort: number; state: KeepaliveState; bundled: string });
        },
      );
    }),
  );
}

describe.each(['undici', 'undici8'] as const)('%s', (moduleName) => {
  const loaded = loadMajor(moduleName);
  describe.each([
    ['http', false],
    ['https', true],
  ] as const)('over %s', (scheme, useTls) => {
    const missing = typeof loaded === 'string' ? loaded : useTls ? opensslMissing() : undefined;
    if (typeof loaded === 'string') {
      // An engines limit of the library, not a missing service: skipped on this line (also on CI), loudly.
      process.stderr.write(`\nSKIPPED ${moduleName} over ${scheme}: ${loaded}\n`);
      test.skip(`${moduleName} over ${scheme} (SKIPPED: ${loaded})`, () => undefined);
      return;
    }
    describeWhen(`${moduleName} over ${scheme}`, missing, () => {
      const undici = loaded;
      let server: Awaited<ReturnType<typeof portEchoServer>>;
      const tlsOptions = useTls ? { rejectUnauthorized: false } : {};
      beforeAll(async () => {
        server = await portEchoServer(useTls ? selfSignedCertificate() : undefined);
      });
      afterAll(() => server.close());

      /** Records the sockets undici's connector delivers (test-only; changes nothing). */
      function recording(connector: ReturnType<UndiciModule['buildConnector']>, sockets: net.Socket[]): typeof connector {
        return (options, callback) =>
          connector(options, (...result) => {
            if (result[1] !== null) sockets.push(result[1]);
            callback(...result);
          });
      }
      const get = (agent: InstanceType<UndiciModule['Agent']>) =>
        within(
          10_000,
          'request',
          undici.request(server.url, { dispatcher: agent }).then((response) => response.body.text()),
        );
      const bySeenPort = (sockets: net.Socket[], body: string): net.Socket => {
        const found = sockets.find((socket) => socket.localPort === Number(body));
        if (found === undefined) throw new Error(`no recorded socket on local port ${body}`);
        return found;
      };

      test("Agent({ connect: keepaliveConnector(buildConnector({ ...tls, keepAlive: true }), policy) }): configured after undici's own setKeepAlive, and on the new connection after a drop", async () => {
        const sockets: net.Socket[] = [];
        const connector = undici.buildConnector({ ...tlsOptions, keepAlive: true, keepAliveInitialDelay: 5000 });
        const agent = new undici.Agent({ connect: keepaliveConnector(recording(connector, sockets), POLICY) });
        try {
          const first = bySeenPort(sockets, await get(agent));
          expectConfigured(first);
          const closed = new Promise((resolve) => first.once('close', resolve));
          server.dropIdle();
          await within(5000, 'the idle connection to close', closed);
          const second = bySeenPort(sockets, await get(agent));
          expect(second).not.toBe(first);
          expectConfigured(second);
        } finally {
          await agent.close();
        }
      });

      test("control: the same connector without keepaliveConnector leaves undici's setKeepAlive (libuv 1 s x 10)", async () => {
        const sockets: net.Socket[] = [];
        const agent = new undici.Agent({
          connect: recording(undici.buildConnector({ ...tlsOptions, keepAlive: true, keepAliveInitialDelay: 5000 }), sockets),
        });
        try {
          const socket = bySeenPort(sockets, await get(agent));
          expect(getKeepalive(socket)).toMatchObject({ idle: 5000, interval: 1000, count: 10 });
        } finally {
          await agent.close();
        }
      });

      test("installKeepalive: this major's Agent publishes undici:client:connected", async () => {
        const installation = installKeepalive({ ...POLICY, match: { port: server.port } });
        const sockets: net.Socket[] = [];
        const agent = new undici.Agent({ connect: recording(undici.buildConnector(tlsOptions), sockets) });
        try {
          expectConfigured(bySeenPort(sockets, await get(agent)));
        } finally {
          installation.uninstall();
          await agent.close();
        }
      });

      // Node's global fetch lives outside jest's sandbox: a plain Node child (needs `npm run build`).
      test(`global fetch (Node's bundled undici ${process.versions.undici ?? ''}) with setGlobalDispatcher from ${moduleName}`, async () => {
        const { serverSawPort, state } = await runGlobalFetch(moduleName, 'setGlobalDispatcher', server.url, useTls);
        expect(serverSawPort).toBeGreaterThan(0);
        expect(state).toEqual(CONFIGURED);
      });
    });
  });
});
