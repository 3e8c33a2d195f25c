// An application that knows nothing of tcp-keepalive: it connects, and prints what the kernel holds for its
// connection, read from outside the process. smoke.mjs starts it with the register entry preloaded.
import { execFileSync } from 'node:child_process';
import net from 'node:net';

const reader = process.argv[2];
const server = net
  .createServer((socket) => socket.on('error', () => {}))
  .listen(0, '127.0.0.1', () => {
    const socket = net.connect(server.address().port, '127.0.0.1', () => {
      setImmediate(() => {
        const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${socket.localPort} )`], { encoding: 'utf8' });
        const fd = new RegExp(`pid=${process.pid},fd=(\\d+)`).exec(out)[1];
        const raw = JSON.parse(execFileSync(reader, [String(process.pid), fd], { encoding: 'utf8' }));
        const state = {
          enable: raw.enabled === 1,
          idle: raw.idle * 1000,
          interval: raw.interval * 1000,
          count: raw.count,
          userTimeout: raw.userTimeout,
        };
        process.stdout.write(`${JSON.stringify(state)}\n`);
        socket.destroy();
        server.close();
      });
    });
  });
