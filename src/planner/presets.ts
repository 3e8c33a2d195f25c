/**
 * Idle timeouts of common load balancers, NATs and proxies, for planKeepalive().
 * Each value is the documented default; pass `{ preset, idleTimeout }` where
 * yours is configured differently. `probesRefresh` says whether TCP keepalive
 * probes reset the hop's idle timer: true for flow-tracking L4 devices, false
 * for proxies that terminate TCP (L7 balancers, nginx stream, HAProxy) — their
 * timers count application data only, and a probe never leaves the first hop.
 */
export interface IdleTimeoutPreset {
  /** Human-readable name, used in plans and errors. */
  readonly label: string;
  /** Documented default idle timeout in ms; undefined where there is no default (set by the operator). */
  readonly idleTimeout: number | undefined;
  /** Do keepalive probes (empty ACK segments) reset this hop's idle timer? */
  readonly probesRefresh: boolean;
  /** Where the number comes from. */
  readonly source: string;
  readonly note: string;
}

const presets = {
  'aws-nlb': {
    label: 'AWS Network Load Balancer',
    idleTimeout: 350_000,
    probesRefresh: true,
    source: 'https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html',
    note:
      'TCP listeners: default 350 s, configurable 60–6000 s (tcp.idle_timeout.seconds); TLS listeners fixed at 350 s. ' +
      'A forgotten flow is answered with RST on the next packet.',
  },
  'aws-nat-gateway': {
    label: 'AWS NAT gateway',
    idleTimeout: 350_000,
    probesRefresh: true,
    source: 'https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html',
    note: 'Fixed 350 s; AWS advises TCP keepalive below 350 s on the instance.',
  },
  'aws-alb': {
    label: 'AWS Application Load Balancer',
    idleTimeout: 60_000,
    probesRefresh: false,
    source: 'https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout',
    note:
      'L7: it terminates TCP and counts data only (default 60 s, 1–4000 s). ' +
      'AWS says of its Classic LB that TCP keep-alive probes do not prevent the idle close; send application heartbeats.',
  },
  'azure-lb': {
    label: 'Azure Load Balancer',
    idleTimeout: 240_000,
    probesRefresh: true,
    source: 'https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-tcp-reset',
    note: 'Default 4 min, configurable 4–100 min; silent drop unless "TCP reset on idle" is enabled.',
  },
  'gcp-conntrack': {
    label: 'Google Cloud VPC firewall connection tracking',
    idleTimeout: 600_000,
    probesRefresh: true,
    source: 'https://cloud.google.com/firewall/docs/firewalls#specifications',
    note: 'Established TCP flows are forgotten after 10 min without packets.',
  },
  'gcp-cloud-nat': {
    label: 'Google Cloud NAT',
    idleTimeout: 1_200_000,
    probesRefresh: true,
    source: 'https://cloud.google.com/nat/docs/tune-nat-configuration#tcp-established-connection-idle-timeout',
    note: 'TCP established connection idle timeout: default 1200 s, configurable.',
  },
  'nginx-stream': {
    label: 'nginx stream proxy (proxy_timeout)',
    idleTimeout: 600_000,
    probesRefresh: false,
    source: 'https://nginx.org/en/docs/stream/ngx_stream_proxy_module.html#proxy_timeout',
    note:
      'Default 10 min "between two successive read or write operations": data only. nginx terminates TCP, ' +
      'so probes are answered by its kernel and never reset proxy_timeout; send application heartbeats.',
  },
  haproxy: {
    label: 'HAProxy (timeout client / server / tunnel)',
    idleTimeout: undefined,
    probesRefresh: false,
    source: 'https://docs.haproxy.org/2.8/configuration.html#4.2-timeout%20client',
    note:
      'Its idle timeout is your `timeout client` / `timeout server` (`timeout tunnel` for upgraded connections). ' +
      'Inactivity means no data: probes do not reset it; send application heartbeats.',
  },
} as const satisfies Record<string, IdleTimeoutPreset>;

// Frozen, each preset too: they are shared by every importer in the process, so an
// assignment (a typo, or a test tuning a timeout) must not change another caller's plans.
for (const preset of Object.values(presets)) Object.freeze(preset);
export const IDLE_TIMEOUT_PRESETS: typeof presets = Object.freeze(presets);

export type PresetName = keyof typeof IDLE_TIMEOUT_PRESETS;

export function isPresetName(value: unknown): value is PresetName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(IDLE_TIMEOUT_PRESETS, value);
}
