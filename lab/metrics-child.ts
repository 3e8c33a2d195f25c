/**
 * Entry point of a telemetry scenario child: `unshare -rn node lab-dist/metrics-child.js '<MetricsScenario JSON>'`.
 * Started by runMetricsScenario(); it takes the namespace's loopback down, so never run it by hand outside one.
 */
import { runInside, scenarioArgs } from './inside';
import { type MetricsScenario, metricsScenarioDeadlineMs, runMetricsScenarioHere } from './metrics-scenarios';

runInside<MetricsScenario, unknown>(runMetricsScenarioHere, { deadlineMs: metricsScenarioDeadlineMs(scenarioArgs<MetricsScenario>()) });
