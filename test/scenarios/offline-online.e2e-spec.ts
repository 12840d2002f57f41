import { offlineOnline } from '../../apps/client-node/src/simulator/scenarios/offline-online.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(offlineOnline);
