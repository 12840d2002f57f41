import type { SyncClient } from '../database/sync-database.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { scopeRowsSql } from './scope-rows.sql.js';

/**
 * Stages up to `limit` business rows of the scope that have no live `sync.row_state` (rows written
 * before their table was registered, or with the triggers disabled) as INSERT capture events of
 * this transaction, so `finalizeCapturedBundle` turns them into an ordinary bundle (spec §8.10, §8.16).
 * Returns how many rows were staged. The business rows themselves are not touched.
 */
export async function stageUnsyncedRows(
  client: SyncClient,
  catalog: SyncCatalog,
  userPk: string,
  userId: string,
  limit: number,
): Promise<number> {
  let staged = 0;
  for (const table of catalog.tables) {
    if (staged >= limit) break;
    const { rows } = await client.query<{ staged: string }>(
      `WITH staged AS (
         INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
         SELECT txid_current(), $1, $2, 1, b.key_bytes, b.payload
           FROM (${scopeRowsSql(table, '$3')}) b
          -- a scalar subquery (not NOT EXISTS, which becomes an anti-join planned on possibly stale statistics):
          -- one index probe per business row
          WHERE (SELECT true FROM sync.row_state rs
                  WHERE rs.user_pk = $1 AND rs.table_id = $2 AND rs.key_bytes = b.key_bytes AND NOT rs.deleted) IS NULL
          LIMIT $4
         RETURNING 1)
       SELECT count(*) AS staged FROM staged`,
      [userPk, table.tableId, userId, limit - staged],
    );
    staged += Number(rows[0]!.staged);
  }
  return staged;
}
