/**
 * The one place a telemetry sampler (tcp-keepalive/metrics) learns of the
 * sockets the library takes charge of: configured for the first time
 * (configureKeepalive, and so every integration and the register entry) or
 * accepted by a server whose listener they inherit the policy from.
 *
 * While nothing is following, `following.socket` is undefined and the
 * callers' cost is that one property read.
 */
import type net from 'node:net';
import type { KeepaliveOptions } from './options';

export interface Following {
  /**
   * Called with a socket the library has just configured (policy undefined:
   * the socket's own, policyOf) or one that inherited `policy` from its listener. Must not throw.
   */
  socket: ((socket: net.Socket, inheritedPolicy: Readonly<KeepaliveOptions> | undefined) => void) | undefined;
}

export const following: Following = { socket: undefined };
