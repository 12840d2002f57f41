import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';

import { quoteIdentifier as quote } from '../database/sql-quote.js';

/**
 * `SELECT key_bytes, payload FROM <table> WHERE _sync_scope_id = <scopeParam>`: every business row
 * of one scope with the key bytes and payload exactly as the capture trigger computes them (spec §2.6).
 */
export function scopeRowsSql(table: RegisteredTable, scopeParam: string): string {
  const key = `src.${quote(table.keyColumn)}`;
  const keyBytes = table.keyKind === KEY_KIND_UUID ? `uuid_send(${key})` : `convert_to(${key}, 'UTF8')`;
  return `SELECT ${keyBytes} AS key_bytes, to_jsonb(src) - '_sync_scope_id' AS payload
            FROM ${quote(table.schema)}.${quote(table.table)} src WHERE src._sync_scope_id = ${scopeParam}`;
}

/** `SELECT count(*)` of one scope's business rows of `table` (an index-only scan of the owner key). */
export function scopeRowCountSql(table: RegisteredTable, scopeParam: string): string {
  return `SELECT count(*) FROM ${quote(table.schema)}.${quote(table.table)} WHERE _sync_scope_id = ${scopeParam}`;
}
