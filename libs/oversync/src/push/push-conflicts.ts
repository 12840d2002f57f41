import { prepared, type SyncClient } from '../database/sync-database.js';
import { OP_INSERT } from '../database/sql-codes.js';
import { OversyncError } from '../errors/oversync.error.js';
import { byteaColumnsOf, KEY_KIND_UUID } from '../schema/registered-table.js';
import { canonicalWirePayload, RawJson, ROW_OP_NAMES } from '@oversync/protocol';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { keyStringOf } from '../bundle/row-keys.js';
import type { ApplyRow } from './push-apply.js';
import { quoteIdentifier } from '../database/sql-quote.js';

const FIND_CONFLICT = prepared(
  `SELECT q.row_ordinal, q.table_id, q.op_code, encode(q.key_bytes, 'hex') AS key_hex, q.base, (q.rs).bundle_seq,
    (q.rs).deleted
     FROM (SELECT psr.row_ordinal, psr.table_id, psr.op_code, psr.key_bytes, psr.base_bundle_seq AS base,
                  (SELECT rs FROM sync.row_state rs
                    WHERE rs.user_pk = $2 AND rs.table_id = psr.table_id AND rs.key_bytes = psr.key_bytes) AS rs
             FROM sync.push_session_rows psr WHERE psr.push_id = $1::uuid OFFSET 0) q
    WHERE CASE WHEN q.op_code = ${OP_INSERT}
               THEN ((q.rs).bundle_seq IS NULL AND q.base <> 0)
                 OR ((q.rs).bundle_seq IS NOT NULL AND (q.base <> (q.rs).bundle_seq OR NOT (q.rs).deleted))
               ELSE (q.rs).bundle_seq IS NULL OR (q.rs).deleted OR q.base <> (q.rs).bundle_seq END
    ORDER BY q.row_ordinal LIMIT 1`,
);

/**
 * Checks every staged row against sync.row_state before any write (spec §4.3), in one statement
 * that returns only the first conflicting row in upload order; null when there is none.
 */
export async function findConflict(
  client: SyncClient,
  catalog: SyncCatalog,
  pushId: string,
  userPk: string,
  userId: string,
): Promise<OversyncError | null> {
  // The row state is a scalar subquery per staged row (an index probe each), never a planned join:
  // with statistics taken while the tables were small the planner chose loops over whole tables.
  // OFFSET 0 keeps it one probe per row (inlined, each (q.rs) reference probed again: twice per row).
  const { rows: found } = await client.query<{
    row_ordinal: string;
    table_id: number;
    op_code: number;
    key_hex: string;
    base: string;
    bundle_seq: string | null;
    deleted: boolean | null;
  }>(FIND_CONFLICT([pushId, userPk]));
  const hit = found[0];
  if (!hit) return null;
  const table = catalog.get(hit.table_id);
  const row = {
    table,
    key: keyStringOf(table, Buffer.from(hit.key_hex, 'hex')),
    op: ROW_OP_NAMES[hit.op_code]!,
  };
  const exists = hit.bundle_seq !== null;
  const serverRow = exists && hit.deleted !== true ? await readServerRow(client, row, userId) : null;
  return pushConflict(row, { base: hit.base, bundleSeq: hit.bundle_seq, deleted: hit.deleted }, serverRow);
}

/** What the conflict check found for a staged row: its base version and the row_state (null: none). */
export interface ConflictFacts {
  base: string;
  bundleSeq: string | null;
  deleted: boolean | null;
}

/** The 409 push_conflict answer for `row` (spec §4.3, §6); `serverRow` is the canonical live row or null. */
export function pushConflict(
  row: Pick<ApplyRow, 'table' | 'key' | 'op'>,
  facts: ConflictFacts,
  serverRow: string | null,
): OversyncError {
  const base = BigInt(facts.base);
  const exists = facts.bundleSeq !== null;
  const version = exists ? BigInt(facts.bundleSeq!) : 0n;
  const deleted = facts.deleted === true;
  const where = `${row.table.name} ${row.key}`;
  let message: string;
  if (row.op === 'INSERT') {
    if (!exists) message = `insert conflict on ${where}: expected missing row at version 0, got ${base}`;
    else if (base !== version)
      message = `insert conflict on ${where}: expected base_row_version ${version}, got ${base}`;
    else message = `insert conflict on ${where}: row already exists at version ${version}`;
  } else {
    const verb = row.op === 'UPDATE' ? 'update' : 'delete';
    message =
      !exists || deleted
        ? `${verb} conflict on ${where}: row does not exist`
        : `${verb} conflict on ${where}: expected version ${version}, got ${base}`;
  }
  return new OversyncError('push_conflict', message, {
    conflict: {
      schema: row.table.schema,
      table: row.table.table,
      key: new Map([[row.table.keyColumn, row.key]]),
      op: row.op,
      base_row_version: base,
      server_row_version: version,
      server_row_deleted: deleted,
      server_row: serverRow === null ? null : new RawJson(serverRow),
    },
  });
}

async function readServerRow(
  client: SyncClient,
  row: Pick<ApplyRow, 'table' | 'key'>,
  userId: string,
): Promise<string | null> {
  const table = `${quoteIdentifier(row.table.schema)}.${quoteIdentifier(row.table.table)}`;
  const keyType = row.table.keyKind === KEY_KIND_UUID ? 'uuid' : 'text';
  const { rows } = await client.query<{ payload: string }>(
    `SELECT (to_jsonb(src) - '_sync_scope_id')::text AS payload FROM ${table} AS src
      WHERE ${quoteIdentifier(row.table.keyColumn)} = $1::${keyType} AND _sync_scope_id = $2`,
    [row.key, userId],
  );
  return rows[0] ? canonicalWirePayload(rows[0].payload, byteaColumnsOf(row.table)) : null;
}
