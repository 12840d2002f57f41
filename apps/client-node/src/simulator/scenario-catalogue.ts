/**
 * Every scenario, in the order of spec/client.md §13.2, plus one failure-injection run per endpoint
 * and one for a watcher's pull.
 */
import type { Scenario } from './scenario.js';
import { bundleFkAtomicity } from './scenarios/bundle-fk-atomicity.scenario.js';
import { complexMultiBatch } from './scenarios/complex-multi-batch.scenario.js';
import { conflicts } from './scenarios/conflicts.scenario.js';
import { deviceReplacement } from './scenarios/device-replacement.scenario.js';
import { failureInjection, watchPullFailure } from './scenarios/failure-injection.scenario.js';
import { filesSync } from './scenarios/files-sync.scenario.js';
import { freshInstall } from './scenarios/fresh-install.scenario.js';
import { multiDeviceComplex } from './scenarios/multi-device-complex.scenario.js';
import { multiDeviceSync } from './scenarios/multi-device-sync.scenario.js';
import { normalUsage } from './scenarios/normal-usage.scenario.js';
import { offlineOnline } from './scenarios/offline-online.scenario.js';
import { reinstall } from './scenarios/reinstall.scenario.js';
import { typedRows } from './scenarios/typed-rows.scenario.js';
import { userSwitch } from './scenarios/user-switch.scenario.js';
import { watchDefaultOff } from './scenarios/watch-default-off.scenario.js';
import { watchIdleCleanup } from './scenarios/watch-idle-cleanup.scenario.js';
import { watchManyClientsConverge } from './scenarios/watch-many-clients-converge.scenario.js';
import { watchPeerPush } from './scenarios/watch-peer-push.scenario.js';
import { watchReconnectCatchUp } from './scenarios/watch-reconnect-catch-up.scenario.js';
import { watchServerOriginated } from './scenarios/watch-server-originated.scenario.js';
import { watchServerUnsupportedFallback } from './scenarios/watch-server-unsupported-fallback.scenario.js';
import { INJECTABLE_ENDPOINTS } from '@oversync/protocol';

export const SCENARIOS: readonly Scenario[] = [
  freshInstall,
  normalUsage,
  reinstall,
  deviceReplacement,
  offlineOnline,
  conflicts,
  userSwitch,
  bundleFkAtomicity,
  complexMultiBatch,
  multiDeviceSync,
  multiDeviceComplex,
  filesSync,
  typedRows,
  watchPeerPush,
  watchServerOriginated,
  watchReconnectCatchUp,
  watchDefaultOff,
  watchServerUnsupportedFallback,
  watchIdleCleanup,
  watchManyClientsConverge,
  ...INJECTABLE_ENDPOINTS.map(failureInjection),
  watchPullFailure,
];

/**
 * `all`, one scenario by name, or a group: `watch-all` / `watch` (every `watch-…`),
 * `failure-injection` (every `failure-injection/…`). Unknown names throw with the list of names.
 */
export function selectScenarios(selector: string): Scenario[] {
  const wanted = selector.trim();
  if (wanted === 'all') return [...SCENARIOS];
  const exact = SCENARIOS.filter((scenario) => scenario.name === wanted);
  if (exact.length > 0) return exact;
  const group = wanted.replace(/-all$/, '');
  const members = SCENARIOS.filter(
    (scenario) => scenario.name.startsWith(`${group}-`) || scenario.name.startsWith(`${group}/`),
  );
  if (members.length > 0) return members;
  throw new Error(
    `unknown scenario ${JSON.stringify(selector)}; known: all, watch-all, failure-injection, ` +
      `${SCENARIOS.map((s) => s.name).join(', ')}`,
  );
}
