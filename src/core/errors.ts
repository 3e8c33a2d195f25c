/**
 * Errors shaped like Node's own: a `code` to branch on, and messages that name
 * the field, the value received and what is allowed.
 */
import { getSystemErrorMap, getSystemErrorName, inspect } from 'node:util';
import type { NativeFailure } from '../native/addon';

export type KeepaliveErrorCode =
  'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE' | 'ERR_SOCKET_CLOSED' | 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM';

export interface CodedError extends Error {
  code: string;
}

function withCode<E extends Error>(error: E, code: KeepaliveErrorCode): E & CodedError {
  // Node puts the code in the name's display: "TypeError [ERR_INVALID_ARG_TYPE]: ...".
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as E & CodedError;
}

/** How Node's own errors describe a received value; never throws, whatever getters or Proxy traps do. */
export function describeReceived(value: unknown): string {
  try {
    return describe(value);
  } catch {
    // A throwing getter or revoked Proxy while building a message must not replace the real error.
    return typeof value === 'object' ? 'an object' : `type ${typeof value}`;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? `an instance of ${name}` : inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & CodedError {
  return withCode(
    new TypeError(`The "${name}" argument must be ${expected}. Received ${describeReceived(actual)}`),
    'ERR_INVALID_ARG_TYPE',
  );
}

export function invalidArgValue(name: string, reason: string, actual: unknown, cause?: unknown): TypeError & CodedError {
  const error = new TypeError(`The "${name}" argument ${reason}. Received ${describeReceived(actual)}`, { cause });
  return withCode(error, 'ERR_INVALID_ARG_VALUE');
}

export function outOfRange(name: string, range: string, actual: unknown): RangeError & CodedError {
  const shown = typeof actual === 'number' ? String(Object.is(actual, -0) ? '-0' : actual) : describeReceived(actual);
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

export function socketClosed(reason: string): Error & CodedError {
  return withCode(new Error(`Socket is closed: ${reason}`), 'ERR_SOCKET_CLOSED');
}

export function unavailableOnPlatform(feature: string, reason?: string): TypeError & CodedError {
  const why = reason === undefined ? '' : `: ${reason}`;
  return withCode(
    new TypeError(`${feature} is not available on this platform (${process.platform}, Node ${process.version})${why}`),
    'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
  );
}

/** A system error as Node builds them, for conditions found without a failed syscall. */
export function systemError(code: string, errno: number, syscall: string, message: string): Error & CodedError {
  const error = new Error(message) as Error & CodedError & { errno: number; syscall: string };
  error.code = code;
  error.errno = errno;
  error.syscall = syscall;
  return error;
}

/**
 * The one error for a failed syscall, built from the addon's failure data:
 * code and description from Node's own errno table, errno negative as in
 * Node's system errors, plus the syscall and the socket option involved.
 *   Error [EAFNOSUPPORT]: not a TCP socket: getsockopt(SO_DOMAIN) on fd 23 failed: EAFNOSUPPORT (address family not supported)
 */
export function nativeError(failure: NativeFailure, fd: number, context: string): Error & CodedError {
  const errno = -failure.errno;
  let code: string;
  try {
    code = getSystemErrorName(errno);
  } catch {
    code = 'UNKNOWN';
  }
  const description = getSystemErrorMap().get(errno)?.[1] ?? `errno ${failure.errno}`;
  const call = failure.option === '' ? failure.syscall : `${failure.syscall}(${failure.option})`;
  const error = systemError(code, errno, failure.syscall, `${context}: ${call} on fd ${fd} failed: ${code} (${description})`);
  Object.defineProperty(error, 'option', { value: failure.option, enumerable: true, writable: true, configurable: true });
  return error;
}
