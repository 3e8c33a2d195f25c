/**
 * Entry point of a health scenario child: `unshare -rn node lab-dist/health-child.js '<HealthScenario JSON>'`.
 * Started by runHealthScenario(); it takes the namespace's loopback down, so never run it by hand outside one.
 */
import { runHealthScenarioHere, type HealthScenario, healthScenarioDeadlineMs } from './health-scenarios';
import { runInside, scenarioArgs } from './inside';

runInside<HealthScenario, unknown>(runHealthScenarioHere, { deadlineMs: healthScenarioDeadlineMs(scenarioArgs<HealthScenario>()) });
