import type { SyncClient } from '../database/sync-database.js';
import { OversyncError } from '../errors/oversync.error.js';
import { KEY_KIND_UUID } from '../schema/registered-table.js';
import { RawJson } from '../wire/wire-json.js';
import { passThroughWirePayload } from '../bundle/wire-payload.js';
import type { ApplyRow } from './push-apply.js';

/**
 * Checks every staged row against sync.row_state in one statement, before any write (spec §4.3);
 * returns the structured 409 of the first conflicting row in upload order, or null.
 */
export async function findConflict(
  client: SyncClient,
  userPk: string,
  userId: string,
  rows: ApplyRow[],
  bases: bigint[],
  keyBytes: Buffer[],
): Promise<OversyncError | null> {
  const { rows: states } = await client.query<{ ord: string; bundle_seq: string | null; deleted: boolean | null }>(
    `WITH requested AS (
       SELECT ord::bigint, table_id, key_bytes FROM unnest($2::int4[], $3::bytea[]) WITH ORDINALITY AS req(table_id, key_bytes, ord))
     SELECT req.ord, rs.bundle_seq, rs.deleted
       FROM requested req
       LEFT JOIN sync.row_state rs ON rs.user_pk = $1 AND rs.table_id = req.table_id AND rs.key_bytes = req.key_bytes
      ORDER BY req.ord`,
    [userPk, rows.map((r) => r.table.tableId), keyBytes],
  );
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const base = bases[i]!;
    const state = states[i]!;
    const exists = state.bundle_seq !== null;
    const version = exists ? BigInt(state.bundle_seq!) : 0n;
    const deleted = state.deleted === true;
    const where = `${row.table.name} ${row.key}`;
    let message: string | null = null;
    if (row.op === 'INSERT') {
      if (!exists) message = base !== 0n ? `insert conflict on ${where}: expected missing row at version 0, got ${base}` : null;
      else if (base !== version) message = `insert conflict on ${where}: expected base_row_version ${version}, got ${base}`;
      else if (!deleted) message = `insert conflict on ${where}: row already exists at version ${version}`;
    } else {
      const verb = row.op === 'UPDATE' ? 'update' : 'delete';
      if (!exists || deleted) message = `${verb} conflict on ${where}: row does not exist`;
      else if (base !== version) message = `${verb} conflict on ${where}: expected version ${version}, got ${base}`;
    }
    if (message === null) continue;
    const serverRow = exists && !deleted ? await readServerRow(client, row, userId) : null;
    return new OversyncError('push_conflict', 409, message, {
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
  return null;
}

async function readServerRow(client: SyncClient, row: ApplyRow, userId: string): Promise<string | null> {
  const table = `"${row.table.schema}"."${row.table.table}"`;
  const keyType = row.table.keyKind === KEY_KIND_UUID ? 'uuid' : 'text';
  const { rows } = await client.query<{ payload: string }>(
    `SELECT (to_jsonb(src) - '_sync_scope_id')::text AS payload FROM ${table} AS src
      WHERE "${row.table.keyColumn}" = $1::${keyType} AND _sync_scope_id = $2`,
    [row.key, userId],
  );
  return rows[0] ? passThroughWirePayload(row.table, rows[0].payload) : null;
}
