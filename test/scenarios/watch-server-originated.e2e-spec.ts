import * as s from '../../apps/client-node/src/simulator/scenarios/watch-server-originated.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(s.watchServerOriginated);
