import { prepared, type SyncClient } from '../database/sync-database.js';

export interface RetentionPolicy {
  retainedBundlesPerUser: number;
  retentionPruneBatchSize: number;
}

const APPLY_RETENTION = prepared(
  `WITH s AS (
      SELECT retained_bundle_floor AS floor,
             LEAST(GREATEST(0, next_bundle_seq - 1 - $2::bigint), retained_bundle_floor + $3::bigint) AS target
        FROM sync.user_state WHERE user_pk = $1),
    raised AS (
      UPDATE sync.user_state us SET retained_bundle_floor = s.target FROM s
       WHERE us.user_pk = $1 AND s.target > s.floor
      RETURNING s.target)
    DELETE FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq <= (SELECT target FROM raised)`,
);

/**
 * Advances the user's retained floor and prunes history below it (spec §4.12), inside the bundle
 * transaction: at most `batch` bundles per commit, the newest bundle is never pruned.
 */
export async function applyRetention(client: SyncClient, userPk: string, policy: RetentionPolicy): Promise<void> {
  // One statement: the floor is raised where due and the history up to it deleted (nothing when not raised).
  await client.query(APPLY_RETENTION([userPk, policy.retainedBundlesPerUser, policy.retentionPruneBatchSize]));
}
