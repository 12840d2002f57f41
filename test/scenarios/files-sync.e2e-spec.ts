import { filesSync } from '../../apps/client-node/src/simulator/scenarios/files-sync.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(filesSync);
