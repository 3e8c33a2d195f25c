/**
 * The same values read WITHOUT our addon: a separately compiled C program
 * duplicates the fd out of this process (pidfd_getfd) and calls getsockopt,
 * and `ss -tino` shows the kernel's keepalive timer (the modern `netstat -o`).
 */
import { configureKeepalive, getKeepalive } from '../../src';
import { kernelReader, readFromOutside, ssKeepaliveTimerMs } from '../helpers/independent-kernel';
import { closeAll, connection } from '../helpers/sockets';

afterEach(closeAll);

const reader = kernelReader();
const fdOf = (socket: unknown): number => (socket as { _handle: { fd: number } })._handle.fd;

('binary' in reader ? describe : describe.skip)(
  `outside reader${'unavailable' in reader ? ` (SKIPPED: ${reader.unavailable})` : ''}`,
  () => {
    const binary = 'binary' in reader ? reader.binary : '';

    test.each([
      [
        { idle: 30_000, interval: 5_000, count: 3, userTimeout: 45_000 },
        { enabled: 1, idle: 30, interval: 5, count: 3, userTimeout: 45_000 },
      ],
      [
        { idle: 1_999, interval: 32_767_000, count: 127, userTimeout: 0 },
        { enabled: 1, idle: 1, interval: 32_767, count: 127, userTimeout: 0 },
      ],
      [
        { enable: false, count: 1 },
        { enabled: 0, count: 1 },
      ],
    ])('configureKeepalive(%j) → getsockopt from outside %j', async (options, expected) => {
      const { client } = await connection();
      configureKeepalive(client, options);
      expect(readFromOutside(binary, fdOf(client))).toMatchObject(expected);
      const ours = getKeepalive(client);
      const outside = readFromOutside(binary, fdOf(client));
      expect(ours).toEqual({
        enable: outside.enabled === 1,
        idle: outside.idle * 1000,
        interval: outside.interval * 1000,
        count: outside.count,
        userTimeout: outside.userTimeout,
      });
    });
  },
);

test('ss -tino shows a keepalive timer that counts down from the configured idle', async () => {
  const { client } = await connection();
  expect(ssKeepaliveTimerMs(client.localPort!, client.remotePort!)).toBeUndefined(); // no keepalive yet
  configureKeepalive(client, { idle: 125_000 });
  const timer = ssKeepaliveTimerMs(client.localPort!, client.remotePort!);
  expect(timer).toBeGreaterThan(115_000);
  expect(timer).toBeLessThanOrEqual(125_000);
});
