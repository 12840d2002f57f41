import { multiDeviceSync } from '../../apps/client-node/src/simulator/scenarios/multi-device-sync.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(multiDeviceSync);
