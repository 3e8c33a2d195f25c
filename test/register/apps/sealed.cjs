'use strict';
// A client whose socket is not extensible (Object.preventExtensions right after net.connect), no
// keepalive code: prints READY once connected and holds the connection until stdin closes.
const net = require('node:net');

const socket = net.connect(Number(process.env.PORT), '127.0.0.1');
Object.preventExtensions(socket);
socket.on('error', (error) => process.stdout.write(`ERROR ${error.message}\n`));
socket.on('connect', () => process.stdout.write('READY\n'));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
