import { createHash } from 'node:crypto';
import type { SyncClient } from '../database/sync-database.js';
import { quoteIdentifier as quote } from '../database/sql-quote.js';
import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';
import type { RowOp } from '@oversync/protocol';

/** A staged row as commit applies it; its payload stays in sync.push_session_rows. */
export interface ApplyRow {
  ordinal: number;
  table: RegisteredTable;
  key: string;
  op: RowOp;
  /** sorted payload column names (lower-case); empty for DELETE */
  columns: string[];
}

/** The rows a business-table statement failed on, for a 4xx that names them (spec §8.1). */
export class ApplyRowError extends Error {
  constructor(
    readonly rows: ApplyRow[],
    override readonly cause: unknown,
  ) {
    super((cause as Error).message);
  }
}

const qualified = (table: RegisteredTable) => `${quote(table.schema)}.${quote(table.table)}`;
const keyType = (table: RegisteredTable) => (table.keyKind === KEY_KIND_UUID ? 'uuid' : 'text');

/** Short stable name for a prepared statement (per connection, reused across commits). */
function statementName(kind: string, table: RegisteredTable, columns: string[]): string {
  const digest = createHash('sha1').update(columns.join(',')).digest('hex').slice(0, 12);
  return `oversync_${kind}_${table.tableId}_${digest}`;
}

/**
 * Applies the staged rows of `pushId` in upload order (spec §4.5), reading payloads where they
 * are stored. Consecutive INSERTs of one table and column set are one INSERT … SELECT (rows are
 * inserted, and captured, in ordinal order); UPDATE and DELETE run one prepared statement per row
 * so capture keeps upload order (§8.12).
 */
export async function applyPushRows(
  client: SyncClient,
  pushId: string,
  userId: string,
  rows: ApplyRow[],
): Promise<void> {
  for (let i = 0; i < rows.length;) {
    const first = rows[i]!;
    if (first.op !== 'INSERT') {
      await run([first], () =>
        first.op === 'UPDATE' ? updateRow(client, pushId, userId, first) : deleteRow(client, userId, first),
      );
      i++;
      continue;
    }
    let end = i + 1;
    const signature = first.columns.join(',');
    while (
      end < rows.length &&
      rows[end]!.op === 'INSERT' &&
      rows[end]!.table === first.table &&
      rows[end]!.columns.join(',') === signature
    )
      end++;
    const batch = rows.slice(i, end);
    await run(batch, () => insertRows(client, pushId, userId, batch));
    i = end;
  }
}

async function run(rows: ApplyRow[], statement: () => Promise<unknown>): Promise<void> {
  try {
    await statement();
  } catch (error) {
    throw new ApplyRowError(rows, error);
  }
}

async function insertRows(client: SyncClient, pushId: string, userId: string, rows: ApplyRow[]): Promise<void> {
  const first = rows[0]!;
  const columns = ['_sync_scope_id', ...first.columns].map(quote).join(', ');
  const source = first.columns.map((c) => `r.${quote(c)}`).join(', ');
  await client.query(
    `INSERT INTO ${qualified(first.table)} (${columns})
     SELECT $3::text${source ? `, ${source}` : ''}
       FROM sync.push_session_rows psr, jsonb_populate_record(NULL::${qualified(first.table)}, psr.payload_apply::jsonb) r
      WHERE psr.push_id = $1::uuid AND psr.row_ordinal BETWEEN $2 AND $4
      ORDER BY psr.row_ordinal`,
    [pushId, first.ordinal, userId, rows[rows.length - 1]!.ordinal],
  );
}

async function updateRow(client: SyncClient, pushId: string, userId: string, row: ApplyRow): Promise<void> {
  const assignments = row.columns.map((c) => `${quote(c)} = src.${quote(c)}`).join(', ');
  await client.query({
    name: statementName('upd', row.table, row.columns),
    text: `UPDATE ${qualified(row.table)} AS dst SET ${assignments}
             FROM sync.push_session_rows psr, jsonb_populate_record(NULL::${qualified(row.table)}, psr.payload_apply::jsonb) AS src
            WHERE psr.push_id = $1::uuid AND psr.row_ordinal = $2
              AND dst.${quote(row.table.keyColumn)} = $3::${keyType(row.table)} AND dst._sync_scope_id = $4`,
    values: [pushId, row.ordinal, row.key, userId],
  });
}

async function deleteRow(client: SyncClient, userId: string, row: ApplyRow): Promise<void> {
  await client.query({
    name: statementName('del', row.table, []),
    text: `DELETE FROM ${qualified(row.table)} WHERE ${quote(row.table.keyColumn)} = $1::${keyType(row.table)} AND _sync_scope_id = $2`,
    values: [row.key, userId],
  });
}
