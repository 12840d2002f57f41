import { createHash } from 'node:crypto';
import type { SyncClient } from '../database/sync-database.js';
import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';
import type { OpName } from '../bundle/row-keys.js';

/** A staged row as commit applies it. */
export interface ApplyRow {
  ordinal: number;
  table: RegisteredTable;
  key: string;
  op: OpName;
  /** canonical object text; null for DELETE */
  payload: string | null;
  /** sorted payload column names (lower-case) */
  columns: string[];
}

/** The row a business-table statement failed on, for a 4xx that names it (spec §8.1). */
export class ApplyRowError extends Error {
  constructor(readonly rows: ApplyRow[], override readonly cause: unknown) {
    super((cause as Error).message);
  }
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;
const qualified = (table: RegisteredTable) => `${quote(table.schema)}.${quote(table.table)}`;
const keyType = (table: RegisteredTable) => (table.keyKind === KEY_KIND_UUID ? 'uuid' : 'text');

/** Short stable name for a prepared statement (per connection, reused across commits). */
function statementName(kind: string, table: RegisteredTable, columns: string[]): string {
  const digest = createHash('sha1').update(columns.join(',')).digest('hex').slice(0, 12);
  return `oversync_${kind}_${table.tableId}_${digest}`;
}

/**
 * Applies rows in upload order (spec §4.5). Consecutive INSERTs of one table and column set are
 * one `jsonb_populate_recordset` statement (its rows are inserted, and captured, in array order);
 * UPDATE and DELETE run one prepared statement per row so capture keeps upload order (§8.12).
 */
export async function applyPushRows(client: SyncClient, userId: string, rows: ApplyRow[]): Promise<void> {
  for (let i = 0; i < rows.length; ) {
    const first = rows[i]!;
    if (first.op !== 'INSERT') {
      await run(client, [first], () => (first.op === 'UPDATE' ? updateRow(client, userId, first) : deleteRow(client, userId, first)));
      i++;
      continue;
    }
    let end = i + 1;
    const signature = first.columns.join(',');
    while (end < rows.length && rows[end]!.op === 'INSERT' && rows[end]!.table === first.table && rows[end]!.columns.join(',') === signature) end++;
    const batch = rows.slice(i, end);
    await run(client, batch, () => insertRows(client, userId, batch));
    i = end;
  }
}

async function run(client: SyncClient, rows: ApplyRow[], statement: () => Promise<unknown>): Promise<void> {
  try {
    await statement();
  } catch (error) {
    throw new ApplyRowError(rows, error);
  }
}

function withScope(userId: string, payload: string): string {
  // payload is a canonical non-empty-or-empty object text; the owner column goes first
  const scope = `"_sync_scope_id":${JSON.stringify(userId)}`;
  return payload === '{}' ? `{${scope}}` : `{${scope},${payload.slice(1)}`;
}

async function insertRows(client: SyncClient, userId: string, rows: ApplyRow[]): Promise<void> {
  const first = rows[0]!;
  const columns = ['_sync_scope_id', ...first.columns].map(quote).join(', ');
  const payloads = `[${rows.map((row) => withScope(userId, row.payload!)).join(',')}]`;
  await client.query(
    `INSERT INTO ${qualified(first.table)} (${columns}) SELECT ${columns} FROM jsonb_populate_recordset(NULL::${qualified(first.table)}, $1::jsonb)`,
    [payloads],
  );
}

async function updateRow(client: SyncClient, userId: string, row: ApplyRow): Promise<void> {
  const assignments = row.columns.map((c) => `${quote(c)} = src.${quote(c)}`).join(', ');
  await client.query({
    name: statementName('upd', row.table, row.columns),
    text: `UPDATE ${qualified(row.table)} AS dst SET ${assignments}
             FROM jsonb_populate_record(NULL::${qualified(row.table)}, $1::jsonb) AS src
            WHERE dst.${quote(row.table.keyColumn)} = $2::${keyType(row.table)} AND dst._sync_scope_id = $3`,
    values: [row.payload, row.key, userId],
  });
}

async function deleteRow(client: SyncClient, userId: string, row: ApplyRow): Promise<void> {
  await client.query({
    name: statementName('del', row.table, []),
    text: `DELETE FROM ${qualified(row.table)} WHERE ${quote(row.table.keyColumn)} = $1::${keyType(row.table)} AND _sync_scope_id = $2`,
    values: [row.key, userId],
  });
}
