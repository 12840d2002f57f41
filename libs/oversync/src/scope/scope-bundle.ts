import type { SyncClient } from '../database/sync-database.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { setBundleContext } from '../bundle/bundle-context.js';
import { finalizeCapturedBundle, type CommittedBundle } from '../bundle/bundle-capture.js';
import type { BundleAnnouncer } from '../bundle/bundle-announcer.js';
import { activateSource } from '../push/source-state.js';
import { applyRetention, type RetentionPolicy } from '../retention/retention.js';

export interface ScopeBundleTarget {
  userId: string;
  userPk: string;
  sourceId: string;
  sourceBundleId: string;
}

export interface ScopeBundleDeps {
  catalog: SyncCatalog;
  announcer: BundleAnnouncer;
  retention: RetentionPolicy;
}

/**
 * The body of `WithinSyncBundle` (spec §4.15 step 6): bundle context GUCs, the caller's writes, capture
 * finalisation, then — only when a bundle was produced — source activation and retention (§4.12).
 */
export async function commitScopeBundle<T>(
  client: SyncClient,
  deps: ScopeBundleDeps,
  target: ScopeBundleTarget,
  write: () => Promise<T>,
): Promise<{ bundle: CommittedBundle | null; result: T }> {
  const { userId, userPk, sourceId, sourceBundleId } = target;
  await setBundleContext(client, { userId, userPk, sourceId, sourceBundleId, initializationId: '' });
  const result = await write();
  const bundle = await finalizeCapturedBundle(client, deps.catalog, {
    userPk,
    sourceId,
    sourceBundleId,
    notification: (b) => deps.announcer.notification(userPk, b),
  });
  if (bundle) {
    await activateSource(client, userPk, sourceId, userId, sourceBundleId);
    await applyRetention(client, userPk, deps.retention);
  }
  return { bundle, result };
}
