// The same application as an ES module (run with --import): no keepalive code.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

const targets = JSON.parse(process.env.TARGETS);
const held = [];

function open({ kind, port }) {
  return new Promise((resolve, reject) => {
    if (kind === 'net') {
      const socket = net.connect(port, '127.0.0.1', resolve);
      socket.on('error', reject);
      held.push(socket);
    } else if (kind === 'socket') {
      const socket = new net.Socket();
      socket.on('error', reject);
      socket.connect(port, '127.0.0.1', resolve);
      held.push(socket);
    } else if (kind === 'tls') {
      const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, resolve);
      socket.on('error', reject);
      held.push(socket);
    } else if (kind === 'http' || kind === 'https') {
      const agent = new (kind === 'http' ? http : https).Agent({ keepAlive: true });
      const request = (kind === 'http' ? http : https).get({ host: '127.0.0.1', port, agent, rejectUnauthorized: false }, (response) => {
        response.resume();
        response.on('end', resolve);
      });
      request.on('error', reject);
      held.push(agent);
    } else if (kind === 'fetch') {
      fetch(`https://127.0.0.1:${port}/`)
        .then((response) => response.text())
        .then(resolve, reject);
    } else {
      reject(new Error(`unknown target ${kind}`));
    }
  });
}

await Promise.all(targets.map(open));
process.stdout.write('READY\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
