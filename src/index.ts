export { configureKeepalive, getKeepalive, type KeepaliveState } from './core/keepalive';
export type { KeepaliveOptions } from './core/options';
export { capabilities, systemDefaults, type Capabilities, type SystemDefaults } from './core/platform';
export {
  planKeepalive, IDLE_TIMEOUT_PRESETS, DEFAULT_COUNT, DEFAULT_MARGIN,
  type KeepalivePlan, type PlanRequest, type PathHop, type ResolvedHop, type PlanConflictError,
  type IdleTimeoutPreset, type PresetName,
} from './planner';
