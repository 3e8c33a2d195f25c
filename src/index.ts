export { configureKeepalive, getKeepalive, type KeepaliveState } from './core/keepalive';
export type { KeepaliveOptions } from './core/options';
export { capabilities, systemDefaults, type Capabilities, type SystemDefaults } from './core/platform';
export type {
  KeepalivePlan, PlanRequest, PathHop, ResolvedHop, PlanConflictError, IdleTimeoutPreset, PresetName,
} from './planner';
import type * as Planner from './planner';

// The planner is configuration-time code that most importers never call, so it
// is loaded on first use: importing the package then costs the core and the
// addon only (bench/RESULTS.md, section 4).
function planner(): typeof Planner {
  return require('./planner') as typeof Planner;
}

/**
 * Plans keepalive options for a network path: see src/planner/plan.ts and
 * docs/planner.md. Throws ERR_KEEPALIVE_PLAN_CONFLICT when the request cannot be met.
 */
export function planKeepalive(request: Planner.PlanRequest): Planner.KeepalivePlan {
  return planner().planKeepalive(request);
}

/** Documented idle timeouts of common load balancers, NATs and proxies (src/planner/presets.ts). */
export let IDLE_TIMEOUT_PRESETS: typeof Planner.IDLE_TIMEOUT_PRESETS;
/** The planner's default probe count. */
export let DEFAULT_COUNT: typeof Planner.DEFAULT_COUNT;
/** The planner's default safety margin, a fraction of detectWithin. */
export let DEFAULT_MARGIN: typeof Planner.DEFAULT_MARGIN;
// Declared with `export let` so that Node's ESM import of this CommonJS file
// sees the names; each is then a read-only getter that loads the planner.
for (const name of ['IDLE_TIMEOUT_PRESETS', 'DEFAULT_COUNT', 'DEFAULT_MARGIN'] as const) {
  Object.defineProperty(exports, name, { enumerable: true, get: () => planner()[name] });
}
