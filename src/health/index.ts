/**
 * Connection health from the kernel's TCP_INFO: see docs/health.md.
 *
 * tcpInfo and connectionHealth load their modules on the first call, not at
 * import: most importers never call them, and each module file adds to the
 * import cost (docs/performance.md). The dead channel's module is loaded here: it registers its
 * watch with src/core, which calls it when it configures a socket.
 */
import type net from 'node:net';
import type * as ConnectionHealthModule from './connection-health';
import type { ConnectionHealth, HealthThresholds } from './connection-health';
import type * as TcpInfoModule from './tcp-info';
import type { TcpInfo } from './tcp-info';

export type { TcpInfo, TcpState } from './tcp-info';
export type { ConnectionHealth, HealthReason, HealthThresholds, HealthVerdict, ZeroWindowStall } from './connection-health';
export { DEAD_CHANNEL, type DeadConnectionMessage, type DeathCause, type DeathReason } from './dead-channel';
import { installDeathWatch } from './dead-channel';

// configureKeepalive (src/core) cannot import the dead channel's watch: it is handed over here.
installDeathWatch();

let tcpInfoModule: typeof TcpInfoModule | undefined;
let healthModule: typeof ConnectionHealthModule | undefined;

/** The kernel's view of a connected TCP socket: one getsockopt(TCP_INFO). See src/health/tcp-info.ts. */
export function tcpInfo(socket: net.Socket): TcpInfo {
  return (tcpInfoModule ??= require('./tcp-info') as typeof TcpInfoModule).tcpInfo(socket);
}

/** healthy, suspect, stalled or dead, from one TCP_INFO read. See src/health/connection-health.ts. */
export function connectionHealth(socket: net.Socket, options?: HealthThresholds): ConnectionHealth {
  return (healthModule ??= require('./connection-health') as typeof ConnectionHealthModule).connectionHealth(socket, options);
}
