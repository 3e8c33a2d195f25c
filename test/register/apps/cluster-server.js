'use strict';
// A cluster with one worker running keepaliveServer; NODE_CLUSTER_SCHED_POLICY picks round-robin
// (the primary accepts and passes each connection on) or none (the worker accepts on a shared listener).
const cluster = require('node:cluster');
const http = require('node:http');

if (cluster.isPrimary) {
  const worker = cluster.fork();
  worker.on('message', (message) => {
    if (message.port) process.stdout.write(`READY ${message.port} ${worker.process.pid}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    worker.kill();
    process.exit(0);
  });
} else {
  const { keepaliveServer } = require('tcp-keepalive/integrations');
  const server = keepaliveServer(
    http.createServer((request, response) => response.end('ok')),
    JSON.parse(process.env.POLICY),
  );
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}
