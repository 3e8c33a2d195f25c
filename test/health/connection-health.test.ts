/**
 * connectionHealth on real loopback connections (the fault lab covers
 * vanished peers and black holes: test/faults/health*.test.ts), its
 * thresholds' validation, and the dead channel's no-subscriber behaviour.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { configureKeepalive, connectionHealth, DEAD_CHANNEL, type HealthThresholds, tcpInfo } from '../../src';
import { watchForDeath } from '../../src/health/dead-channel';
import { closeAll, connection } from '../helpers/sockets';
import { eventually } from '../helpers/wait';

/** Waits until the kernel holds `state` for the socket. */
const kernelState = (socket: net.Socket, state: string): Promise<true> =>
  eventually(2000, `the kernel to hold ${state}`, () => tcpInfo(socket).state === state || undefined);

afterEach(closeAll);

const onLinux = process.platform === 'linux' ? test : test.skip;

describe('connectionHealth', () => {
  onLinux('an idle, connected socket is healthy, with no reasons and the TCP_INFO it was judged from', async () => {
    const { client } = await connection();
    configureKeepalive(client, { idle: 1000, interval: 1000, count: 3 });
    const health = connectionHealth(client);
    expect(health.verdict).toBe('healthy');
    expect(health.reasons).toEqual([]);
    expect(health.info.state).toBe('established');
    expect(health.info.probes).toBe(0);
  });

  onLinux('a socket whose peer closed (close-wait) is dead while the application has not read the end', async () => {
    const { client, accepted } = await connection();
    client.pause();
    accepted.write(Buffer.alloc(100 * 1024)); // over the high-water mark: Node stops reading
    accepted.end();
    await kernelState(client, 'close-wait');
    const health = connectionHealth(client);
    expect(health).toMatchObject({ verdict: 'dead', reasons: ['not-established'], info: { state: 'close-wait' } });
  });

  onLinux('a socket that was reset by its peer (closed) is dead before the application hears of it', async () => {
    const { client, accepted } = await connection();
    client.on('error', () => undefined);
    client.pause();
    accepted.write(Buffer.alloc(100 * 1024));
    const sawError = jest.fn();
    client.on('error', sawError);
    accepted.resetAndDestroy();
    await kernelState(client, 'closed');
    expect(connectionHealth(client)).toMatchObject({ verdict: 'dead', info: { state: 'closed' } });
    expect(sawError).not.toHaveBeenCalled();
  });

  test('refuses what is not a connected socket, like tcpInfo', async () => {
    expect(() => connectionHealth({} as net.Socket)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const { client } = await connection();
    client.destroy();
    expect(() => connectionHealth(client)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  });

  test.each<[string, unknown, string, RegExp]>([
    ['options not an object', 5, 'ERR_INVALID_ARG_TYPE', /"options" argument must be of type object/],
    ['options an array', [], 'ERR_INVALID_ARG_TYPE', /"options" argument must be of type object/],
    [
      'unknown key (a typo)',
      { unacknowledgedAfer: 10 },
      'ERR_INVALID_ARG_VALUE',
      /options\.unacknowledgedAfer.*known: unacknowledgedAfter, retransmits, probeGrace/,
    ],
    [
      'unacknowledgedAfter 0',
      { unacknowledgedAfter: 0 },
      'ERR_OUT_OF_RANGE',
      /"options\.unacknowledgedAfter" is out of range\. It must be an integer >= 1 && <= 2147483647 \(milliseconds\)\. Received 0/,
    ],
    ['unacknowledgedAfter fractional', { unacknowledgedAfter: 1.5 }, 'ERR_OUT_OF_RANGE', /Received 1\.5/],
    [
      'unacknowledgedAfter a string',
      { unacknowledgedAfter: '1000' },
      'ERR_INVALID_ARG_TYPE',
      /options\.unacknowledgedAfter" argument must be of type number/,
    ],
    ['retransmits 0', { retransmits: 0 }, 'ERR_OUT_OF_RANGE', /"options\.retransmits".*>= 1 && <= 255/],
    ['retransmits 256', { retransmits: 256 }, 'ERR_OUT_OF_RANGE', /Received 256/],
    ['probeGrace -1', { probeGrace: -1 }, 'ERR_OUT_OF_RANGE', /"options\.probeGrace".*>= 0 && <= 2147483647/],
    ['probeGrace NaN', { probeGrace: Number.NaN }, 'ERR_OUT_OF_RANGE', /Received NaN/],
    [
      'a throwing getter',
      {
        get retransmits(): number {
          throw new Error('boom');
        },
      },
      'ERR_INVALID_ARG_VALUE',
      /could not be read/,
    ],
  ])('thresholds are validated before the socket is read: %s', async (_name, options, code, message) => {
    const { client } = await connection();
    let error: (Error & { code?: string }) | undefined;
    try {
      connectionHealth(client, options as HealthThresholds);
    } catch (caught) {
      error = caught as typeof error;
    }
    expect(error?.code).toBe(code);
    expect(error?.message).toMatch(message);
  });

  onLinux('valid thresholds are accepted, and an undefined one keeps its default', async () => {
    const { client } = await connection();
    expect(connectionHealth(client, { unacknowledgedAfter: 1, retransmits: 255, probeGrace: 0 }).verdict).toBe('healthy');
    expect(connectionHealth(client, { unacknowledgedAfter: undefined }).verdict).toBe('healthy');
    expect(connectionHealth(client, {}).verdict).toBe('healthy');
  });
});

describe('the tcp-keepalive:dead channel', () => {
  test('is named tcp-keepalive:dead', () => {
    expect(DEAD_CHANNEL).toBe('tcp-keepalive:dead');
  });

  test('without a subscriber, configureKeepalive leaves the socket as Node made it (no own _destroy: no cost)', async () => {
    expect(diagnosticsChannel.hasSubscribers(DEAD_CHANNEL)).toBe(false);
    const { client } = await connection();
    configureKeepalive(client, { idle: 1000 });
    expect(Object.prototype.hasOwnProperty.call(client, '_destroy')).toBe(false);
    expect(client._destroy).toBe(net.Socket.prototype._destroy);
  });

  test("a watched socket ended by a library's own ETIMEDOUT, or closed normally, publishes nothing", async () => {
    const messages: unknown[] = [];
    const listener = (message: unknown): void => {
      messages.push(message);
    };
    diagnosticsChannel.subscribe(DEAD_CHANNEL, listener);
    try {
      expect(diagnosticsChannel.hasSubscribers(DEAD_CHANNEL)).toBe(true);
      const first = await connection();
      configureKeepalive(first.client, { idle: 1000 });
      watchForDeath(first.client, () => undefined);
      expect(Object.prototype.hasOwnProperty.call(first.client, '_destroy')).toBe(true);
      const closed = new Promise((resolve) => first.client.once('close', resolve));
      first.client.on('error', () => undefined);
      first.client.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
      await closed;

      const second = await connection();
      watchForDeath(second.client, () => undefined);
      second.client.end();
      await new Promise((resolve) => second.client.once('close', resolve));
      expect(messages).toEqual([]);
    } finally {
      diagnosticsChannel.unsubscribe(DEAD_CHANNEL, listener);
    }
  });

  test('configureKeepalive watches a socket it configures first while the channel has a subscriber, in every copy of the package', async () => {
    const listener = (): void => undefined;
    diagnosticsChannel.subscribe(DEAD_CHANNEL, listener);
    try {
      const { client } = await connection();
      configureKeepalive(client, { idle: 1000 });
      expect(Object.prototype.hasOwnProperty.call(client, '_destroy')).toBe(true);
      // A second copy (another version in node_modules): its own src/core gets its own watch.
      let copy: typeof import('../../src') | undefined;
      jest.isolateModules(() => {
        copy = require('../../src') as typeof import('../../src');
      });
      expect(copy!.configureKeepalive).not.toBe(configureKeepalive);
      const other = await connection();
      copy!.configureKeepalive(other.client, { idle: 1000 });
      expect(Object.prototype.hasOwnProperty.call(other.client, '_destroy')).toBe(true);
      // Configured by both copies: watched once.
      const watched = other.client._destroy;
      configureKeepalive(other.client, { idle: 2000 });
      expect(other.client._destroy).toBe(watched);
    } finally {
      diagnosticsChannel.unsubscribe(DEAD_CHANNEL, listener);
    }
  });

  test('the watch never throws and never stacks: a second watch of the same socket is a no-op', async () => {
    const { client } = await connection();
    watchForDeath(client, () => undefined);
    const installed = client._destroy;
    watchForDeath(client, () => undefined);
    expect(client._destroy).toBe(installed);
    expect(() => watchForDeath(Object.freeze(new net.Socket()), () => undefined)).not.toThrow();
  });
});
