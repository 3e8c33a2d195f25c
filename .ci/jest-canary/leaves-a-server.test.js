'use strict';
/* global test -- Jest's global */
const net = require('node:net');

test('passes, and leaves a server listening, so Jest cannot exit', async () => {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  console.log(`canary listening on ${server.address().port}`);
});
