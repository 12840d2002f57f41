import { complexMultiBatch } from '../../apps/client-node/src/simulator/scenarios/complex-multi-batch.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(complexMultiBatch);
