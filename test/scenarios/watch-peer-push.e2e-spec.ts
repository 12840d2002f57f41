import { watchPeerPush } from '../../apps/client-node/src/simulator/scenarios/watch-peer-push.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

describeScenario(watchPeerPush);
