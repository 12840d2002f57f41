import * as s from '../../apps/client-node/src/simulator/scenarios/watch-reconnect-catch-up.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(s.watchReconnectCatchUp);
