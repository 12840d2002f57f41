import type { SyncClient } from '../database/sync-database.js';

export interface BundleContext {
  userId: string;
  userPk: string;
  sourceId: string;
  sourceBundleId: string;
  initializationId: string;
}

/**
 * Sets the transaction-local GUCs the owner guard and capture triggers read (spec §2.5), refusing
 * a transaction that already carries a different sync bundle context — in one round trip.
 */
export async function setBundleContext(client: SyncClient, context: BundleContext): Promise<void> {
  const names = ['oversync.bundle_user_id', 'oversync.bundle_user_pk', 'oversync.bundle_source_id', 'oversync.bundle_source_bundle_id', 'oversync.bundle_initialization_id'];
  const values = [context.userId, context.userPk, context.sourceId, context.sourceBundleId, context.initializationId];
  const { rows } = await client.query<{ name: string; current: string }>(
    `SELECT g.name, COALESCE(current_setting(g.name, true), '') AS current
       FROM unnest($1::text[], $2::text[]) AS g(name, value)
      WHERE COALESCE(current_setting(g.name, true), '') NOT IN ('', g.value)`,
    [names, values],
  );
  if (rows[0]) throw new Error(`transaction already carries conflicting sync bundle context for ${rows[0].name}`);
  await client.query(
    'SELECT set_config(g.name, g.value, true) FROM unnest($1::text[], $2::text[]) AS g(name, value)',
    [names, values],
  );
}
