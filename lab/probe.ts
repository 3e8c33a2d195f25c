/**
 * Can this machine run the fault lab? Ask once, then skip loudly or degrade.
 *
 *   import { probeLab } from '../../lab';
 *   const lab = probeLab();
 *   if (!lab.namespaces.available) console.warn(`namespaces unavailable: ${lab.namespaces.reason}`);
 *   if (!lab.loadBalancer.available) console.warn(`load balancer unavailable: ${lab.loadBalancer.reason}`);
 *
 * `namespaces`: `unshare -rn` works and `ip link set lo up` succeeds inside
 * (enough for a vanishing peer). `loadBalancer`: additionally nft can load a
 * DNAT rule set and the conntrack timeouts of the namespace can be written
 * (the simulated L4 load balancer). The answer is computed once per process.
 */
import { spawnSync } from 'node:child_process';

export type Availability = { readonly available: true } | { readonly available: false; readonly reason: string };

export interface LabSupport {
  /** A private network namespace with a working loopback (`unshare -rn` + iproute2). */
  readonly namespaces: Availability;
  /** nftables DNAT + writable conntrack timeouts inside that namespace. */
  readonly loadBalancer: Availability;
}

const PROBE_TIMEOUT_MS = 10_000;

/** Exit codes of the probe script, each naming what is missing. */
const PROBE_STEPS: ReadonlyArray<readonly [code: number, reason: string]> = [
  [10, 'iproute2 `ip` is not installed (apt-get install -y iproute2)'],
  [11, '`ip link set lo up` failed inside the namespace'],
  [20, 'nft is not installed (apt-get install -y nftables)'],
  [21, 'nft could not load a DNAT rule set inside the namespace'],
  [22, 'the conntrack timeouts of the namespace are not writable (/proc/sys/net/netfilter; nf_conntrack not loaded?)'],
];

const PROBE_SCRIPT = `
command -v ip >/dev/null || exit 10
ip link set lo up || exit 11
command -v nft >/dev/null || exit 20
nft -f - <<'RULES' || exit 21
table ip probe {
  chain out { type nat hook output priority -100; ip daddr 127.0.0.2 tcp dport 9 dnat to 127.0.0.1:9; }
  chain in { type filter hook input priority 0; ct state invalid drop; }
}
RULES
echo 5 > /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established || exit 22
exit 0
`;

function unavailable(reason: string): Availability {
  return { available: false, reason };
}

function runProbe(): LabSupport {
  if (process.platform !== 'linux') {
    const reason = `network namespaces are Linux only (this is ${process.platform})`;
    return { namespaces: unavailable(reason), loadBalancer: unavailable(reason) };
  }
  const result = spawnSync('unshare', ['-rn', 'sh', '-c', PROBE_SCRIPT], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  const stderr = (result.stderr ?? '').trim();
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'unshare (util-linux) is not installed' : `unshare could not run: ${result.error.message}`;
    return { namespaces: unavailable(reason), loadBalancer: unavailable(reason) };
  }
  if (result.status === 0) return { namespaces: { available: true }, loadBalancer: { available: true } };
  const step = PROBE_STEPS.find(([code]) => code === result.status);
  if (step === undefined) {
    // unshare itself failed: user namespaces disabled (sysctl, AppArmor, seccomp in containers).
    const reason =
      `\`unshare -rn\` was refused (exit ${result.status ?? result.signal}): ${stderr || 'no message'}; ` +
      'user namespaces may be disabled (kernel.unprivileged_userns_clone, AppArmor, container seccomp)';
    return { namespaces: unavailable(reason), loadBalancer: unavailable(reason) };
  }
  const reason = stderr === '' ? step[1] : `${step[1]}: ${stderr}`;
  if (step[0] < 20) return { namespaces: unavailable(reason), loadBalancer: unavailable(reason) };
  return { namespaces: { available: true }, loadBalancer: unavailable(reason) };
}

let cached: LabSupport | undefined;

/** What the fault lab can do on this machine, with the reason for anything it cannot. */
export function probeLab(): LabSupport {
  cached ??= runProbe();
  return cached;
}
