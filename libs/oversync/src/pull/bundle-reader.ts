import type { SyncClient } from '../database/sync-database.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { keyStringOf, OP_NAMES } from '../bundle/row-keys.js';
import { RawJson, type WireValue } from '../wire/wire-json.js';

export interface StoredBundleRow {
  bundle_seq: string;
  row_ordinal: string;
  table_id: number;
  key_bytes: Buffer;
  op_code: number;
  payload: string | null;
}

/** BundleRow wire shape (spec §3.6): schema, table, key, op, row_version, payload (omitted for DELETE). */
export function wireBundleRow(catalog: SyncCatalog, row: StoredBundleRow): WireValue {
  const table = catalog.get(row.table_id);
  return {
    schema: table.schema,
    table: table.table,
    key: new Map([[table.keyColumn, keyStringOf(table, row.key_bytes)]]),
    op: OP_NAMES[row.op_code]!,
    row_version: BigInt(row.bundle_seq),
    payload: row.payload === null ? undefined : new RawJson(row.payload),
  };
}

/** Reads the retained floor and next sequence of a user (null when the user never synced). */
export async function readUserState(client: SyncClient, userId: string): Promise<{ userPk: string; latest: bigint; floor: bigint } | null> {
  const { rows } = await client.query<{ user_pk: string; next_bundle_seq: string; retained_bundle_floor: string }>(
    'SELECT user_pk, next_bundle_seq, retained_bundle_floor FROM sync.user_state WHERE user_id = $1',
    [userId],
  );
  const row = rows[0];
  return row ? { userPk: row.user_pk, latest: BigInt(row.next_bundle_seq) - 1n, floor: BigInt(row.retained_bundle_floor) } : null;
}
