import { Logger } from '@nestjs/common';
import { encodeGoJson, isCanonicalUuid } from '@oversync/protocol';
import { prepared, type SyncDatabase } from '../database/sync-database.js';
import { keyTextSql, opCodeCaseSql } from '../database/sql-codes.js';
import { OversyncError } from '../errors/oversync.error.js';
import type { SyncActor } from '../auth/sync-actor.js';

/** Rejected commits kept per user (newest first), like the bundle history's per-user window. */
export const REJECTED_WRITES_PER_USER = 1000;
/** Staged rows kept per rejected commit, and characters kept of each row's payload. */
export const REJECTED_ROWS_KEPT = 50;
export const REJECTED_PAYLOAD_CHARS = 2048;

// One statement: the rejected commit with the first staged rows (the session survives the rolled-back
// commit), then the user's log trimmed to its window. Only the caller's own session is recorded.
const RECORD_REJECTED_COMMIT = prepared(
  `WITH ins AS (
     INSERT INTO sync.rejected_writes (user_pk, source_id, source_bundle_id, push_id, http_status, error_code, answer,
       planned_row_count, rows_sent, rows_truncated)
     SELECT ps.user_pk, ps.source_id, ps.source_bundle_id, ps.push_id, $4, $5, $6::json, ps.planned_row_count,
            COALESCE((SELECT json_agg(json_build_object(
                        'row_ordinal', r.row_ordinal, 'table', tc.schema_name || '.' || tc.table_name,
                        'key', ${keyTextSql('tc.sync_key_kind', 'r.key_bytes')},
                        'op', ${opCodeCaseSql('r.op_code')},
                        'base_row_version', r.base_bundle_seq, 'payload', left(r.payload_apply::text, $7))
                          ORDER BY r.row_ordinal)
                        FROM (SELECT * FROM sync.push_session_rows WHERE push_id = ps.push_id ORDER BY row_ordinal
                          LIMIT $8) r
                        JOIN sync.table_catalog tc ON tc.table_id = r.table_id), '[]'),
            ps.next_expected_row_ordinal > $8
       FROM sync.push_sessions ps JOIN sync.user_state us ON us.user_pk = ps.user_pk
      WHERE ps.push_id = $1::uuid AND us.user_id = $2 AND ps.source_id = $3
     RETURNING user_pk)
   DELETE FROM sync.rejected_writes rw USING ins
    WHERE rw.user_pk = ins.user_pk AND rw.rejection_id <= (
      SELECT o.rejection_id FROM sync.rejected_writes o WHERE o.user_pk = ins.user_pk
        ORDER BY o.rejection_id DESC OFFSET $9 LIMIT 1)`,
);

const logger = new Logger('Oversync');

/**
 * Records a push commit answered 4xx (a conflict, a rejected row, a retired source…) in
 * sync.rejected_writes for the admin console: the source, the rows it sent (bounded) and the answer.
 * Never fails the request: the device gets its answer whether or not the record is written.
 */
export async function recordRejectedCommit(
  db: SyncDatabase,
  actor: SyncActor,
  pushId: string,
  error: unknown,
): Promise<void> {
  if (!(error instanceof OversyncError) || error.status < 400 || error.status >= 500 || !isCanonicalUuid(pushId))
    return;
  try {
    await db.pool.query(
      RECORD_REJECTED_COMMIT([
        pushId,
        actor.userId,
        actor.sourceId,
        error.status,
        error.code,
        encodeGoJson(error.body),
        REJECTED_PAYLOAD_CHARS,
        REJECTED_ROWS_KEPT,
        REJECTED_WRITES_PER_USER - 1,
      ]),
    );
  } catch (e) {
    logger.warn(`rejected commit log: ${(e as Error).message}`);
  }
}
