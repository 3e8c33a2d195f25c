/**
 * The core internals health needs, in one place: the addon, the fd of a
 * socket the caller owns, the library's system error, and the policy a socket
 * was configured with.
 */
import type net from 'node:net';
import type { KeepaliveOptions } from '../core/options';

export { addon } from '../native/load';
export type { NativeFailure } from '../native/addon';
export { nativeError, unavailableOnPlatform } from '../core/errors';
export { socketFd } from '../core/socket-handle';

/** What configureKeepalive was asked for on this socket. TEMPORARY: unknown until src/core exposes policyOf. */
export function policyOf(_socket: net.Socket): Readonly<KeepaliveOptions> | undefined {
  return undefined;
}
