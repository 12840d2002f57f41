import { quoteLiteral } from '../database/sql-quote.js';
import type { SyncDatabase } from '../database/sync-database.js';
import type { SyncActor } from '../auth/sync-actor.js';

/**
 * Remembers how far a source has pulled (the admin console's lag). Runs after the pull's read-only
 * snapshot (inside it an UPDATE would fail, or abort concurrent pulls under REPEATABLE READ) as one
 * round trip: a two-statement implicit transaction that writes only when the checkpoint grows and
 * commits without waiting for the WAL flush — a checkpoint lost in a crash is only bookkeeping, and
 * the flush would cost a pull ~2 ms. Sources that never pushed have no source_state row.
 */
export async function recordPullCheckpoint(db: SyncDatabase, actor: SyncActor, bundleSeq: bigint): Promise<void> {
  if (bundleSeq <= 0n) return;
  // the simple query protocol (several statements) takes no parameters: literals, escaped by pg
  await db.pool.query(
    `SET LOCAL synchronous_commit = off;
     UPDATE sync.source_state ss SET last_pulled_bundle_seq = ${bundleSeq}, last_pulled_at = now()
       FROM sync.user_state us
      WHERE us.user_id = ${quoteLiteral(actor.userId)} AND ss.user_pk = us.user_pk
        AND ss.source_id = ${quoteLiteral(actor.sourceId)} AND ss.last_pulled_bundle_seq < ${bundleSeq}`,
  );
}
