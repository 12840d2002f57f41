import { describe, it } from '@jest/globals';
import {
  failureInjection,
  watchPullFailure,
} from '../../apps/client-node/src/simulator/scenarios/failure-injection.scenario.js';
import { INJECTABLE_ENDPOINTS } from '@oversync/protocol';
import { expectScenarioPasses, SCENARIO_TIMEOUT_MS, useScenarioHost } from './support/scenario-suite.js';

describe('scenario failure-injection: each endpoint fails in turn (503 ×2, then 500 ×1)', () => {
  const host = useScenarioHost();
  it.each(INJECTABLE_ENDPOINTS)(
    '%s: three devices converge, nothing lost or duplicated',
    (endpoint) => expectScenarioPasses(host, failureInjection(endpoint)),
    SCENARIO_TIMEOUT_MS,
  );
  // Regression: a watch-triggered pull that failed was only logged, leaving the device stale until the fallback poll.
  it(watchPullFailure.summary, () => expectScenarioPasses(host, watchPullFailure), SCENARIO_TIMEOUT_MS);
});
