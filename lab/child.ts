/**
 * Entry point of a scenario child: `unshare -rn node lab-dist/child.js '<Scenario JSON>'`.
 * Started by runScenario(); not meant to be run by hand outside a namespace
 * (it takes the loopback interface down).
 */
import { runInside, scenarioArgs } from './inside';
import { runScenarioHere, type Scenario, scenarioDeadlineMs } from './scenarios';

runInside<Scenario, unknown>(runScenarioHere, { deadlineMs: scenarioDeadlineMs(scenarioArgs<Scenario>()) });
