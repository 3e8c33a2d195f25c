/**
 * The fault lab: private network namespaces (`unshare -rn`) in which peers
 * vanish and a simulated L4 load balancer forgets idle flows.
 * - probeLab(): can this machine do it, and if not, why.
 * - runInNamespace(): run your own plain-JS script in a namespace, get its JSON report.
 * - runScenario(): run one of the built-in scenarios (vanishing peer, load balancer idle drop).
 * - ./inside: helpers for scripts running inside the namespace.
 */
export { type Availability, type LabSupport, probeLab } from './probe';
export { type LabError, type LabErrorCode, type RunOptions, runInNamespace, scenarioRunnerPath } from './run';
export {
  type Detection,
  type KeepaliveChoice,
  type LoadBalancerScenario,
  runScenario,
  type Scenario,
  type ScenarioReport,
  type VanishingPeerScenario,
} from './scenarios';
export type { LoadBalancerSpec, SocketLine, SocketTimer } from './inside';
