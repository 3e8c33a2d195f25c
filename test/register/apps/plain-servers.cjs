'use strict';
// Ordinary servers with no keepalive code. SERVER=sealing: a net server making each accepted socket
// non-extensible in its 'connection' handler; SERVER=keepalive: http.createServer({ keepAlive: true,
// keepAliveInitialDelay: 5000 }) (Node calls setKeepAlive on each accepted connection); SERVER=cluster:
// a cluster with one worker serving (NODE_CLUSTER_SCHED_POLICY picks round-robin or shared). Prints
// READY <port> <pid of the process holding the accepted connections>; runs until stdin closes.
const cluster = require('node:cluster');
const http = require('node:http');

const respond = (request, response) => response.end('ok');
if (process.env.SERVER === 'sealing') {
  // A server whose 'connection' handler makes each socket non-extensible, then answers (half-open
  // allowed: Node itself assigns to a socket that ends otherwise, which a non-extensible one refuses).
  const server = require('node:net').createServer({ allowHalfOpen: true }, (socket) => {
    Object.preventExtensions(socket);
    socket.write('ok');
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port} ${process.pid}\n`));
} else if (process.env.SERVER === 'keepalive') {
  const server = http.createServer({ keepAlive: true, keepAliveInitialDelay: 5000 }, respond);
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port} ${process.pid}\n`));
} else if (cluster.isPrimary) {
  const worker = cluster.fork();
  worker.on('message', (message) => {
    if (message.port) process.stdout.write(`READY ${message.port} ${worker.process.pid}\n`);
  });
  process.stdin.on('end', () => worker.kill());
} else {
  // KEEPALIVE=1: the worker's server has the keepAlive option too.
  const options = process.env.KEEPALIVE === '1' ? { keepAlive: true, keepAliveInitialDelay: 5000 } : {};
  const server = http.createServer(options, respond);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
