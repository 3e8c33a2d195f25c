/**
 * A process-wide install for clients that expose no socket (node-redis,
 * mongodb, nats): Node's diagnostics channels report client sockets as they
 * are created; those whose peer matches a host/port filter get the policy.
 *
 *   const installation = installKeepalive({ idle: 30_000, interval: 10_000, count: 3, match: { port: [6379, 27017] } });
 *   …
 *   installation.uninstall();
 *
 * Which sockets the channels report depends on the Node line (checked in
 * Node's sources: nodejs/node#58349 moved the `net.client.socket` publish
 * from net.connect() into Socket#connect; present in v22.23.3, v24.21.0,
 * v26.10.0, absent from v20.20.2):
 *
 * | channel                      | Node 20                                   | Node 22 (with #58349), 24, 26           |
 * |------------------------------|-------------------------------------------|-----------------------------------------|
 * | `net.client.socket`          | net.connect / net.createConnection only   | also `new Socket().connect()` and tls.connect |
 * | `undici:client:connected`    | global fetch and npm undici (plain + TLS) | same                                    |
 * | `http.client.request.start`  | http/https.request sockets (plain + TLS)  | same                                    |
 *
 * Where Node does not publish from Socket#connect, no channel reports a
 * tls.connect or a `new Socket().connect()` (pg) at all, so while an
 * installation is active this module wraps `net.Socket.prototype.connect`
 * (the one function every TCP client connect goes through; tls.TLSSocket
 * inherits it) to report the socket the way newer Node lines publish it —
 * to our installations only, nothing is published. The wrapper chains to
 * whatever was there before (an APM agent's wrapper included), and on the
 * last uninstall it is removed if it is still on top, or else left in place
 * as a pass-through so a wrapper installed after it keeps working. On lines
 * that publish from Socket#connect nothing is patched. See docs/zero-code.md.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import net from 'node:net';
import type { KeepaliveOptions, KernelPolicy } from '../core/options';
import { invalidArgType, invalidArgValue } from '../core/errors';
import { handleOf, publishesSocketConnect, socketConnectHook } from '../core/node-internals';
import { checkedPolicy, configureQuietly, reportNotApplied, whenConnected } from './connected';

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
  { readonly host?: string | readonly string[]; readonly port?: number | readonly number[] } | ((target: ConnectionTarget) => boolean);

export interface InstallOptions extends KeepaliveOptions {
  /** Which client connections to configure; all TCP client connections when left out. */
  match?: ConnectionFilter;
}

export interface KeepaliveInstallation {
  /** Stops configuring new sockets (sockets already configured keep their policy). Idempotent. */
  uninstall(): void;
  /** The channels subscribed to. */
  readonly channels: readonly string[];
  /** Whether tls.connect and `new Socket().connect()` sockets are seen: true on every line (published by Node, or through the connect hook). */
  readonly seesTlsConnect: boolean;
  /** Whether this Node line needed the `net.Socket.prototype.connect` hook (it does not publish from Socket#connect, nodejs/node#58349). */
  readonly hooksSocketConnect: boolean;
  /**
   * Connections counted as they happen: `configured`, and `notApplied` — those the installation meant to
   * configure and could not (each also reported: a TCP_KEEPALIVE_NOT_APPLIED warning, the socket's own error
   * when the kernel refused, or TCP_KEEPALIVE_MATCH_THREW). Live values.
   */
  readonly counts: InstallationCounts;
}

export interface InstallationCounts {
  readonly configured: number;
  readonly notApplied: number;
}

/** Internal: what an installation reports as it configures (the register entry's debug log). */
export interface InstallHooks {
  /** Called once per connection the installation configured, after configuring it. */
  onConfigured?(socket: net.Socket, target: ConnectionTarget): void;
  /**
   * Called once per connection the installation meant to configure and could
   * not (already reported with a TCP_KEEPALIVE_NOT_APPLIED warning); `target`
   * is undefined when even the peer could not be read.
   */
  onNotApplied?(socket: net.Socket, target: ConnectionTarget | undefined, reason: string): void;
}

const NET_CLIENT_SOCKET = 'net.client.socket';
const UNDICI_CONNECTED = 'undici:client:connected';
const HTTP_REQUEST_START = 'http.client.request.start';
/** Not a channel: the Socket#connect hook, reported under this name. */
const SOCKET_CONNECT_HOOK = 'net.Socket#connect';

/** For tests: the hook's state. */
export const socketConnectHookState = { installed: (): boolean => socketConnectHook.installed() };

function asList<T>(value: T | readonly T[] | undefined): readonly T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

interface CompiledFilter {
  readonly accepts: (target: ConnectionTarget) => boolean;
  /** Whether the filter can tell a host name from its address (a name among its hosts, or a function). */
  readonly readsHostName: boolean;
}

function compileFilter(match: ConnectionFilter | undefined): CompiledFilter {
  if (match === undefined) return { accepts: () => true, readsHostName: false };
  if (typeof match === 'function') return { accepts: match, readsHostName: true };
  if (match === null || typeof match !== 'object') throw invalidArgType('options.match', 'an object ({ host, port }) or a function', match);
  const hosts = asList(match.host)?.map((host) => {
    if (typeof host !== 'string') throw invalidArgType('options.match.host', 'a string or an array of strings', host);
    return host.toLowerCase();
  });
  const ports = asList(match.port);
  ports?.forEach((port) => {
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw invalidArgType('options.match.port', 'a port number or an array of them', port);
  });
  return {
    accepts: (target) =>
      (hosts === undefined || hosts.includes(target.host.toLowerCase()) || hosts.includes(target.address.toLowerCase())) &&
      (ports === undefined || ports.includes(target.port)),
    readsHostName: hosts !== undefined && hosts.some((host) => net.isIP(host) === 0),
  };
}

/**
 * Which sockets an installation has considered: a mark of its own on the socket (a symbol property: a WeakSet
 * entry per connection cost more, in the collector, than the rest of an unmatched connection's handling;
 * docs/performance.md), or, for a socket that takes no property (non-extensible), a WeakSet.
 */
function consideredMark(): { has(socket: net.Socket): boolean; add(socket: net.Socket): void } {
  const mark = Symbol('tcp-keepalive.considered');
  const unmarkable = new WeakSet<net.Socket>();
  return {
    has: (socket) => (socket as unknown as Record<symbol, unknown>)[mark] === true || unmarkable.has(socket),
    add: (socket) => {
      if (Object.isExtensible(socket)) (socket as unknown as Record<symbol, unknown>)[mark] = true;
      else unmarkable.add(socket);
    },
  };
}

interface Peer {
  readonly address: string;
  readonly port: number;
  readonly family: string;
}

/**
 * The connected peer, or undefined for a socket without one (not IP, or
 * closed). Node caches the peer on the socket object as it is first read,
 * which throws on a non-extensible socket: then it is read from the handle,
 * as Node does, without the cache. Throws only when neither can be read.
 */
function peerOf(socket: net.Socket): Peer | undefined {
  let address: string | undefined;
  let port: number | undefined;
  let family: string | undefined;
  try {
    address = socket.remoteAddress;
    port = socket.remotePort;
    family = socket.remoteFamily;
  } catch (error) {
    const handle = handleOf(socket);
    const out: Record<string, unknown> = {};
    if (handle == null || typeof handle.getpeername !== 'function' || handle.getpeername(out) !== 0) throw error;
    address = typeof out.address === 'string' ? out.address : undefined;
    port = typeof out.port === 'number' ? out.port : undefined;
    family = typeof out.family === 'string' ? out.family : undefined;
  }
  if (address === undefined || port === undefined) return undefined;
  return { address, port, family: family ?? '' };
}

/**
 * Subscribes to the diagnostics channels above and configures every client
 * socket whose peer matches `options.match` once it connects. Keepalive
 * options are checked now (coded errors as configureKeepalive's); a filter
 * that throws later is reported with process.emitWarning and the connection
 * left alone — nothing is thrown into a client; so is a connection the core
 * refuses (a non-extensible socket, say: code TCP_KEEPALIVE_NOT_APPLIED, one
 * warning per connection). Each connection is considered once, whichever
 * channels report it; a socket reconnected with connect() after 'close' (the
 * first attempt refused, or the connection dropped) is configured again at
 * each connect. Unix-domain sockets are ignored.
 */
export function installKeepalive(options: InstallOptions = {}): KeepaliveInstallation {
  return startInstallation(options, {});
}

/** installKeepalive with internal hooks (the register entry's debug log). */
export function startInstallation(options: InstallOptions, hooks: InstallHooks): KeepaliveInstallation {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  // Read as properties, like every entry point (a class instance's getters count); not spread, which drops them.
  const policy = checkedPolicy(options, ['match']);
  let match: ConnectionFilter | undefined;
  try {
    match = options.match;
  } catch (cause) {
    throw invalidArgValue('options.match', 'could not be read (a getter or Proxy trap threw)', options, cause);
  }
  return installPolicy(policy, match, hooks);
}

/** startInstallation for a policy validated already (the register entry's, from the environment). */
export function installPolicy(policy: KernelPolicy, match: ConnectionFilter | undefined, hooks: InstallHooks): KeepaliveInstallation {
  const { accepts, readsHostName } = compileFilter(match);
  // The host name asked for is read (from the socket's 'lookup') only where something uses it: the filter, or the debug log.
  const wantsHostName = readsHostName || hooks.onConfigured !== undefined || hooks.onNotApplied !== undefined;
  const considered = consideredMark();
  const counts = { configured: 0, notApplied: 0 };
  let installed = true;

  const decide = (socket: net.Socket, channel: string, hostAsked: string | undefined): void => {
    if (!installed) return;
    let peer: Peer | undefined;
    try {
      peer = peerOf(socket);
    } catch (error) {
      // Nothing may be thrown here: this runs inside the socket's 'connect' emit, the client's own event.
      const reason = `its peer could not be read: ${error instanceof Error ? error.message : String(error)}`;
      reportNotApplied(`a connection (${channel})`, new Error(reason));
      counts.notApplied += 1;
      hooks.onNotApplied?.(socket, undefined, reason);
      return;
    }
    if (peer === undefined) return; // not an IP connection (or already gone)
    const target: ConnectionTarget = { host: hostAsked ?? peer.address, ...peer, channel };
    let accepted: boolean;
    try {
      accepted = accepts(target) === true;
    } catch (error) {
      process.emitWarning(
        `installKeepalive: the match function threw for ${target.host}:${target.port}; that connection is left unconfigured: ${String(error)}`,
        { code: 'TCP_KEEPALIVE_MATCH_THREW' },
      );
      counts.notApplied += 1;
      return;
    }
    if (!accepted) return;
    // Reported as configured only when it was: a refusal was already reported, as a warning or the socket's error.
    const outcome = configureQuietly(socket, policy);
    if (outcome === 'configured') {
      counts.configured += 1;
      hooks.onConfigured?.(socket, target);
    } else if (typeof outcome === 'object') {
      counts.notApplied += 1;
      hooks.onNotApplied?.(socket, target, outcome.refused.message);
    } else if (outcome === 'destroyed') {
      counts.notApplied += 1;
      hooks.onNotApplied?.(socket, target, "the kernel refused the policy; the connection was ended with the kernel's error");
    }
  };

  /**
   * Each connection is considered once, whichever channels report it. A
   * connect() of a socket that has closed (the same object reconnected after
   * a refused or dropped connection) is a new connection: `connecting` says
   * the report comes from inside connect().
   */
  const firstSight = (socket: unknown, connecting = false): socket is net.Socket => {
    if (!(socket instanceof net.Socket)) return false;
    if (considered.has(socket) && !(connecting && socket.destroyed)) return false;
    considered.add(socket);
    return true;
  };

  const onNetClientSocket = (message: unknown, channel = NET_CLIENT_SOCKET): void => {
    const socket = (message as { socket?: unknown }).socket;
    if (!firstSight(socket, true)) return;
    if (!wantsHostName) {
      whenConnected(socket, () => decide(socket, channel, undefined), true);
      return;
    }
    let hostAsked: string | undefined;
    const onLookup = (_error: unknown, _address: unknown, _family: unknown, host: unknown): void => {
      if (typeof host === 'string') hostAsked = host;
    };
    socket.once('lookup', onLookup);
    whenConnected(
      socket,
      () => {
        socket.removeListener('lookup', onLookup);
        decide(socket, channel, hostAsked);
      },
      true,
      () => socket.removeListener('lookup', onLookup),
    );
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
  // Node 20 (and 22 before #58349): the same handler, called from the Socket#connect hook.
  const hooksSocketConnect = !publishesSocketConnect();
  const onSocketConnect = (socket: net.Socket): void => onNetClientSocket({ socket }, SOCKET_CONNECT_HOOK);
  if (hooksSocketConnect) socketConnectHook.add(onSocketConnect);

  return {
    uninstall(): void {
      if (!installed) return;
      installed = false;
      for (const [name, handler] of subscriptions) diagnosticsChannel.unsubscribe(name, handler);
      if (hooksSocketConnect) socketConnectHook.remove(onSocketConnect);
    },
    channels: subscriptions.map(([name]) => name),
    seesTlsConnect: true,
    hooksSocketConnect,
    counts,
  };
}
