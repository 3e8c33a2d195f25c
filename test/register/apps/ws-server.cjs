'use strict';
// An ordinary WebSocket server (ws over an http server), no keepalive code. It prints what the
// application can see of its server's listeners at each step (VIEW <step> <json>), READY <port> once
// listening; after its first WebSocket client goes, it closes the WebSocketServer and the http
// server (ws's own clean-up check: the server has the listeners it had before ws), prints
// VIEW closed, and exits by itself once nothing is left open.
const http = require('node:http');
const { WebSocketServer } = require('ws');

const events = ['listening', 'connection', 'request', 'upgrade', 'error', 'close'];
function view(server, step) {
  const seen = {};
  for (const event of events) seen[event] = server.listeners(event).map((listener) => listener.name || 'anonymous');
  process.stdout.write(`VIEW ${step} ${JSON.stringify(seen)}\n`);
}

const server = http.createServer();
view(server, 'bare');
const wss = new WebSocketServer({ server });
view(server, 'created');
server.listen(0, '127.0.0.1');
view(server, 'listen-called');
server.once('listening', function ready() {
  view(server, 'listening');
  process.stdout.write(`READY ${server.address().port}\n`);
});
wss.on('connection', (ws) => {
  view(server, 'accepted');
  ws.on('close', () =>
    wss.close(() => {
      view(server, 'ws-closed');
      server.close(() => view(server, 'closed'));
    }),
  );
});
