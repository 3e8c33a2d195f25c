/**
 * A peer that stops reading, on loopback (no fault lab needed: the peer is
 * alive, only paused): connectionHealth says 'stalled' while the kernel probes
 * its zero window, and TCP_USER_TIMEOUT's abort of such a connection is
 * published on tcp-keepalive:dead as 'user-timeout' — also when the watched
 * socket was upgraded with tls.connect({ socket }) afterwards. And a
 * connection the kernel did not end is never published.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { configureKeepalive, connectionHealth, DEAD_CHANNEL, type DeadConnectionMessage, getKeepalive } from '../../src';
import { kernelTimes } from '../../src/core/kernel-timers';
import { keepaliveServer } from '../../src/integrations';
import { eventually, within } from '../integration/support';
import { closeAll, connection, tlsServer, track } from '../helpers/sockets';
import { selfSignedCertificate } from '../helpers/tls-cert';

jest.setTimeout(20_000);
afterEach(closeAll);

const onLinux = process.platform === 'linux' ? describe : describe.skip;

/** Writes until the peer's window and our send buffer are full, and keeps them full. */
function keepWriting(socket: net.Socket): void {
  const chunk = Buffer.alloc(64 * 1024, 'w');
  const fill = (): void => {
    while (!socket.destroyed && socket.write(chunk));
  };
  socket.on('drain', fill);
  fill();
}

/** Subscribes to tcp-keepalive:dead for one test. */
function deaths(): { messages: DeadConnectionMessage[]; stop(): void } {
  const messages: DeadConnectionMessage[] = [];
  const listener = (message: unknown): void => {
    messages.push(message as DeadConnectionMessage);
  };
  diagnosticsChannel.subscribe(DEAD_CHANNEL, listener);
  return { messages, stop: () => diagnosticsChannel.unsubscribe(DEAD_CHANNEL, listener) };
}

function closed(socket: net.Socket): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    socket.on('error', (caught: Error) => {
      error = caught;
    });
    socket.once('close', () => resolve(error));
  });
}

/**
 * A configured raw socket upgraded with tls.connect({ socket }) to a TLS server whose end stops reading;
 * `configureTls` may configure the TLS socket too. Resolves when the kernel has ended the connection.
 */
async function stalledTlsUpgrade(
  configureTls: (secure: tls.TLSSocket) => void,
): Promise<{ raw: net.Socket; secure: tls.TLSSocket; error: Error | undefined }> {
  const { key, cert } = selfSignedCertificate();
  const { server, port } = await tlsServer(key, cert);
  const stalledPeer = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
  const raw = track(net.connect(port, '127.0.0.1'));
  await once(raw, 'connect');
  configureKeepalive(raw, { idle: 1000, interval: 1000, count: 3, userTimeout: 1000 });
  const secure = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
  await once(secure, 'secureConnect');
  configureTls(secure);
  (await stalledPeer).pause();
  const ended = closed(secure);
  keepWriting(secure);
  const error = await within(8000, 'the kernel to end the stalled connection', ended);
  return { raw, secure, error };
}

onLinux('a peer that stops reading', () => {
  test("is 'stalled' (peer-not-reading) once the kernel probes its zero window, with the stall's times from the kernel", async () => {
    const { client, accepted } = await connection();
    const options = { idle: 1000, interval: 1000, count: 3, userTimeout: 10_000 };
    configureKeepalive(client, options);
    accepted.pause();
    keepWriting(client);
    const health = await eventually(5000, "a 'stalled' verdict", () => {
      const now = connectionHealth(client);
      return now.verdict === 'stalled' ? now : undefined;
    });
    expect(health.reasons).toEqual(['peer-not-reading']);
    expect(health.info).toMatchObject({ state: 'established', unacked: 0, sendWindow: 0 });
    expect(health.info.notSentBytes).toBeGreaterThan(0);
    const held = getKeepalive(client);
    const survivable = kernelTimes({ ...held, userTimeout: held.userTimeout }).survivableStall;
    expect(health.stall).toBeDefined();
    const stall = health.stall!;
    expect(stall.userTimeout).toBe(options.userTimeout);
    expect(stall.survivable).toBe(survivable);
    expect(stall.stalledFor).toBeGreaterThan(0);
    expect(stall.stalledFor).toBeLessThan(5000);
    expect(stall.abortsIn).toBe(Math.max(0, survivable - stall.stalledFor));
  });

  test('without a userTimeout it is stalled too, and the kernel would let it stall for ever', async () => {
    const { client, accepted } = await connection();
    configureKeepalive(client, { idle: 1000, interval: 1000, count: 3 });
    accepted.pause();
    keepWriting(client);
    const health = await eventually(5000, "a 'stalled' verdict", () => {
      const now = connectionHealth(client);
      return now.verdict === 'stalled' ? now : undefined;
    });
    expect(health.stall).toMatchObject({ userTimeout: 0, survivable: Infinity, abortsIn: Infinity });
  });

  test('is healthy again once it reads', async () => {
    const { client, accepted } = await connection();
    configureKeepalive(client, { idle: 1000, interval: 1000, count: 3, userTimeout: 10_000 });
    accepted.pause();
    const chunk = Buffer.alloc(64 * 1024, 'w');
    while (client.write(chunk));
    await eventually(5000, "a 'stalled' verdict", () => (connectionHealth(client).verdict === 'stalled' ? true : undefined));
    accepted.resume();
    await within(5000, 'drain', once(client, 'drain'));
    await eventually(5000, "a 'healthy' verdict", () => (connectionHealth(client).verdict === 'healthy' ? true : undefined));
  });

  test("ended by TCP_USER_TIMEOUT: ETIMEDOUT, published as cause 'user-timeout', reason 'peer-not-reading'", async () => {
    const seen = deaths();
    try {
      const { client, accepted } = await connection();
      configureKeepalive(client, { idle: 1000, interval: 1000, count: 3, userTimeout: 1000 });
      accepted.pause();
      const ended = closed(client);
      keepWriting(client);
      const error = await within(8000, 'the kernel to end the stalled connection', ended);
      expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('ETIMEDOUT');
      expect(seen.messages).toHaveLength(1);
      const [message] = seen.messages;
      expect(message).toMatchObject({ socket: client, cause: 'user-timeout', reason: 'peer-not-reading' });
      expect(message!.error).toBe(error);
      expect(message!.lastInfo).toMatchObject({ state: 'closed', sendWindow: 0, retransmits: 0 });
      expect(message!.lastInfo!.notSentBytes).toBeGreaterThan(0);
    } finally {
      seen.stop();
    }
  });

  test.each([
    ['the first connection (configured by the server)', 0],
    ['a connection past the catch-up (it inherited the policy from its listener)', 12],
  ])('on a keepaliveServer, %s: published when TCP_USER_TIMEOUT ends it', async (_what, before) => {
    const seen = deaths();
    const server = track(keepaliveServer(net.createServer(), { idle: 1000, interval: 1000, count: 3, userTimeout: 1000 }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    try {
      const accepted: net.Socket[] = [];
      server.on('connection', (socket: net.Socket) => accepted.push(socket));
      for (let i = 0; i <= before; i++) {
        const client = track(net.connect(port, '127.0.0.1'));
        await once(client, 'connect');
        client.pause(); // the client stops reading
      }
      const last = await eventually(2000, 'the server to accept', () => accepted[before]);
      const ended = closed(last);
      keepWriting(last);
      const error = await within(8000, 'the kernel to end the stalled connection', ended);
      expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('ETIMEDOUT');
      expect(seen.messages.filter((message) => message.socket === last)).toMatchObject([
        { cause: 'user-timeout', reason: 'peer-not-reading' },
      ]);
    } finally {
      seen.stop();
    }
  });

  test('a socket the application destroys after the kernel ended its connection (it was neither reading nor writing) is published then', async () => {
    const seen = deaths();
    try {
      const { client, accepted } = await connection();
      configureKeepalive(client, { idle: 1000, interval: 1000, count: 3, userTimeout: 1000 });
      accepted.on('error', () => undefined);
      accepted.pause();
      client.pause();
      accepted.write(Buffer.alloc(100 * 1024)); // over the high-water mark: Node stops reading the client's socket
      await eventually(2000, 'data in the receive queue', () => (client.readableLength > 0 ? true : undefined));
      // Taken whole by the kernel (the peer's window, then our send buffer): Node has nothing left to write, so it
      // does not poll the socket and never hears of the kernel's ETIMEDOUT.
      await new Promise<void>((resolve, reject) =>
        client.write(Buffer.alloc(512 * 1024, 'w'), (error) => (error ? reject(error) : resolve())),
      );
      await eventually(8000, 'the kernel to end the stalled connection', () =>
        connectionHealth(client).info.state === 'closed' ? true : undefined,
      );
      expect(seen.messages).toEqual([]);
      const ended = closed(client);
      client.destroy();
      expect(await ended).toBeUndefined();
      expect(seen.messages).toHaveLength(1);
      expect(seen.messages[0]).toMatchObject({
        socket: client,
        cause: 'user-timeout',
        reason: 'peer-not-reading',
        error: { code: 'ETIMEDOUT' },
      });
      expect(seen.messages[0]!.error.message).toMatch(/destroyed without an error/);
    } finally {
      seen.stop();
    }
  });

  test('under a TLS socket upgraded over the configured socket (tls.connect({ socket })): published once, from the configured socket', async () => {
    const seen = deaths();
    try {
      const { raw, secure, error } = await stalledTlsUpgrade(() => undefined);
      expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('ETIMEDOUT');
      expect(seen.messages).toHaveLength(1);
      const [message] = seen.messages;
      expect(message).toMatchObject({ socket: raw, cause: 'user-timeout', reason: 'peer-not-reading' });
      expect((secure as unknown as { _parent: unknown })._parent).toBe(message!.socket);
      expect(message!.error).toMatchObject({ code: 'ETIMEDOUT' });
      expect(message!.lastInfo?.state).toBe('closed');
    } finally {
      seen.stop();
    }
  });

  test('a TLS socket configured itself over a configured raw socket is published once, as itself', async () => {
    const seen = deaths();
    try {
      const { secure, error } = await stalledTlsUpgrade((tlsSocket) => configureKeepalive(tlsSocket, { userTimeout: 1000 }));
      expect(seen.messages).toHaveLength(1);
      expect(seen.messages[0]).toMatchObject({ socket: secure, cause: 'user-timeout', error });
    } finally {
      seen.stop();
    }
  });
});

onLinux('what the kernel did not end is not published', () => {
  test("a close-wait connection (the peer's FIN unread) destroyed with a library's own ETIMEDOUT", async () => {
    const seen = deaths();
    try {
      const { client, accepted } = await connection();
      accepted.on('error', () => undefined); // our destroy with unread data resets it
      configureKeepalive(client, { idle: 1000, interval: 1000, count: 3 });
      client.pause();
      accepted.write(Buffer.alloc(100 * 1024)); // over the high-water mark: Node stops reading, so the FIN stays unread
      await eventually(2000, 'data in the receive queue', () => (client.readableLength > 0 ? true : undefined));
      accepted.end();
      await eventually(2000, 'close-wait', () => (connectionHealth(client).info.state === 'close-wait' ? true : undefined));
      // Shaped like Node's own read error, as a library re-raising one would make it.
      const own = Object.assign(new Error('read ETIMEDOUT'), { code: 'ETIMEDOUT', errno: -110, syscall: 'read' });
      const ended = closed(client);
      client.destroy(own);
      await ended;
      expect(seen.messages).toEqual([]);
    } finally {
      seen.stop();
    }
  });

  test('a connection the peer reset, destroyed without an error, and one ended normally', async () => {
    const seen = deaths();
    try {
      const reset = await connection();
      configureKeepalive(reset.client, { idle: 1000, interval: 1000, count: 3, userTimeout: 1000 });
      reset.client.pause();
      reset.accepted.resetAndDestroy();
      await eventually(2000, 'closed', () => (connectionHealth(reset.client).info.state === 'closed' ? true : undefined));
      const resetClosed = closed(reset.client);
      reset.client.destroy();
      await resetClosed;

      const normal = await connection();
      configureKeepalive(normal.client, { idle: 1000 });
      const normalClosed = closed(normal.client);
      normal.client.end();
      await normalClosed;
      expect(seen.messages).toEqual([]);
    } finally {
      seen.stop();
    }
  });
});
