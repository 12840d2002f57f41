import { typedRows } from '../../apps/client-node/src/simulator/scenarios/typed-rows.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(typedRows);
