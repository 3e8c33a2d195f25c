/**
 * Servers: every accepted connection carries the keepalive policy — a server
 * is the side that most often holds zombie connections of vanished clients.
 *
 *   keepaliveServer(http.createServer(app), { idle: 60_000, interval: 10_000, count: 3 }).listen(8080);
 */
import net from 'node:net';
import type { KeepaliveOptions } from '../core/options';
import { invalidArgType } from '../core/errors';
import { checkedOptions, configureQuietly } from './connected';

/**
 * Configures each socket `server` accepts from now on (net.Server, and so
 * tls.Server, http.Server, https.Server, http2 servers): on 'connection',
 * which every one of them emits with the raw TCP socket before any TLS or
 * HTTP work. The listener is prepended so the server's own handlers and
 * yours already see a configured socket; http.Server's own `keepAlive`
 * option (a setKeepAlive on each connection) is followed by the core
 * re-applying the policy. Returns the server.
 */
export function keepaliveServer<S extends net.Server>(server: S, options?: KeepaliveOptions): S {
  if (!(server instanceof net.Server)) throw invalidArgType('server', 'an instance of net.Server (or tls/http/https.Server)', server);
  const policy = checkedOptions(options);
  const onConnection = (socket: net.Socket): void => configureQuietly(socket, policy);
  server.prependListener('connection', onConnection);
  return server;
}
