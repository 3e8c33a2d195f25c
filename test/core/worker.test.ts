/** The addon loads in a worker_threads Worker (its own N-API env) and reads the kernel there. */
import { Worker } from 'node:worker_threads';
import path from 'node:path';

test('configure and read back inside a Worker', async () => {
  const distIndex = path.join(__dirname, '..', '..', 'dist', 'index.js');
  const worker = new Worker(
    `
    const net = require('node:net');
    const { parentPort } = require('node:worker_threads');
    const { configureKeepalive, getKeepalive } = require(${JSON.stringify(distIndex)});
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const client = net.connect(server.address().port, '127.0.0.1', () => {
        configureKeepalive(client, { idle: 4000, interval: 2000, count: 6, userTimeout: 9000 });
        parentPort.postMessage(getKeepalive(client));
        client.destroy();
        server.close();
      });
    });
  `,
    { eval: true },
  );
  const [state] = await Promise.all([
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    new Promise((resolve) => worker.once('exit', resolve)),
  ]);
  expect(state).toEqual({ enable: true, idle: 4000, interval: 2000, count: 6, userTimeout: 9000 });
});
