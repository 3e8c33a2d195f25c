/**
 * The one step every integration shares: once a client's socket is connected,
 * apply the policy validated when the integration was made (the core's
 * configureKeepalive without validating again) — without ever throwing into the client.
 *
 * Why the integrations wait for 'connect' themselves instead of relying on
 * configureKeepalive's own pending-socket handling: they must decide AFTER the
 * connect whether the socket is theirs to configure at all (a Unix-domain
 * socket from the same factory, a host/port filter that needs the peer's
 * address). The configuring itself is always the core's.
 *
 * How an integration reports what it could not do (its documented channel):
 * - a socket that is not TCP (a Unix-domain socket from the same factory) is
 *   left alone, silently: keepalive does not apply to it;
 * - a socket the core refuses (a Proxy such as HTTP/2's `session.socket`, a
 *   handle the socket does not own, TLS over a JavaScript stream) is left
 *   alone and reported with process.emitWarning, code TCP_KEEPALIVE_NOT_APPLIED:
 *   refusing is never a reason to hurt a healthy connection;
 * - a TCP connection whose kernel refused the policy is destroyed with that
 *   error (the client sees an ordinary socket 'error'), as configureKeepalive
 *   does at connect time: a connection promised keepalive does not go on
 *   silently without it.
 */
import type net from 'node:net';
import { applyPolicy } from '../core/keepalive';
import { type KeepaliveOptions, type KernelPolicy, optionsOf, validateOptions } from '../core/options';
import { currentCapabilities } from '../core/platform';
import { handleOf } from '../core/node-internals';
import { installDeathWatch } from '../health/dead-channel';

// Sockets the integrations configure are reported on tcp-keepalive:dead too (src/core cannot import the watch).
installDeathWatch();

/** Errors meaning "not a TCP socket": keepalive does not apply, the client goes on untouched. */
const NOT_TCP = new Set(['EAFNOSUPPORT', 'ENOTSOCK', 'EOPNOTSUPP', 'ENOTSUP', 'ENOPROTOOPT', 'EPROTOTYPE', 'EPROTONOSUPPORT']);

/** The core's refusals of the object it was given: reported, never acted on. */
const REFUSED = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM']);

/**
 * Checks the options once, when the integration is created (so a typo throws
 * at setup, in the caller's stack, not later inside a client's event), and
 * keeps what was validated, frozen, in the kernel's units: the core reads each
 * option exactly once, as properties (a class instance's getters count), the
 * caller cannot change the policy afterwards, and no connection validates it again.
 * `otherKeys`: the integration's own keys in the same object (read by it, not refused as typos).
 */
export function checkedPolicy(options: KeepaliveOptions | undefined, otherKeys?: readonly string[]): KernelPolicy {
  return Object.freeze(validateOptions(options, currentCapabilities(), otherKeys));
}

/** checkedPolicy shown back in milliseconds: the register entry's reading of the environment (RegisterConfig.options). */
export function checkedOptions(options: KeepaliveOptions | undefined, otherKeys?: readonly string[]): Readonly<KeepaliveOptions> {
  return optionsOf(checkedPolicy(options, otherKeys));
}

/** Reports that an integration left a connection unconfigured; never throws. */
export function reportNotApplied(what: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`tcp-keepalive: ${what} was left without the keepalive policy: ${message}`, { code: 'TCP_KEEPALIVE_NOT_APPLIED' });
}

/** What configureQuietly did: configured, left alone (not TCP, or closed), refused (reported), or destroyed with the kernel's error. */
export type QuietOutcome = 'configured' | 'left-alone' | { refused: Error } | 'destroyed';

/** Applies the policy, reporting instead of throwing (see the channel above). */
export function configureQuietly(socket: net.Socket, policy: KernelPolicy): QuietOutcome {
  try {
    if (socket.destroyed) return 'left-alone';
    applyPolicy(socket, policy);
    return 'configured';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_SOCKET_CLOSED' || (typeof code === 'string' && NOT_TCP.has(code))) return 'left-alone';
    if (typeof code === 'string' && REFUSED.has(code)) {
      reportNotApplied('a socket', error);
      return { refused: error as Error };
    }
    try {
      socket.destroy(error as Error);
    } catch (destroyError) {
      reportNotApplied('a socket that could not be destroyed either', destroyError);
    }
    return 'destroyed';
  }
}

/**
 * Connected: it has a handle, is not connecting, and the kernel knows its
 * peer. A peer that cannot be read (Node caches it on the socket, which fails
 * on a non-extensible one) counts as connected: the caller's step then meets
 * the same socket and reports it, outside this check.
 */
function isConnected(socket: net.Socket): boolean {
  const handle = handleOf(socket);
  if (socket.connecting || handle == null) return false;
  try {
    return socket.remoteAddress !== undefined;
  } catch {
    return true;
  }
}

/**
 * Runs `then` when the socket is connected: now if it already is, else on its
 * 'connect' (TLS sockets emit it too, direct and upgraded, before the
 * handshake). One listener, removed if the socket closes first (then
 * `onClose`, if given, runs: the caller's own listeners for this attempt go
 * too). Listeners added here run before any the client adds later, so the
 * policy is in place before the client's own 'connect' handler (which may
 * call setKeepAlive — the core re-applies after that). `connectUnderWay`: the
 * caller knows a connect() has begun though the socket does not show it yet
 * (diagnostics channels publish from inside connect(), before `connecting` is
 * set — and, for a socket reconnected after 'close', before it stops being
 * `destroyed`).
 */
export function whenConnected(socket: net.Socket, then: () => void, connectUnderWay = false, onClose?: () => void): void {
  if (!connectUnderWay && (socket.destroyed || isConnected(socket))) {
    if (!socket.destroyed) then();
    return;
  }
  const onConnect = (): void => {
    socket.removeListener('close', onSocketClose);
    then();
  };
  const onSocketClose = (): void => {
    socket.removeListener('connect', onConnect);
    onClose?.();
  };
  socket.once('connect', onConnect);
  socket.once('close', onSocketClose);
}

/** Configures `socket` (now or when it connects) if it turns out to be TCP. */
export function configureOnConnect(socket: net.Socket, policy: KernelPolicy): void {
  whenConnected(socket, () => {
    configureQuietly(socket, policy);
  });
}
