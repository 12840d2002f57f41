import { watchDefaultOff } from '../../apps/client-node/src/simulator/scenarios/watch-default-off.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(watchDefaultOff);
