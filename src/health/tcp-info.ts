/**
 * tcpInfo(socket): the kernel's own view of one TCP connection — one
 * getsockopt(TCP_INFO) (macOS: TCP_CONNECTION_INFO), decoded by the addon into
 * a Float64Array in the library's units, named here.
 */
import type net from 'node:net';
import { nativeError, unavailableOnPlatform } from '../core/errors';
import { socketFd } from '../core/node-internals';
import { addon } from '../native/load';

/** A TCP state, as RFC 9293 names it (Linux's TCP_CLOSE is 'closed'). */
export type TcpState =
  | 'established'
  | 'syn-sent'
  | 'syn-received'
  | 'fin-wait-1'
  | 'fin-wait-2'
  | 'time-wait'
  | 'closed'
  | 'close-wait'
  | 'last-ack'
  | 'listen'
  | 'closing'
  | 'unknown';

/**
 * One TCP_INFO read. Times are milliseconds, sizes bytes, counts packets or
 * events. A field this kernel or platform does not report is `undefined`, never
 * a made-up 0: Linux reports every field from `state` to `totalRetransmits`
 * (Linux 2.6+); later fields need newer kernels (noted per field). macOS
 * reports fewer (see docs/health.md).
 */
export interface TcpInfo {
  /** The connection's state; anything but 'established' means it can no longer be used both ways. */
  state: TcpState;
  /** Congestion-avoidance state (0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss). */
  caState: number | undefined;
  /** Retransmission timeouts in a row for the data now outstanding (reset by an ACK). */
  retransmits: number | undefined;
  /** Unanswered keepalive probes (or zero-window probes) in a row; reset by any ACK. */
  probes: number | undefined;
  /** Exponential backoff steps of the retransmission or zero-window probe timer. */
  backoff: number | undefined;
  /** Retransmission timeout, ms (Linux: at least 200 ms). */
  rto: number | undefined;
  /** Delayed-ACK timeout, ms. */
  ato: number | undefined;
  /** Send maximum segment size, bytes. */
  sendMss: number | undefined;
  /** Receive maximum segment size, bytes. */
  receiveMss: number | undefined;
  /** Segments sent and not yet acknowledged (packets). */
  unacked: number | undefined;
  /** Segments selectively acknowledged (packets). */
  sacked: number | undefined;
  /** Segments considered lost (packets). */
  lost: number | undefined;
  /** Segments retransmitted and not yet acknowledged (packets). */
  retransOut: number | undefined;
  /** ms since data was last sent (retransmissions included). */
  lastDataSent: number | undefined;
  /** ms since data was last received. */
  lastDataReceived: number | undefined;
  /** ms since an ACK was last received. */
  lastAckReceived: number | undefined;
  /** Path MTU, bytes. */
  pmtu: number | undefined;
  /** Smoothed round-trip time, ms (µs precision). */
  rtt: number | undefined;
  /** Round-trip time variance, ms (µs precision). */
  rttVariance: number | undefined;
  /** Congestion window, segments. */
  sendCwnd: number | undefined;
  /** Slow-start threshold, segments. */
  sendSsthresh: number | undefined;
  /** Reordering metric, segments. */
  reordering: number | undefined;
  /** Receiver-side RTT estimate, ms. */
  receiveRtt: number | undefined;
  /** Receive buffer space the kernel is tuning towards, bytes. */
  receiveSpace: number | undefined;
  /** Retransmitted segments over the connection's life. */
  totalRetransmits: number | undefined;
  /** Bytes acknowledged by the peer (Linux 4.1+). */
  bytesAcked: number | undefined;
  /** Bytes received (Linux 4.1+). */
  bytesReceived: number | undefined;
  /** Bytes sent, retransmissions included (Linux 4.19+). */
  bytesSent: number | undefined;
  /** Bytes retransmitted (Linux 4.19+). */
  bytesRetransmitted: number | undefined;
  /** Segments sent (Linux 4.2+). */
  segmentsOut: number | undefined;
  /** Segments received (Linux 4.2+). */
  segmentsIn: number | undefined;
  /** Bytes written by the application and not yet sent (Linux 4.6+). */
  notSentBytes: number | undefined;
  /** Smallest RTT seen, ms (Linux 4.6+). */
  minRtt: number | undefined;
  /** Recent delivery rate, bytes per second (Linux 4.9+). */
  deliveryRate: number | undefined;
  /** Time spent with data to send, ms (Linux 4.10+). */
  busyTime: number | undefined;
  /** The peer's advertised receive window, bytes (Linux 5.4+). */
  sendWindow: number | undefined;
  /** Bytes in the send buffer (macOS only; on Linux see unacked and notSentBytes). */
  sendQueue: number | undefined;
  /** The receive window we advertise, bytes (Linux 5.4+). */
  receiveWindow: number | undefined;
}

/** Linux's TCP state numbers (include/net/tcp_states.h); the addon maps macOS onto them. */
export const TCP_STATES: readonly TcpState[] = [
  'unknown',
  'established',
  'syn-sent',
  'syn-received',
  'fin-wait-1',
  'fin-wait-2',
  'time-wait',
  'closed',
  'close-wait',
  'last-ack',
  'listen',
  'closing',
];

/**
 * The addon's slot order (its tcpInfoFields, from KA_TCP_INFO_FIELDS in
 * native/keepalive.h), relied on by index below so the per-call path does no
 * lookups; checked once against the loaded addon, and with the decoders and
 * TcpInfo by test/health/tcp-info-fields.test.ts.
 */
export const FIELDS = [
  'state',
  'caState',
  'retransmits',
  'probes',
  'backoff',
  'rto',
  'ato',
  'sendMss',
  'receiveMss',
  'unacked',
  'sacked',
  'lost',
  'retransOut',
  'lastDataSent',
  'lastDataReceived',
  'lastAckReceived',
  'pmtu',
  'rtt',
  'rttVariance',
  'sendCwnd',
  'sendSsthresh',
  'reordering',
  'receiveRtt',
  'receiveSpace',
  'totalRetransmits',
  'bytesAcked',
  'bytesReceived',
  'bytesSent',
  'bytesRetransmitted',
  'segmentsOut',
  'segmentsIn',
  'notSentBytes',
  'minRtt',
  'deliveryRate',
  'busyTime',
  'sendWindow',
  'sendQueue',
  'receiveWindow',
] as const;

/** The addon's output array (one per thread, read right after each call), once its fields are checked to be these. */
let checkedValues: Float64Array | undefined;

function checkFields(fields: readonly string[], values: Float64Array): Float64Array {
  if (fields.length < FIELDS.length || values.length !== fields.length || FIELDS.some((name, index) => fields[index] !== name)) {
    throw new Error(
      `tcp-keepalive: the native addon's TCP_INFO fields (${fields.join(', ')}) are not the ones this code was built for; reinstall the package`,
    );
  }
  return values;
}

/** NaN (not reported) becomes undefined. */
function reported(value: number): number | undefined {
  return value === value ? value : undefined;
}

export function decodeEach(v: Float64Array): TcpInfo {
  return {
    state: TCP_STATES[v[0]!] ?? 'unknown',
    caState: reported(v[1]!),
    retransmits: reported(v[2]!),
    probes: reported(v[3]!),
    backoff: reported(v[4]!),
    rto: reported(v[5]!),
    ato: reported(v[6]!),
    sendMss: reported(v[7]!),
    receiveMss: reported(v[8]!),
    unacked: reported(v[9]!),
    sacked: reported(v[10]!),
    lost: reported(v[11]!),
    retransOut: reported(v[12]!),
    lastDataSent: reported(v[13]!),
    lastDataReceived: reported(v[14]!),
    lastAckReceived: reported(v[15]!),
    pmtu: reported(v[16]!),
    rtt: reported(v[17]!),
    rttVariance: reported(v[18]!),
    sendCwnd: reported(v[19]!),
    sendSsthresh: reported(v[20]!),
    reordering: reported(v[21]!),
    receiveRtt: reported(v[22]!),
    receiveSpace: reported(v[23]!),
    totalRetransmits: reported(v[24]!),
    bytesAcked: reported(v[25]!),
    bytesReceived: reported(v[26]!),
    bytesSent: reported(v[27]!),
    bytesRetransmitted: reported(v[28]!),
    segmentsOut: reported(v[29]!),
    segmentsIn: reported(v[30]!),
    notSentBytes: reported(v[31]!),
    minRtt: reported(v[32]!),
    deliveryRate: reported(v[33]!),
    busyTime: reported(v[34]!),
    sendWindow: reported(v[35]!),
    sendQueue: reported(v[36]!),
    receiveWindow: reported(v[37]!),
  };
}

/**
 * A whole number from the Float64Array, as V8 keeps small integers. An element
 * read from a Float64Array is a boxed double, and an object field that has
 * held one keeps every later value boxed too: a heap allocation per field per
 * call. Math.floor of a whole number is the same number, unboxed where it
 * fits, so the fields that are counts, bytes or whole milliseconds cost no
 * allocation (about 30 per call fewer, and a tenth of tcpInfo()'s time: bench
 * section 7, docs/performance.md). The fractional milliseconds (rto, ato, the
 * RTTs, busyTime) stay as read.
 */
const whole = Math.floor;

export function decodeComplete(v: Float64Array): TcpInfo {
  return {
    state: TCP_STATES[v[0]!] ?? 'unknown',
    caState: whole(v[1]!),
    retransmits: whole(v[2]!),
    probes: whole(v[3]!),
    backoff: whole(v[4]!),
    rto: v[5]!,
    ato: v[6]!,
    sendMss: whole(v[7]!),
    receiveMss: whole(v[8]!),
    unacked: whole(v[9]!),
    sacked: whole(v[10]!),
    lost: whole(v[11]!),
    retransOut: whole(v[12]!),
    lastDataSent: whole(v[13]!),
    lastDataReceived: whole(v[14]!),
    lastAckReceived: whole(v[15]!),
    pmtu: whole(v[16]!),
    rtt: v[17]!,
    rttVariance: v[18]!,
    sendCwnd: whole(v[19]!),
    sendSsthresh: whole(v[20]!),
    reordering: whole(v[21]!),
    receiveRtt: v[22]!,
    receiveSpace: whole(v[23]!),
    totalRetransmits: whole(v[24]!),
    bytesAcked: whole(v[25]!),
    bytesReceived: whole(v[26]!),
    bytesSent: whole(v[27]!),
    bytesRetransmitted: whole(v[28]!),
    segmentsOut: whole(v[29]!),
    segmentsIn: whole(v[30]!),
    notSentBytes: whole(v[31]!),
    minRtt: v[32]!,
    deliveryRate: whole(v[33]!),
    busyTime: v[34]!,
    sendWindow: whole(v[35]!),
    sendQueue: undefined,
    receiveWindow: whole(v[37]!),
  };
}

/**
 * The kernel fills the struct up to its own length, and the addon reports NaN
 * past it; so on Linux, when the last field (receiveWindow, Linux 5.4+) is
 * there, every Linux field is, and only the macOS-only sendQueue is missing.
 * That common case skips the per-field NaN check, a large share of a decode's
 * cost (bench/benchmarks/health.js, docs/performance.md).
 */
const onLinux = process.platform === 'linux';

function decode(v: Float64Array): TcpInfo {
  return onLinux && v[37] === v[37] ? decodeComplete(v) : decodeEach(v);
}

/**
 * One TCP_INFO read of `fd`, decoded; throws the library's system error if the
 * kernel refuses. For callers that have already found the fd.
 */
export function readTcpInfo(fd: number, operation: string): TcpInfo {
  const native = addon();
  if (native === undefined || !native.capabilities.tcpInfo) throw unavailableOnPlatform(`${operation}() (TCP_INFO)`);
  const values = (checkedValues ??= checkFields(native.tcpInfoFields, native.tcpInfoValues));
  const failure = native.tcpInfo(fd);
  if (failure !== undefined) throw nativeError(failure, fd, operation);
  return decode(values);
}

/**
 * The kernel's view of a connected TCP socket (net.Socket, tls.TLSSocket, or
 * an HTTP/2 session's socket): one getsockopt(TCP_INFO). Throws like
 * getKeepalive: ERR_INVALID_ARG_TYPE (not a socket), ERR_SOCKET_CLOSED
 * (destroyed), ENOTCONN (still connecting), ERR_FEATURE_UNAVAILABLE_ON_PLATFORM
 * (Windows, or no native addon), and the kernel's errno-coded error otherwise.
 */
export function tcpInfo(socket: net.Socket): TcpInfo {
  if (addon() === undefined) throw unavailableOnPlatform('tcpInfo() (TCP_INFO)');
  return readTcpInfo(socketFd(socket, 'tcpInfo'), 'tcpInfo');
}
