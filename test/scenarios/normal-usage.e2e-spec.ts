import { normalUsage } from '../../apps/client-node/src/simulator/scenarios/normal-usage.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(normalUsage);
