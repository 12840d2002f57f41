import { userSwitch } from '../../apps/client-node/src/simulator/scenarios/user-switch.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(userSwitch);
