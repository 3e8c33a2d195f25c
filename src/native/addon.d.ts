/**
 * The raw native addon, as loaded by src/native/load.ts: native/binding.cc
 * (node-addon-api) over the portable C core declared in native/keepalive.h. Each
 * member below names the C function or table it reaches.
 *
 * Every function takes plain arguments and returns `undefined` on success or a
 * {@link NativeFailure} describing the failed syscall; src/core/errors.ts
 * (`nativeError`) turns a failure into the library's one Node-style error.
 * Nothing here validates beyond keeping the process alive: a wrong argument
 * type or range throws a TypeError/RangeError with code ERR_INVALID_ARG_TYPE
 * or ERR_OUT_OF_RANGE, for direct callers of the raw binding only.
 */

/** What this build of the addon can do on this platform (compile-time): ka_capabilities(), one KA_CAP_* bit each. */
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
  /** TCP_INFO (Linux) or TCP_CONNECTION_INFO (macOS). */
  readonly tcpInfo: boolean;
  /** pidfd_open + pidfd_getfd (Linux). */
  readonly duplicateFd: boolean;
}

/** A failed syscall, as the C library reported it (the core's ka_error_t). */
export interface NativeFailure {
  /** The errno value, positive (Node's errors carry it negative). */
  readonly errno: number;
  /** 'getsockopt', 'setsockopt', 'pidfd_open', 'pidfd_getfd', 'close'. */
  readonly syscall: string;
  /** The socket option being read or written, e.g. 'TCP_KEEPCNT' or 'SO_TYPE'; '' for calls on no option. */
  readonly option: string;
}

export interface NativeAddon {
  /**
   * ka_check_tcp(): checks that `fd` is a TCP socket over IPv4/IPv6: ENOTSOCK (not a socket),
   * EPROTOTYPE (not SOCK_STREAM), EAFNOSUPPORT (e.g. a Unix-domain socket),
   * EPROTONOSUPPORT (a stream socket that is not TCP).
   */
  checkTcp(fd: number): NativeFailure | undefined;
  /**
   * ka_apply(): writes, in this order, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
   * TCP_USER_TIMEOUT and SO_KEEPALIVE; -1 leaves one unchanged. Stops at the
   * first failure. A non-TCP fd fails on the first TCP-level option before
   * anything is written (EOPNOTSUPP, ENOPROTOOPT or ENOTSOCK).
   */
  apply(fd: number, enable: number, idleSeconds: number, intervalSeconds: number, count: number, userTimeoutMs: number): NativeFailure | undefined;
  /**
   * ka_read(): reads what the kernel holds into {@link keepaliveValues}: enable (0/1),
   * idle seconds, interval seconds, count, user timeout ms; -1 where this
   * platform has no such option. Unchanged on failure.
   */
  read(fd: number): NativeFailure | undefined;
  /** read()'s output, one array per environment (a Worker has its own): read it right after the call. */
  readonly keepaliveValues: Int32Array;
  /**
   * ka_tcp_info(): one getsockopt(TCP_INFO) (macOS: TCP_CONNECTION_INFO), decoded into
   * {@link tcpInfoValues} in the library's units: ms, bytes, packets; `state`
   * in Linux's numbering (1 established … 11 closing). A field the running
   * kernel did not return, or this platform lacks, is NaN.
   */
  tcpInfo(fd: number): NativeFailure | undefined;
  /** tcpInfo()'s output, `tcpInfoFields.length` slots, one array per environment: read it right after the call. */
  readonly tcpInfoValues: Float64Array;
  /**
   * The name of each slot of tcpInfoValues, in order (ka_tcp_info_names, from the field table
   * KA_TCP_INFO_FIELDS; src/health/tcp-info.ts decodes them by index).
   */
  readonly tcpInfoFields: readonly string[];
  /**
   * ka_duplicate_fd(): a duplicate, in this process, of file descriptor `fd` of process `pid`
   * (Linux ≥ 5.6, pidfd_getfd; needs ptrace-attach rights over pid). The caller
   * must closeFd() it.
   */
  duplicateFd(pid: number, fd: number): number | NativeFailure;
  /** ka_close_fd(): close(fd), for descriptors duplicateFd made. */
  closeFd(fd: number): NativeFailure | undefined;
  readonly capabilities: NativeCapabilities;
  /** Hash of native/ and binding.gyp at build time (TCPKA_SOURCE_HASH, from native/source-hash.js). */
  readonly sourceHash: string;
}
