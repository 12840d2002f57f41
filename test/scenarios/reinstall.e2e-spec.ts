import { reinstall } from '../../apps/client-node/src/simulator/scenarios/reinstall.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(reinstall);
