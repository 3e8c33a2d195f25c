/**
 * Socket-factory wrapper: for every client option that takes a function
 * returning a socket.
 *
 *   stream: withKeepalive(() => new net.Socket(), { idle: 30_000, interval: 10_000, count: 3 })   // pg
 *   stream: withKeepalive((o) => net.connect(o.config.port, o.config.host), policy)             // mysql2
 *   socketFactory: withKeepalive(kafkaDefaultFactory, policy)                                   // kafkajs
 *   createConnection: withKeepalive(net.createConnection, policy)                                // http.request
 */
import net from 'node:net';
import { invalidArgType } from '../core/errors';
import type { KeepaliveOptions } from '../core/options';
import { checkedPolicy, configureOnConnect } from './connected';

/**
 * Returns a factory with the same signature as `factory` whose sockets get the
 * keepalive policy when they connect — whether the factory returns them not
 * yet connected (pg), connecting (net.connect, tls.connect), or connected.
 * Every call makes a new socket, so reconnects and new pool connections are
 * covered. TLS sockets, direct or upgraded, are configured on their TCP fd.
 *
 * A factory that hands its socket to an error-first callback instead of
 * returning it (`http.Agent#createConnection(options, (err, socket) => …)`,
 * undici connectors) is covered too: a trailing function argument is wrapped
 * so that a socket passed to it is configured before the callback sees it.
 * (A plain connect listener in that position, as in `net.connect(port, host,
 * listener)`, still runs as before; only `socket.removeListener('connect',
 * listener)` with the original function would no longer find it.)
 *
 * Unix-domain sockets are left alone. Options are checked now (throws
 * ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE / ERR_INVALID_ARG_VALUE /
 * ERR_FEATURE_UNAVAILABLE_ON_PLATFORM); nothing is thrown later into the client.
 */
export function withKeepalive<Args extends unknown[], Result>(
  factory: (...args: Args) => Result,
  options?: KeepaliveOptions,
): (...args: Args) => Result {
  if (typeof factory !== 'function') {
    throw invalidArgType('factory', 'of type function', factory);
  }
  const policy = checkedPolicy(options);
  const configureIfSocket = (value: unknown): void => {
    if (value instanceof net.Socket) configureOnConnect(value, policy);
  };
  return function keepaliveFactory(this: unknown, ...args: Args): Result {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      (args as unknown[])[last] = function socketCallback(this: unknown, ...results: unknown[]) {
        configureIfSocket(results[1]);
        return (callback as (...a: unknown[]) => unknown).apply(this, results);
      };
    }
    const result = factory.apply(this, args);
    configureIfSocket(result);
    return result;
  };
}
