'use strict';
// An ordinary CommonJS application with outbound connections and no keepalive code:
// TARGETS (JSON) says what to open; it prints READY and holds them until stdin closes.
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const tls = require('node:tls');

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

Promise.all(targets.map(open)).then(
  () => {
    process.stdout.write('READY\n');
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  },
  (error) => {
    process.stderr.write(`app failed: ${error.stack}\n`);
    process.exit(2);
  },
);
