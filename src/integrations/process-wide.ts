/**
 * A process-wide install for clients that expose no socket (node-redis,
 * mongodb, nats): Node's diagnostics channels report client sockets as they
 * are created; those whose peer matches a host/port filter get the policy.
 *
 *   const installation = installKeepalive({ idle: 30_000, interval: 10_000, count: 3, match: { port: [6379, 27017] } });
 *   …
 *   installation.uninstall();
 *
 * Which sockets are seen depends on the Node line (checked in Node's sources:
 * nodejs/node#58349 moved the `net.client.socket` publish from net.connect()
 * into Socket#connect; present in v22.23.3, v24.21.0, v26.10.0, absent from
 * v20.20.2):
 *
 * | channel                      | Node 20                                   | Node 22 (with #58349), 24, 26           |
 * |------------------------------|-------------------------------------------|-----------------------------------------|
 * | `net.client.socket`          | net.connect / net.createConnection only   | also `new Socket().connect()` and tls.connect |
 * | `undici:client:connected`    | global fetch and npm undici (plain + TLS) | same                                    |
 * | `http.client.request.start`  | http/https.request sockets (plain + TLS)  | same                                    |
 *
 * So on Node 20 a client that calls tls.connect itself (mongodb or node-redis
 * with TLS, amqps, kafkajs ssl) or connects a `new net.Socket()` (pg) is NOT
 * seen: use that client's socket hook (withKeepalive, 'connect' events) there.
 * `installation.seesTlsConnect` tells which case this process is in.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import net from 'node:net';
import type { KeepaliveOptions } from '../core/options';
import { invalidArgType } from '../core/errors';
import { checkedOptions, configureQuietly, whenConnected } from './connected';

/** The connection a filter decides on, known once the socket has connected. */
export interface ConnectionTarget {
  /** The host name the client asked for (from DNS lookup, undici or the HTTP request); the address when it asked for an IP. */
  readonly host: string;
  /** The peer's IP address. */
  readonly address: string;
  /** The peer's port. */
  readonly port: number;
  /** 'IPv4' or 'IPv6'. */
  readonly family: string;
  /** The diagnostics channel that reported the socket. */
  readonly channel: string;
}

/** Hosts (names or addresses, any of them) and/or ports (any of them); both given = both must match. Or a predicate. */
export type ConnectionFilter =
  | { readonly host?: string | readonly string[]; readonly port?: number | readonly number[] }
  | ((target: ConnectionTarget) => boolean);

export interface InstallOptions extends KeepaliveOptions {
  /** Which client connections to configure; all TCP client connections when left out. */
  match?: ConnectionFilter;
}

export interface KeepaliveInstallation {
  /** Stops configuring new sockets (sockets already configured keep their policy). Idempotent. */
  uninstall(): void;
  /** The channels subscribed to. */
  readonly channels: readonly string[];
  /** Whether this Node line publishes tls.connect and Socket#connect sockets (nodejs/node#58349). */
  readonly seesTlsConnect: boolean;
}

const NET_CLIENT_SOCKET = 'net.client.socket';
const UNDICI_CONNECTED = 'undici:client:connected';
const HTTP_REQUEST_START = 'http.client.request.start';

/** Feature test on Node's own (JS) source: is the publish inside Socket#connect? */
const seesTlsConnect = /netClientSocketChannel/.test(Function.prototype.toString.call(net.Socket.prototype.connect));

function asList<T>(value: T | readonly T[] | undefined): readonly T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function compileFilter(match: ConnectionFilter | undefined): (target: ConnectionTarget) => boolean {
  if (match === undefined) return () => true;
  if (typeof match === 'function') return match;
  if (match === null || typeof match !== 'object') throw invalidArgType('options.match', 'an object ({ host, port }) or a function', match);
  const hosts = asList(match.host)?.map((host) => {
    if (typeof host !== 'string') throw invalidArgType('options.match.host', 'a string or an array of strings', host);
    return host.toLowerCase();
  });
  const ports = asList(match.port);
  ports?.forEach((port) => {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgType('options.match.port', 'a port number or an array of them', port);
  });
  return (target) =>
    (hosts === undefined || hosts.includes(target.host.toLowerCase()) || hosts.includes(target.address.toLowerCase()))
    && (ports === undefined || ports.includes(target.port));
}

/**
 * Subscribes to the diagnostics channels above and configures every client
 * socket whose peer matches `options.match` once it connects. Keepalive
 * options are checked now (coded errors as configureKeepalive's); a filter
 * that throws later is reported with process.emitWarning and the connection
 * left alone — nothing is thrown into a client. Each socket is considered
 * once, whichever channels report it. Unix-domain sockets are ignored.
 */
export function installKeepalive(options: InstallOptions = {}): KeepaliveInstallation {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const { match, ...keepalive } = options;
  const policy = checkedOptions(keepalive);
  const accepts = compileFilter(match);
  const considered = new WeakSet<net.Socket>();
  let installed = true;

  const decide = (socket: net.Socket, channel: string, hostAsked: string | undefined): void => {
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    if (!installed || address === undefined || port === undefined) return;
    const target: ConnectionTarget = { host: hostAsked ?? address, address, port, family: socket.remoteFamily ?? '', channel };
    let accepted: boolean;
    try {
      accepted = accepts(target) === true;
    } catch (error) {
      process.emitWarning(`installKeepalive: the match function threw for ${target.host}:${target.port}; that connection is left unconfigured: ${String(error)}`,
        { code: 'TCP_KEEPALIVE_MATCH_THREW' });
      return;
    }
    if (accepted) configureQuietly(socket, policy);
  };

  const firstSight = (socket: unknown): socket is net.Socket => {
    if (!(socket instanceof net.Socket) || considered.has(socket)) return false;
    considered.add(socket);
    return true;
  };

  const onNetClientSocket = (message: unknown): void => {
    const socket = (message as { socket?: unknown }).socket;
    if (!firstSight(socket)) return;
    let hostAsked: string | undefined;
    const onLookup = (_error: unknown, _address: unknown, _family: unknown, host: unknown): void => {
      if (typeof host === 'string') hostAsked = host;
    };
    socket.once('lookup', onLookup);
    whenConnected(socket, () => {
      socket.removeListener('lookup', onLookup);
      decide(socket, NET_CLIENT_SOCKET, hostAsked);
    }, true);
  };

  const onUndiciConnected = (message: unknown): void => {
    const { socket, connectParams } = message as { socket?: unknown; connectParams?: { hostname?: unknown } };
    if (!firstSight(socket)) return;
    const hostname = typeof connectParams?.hostname === 'string' ? connectParams.hostname : undefined;
    whenConnected(socket, () => decide(socket, UNDICI_CONNECTED, hostname));
  };

  const onHttpRequestStart = (message: unknown): void => {
    const request = (message as { request?: http.ClientRequest }).request;
    if (request === undefined || typeof request.once !== 'function') return;
    const consider = (socket: unknown): void => {
      if (firstSight(socket)) whenConnected(socket, () => decide(socket, HTTP_REQUEST_START, request.host));
    };
    // Published from ClientRequest#_finish (Node 20-26, checked), often after the socket was assigned.
    if (request.socket != null) consider(request.socket);
    else request.once('socket', consider);
  };

  const subscriptions: ReadonlyArray<readonly [string, (message: unknown) => void]> = [
    [NET_CLIENT_SOCKET, onNetClientSocket],
    [UNDICI_CONNECTED, onUndiciConnected],
    [HTTP_REQUEST_START, onHttpRequestStart],
  ];
  // subscribe(name) (not channel(name).subscribe) keeps the subscription alive however channels are garbage-collected.
  for (const [name, handler] of subscriptions) diagnosticsChannel.subscribe(name, handler);

  return {
    uninstall(): void {
      if (!installed) return;
      installed = false;
      for (const [name, handler] of subscriptions) diagnosticsChannel.unsubscribe(name, handler);
    },
    channels: subscriptions.map(([name]) => name),
    seesTlsConnect,
  };
}
