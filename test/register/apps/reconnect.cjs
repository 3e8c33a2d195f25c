'use strict';
// A client that starts before its server, as services do: one socket object, reconnected with
// socket.connect() after each 'close' (Node's documented idiom), no keepalive code. KIND: 'net'
// (made by net.connect) or 'socket' (new net.Socket()). Prints FAILED <code> for a refused attempt and
// CONNECTED <n> <localPort> for each connection; runs until stdin closes.
const net = require('node:net');

const port = Number(process.env.PORT);
let connections = 0;
let failed = false;
const socket = process.env.KIND === 'net' ? net.connect(port, '127.0.0.1') : new net.Socket();
if (process.env.KIND !== 'net') socket.connect(port, '127.0.0.1');
socket.on('error', (error) => {
  if (!failed) process.stdout.write(`FAILED ${error.code}\n`);
  failed = true;
});
socket.on('connect', () => {
  connections += 1;
  process.stdout.write(`CONNECTED ${connections} ${socket.localPort}\n`);
});
socket.on('close', () => setTimeout(() => socket.connect(port, '127.0.0.1'), 20));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
