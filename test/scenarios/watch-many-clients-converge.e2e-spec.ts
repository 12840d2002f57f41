import * as s from '../../apps/client-node/src/simulator/scenarios/watch-many-clients-converge.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(s.watchManyClientsConverge);
