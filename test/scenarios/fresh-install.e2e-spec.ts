import { freshInstall } from '../../apps/client-node/src/simulator/scenarios/fresh-install.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(freshInstall);
