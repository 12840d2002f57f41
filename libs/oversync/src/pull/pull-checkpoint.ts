import { prepared, type SyncDatabase } from '../database/sync-database.js';
import type { SyncActor } from '../auth/sync-actor.js';

// Writes only when the checkpoint grows: a repeated or older pull is an index probe, no row version.
const RECORD_PULL_CHECKPOINT = prepared(
  `UPDATE sync.source_state ss SET last_pulled_bundle_seq = $3, last_pulled_at = now()
     FROM sync.user_state us
    WHERE us.user_id = $1 AND ss.user_pk = us.user_pk AND ss.source_id = $2 AND ss.last_pulled_bundle_seq < $3`,
);

/**
 * Remembers how far a source has pulled (the admin console's lag). Runs after the pull's read-only
 * snapshot, in autocommit: inside it an UPDATE would fail, or abort concurrent pulls under REPEATABLE
 * READ. Sources that never pushed have no source_state row and are not tracked.
 */
export async function recordPullCheckpoint(db: SyncDatabase, actor: SyncActor, bundleSeq: bigint): Promise<void> {
  if (bundleSeq <= 0n) return;
  await db.pool.query(RECORD_PULL_CHECKPOINT([actor.userId, actor.sourceId, bundleSeq.toString()]));
}
