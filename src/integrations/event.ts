/**
 * Clients that emit an event each time they (re)connect and expose the socket
 * as a property: ioredis (`'connect'`, `redis.stream`), MQTT.js (`'connect'`,
 * `client.stream`), ioredis Cluster (`'+node'`, per node).
 *
 *   keepaliveOnEvent(redis, 'connect', (r) => r.stream, policy);
 */
import net from 'node:net';
import type { KeepaliveOptions } from '../core/options';
import { invalidArgType } from '../core/errors';
import { checkedPolicy, configureOnConnect } from './connected';

/**
 * On every `event` of `emitter`, configures the socket `socketOf(emitter,
 * ...eventArgs)` returns (TLS sockets too; anything that is not a net.Socket
 * — a WebSocket stream, say — is skipped). The listener is prepended, so your
 * own listeners already see a configured socket, and never throws into the
 * client: a `socketOf` that throws is reported with process.emitWarning.
 * Returns a function that removes the listener.
 */
/** The two EventEmitter methods used; typed loosely so typed emitters (MQTT.js, ioredis) fit. */
interface ListenerSource {
  prependListener(event: string | symbol, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string | symbol, listener: (...args: unknown[]) => void): unknown;
}

export function keepaliveOnEvent<E extends object>(
  emitter: E,
  event: string | symbol,
  socketOf: (emitter: E, ...eventArgs: unknown[]) => unknown,
  options?: KeepaliveOptions,
): () => void {
  const source = emitter as Partial<ListenerSource>;
  if (
    emitter === null ||
    typeof emitter !== 'object' ||
    typeof source.prependListener !== 'function' ||
    typeof source.removeListener !== 'function'
  ) {
    throw invalidArgType('emitter', 'an EventEmitter', emitter);
  }
  if (typeof socketOf !== 'function') throw invalidArgType('socketOf', 'of type function', socketOf);
  const policy = checkedPolicy(options);
  const listener = (...eventArgs: unknown[]): void => {
    let socket: unknown;
    try {
      socket = socketOf(emitter, ...eventArgs);
    } catch (error) {
      process.emitWarning(`keepaliveOnEvent: socketOf threw on '${String(event)}'; that socket is left unconfigured: ${String(error)}`, {
        code: 'TCP_KEEPALIVE_SOCKET_OF_THREW',
      });
      return;
    }
    if (socket instanceof net.Socket) configureOnConnect(socket, policy);
  };
  (emitter as ListenerSource).prependListener(event, listener);
  return () => {
    (emitter as ListenerSource).removeListener(event, listener);
  };
}
