/**
 * An undici connector that configures every socket undici opens — for an
 * undici Agent/Pool/Client, and through setGlobalDispatcher for Node's global
 * fetch as well.
 *
 *   import { Agent, buildConnector, setGlobalDispatcher } from 'undici';
 *   const connect = keepaliveConnector(buildConnector({}), { idle: 30_000, interval: 10_000, count: 3 });
 *   setGlobalDispatcher(new Agent({ connect }));
 *
 * This package does not depend on undici: pass the connector you build (any
 * TLS options go to buildConnector). The types below are the parts of
 * undici's connector contract we rely on.
 */
import type net from 'node:net';
import type { KeepaliveOptions } from '../core/options';
import { withKeepalive } from './socket-factory';

/** undici's `buildConnector.Callback`. */
export type ConnectorCallback = (...args: [null, net.Socket] | [Error, null]) => void;

/** undici's `buildConnector.connector`: `(options, callback) => void`, options include hostname, host, protocol, port. */
export type UndiciConnector<Options = never> = (options: Options, callback: ConnectorCallback) => void;

/**
 * Returns a connector that calls `connector` and configures the socket it
 * delivers (undici calls back once the TCP — and TLS — connection is up, so
 * the socket is configured before the first request is written). Each new
 * pool connection is a new call, so reconnects are covered.
 */
export function keepaliveConnector<Options>(connector: UndiciConnector<Options>, options?: KeepaliveOptions): UndiciConnector<Options> {
  return withKeepalive(connector, options);
}
