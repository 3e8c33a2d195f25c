/**
 * What every exporter shows, named once: the instruments (OpenTelemetry names
 * and the Prometheus names they translate to), and the attribute sets
 * (series) the sampler aggregates connections into.
 */

export const VERDICTS = ['healthy', 'suspect', 'stalled', 'dead'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const CAUSES = ['keepalive', 'user-timeout', 'unknown'] as const;
export type Cause = (typeof CAUSES)[number];

/** RTT bucket bounds, seconds: 100 µs (loopback, same rack) to 5 s (a path in trouble). */
export const RTT_BUCKETS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

/** One instrument: its OpenTelemetry name and unit, and its Prometheus name (the standard translation, unit suffix included). */
export interface Instrument {
  readonly otel: string;
  readonly unit: string;
  readonly prometheus: string;
  readonly description: string;
}

export const INSTRUMENTS = {
  rtt: {
    otel: 'tcp.connection.rtt',
    unit: 's',
    prometheus: 'tcp_connection_rtt_seconds',
    description: 'Smoothed round-trip time of the connection (TCP_INFO tcpi_rtt), per sample',
  },
  minRtt: {
    otel: 'tcp.connection.min_rtt',
    unit: 's',
    prometheus: 'tcp_connection_min_rtt_seconds',
    description: 'Smallest round-trip time the kernel has seen on the connection (TCP_INFO tcpi_min_rtt), per sample',
  },
  retransmits: {
    otel: 'tcp.connection.retransmitted_segments',
    unit: '{segment}',
    prometheus: 'tcp_connection_retransmitted_segments_total',
    description: 'Segments retransmitted (TCP_INFO tcpi_total_retrans, counted from the change between samples)',
  },
  bytesRetransmitted: {
    otel: 'tcp.connection.bytes_retransmitted',
    unit: 'By',
    prometheus: 'tcp_connection_bytes_retransmitted_total',
    description: 'Bytes retransmitted (TCP_INFO tcpi_bytes_retrans, Linux 4.19+, counted from the change between samples)',
  },
  unacked: {
    otel: 'tcp.connection.unacked',
    unit: '{segment}',
    prometheus: 'tcp_connection_unacked',
    description: 'Segments sent and not yet acknowledged (TCP_INFO tcpi_unacked), summed over open connections at their last sample',
  },
  notSent: {
    otel: 'tcp.connection.notsent_bytes',
    unit: 'By',
    prometheus: 'tcp_connection_notsent_bytes',
    description:
      'Bytes written and not yet sent (TCP_INFO tcpi_notsent_bytes, Linux 4.6+), summed over open connections at their last sample',
  },
  connections: {
    otel: 'tcp.keepalive.connections',
    unit: '{connection}',
    prometheus: 'tcp_keepalive_connections',
    description: 'Open connections followed, by the verdict of their last sample (connectionHealth)',
  },
  dead: {
    otel: 'tcp.keepalive.dead_connections',
    unit: '{connection}',
    prometheus: 'tcp_keepalive_dead_connections_total',
    description: 'Connections the kernel ended with ETIMEDOUT, by cause (the tcp-keepalive:dead channel)',
  },
} as const satisfies Record<string, Instrument>;

/** Attribute names (OpenTelemetry) and their Prometheus labels. */
export const ATTRIBUTES = {
  address: { otel: 'network.peer.address', prometheus: 'network_peer_address' },
  port: { otel: 'network.peer.port', prometheus: 'network_peer_port' },
  policy: { otel: 'tcp.keepalive.policy', prometheus: 'tcp_keepalive_policy' },
  verdict: { otel: 'verdict', prometheus: 'verdict' },
  cause: { otel: 'cause', prometheus: 'cause' },
} as const;

/** The value of every attribute in the series past the cardinality cap. */
export const OTHER = 'other';

/** Per-exporter state kept on a series (cached attribute objects, bound instruments). */
export type ExporterSlot = unknown;

/**
 * One attribute set: peer address, peer port and policy name. The sampler
 * keeps, per series, what the up-down instruments report: open connections
 * by verdict, and the sums of the last unacked / not-sent samples.
 */
export interface Series {
  readonly address: string;
  /** undefined for the `other` series. */
  readonly port: number | undefined;
  readonly policy: string;
  /** Open connections by verdict index (VERDICTS). */
  readonly connections: [number, number, number, number];
  unacked: number;
  notSent: number;
  /** Exporter-owned cache (bound children, attribute objects), one per exporter of this sampler. */
  slot: ExporterSlot;
}
