/**
 * The core internals health needs, in one place: the addon, the fd of a
 * socket the caller owns, the library's system errors. (The policy a socket
 * was configured with comes from src/core/keepalive directly; dead-channel.ts
 * must not import it, because src/core/keepalive imports dead-channel.ts.)
 */
export { addon } from '../native/load';
export type { NativeFailure } from '../native/addon';
export { nativeError, unavailableOnPlatform } from '../core/errors';
export { socketFd } from '../core/socket-handle';
