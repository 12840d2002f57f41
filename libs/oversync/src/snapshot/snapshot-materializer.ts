import type { SyncClient } from '../database/sync-database.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import type { RegisteredTable } from '../schema/registered-table.js';
import { scopeRowCountSql, scopeRowsSql } from '../scope/scope-rows.sql.js';

export interface MaterializedSnapshot {
  rowCount: bigint;
  byteCount: bigint;
  /** business rows left out because they have no live sync.row_state (see `UnsyncedRowsError`) */
  unsyncedRows: bigint;
}

/** Business rows without sync state were met; the caller adopts them and materialises again. */
export class UnsyncedRowsError extends Error {
  constructor(readonly table: RegisteredTable, readonly count: bigint) {
    super(`${count} row(s) of ${table.name} have no sync state`);
  }
}

/**
 * row_version of business row `b` ($5 = user_pk, $3 = table_id): a scalar subquery, so PostgreSQL
 * probes `rs_user_live_snapshot_idx` once per row whatever its statistics say about freshly written
 * data (a join planned on stale statistics degenerates into a quadratic nested loop).
 */
// (`OFFSET 0` keeps the subquery a fence: without it the IS NOT NULL filter is pushed into the scan
// and the probe runs twice per row.)
const LIVE_VERSION_SQL = `SELECT rs.bundle_seq FROM sync.row_state rs
                           WHERE rs.user_pk = $5 AND rs.table_id = $3 AND rs.key_bytes = b.key_bytes AND rs.deleted = false`;

/**
 * Freezes the user's live rows into `sync.snapshot_session_rows` (spec §4.10 steps 6–9) entirely in
 * PostgreSQL: one `INSERT … SELECT` per registered table, ordinals by `(table_id, key_bytes)` so
 * repeated sessions order identically, row_version from `sync.row_state`, payloads as PostgreSQL's
 * jsonb text with bytea members as base64 (§4.7.4). No row passes through this process (§8.10).
 * Business rows without live sync state raise `UnsyncedRowsError` unless `tolerateUnsynced`, in
 * which case they are counted and left out.
 */
export async function materializeSnapshotRows(
  client: SyncClient,
  catalog: SyncCatalog,
  session: { snapshotId: string; userPk: string; userId: string; tolerateUnsynced: boolean },
): Promise<MaterializedSnapshot> {
  const totals: MaterializedSnapshot = { rowCount: 0n, byteCount: 0n, unsyncedRows: 0n };
  // The session rows reference the session inserted just before and catalog ids: their foreign keys
  // hold by construction; where the role may, skip re-checking them row by row (as bundle_rows does).
  // The ordering sort of a large scope stays in memory.
  await client.query(`SET LOCAL work_mem = '64MB'${catalog.trustedSyncWrites ? '; SET LOCAL session_replication_role = replica' : ''}`);
  try {
    await materializeTables(client, catalog, session, totals);
  } finally {
    if (catalog.trustedSyncWrites) await client.query('SET LOCAL session_replication_role = origin');
  }
  return totals;
}

async function materializeTables(
  client: SyncClient,
  catalog: SyncCatalog,
  session: { snapshotId: string; userPk: string; userId: string; tolerateUnsynced: boolean },
  totals: MaterializedSnapshot,
): Promise<void> {
  for (const table of catalog.tables) {
    const { rows } = await client.query<{ inserted: string; bytes: string; business: string }>(
      `WITH inserted AS (
         INSERT INTO sync.snapshot_session_rows (snapshot_id, row_ordinal, table_id, key_bytes, bundle_seq, payload_wire)
         SELECT $1::uuid, $2::bigint + row_number() OVER (ORDER BY v.key_bytes), $3, v.key_bytes, v.bundle_seq,
                ${wirePayloadSql(table, 'v.payload')}::text::json
           FROM (SELECT b.key_bytes, b.payload, (${LIVE_VERSION_SQL}) AS bundle_seq FROM (${scopeRowsSql(table, '$4')}) b OFFSET 0) v
          WHERE v.bundle_seq IS NOT NULL
         RETURNING octet_length(payload_wire::text) AS bytes)
       SELECT (SELECT count(*) FROM inserted) AS inserted,
              (SELECT COALESCE(sum(bytes), 0) FROM inserted) AS bytes,
              (${scopeRowCountSql(table, '$4')}) AS business`,
      [session.snapshotId, totals.rowCount.toString(), table.tableId, session.userId, session.userPk],
    );
    const inserted = BigInt(rows[0]!.inserted);
    const unsynced = BigInt(rows[0]!.business) - inserted;
    if (unsynced > 0n && !session.tolerateUnsynced) throw new UnsyncedRowsError(table, unsynced);
    totals.rowCount += inserted;
    totals.byteCount += BigInt(rows[0]!.bytes);
    totals.unsyncedRows += unsynced;
  }
}

/**
 * The pass-through payload of a jsonb row image: bytea members (`"\\x…"` under bytea_output=hex,
 * which every sync transaction pins) replaced by standard padded base64; everything else, numbers
 * included, exactly as PostgreSQL prints it.
 */
function wirePayloadSql(table: RegisteredTable, payload: string): string {
  const bytea = [...table.columnTypes].filter(([, type]) => type === 'bytea').map(([column]) => column);
  if (bytea.length === 0) return payload;
  const members = bytea.map((column) => {
    const name = `'${column.replaceAll("'", "''")}'`;
    return `${name}, translate(encode(decode(substr(${payload}->>${name}, 3), 'hex'), 'base64'), E'\\n', '')`;
  });
  return `(${payload} || jsonb_build_object(${members.join(', ')}))`;
}
