'use strict';
// Real loopback TCP connections for the benchmarks: a server that accepts and
// holds, and clients that are connected (or still connecting) on it.
const net = require('node:net');

/** A server on 127.0.0.1 that keeps every accepted socket until close(). */
async function startServer() {
  const accepted = new Set();
  const server = net.createServer((socket) => {
    accepted.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => accepted.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
  });
  return {
    port: server.address().port,
    accepted,
    close() {
      for (const socket of accepted) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function connected(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
  });
}

/**
 * `count` fresh connected client sockets, opened BATCH at a time: a larger
 * burst overflows the loopback accept queue now and then, and a lost SYN
 * waits a 1 s retransmission.
 */
async function connectMany(port, count, batch = 50) {
  const sockets = [];
  while (sockets.length < count) {
    const size = Math.min(batch, count - sockets.length);
    sockets.push(...(await Promise.all(Array.from({ length: size }, () => connected(port)))));
  }
  return sockets;
}

/** Closes sockets with RST (no TIME_WAIT, so the ephemeral ports last) and waits until each has closed. */
function resetAll(sockets) {
  return Promise.all(
    sockets.map(
      (socket) =>
        new Promise((resolve) => {
          socket.once('close', resolve);
          socket.resetAndDestroy();
        }),
    ),
  );
}

/** Runs `body` with one connected client socket per name, then closes everything. */
async function withConnectedSockets(names, body) {
  const server = await startServer();
  const sockets = {};
  try {
    for (const name of names) sockets[name] = await connected(server.port);
    return await body(sockets);
  } finally {
    for (const socket of Object.values(sockets)) socket.destroy();
    await server.close();
  }
}

module.exports = { startServer, connected, connectMany, resetAll, withConnectedSockets };
