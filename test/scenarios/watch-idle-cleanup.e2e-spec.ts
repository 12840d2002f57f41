import { watchIdleCleanup } from '../../apps/client-node/src/simulator/scenarios/watch-idle-cleanup.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(watchIdleCleanup);
