/**
 * TCP_KEEPALIVE_SERVER=1: an unmodified HTTP server started with only its
 * environment set; every connection it accepts holds the policy, read from
 * OUTSIDE the server process — the first few configured one by one (the
 * catch-up after the listener is configured), the rest inherited from the
 * listening socket at no cost.
 */
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { CATCH_UP_MARGIN } from '../../src/integrations/server';
import { track } from '../helpers/sockets';
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
  type RunningApp,
  waitForSockets,
} from '../register/support';
import { describeWhen } from './support';

jest.setTimeout(60_000);

const CONNECTIONS = CATCH_UP_MARGIN + 4;

const running = appsStoppedAfterEach();

async function serve(app: string, env: Record<string, string>): Promise<{ child: RunningApp; kernels: object[] }> {
  const child = runApp(app, { NODE_NO_WARNINGS: '1', ...env });
  running.push(child);
  const port = Number((await child.line(/^READY (\d+)$/m))[1]);
  for (let i = 0; i < CONNECTIONS; i++) {
    const client = track(net.connect(port, '127.0.0.1'));
    await once(client, 'connect'); // one at a time: the server accepts them in this order
  }
  const sockets = await waitForSockets(child.pid, { localPort: port }, CONNECTIONS);
  return { child, kernels: sockets.map((socket) => readChild(requireOutsideReader(), child.pid, socket.fd)) };
}

const reader = process.platform !== 'linux' ? { unavailable: `${process.platform}: listener inheritance is Linux's` } : outsideReader();
describeWhen('TCP_KEEPALIVE_SERVER=1', 'binary' in reader ? undefined : reader.unavailable, () => {
  beforeAll(() => assertRegisterBuilt());

  test.each([
    ['--require', 'a CommonJS server', path.join(apps, 'http-server.cjs')],
    ['--import', 'an ES module server', path.join(apps, 'http-server.mjs')],
  ])(
    '%s tcp-keepalive/register, %s: every accepted connection holds the policy; past the catch-up, inherited',
    async (flag, _what, app) => {
      const { child, kernels } = await serve(app, {
        NODE_OPTIONS: `${flag} tcp-keepalive/register`,
        TCP_KEEPALIVE: POLICY_ENV,
        TCP_KEEPALIVE_SERVER: '1',
        TCP_KEEPALIVE_DEBUG: '1',
      });
      expect(kernels).toHaveLength(CONNECTIONS);
      kernels.forEach((kernel) => expect(kernel).toEqual(expectedRaw(POLICY)));
      // The server has accepted every connection (the kernel lists them in its fd table); its line for
      // the last one may still be in the pipe.
      const accepted = await child.stderrLines(/^tcp-keepalive: accepted /, CONNECTIONS);
      expect(accepted.filter((line) => line.startsWith('tcp-keepalive: accepted and configured'))).toHaveLength(CATCH_UP_MARGIN);
      expect(accepted.filter((line) => line.startsWith('tcp-keepalive: accepted (inherited from the listener)'))).toHaveLength(
        CONNECTIONS - CATCH_UP_MARGIN,
      );
      const lines = child.stderr().split('\n');
      expect(lines.filter((line) => /^tcp-keepalive: server 127\.0\.0\.1:\d+: listener configured/.test(line))).toHaveLength(1);
    },
  );

  test('control: without TCP_KEEPALIVE_SERVER the accepted connections keep the kernel defaults', async () => {
    const { kernels } = await serve(path.join(apps, 'http-server.cjs'), {
      NODE_OPTIONS: '--require tcp-keepalive/register',
      TCP_KEEPALIVE: POLICY_ENV,
    });
    kernels.forEach((kernel) => expect(kernel).toMatchObject({ enabled: 0 }));
  });
});
