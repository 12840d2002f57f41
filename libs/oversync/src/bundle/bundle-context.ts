import { prepared, type SyncClient } from '../database/sync-database.js';

export interface BundleContext {
  userId: string;
  userPk: string;
  sourceId: string;
  sourceBundleId: string;
  initializationId: string;
}

const SET_BUNDLE_CONTEXT = prepared(
  `WITH g AS (SELECT name, value, COALESCE(current_setting(name, true), '') AS current
                 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(name, value, ord) ORDER BY ord),
         bad AS (SELECT name FROM g WHERE current NOT IN ('', value) LIMIT 1)
    SELECT (SELECT name FROM bad) AS conflicting,
           CASE WHEN NOT EXISTS (SELECT 1 FROM bad) THEN (SELECT count(set_config(name, value, true)) FROM g) END
             AS applied`,
);

/**
 * Sets the transaction-local GUCs the owner guard and capture triggers read (spec §2.5), refusing
 * a transaction that already carries a different sync bundle context — in one round trip.
 */
export async function setBundleContext(client: SyncClient, context: BundleContext): Promise<void> {
  const names = [
    'oversync.bundle_user_id',
    'oversync.bundle_user_pk',
    'oversync.bundle_source_id',
    'oversync.bundle_source_bundle_id',
    'oversync.bundle_initialization_id',
  ];
  const values = [context.userId, context.userPk, context.sourceId, context.sourceBundleId, context.initializationId];
  // One statement: names whose current value conflicts come back; otherwise every value is set.
  const { rows } = await client.query<{ conflicting: string | null }>(SET_BUNDLE_CONTEXT([names, values]));
  if (rows[0]?.conflicting)
    throw new Error(`transaction already carries conflicting sync bundle context for ${rows[0].conflicting}`);
}
