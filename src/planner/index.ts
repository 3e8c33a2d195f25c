/**
 * The keepalive planner: planKeepalive(request) → { options, worstCaseDetection, notes, … },
 * and the documented idle-timeout presets it understands.
 */
export {
  DEFAULT_COUNT,
  DEFAULT_MARGIN,
  type KeepalivePlan,
  type PathHop,
  type PlanConflictError,
  planKeepalive,
  type PlanRequest,
  type ResolvedHop,
} from './plan';
export type { KernelTimes } from '../core/kernel-timers';
export { IDLE_TIMEOUT_PRESETS, type IdleTimeoutPreset, type PresetName } from './presets';
