import { KIND_UUID, opCodeCaseSql } from '../database/sql-codes.js';
import type { SyncClient } from '../database/sync-database.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { quoteGoJsonString } from '@oversync/protocol';
import { arrayParameter, quoteLiteral } from '../database/sql-quote.js';

/** A text SQL expression as a Go JSON string literal: PostgreSQL's escaping plus Go's HTML escapes. */
export function goJsonStringSql(expression: string): string {
  return (
    `replace(replace(replace(replace(replace(to_json(${expression})::text, '<', '\\u003c'), '>', '\\u003e'), ` +
    `'&', '\\u0026'), U&'\\2028', '\\u2028'), U&'\\2029', '\\u2029')`
  );
}

/**
 * The BundleRow JSON text of `sync.bundle_rows` row `br`, built by PostgreSQL so that pulls move
 * stored canonical payloads without parsing them in Node. `tc` is `rowPrefixes()` unnested:
 * (table_id, prefix up to the key value, key kind).
 */
export const BUNDLE_ROW_JSON_SQL =
  bundleRowJsonSql(`CASE WHEN tc.key_kind = ${KIND_UUID} THEN '"' || encode(br.key_bytes, 'hex')::uuid::text || '"'
          ELSE ${goJsonStringSql("convert_from(br.key_bytes, 'UTF8')")} END`);

/** `BUNDLE_ROW_JSON_SQL` with the key value's JSON text given (`keyJson`), e.g. computed once for several uses. */
export function bundleRowJsonSql(keyJson: string): string {
  return `tc.prefix
  || ${keyJson}
  || '},"op":"' || ${opCodeCaseSql('br.op_code')}
  || '","row_version":' || br.bundle_seq
  || COALESCE(',"payload":' || br.payload_wire::text, '') || '}'`;
}

/** `FROM` item giving `tc(table_id, prefix, key_kind)` from the parameters `$n, $n+1, $n+2` of `rowPrefixParams`. */
export function rowPrefixesSql(firstParam: number): string {
  return (
    `unnest($${firstParam}::int4[], $${firstParam + 1}::text[], $${firstParam + 2}::int2[]) AS tc(table_id, ` +
    `prefix, key_kind)`
  );
}

/** Per registered table, the constant start of its BundleRow text: schema, table and key member name. */
export function rowPrefixParams(catalog: SyncCatalog): [number[], string[], number[]] {
  const tables = catalog.tables;
  return [
    tables.map((t) => t.tableId),
    tables.map(
      (t) =>
        `{"schema":${quoteGoJsonString(t.schema)},"table":${quoteGoJsonString(t.table)},"key":{` +
        `${quoteGoJsonString(t.keyColumn)}:`,
    ),
    tables.map((t) => t.keyKind),
  ];
}

const prefixArguments = new WeakMap<SyncCatalog, readonly [string, string, string]>();

/**
 * `rowPrefixParams` as the array texts pg would send for them, built once per catalog: a pull quoted
 * and escaped every table's prefix on each call.
 */
export function rowPrefixArguments(catalog: SyncCatalog): readonly [string, string, string] {
  let found = prefixArguments.get(catalog);
  if (!found) {
    const [ids, prefixes, kinds] = rowPrefixParams(catalog);
    found = [arrayParameter(ids), arrayParameter(prefixes), arrayParameter(kinds)];
    prefixArguments.set(catalog, found);
  }
  return found;
}

/**
 * `SELECT <first>, <BundleRow text> FROM sync.bundle_rows br JOIN <prefixes> tc` (first: br.bundle_seq) with the
 * prefixes inlined as literals, for a COPY (which takes no parameters); the caller adds WHERE/ORDER.
 */
export function streamedRowsSql(catalog: SyncCatalog, first = 'br.bundle_seq'): string {
  const [ids, prefixes, kinds] = rowPrefixParams(catalog);
  const values =
    ids.length === 0
      ? 'SELECT NULL::int4, NULL::text, NULL::int2 WHERE false'
      : `VALUES ` +
        `${ids.map((id, i) => `(${Number(id)}, ${quoteLiteral(prefixes[i]!)}, ${Number(kinds[i])}::int2)`).join(', ')}`;
  return `SELECT ${first}, ${BUNDLE_ROW_JSON_SQL}
     FROM sync.bundle_rows br JOIN (${values}) AS tc(table_id, prefix, key_kind) ON tc.table_id = br.table_id`;
}

/** Reads the retained floor and next sequence of a user (null when the user never synced). */
export async function readUserState(
  client: SyncClient,
  userId: string,
): Promise<{ userPk: string; latest: bigint; floor: bigint } | null> {
  const { rows } = await client.query<{ user_pk: string; next_bundle_seq: string; retained_bundle_floor: string }>(
    'SELECT user_pk, next_bundle_seq, retained_bundle_floor FROM sync.user_state WHERE user_id = $1',
    [userId],
  );
  const row = rows[0];
  return row
    ? { userPk: row.user_pk, latest: BigInt(row.next_bundle_seq) - 1n, floor: BigInt(row.retained_bundle_floor) }
    : null;
}
