import { conflicts } from '../../apps/client-node/src/simulator/scenarios/conflicts.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(conflicts);
