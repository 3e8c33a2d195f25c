export { configureKeepalive, getKeepalive, type KeepaliveState } from './core/keepalive';
export type { KeepaliveOptions } from './core/options';
export { capabilities, systemDefaults, type Capabilities, type SystemDefaults } from './core/platform';
export {
  connectionHealth,
  DEAD_CHANNEL,
  tcpInfo,
  type ConnectionHealth,
  type DeadConnectionMessage,
  type DeathCause,
  type DeathReason,
  type HealthReason,
  type HealthThresholds,
  type HealthVerdict,
  type TcpInfo,
  type TcpState,
  type ZeroWindowStall,
} from './health';
export type { IdleTimeoutPreset, KeepalivePlan, PathHop, PlanConflictError, PlanRequest, PresetName, ResolvedHop } from './planner';
import type { KeepalivePlan, PlanRequest } from './planner';

/**
 * Plans keepalive options for a network path (docs/planner.md); throws ERR_KEEPALIVE_PLAN_CONFLICT
 * when the request cannot be met. The planner itself, with IDLE_TIMEOUT_PRESETS, DEFAULT_COUNT and
 * DEFAULT_MARGIN, is `tcp-keepalive/planner`. It is required on the first call, not at import:
 * loading it with the package would add to every importer's start a cost of the same order as the
 * whole package's (docs/performance.md, "Import cost").
 */
export function planKeepalive(request: PlanRequest): KeepalivePlan {
  return (require('./planner') as typeof import('./planner')).planKeepalive(request);
}
