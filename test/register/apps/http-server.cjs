'use strict';
// An ordinary HTTP server (CommonJS), no keepalive code: READY <port>, then serves until stdin closes.
const http = require('node:http');

const server = http.createServer({ keepAliveTimeout: 30_000 }, (request, response) => response.end('ok'));
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
