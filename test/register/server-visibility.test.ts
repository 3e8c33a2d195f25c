/**
 * TCP_KEEPALIVE_SERVER=1 is invisible to the application: the listeners of
 * its servers (listenerCount, listeners() and their order) are what they are
 * without it, at every step of a server's life, and a real WebSocket server
 * library's close() clean-up works as it does without the hook — while every
 * accepted connection holds the policy, read from outside the process.
 * TCP_KEEPALIVE_CHILD_NODE=/path/to/node runs the children on another Node line.
 */
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { CATCH_UP_MARGIN } from '../../src/integrations/server';
import { closeAll, track } from '../helpers/sockets';
import { describeWhen } from '../integration/support';
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
} from './support';

jest.setTimeout(60_000);

const running = appsStoppedAfterEach();

const APP = path.join(apps, 'ws-server.cjs');

/** Runs the WebSocket server app through one client; resolves with its views, its exit code and the accepted connection's kernel. */
async function runThrough(env: Record<string, string>): Promise<{ views: string[]; code: number | null; kernel: object }> {
  const app = runApp(APP, { NODE_NO_WARNINGS: '1', ...env });
  running.push(app);
  const port = Number((await app.line(/^READY (\d+)$/m))[1]);
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await once(client, 'open');
  await app.line(/^VIEW accepted /m);
  const [accepted] = await waitForSockets(app.pid, { localPort: port });
  const kernel = readChild(requireOutsideReader(), app.pid, accepted!.fd);
  client.close();
  await app.line(/^VIEW closed /m);
  // It exits by itself: nothing of ours keeps it alive (stop() would end it after 3 s otherwise).
  const exited = new Promise<number | null>((resolve) => app.child.once('exit', (code) => resolve(code)));
  const code = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000))]);
  const views = app
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('VIEW '));
  return { views, code: code ?? (app.child.exitCode === null ? -1 : app.child.exitCode), kernel };
}

const reader = process.platform !== 'linux' ? { unavailable: `${process.platform}: listener inheritance is Linux's` } : outsideReader();
describeWhen('TCP_KEEPALIVE_SERVER=1 leaves no trace the application can see', 'binary' in reader ? undefined : reader.unavailable, () => {
  beforeAll(() => assertRegisterBuilt());

  test.each([['--require'], ['--import']])(
    "%s tcp-keepalive/register: the server's listeners are the same at every step, and ws's close() cleans up as without it",
    async (flag) => {
      const without = await runThrough({});
      expect(without.code).toBe(0);
      const view = (step: string): unknown =>
        JSON.parse(without.views.find((line) => line.startsWith(`VIEW ${step} `))!.slice(`VIEW ${step} `.length));
      // ws's own clean-up check: after close() the server has the listeners it had before ws.
      expect(view('ws-closed')).toEqual(view('bare'));

      const withHook = await runThrough({
        NODE_OPTIONS: `${flag} tcp-keepalive/register`,
        TCP_KEEPALIVE: POLICY_ENV,
        TCP_KEEPALIVE_SERVER: '1',
      });
      expect(withHook.views).toEqual(without.views);
      expect(withHook.code).toBe(0);
      expect(withHook.kernel).toEqual(expectedRaw(POLICY));
      expect(without.kernel).toMatchObject({ enabled: 0 });
    },
  );

  test.each([
    ['a server with the keepAlive option (Node calls setKeepAlive on each accepted connection)', { SERVER: 'keepalive' }],
    ['a cluster worker, round-robin (the primary accepts)', { SERVER: 'cluster', NODE_CLUSTER_SCHED_POLICY: 'rr' }],
    ['a cluster worker on a shared listener', { SERVER: 'cluster', NODE_CLUSTER_SCHED_POLICY: 'none' }],
    [
      'a cluster worker, round-robin, whose server has the keepAlive option (no socket configured before it)',
      { SERVER: 'cluster', NODE_CLUSTER_SCHED_POLICY: 'rr', KEEPALIVE: '1' },
    ],
  ])('%s: every accepted connection holds the policy, the first ones and those past the catch-up', async (_what, env) => {
    const app = runApp(path.join(apps, 'plain-servers.cjs'), {
      NODE_OPTIONS: '--require tcp-keepalive/register',
      TCP_KEEPALIVE: POLICY_ENV,
      TCP_KEEPALIVE_SERVER: '1',
      NODE_NO_WARNINGS: '1',
      ...env,
    });
    running.push(app);
    const [, port, pid] = (await app.line(/^READY (\d+) (\d+)$/m)).map(Number);
    const count = CATCH_UP_MARGIN + 3;
    for (let i = 0; i < count; i++) {
      const client = track(net.connect(port!, '127.0.0.1'));
      await once(client, 'connect'); // one at a time: accepted in this order
    }
    const sockets = await waitForSockets(pid!, { localPort: port }, count);
    for (const socket of sockets) expect(readChild(requireOutsideReader(), pid!, socket.fd)).toEqual(expectedRaw(POLICY));
    await closeAll();
  });

  test("a 'connection' handler that makes the socket non-extensible, with the debug log on: the server answers and keeps running", async () => {
    const app = runApp(path.join(apps, 'plain-servers.cjs'), {
      NODE_OPTIONS: '--require tcp-keepalive/register',
      TCP_KEEPALIVE: POLICY_ENV,
      TCP_KEEPALIVE_SERVER: '1',
      TCP_KEEPALIVE_DEBUG: '1',
      SERVER: 'sealing',
    });
    running.push(app);
    const port = Number((await app.line(/^READY (\d+) /m))[1]);
    for (let i = 0; i < CATCH_UP_MARGIN + 2; i++) {
      const client = track(net.connect(port, '127.0.0.1'));
      const [answer] = (await once(client, 'data')) as [Buffer];
      expect(answer.toString()).toBe('ok');
    }
    await app.stderrLines(/^tcp-keepalive: accepted /, CATCH_UP_MARGIN + 2);
    expect(app.stderr()).not.toMatch(/TypeError|\n\s+at /);
    expect(app.child.exitCode).toBeNull();
  });
});
