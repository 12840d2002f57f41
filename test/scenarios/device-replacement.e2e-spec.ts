import { deviceReplacement } from '../../apps/client-node/src/simulator/scenarios/device-replacement.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(deviceReplacement);
