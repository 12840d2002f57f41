import { bundleFkAtomicity } from '../../apps/client-node/src/simulator/scenarios/bundle-fk-atomicity.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(bundleFkAtomicity);
