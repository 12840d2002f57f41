import * as s from '../../apps/client-node/src/simulator/scenarios/watch-server-unsupported-fallback.scenario.js';
import { describeScenario } from './support/scenario-suite.js';

// The server runs without watch (OVERSYNC_WATCH=false): capabilities do not advertise it.
describeScenario(s.watchServerUnsupportedFallback, { OVERSYNC_WATCH: 'false' });
