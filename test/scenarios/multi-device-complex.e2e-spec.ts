import { multiDeviceComplex } from '../../apps/client-node/src/simulator/scenarios/multi-device-complex.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(multiDeviceComplex);
