/**
 * The raw native addon (native/binding.cc), as loaded by node-gyp-build.
 * Nothing here validates beyond keeping the process alive: src/core does the
 * real validation before any of these is called.
 */

/** What this build of the addon can do on this platform (compile-time). */
export interface NativeCapabilities {
  /** TCP_KEEPIDLE (Linux, BSD) or TCP_KEEPALIVE (macOS). */
  readonly idle: boolean;
  /** TCP_KEEPINTVL. */
  readonly interval: boolean;
  /** TCP_KEEPCNT. */
  readonly count: boolean;
  /** TCP_USER_TIMEOUT (Linux only). */
  readonly userTimeout: boolean;
  /** getsockopt of all of the above. */
  readonly readBack: boolean;
}

/**
 * Errors thrown by the addon for a failed syscall. `code` is the errno name,
 * `errno` is negative as in Node's own system errors.
 */
export interface NativeSystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: 'getsockopt' | 'setsockopt' | 'getsockname';
  /** The socket option being read or written, e.g. "TCP_KEEPCNT" or "SO_TYPE". */
  readonly option: string;
}

export interface NativeAddon {
  /**
   * Throws a NativeSystemError unless `fd` is a TCP socket over IPv4/IPv6:
   * ENOTSOCK (not a socket), EPROTOTYPE (not SOCK_STREAM), EAFNOSUPPORT
   * (e.g. a Unix-domain socket), EPROTONOSUPPORT (a stream socket that is not TCP).
   */
  checkTcp(fd: number): void;
  /**
   * Where apply() and read() take their fd and values and leave their results:
   * six int32 slots shared with the addon, one set per environment (Worker).
   * Passing nothing as arguments keeps a call down to the N-API trampoline.
   * - slots[0]: the fd, set by the caller before either call;
   * - slots[1..5]: enable (0/1), idle seconds, interval seconds, count, user timeout ms.
   */
  readonly slots: Int32Array;
  /**
   * Writes, in this order, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
   * TCP_USER_TIMEOUT and SO_KEEPALIVE from slots[1..5] on the fd in slots[0];
   * -1 leaves one unchanged. Stops at the first failure and throws a
   * NativeSystemError naming the option.
   */
  apply(): void;
  /**
   * Reads the fd in slots[0] and leaves what the kernel holds in slots[1..5];
   * -1 where this platform has no such option.
   */
  read(): void;
  readonly capabilities: NativeCapabilities;
  /** Hash of native/ and binding.gyp at build time (see native/source-hash.js). */
  readonly sourceHash: string;
}
