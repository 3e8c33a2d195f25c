'use strict';
// A server on a listening socket handed in as fd 3 (systemd socket activation, a supervisor).
const net = require('node:net');
const { keepaliveServer } = require('tcp-keepalive/integrations');

const held = [];
const server = keepaliveServer(
  net.createServer((socket) => held.push(socket)),
  JSON.parse(process.env.POLICY),
);
server.listen({ fd: 3 }, () => process.stdout.write('READY\n'));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
