import type { SyncClient } from '../database/sync-database.js';
import { quoteIdentifier, quoteLiteral } from '../database/sql-quote.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { byteaColumnsOf, KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';
import { SNAPSHOT_ROW_BLOCK_ROWS } from '../schema/sync-schema.sql.js';
import { scopeRowCountSql } from '../scope/scope-rows.sql.js';
import {
  canonicalExactJson,
  compactValidGoJson,
  compareUtf8,
  parseExactJson,
  quoteGoJsonString,
} from '@oversync/protocol';
import { goJsonStringSql } from '../pull/bundle-reader.js';

export interface MaterializedSnapshot {
  rowCount: bigint;
  byteCount: bigint;
  /** business rows left out because they have no live sync.row_state (see `UnsyncedRowsError`) */
  unsyncedRows: bigint;
}

/** Business rows without sync state were met; the caller adopts them and materialises again. */
export class UnsyncedRowsError extends Error {
  constructor(
    readonly table: RegisteredTable,
    readonly count: bigint,
  ) {
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
                           WHERE rs.user_pk = $5 AND rs.table_id = $3 AND rs.key_bytes = b.key_bytes
                             AND rs.deleted = false`;

/**
 * Freezes the user's live rows into `sync.snapshot_row_blocks` (spec §4.10 steps 6–9) entirely in
 * PostgreSQL: one `INSERT … SELECT` per registered table, ordinals by `(table_id, key_bytes)` so
 * repeated sessions order identically, row_version from `sync.row_state`, payloads canonical like
 * bundles (§8.11) with bytea members as base64 (§4.7.4). Each row is written once as its wire text
 * (SnapshotRow: schema, table, key, row_version, payload), SNAPSHOT_ROW_BLOCK_ROWS rows per block: a
 * chunk is a slice of stored text, and a session costs one small B-tree entry per block instead of
 * three per row. No row passes through this process (§8.10) except the rare ones whose canonical
 * text PostgreSQL does not build (nested values, long numbers), fixed block by block.
 * Business rows without live sync state raise `UnsyncedRowsError` unless `tolerateUnsynced`, in
 * which case they are counted and left out.
 */
export async function materializeSnapshotRows(
  client: SyncClient,
  catalog: SyncCatalog,
  session: { snapshotId: string; userPk: string; userId: string; tolerateUnsynced: boolean },
): Promise<MaterializedSnapshot> {
  const totals: MaterializedSnapshot = { rowCount: 0n, byteCount: 0n, unsyncedRows: 0n };
  // The blocks reference the session inserted just before: their foreign key holds by construction;
  // where the role may, skip re-checking it (as bundle_rows does). Sorts and aggregates stay in memory.
  // The row_state join of `directRowsSql` is a merge join in key order whatever the (often stale)
  // statistics say: a nested loop probes once per row, a hash join builds the whole scope.
  await client.query(
    `SET LOCAL work_mem = '64MB'; SET LOCAL enable_nestloop = off; SET LOCAL enable_hashjoin = off` +
      `${catalog.trustedSyncWrites ? '; SET LOCAL session_replication_role = replica' : ''}`,
  );
  try {
    await materializeTables(client, catalog, session, totals);
  } finally {
    await client.query(
      `SET LOCAL enable_nestloop = on; SET LOCAL enable_hashjoin = on` +
        `${catalog.trustedSyncWrites ? '; SET LOCAL session_replication_role = origin' : ''}`,
    );
  }
  return totals;
}

/** The SnapshotRow text of one row of `table` in PostgreSQL: `r.key_text`, `r.bundle_seq`, `r.payload_text`. */
function snapshotRowTextSql(table: RegisteredTable, r = 'r'): string {
  const prefix =
    `{"schema":${quoteGoJsonString(table.schema)},"table":${quoteGoJsonString(table.table)},` +
    `"key":{${quoteGoJsonString(table.keyColumn)}:`;
  // concat: one allocation per row (a chain of || copies the growing text once per piece)
  return `concat(${quoteLiteral(prefix)}, ${r}.key_text, '},"row_version":', ${r}.bundle_seq,
                ',"payload":', ${r}.payload_text, '}')`;
}

/** The key's JSON value as the wire carries it: a uuid as its text, a text key Go-escaped. */
function keyTextSql(table: RegisteredTable, key = `src.${quoteIdentifier(table.keyColumn)}`): string {
  return table.keyKind === KEY_KIND_UUID ? `'"' || ${key}::text || '"'` : goJsonStringSql(`${key}::text`);
}

/**
 * The table's live rows `(row_ordinal, key_text, bundle_seq, payload_text, fallback)` numbered from
 * $2 + 1 in key_bytes order, payloads built from the jsonb row image (any column types; NULL
 * canonical text → the jsonb text, fixed by `canonicaliseRemaining`).
 */
function jsonbRowsSql(table: RegisteredTable): string {
  return `SELECT $2::bigint + row_number() OVER (ORDER BY v.key_bytes) AS row_ordinal, v.key_text, v.bundle_seq,
                 COALESCE(v.canonical, v.payload::text) AS payload_text, v.canonical IS NULL AS fallback
            FROM (SELECT u.key_bytes, u.key_text, u.bundle_seq, u.payload, ${canonicalPayloadSql(table, 'u.payload')}
              AS canonical
                    FROM (SELECT b.key_bytes, b.key_text, ${wirePayloadSql(table, 'b.payload')} AS payload,
                      (${LIVE_VERSION_SQL}) AS bundle_seq
                            FROM (${scopeRowsWithKeySql(table)}) b OFFSET 0) u
                   WHERE u.bundle_seq IS NOT NULL OFFSET 0) v`;
}

/**
 * `jsonbRowsSql` for a table whose columns all have a type of the fast paths (strings, integers,
 * booleans, uuids, times, bytea), as `(row_ordinal, bundle_seq, k, c0 … cn)`: the key and the
 * columns (in `directColumns` order) as stored, from which `directTextsSql` builds the texts without
 * the jsonb row image (the same text, a fraction of the work) once the rows are in block order — so
 * the sorts carry the columns, not the texts, which are ~3× wider. row_state is merge-joined in key
 * order (the caller forbids the other join methods) instead of probed once per row.
 */
function directRowsSql(table: RegisteredTable): string {
  const key = `src.${quoteIdentifier(table.keyColumn)}`;
  const keyBytes = table.keyKind === KEY_KIND_UUID ? `uuid_send(${key})` : `convert_to(${key}, 'UTF8')`;
  const columns = directColumns(table).map(([column], i) => `src.${quoteIdentifier(column)} AS c${i}`);
  return `SELECT $2::bigint + row_number() OVER (ORDER BY b.key_bytes) AS row_ordinal, rs.bundle_seq, b.*
            FROM (SELECT ${keyBytes} AS key_bytes, ${key} AS k, ${columns.join(', ')}
                    FROM ${quoteIdentifier(table.schema)}.${quoteIdentifier(table.table)} src
                   WHERE src._sync_scope_id = $4) b
            JOIN sync.row_state rs
              ON rs.user_pk = $5 AND rs.table_id = $3 AND rs.key_bytes = b.key_bytes AND rs.deleted = false`;
}

/**
 * The rows of `directRowsSql` in block order (block, row_ordinal) with their texts
 * `(block, row_ordinal, row_text, payload_bytes, fallback)`: each text built once, after the sort
 * (the fences keep the planner from building a text once per aggregate that reads it).
 */
function directTextsSql(table: RegisteredTable): string {
  return `SELECT p.block, p.row_ordinal, ${snapshotRowTextSql(table, 'p')} AS row_text,
                 octet_length(p.payload_text) AS payload_bytes, false AS fallback
            FROM (SELECT s.block, s.row_ordinal, s.bundle_seq, ${keyTextSql(table, 's.k')} AS key_text,
                         ${columnsPayloadSql(table, (i) => `s.c${i}`)} AS payload_text
                    FROM (SELECT (r.row_ordinal - $2::bigint - 1) / ${SNAPSHOT_ROW_BLOCK_ROWS} AS block, r.*
                            FROM (${directRowsSql(table)}) r ORDER BY 1, 2) s ORDER BY 1, 2) p ORDER BY 1, 2`;
}

/**
 * True when every column of `table` has a fast-path type and exists under its lower-cased name
 * with that type (what `canonicalPayloadSql` reads from the jsonb image): then `columnsPayloadSql`
 * gives the same text for every row and none falls back.
 */
async function readsColumnsDirectly(client: SyncClient, table: RegisteredTable): Promise<boolean> {
  const columns = [...table.columnTypes].filter(([column]) => column !== '_sync_scope_id');
  if (columns.length === 0 || !columns.every(([, type]) => DIRECT_TYPES.has(type))) return false;
  const { rows } = await client.query<{ matching: number }>(
    `SELECT count(*)::int AS matching FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      JOIN unnest($2::text[], $3::text[]) AS c(name, type) ON c.name = a.attname AND c.type = t.typname
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [
      `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.table)}`,
      columns.map(([column]) => column),
      columns.map(([, type]) => type),
    ],
  );
  return rows[0]!.matching === columns.length;
}

/** The columns of a row's payload in member order (UTF-8 bytes of their names), with their types. */
function directColumns(table: RegisteredTable): Array<[string, string]> {
  return [...table.columnTypes]
    .filter(([column]) => column !== '_sync_scope_id')
    .sort((x, y) => compareUtf8(x[0], y[0]));
}

/**
 * `canonicalPayloadSql` of a row read column by column (the columns' types are in DIRECT_TYPES):
 * `value(i)` is the i-th column of `directColumns`.
 */
function columnsPayloadSql(table: RegisteredTable, value: (i: number) => string): string {
  const members = directColumns(table).map(([column, type], i) => {
    const member = quoteLiteral(`${i === 0 ? '{' : ','}${quoteGoJsonString(column)}:`);
    return `${member}, COALESCE(${directValueSql(type, value(i))}, 'null')`;
  });
  return `concat(${members.join(',\n    ')}, '}')`;
}

/**
 * A column's JSON value as the jsonb image's fast path prints it: to_json prints times as to_jsonb
 * does (ISO 8601, the session's time zone) and strings with the same escapes (then Go's); bytea as
 * standard padded base64 (§4.7.4).
 */
function directValueSql(type: string, value: string): string {
  if (type === 'uuid') return `'"' || ${value}::text || '"'`;
  if (type === 'bytea') return `'"' || translate(encode(${value}, 'base64'), E'\\n', '') || '"'`;
  if (type === 'bool') return `CASE WHEN ${value} THEN 'true' WHEN NOT ${value} THEN 'false' END`;
  if (PLAIN_LITERAL_TYPES.has(type)) return `${value}::text`;
  if (TEXT_TYPES.has(type)) return goJsonStringSql(value);
  return `to_json(${value})::text`;
}

async function materializeTables(
  client: SyncClient,
  catalog: SyncCatalog,
  session: { snapshotId: string; userPk: string; userId: string; tolerateUnsynced: boolean },
  totals: MaterializedSnapshot,
): Promise<void> {
  for (const table of catalog.tables) {
    const direct = await readsColumnsDirectly(client, table);
    // direct rows come in block order (their aggregates read them so); the others are sorted per aggregate
    const order = direct ? '' : ' ORDER BY w.row_ordinal';
    // rows numbered from $2 + 1 by key_bytes; block k of this table holds ordinals $2 + k·B + 1 … + B
    const { rows } = await client.query<{
      inserted: string;
      bytes: string;
      business: string;
      fallback_blocks: string[] | null;
    }>(
      `WITH blocks AS (
         INSERT INTO sync.snapshot_row_blocks
                (user_pk, snapshot_id, first_ordinal, row_lengths, payload_bytes, rows_text, fallback_rows)
         SELECT $5, $1::uuid, min(w.row_ordinal), array_agg(length(w.row_text)${order}), sum(w.payload_bytes),
                string_agg(w.row_text, ','${order}),
                array_agg((w.row_ordinal - $2::bigint - 1) % ${SNAPSHOT_ROW_BLOCK_ROWS} + 1${order})
                  FILTER (WHERE w.fallback)
           FROM (${
             direct
               ? directTextsSql(table)
               : `SELECT (r.row_ordinal - $2::bigint - 1) / ${SNAPSHOT_ROW_BLOCK_ROWS} AS block, r.row_ordinal,
                         ${snapshotRowTextSql(table)} AS row_text,
                         octet_length(r.payload_text) AS payload_bytes, r.fallback
                    FROM (${jsonbRowsSql(table)}) r OFFSET 0`
           }) w
          GROUP BY w.block
         RETURNING first_ordinal, cardinality(row_lengths) AS n, payload_bytes, fallback_rows IS NOT NULL AS fallback)
       SELECT (SELECT COALESCE(sum(n), 0) FROM blocks) AS inserted,
              (SELECT COALESCE(sum(payload_bytes), 0) FROM blocks) AS bytes,
              (${scopeRowCountSql(table, '$4')}) AS business,
              (SELECT array_agg(first_ordinal::text) FROM blocks WHERE fallback) AS fallback_blocks`,
      [session.snapshotId, totals.rowCount.toString(), table.tableId, session.userId, session.userPk],
    );
    const inserted = BigInt(rows[0]!.inserted);
    const unsynced = BigInt(rows[0]!.business) - inserted;
    if (unsynced > 0n && !session.tolerateUnsynced) throw new UnsyncedRowsError(table, unsynced);
    totals.rowCount += inserted;
    totals.byteCount +=
      BigInt(rows[0]!.bytes) + (await canonicaliseRemaining(client, session, rows[0]!.fallback_blocks ?? []));
    totals.unsyncedRows += unsynced;
  }
}

/** `scopeRowsSql` with the key's wire text beside its bytes. */
function scopeRowsWithKeySql(table: RegisteredTable): string {
  const key = `src.${quoteIdentifier(table.keyColumn)}`;
  const keyBytes = table.keyKind === KEY_KIND_UUID ? `uuid_send(${key})` : `convert_to(${key}, 'UTF8')`;
  return `SELECT ${keyBytes} AS key_bytes, ${keyTextSql(table)} AS key_text, to_jsonb(src) - '_sync_scope_id' AS payload
            FROM ${quoteIdentifier(table.schema)}.${quoteIdentifier(table.table)} src WHERE src._sync_scope_id = $4`;
}

/**
 * A number of PostgreSQL's jsonb text (numeric output: digits, an optional fraction, never an exponent)
 * that is already in Go's canonical form, or NULL. Plain string functions, no regex or subquery: this
 * runs once per numeric member of every snapshot row.
 */
export const canonicalNumberSql = (t: string) => {
  const trimmed = `rtrim(rtrim(${t}, '0'), '.')`;
  return `CASE WHEN strpos(${t}, '.') = 0 THEN CASE WHEN length(${t}) <= 22 AND abs(${t}::numeric) < 1e21 THEN ${t} END
    WHEN ${trimmed} IN ('0', '-0') THEN '0'
    WHEN length(ltrim(translate(${trimmed}, '-.', ''), '0')) <= 15 AND abs(${t}::numeric) >= 0.000001
      AND abs(${t}::numeric) < 1e21 THEN ${trimmed} END`;
};

/**
 * Canonical JSON (§5.2, §8.11) of a jsonb row image of `table`, built by PostgreSQL: the members are the
 * table's columns, so their sorted order (UTF-8 bytes) is fixed here once and each value is read by
 * key — no per-row sort. Strings get Go's escaping, numbers Go's printing (integers below 1e21 as
 * written; decimals of at most 15 significant digits trimmed of trailing zeros — a double holds those
 * exactly and Go prints them so). Any other value (nested, a longer or out-of-range number) or a
 * column missing under its lower-cased name makes the whole text NULL: `canonicaliseRemaining` writes
 * those rows.
 */
function canonicalPayloadSql(table: RegisteredTable, payload: string): string {
  const columns = [...table.columnTypes]
    .filter(([column]) => column !== '_sync_scope_id')
    .sort((x, y) => compareUtf8(x[0], y[0]));
  if (columns.length === 0) return 'NULL::text';
  const members = columns.map(([column, type], i) => {
    const value = `(${payload}->${quoteLiteral(column)})`;
    const text = `(${payload}->>${quoteLiteral(column)})`;
    return (
      `${quoteLiteral(`${i === 0 ? '{' : ','}${quoteGoJsonString(column)}:`)} || ` +
      `${canonicalValueSql(type, value, text)}`
    );
  });
  // the fast paths read every column by its (lower-cased) name: a payload spelled otherwise falls back
  return (
    `CASE WHEN ${payload} ?& ARRAY[${columns.map(([column]) => quoteLiteral(column)).join(', ')}] THEN ` +
    `${members.join('\n    || ')} || '}' END`
  );
}

/** Types whose jsonb text is a string Go prints as is (no character to escape): quoted directly. */
const PLAIN_STRING_TYPES = new Set(['uuid', 'date', 'time', 'timetz', 'timestamp', 'timestamptz', 'bytea']);
/** Types whose jsonb text is an integer or boolean literal, already canonical. */
const PLAIN_LITERAL_TYPES = new Set(['int2', 'int4', 'int8', 'bool']);
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'name', 'citext']);
const DIRECT_TYPES = new Set([...PLAIN_STRING_TYPES, ...PLAIN_LITERAL_TYPES, ...TEXT_TYPES]);

/** One member's canonical value by column type (`->>` is NULL for a JSON null); NULL when it needs the fallback. */
function canonicalValueSql(type: string, value: string, text: string): string {
  if (PLAIN_STRING_TYPES.has(type)) return `COALESCE('"' || ${text} || '"', 'null')`;
  if (PLAIN_LITERAL_TYPES.has(type)) return `COALESCE(${text}, 'null')`;
  if (TEXT_TYPES.has(type)) return `COALESCE(${goJsonStringSql(text)}, 'null')`;
  return `CASE jsonb_typeof(${value})
      WHEN 'string' THEN ${goJsonStringSql(text)} WHEN 'number' THEN ${canonicalNumberSql(text)}
      WHEN 'boolean' THEN ${text} WHEN 'null' THEN 'null' END`;
}

/** Blocks whose fallback rows are fixed per round trip (each block is at most ~1,000 rows of text). */
const FALLBACK_BLOCKS_PER_READ = 16;

/**
 * Rows whose payload PostgreSQL left uncanonical (its jsonb text, listed in the block's
 * fallback_rows) are canonicalised here, once, block by block (bounded memory however many there
 * are), and their blocks written back. Returns the change of byte_count.
 */
async function canonicaliseRemaining(
  client: SyncClient,
  session: { snapshotId: string; userPk: string },
  firstOrdinals: string[],
): Promise<bigint> {
  let delta = 0;
  for (let i = 0; i < firstOrdinals.length; i += FALLBACK_BLOCKS_PER_READ) {
    const { rows: blocks } = await client.query<{
      first_ordinal: string;
      row_lengths: number[];
      rows_text: string;
      fallback_rows: number[];
    }>(
      `SELECT first_ordinal, row_lengths, rows_text, fallback_rows FROM sync.snapshot_row_blocks
        WHERE user_pk = $1 AND snapshot_id = $2::uuid AND first_ordinal = ANY($3::bigint[])`,
      [session.userPk, session.snapshotId, firstOrdinals.slice(i, i + FALLBACK_BLOCKS_PER_READ)],
    );
    const fixed: Array<{ first: string; lengths: number[]; text: string; bytes: number }> = [];
    for (const block of blocks) {
      const rowTexts = splitRows(block.rows_text, block.row_lengths);
      let bytes = 0;
      for (const index of block.fallback_rows) {
        const row = rowTexts[index - 1]!;
        // the payload is the row's last member (schema, table, key, row_version come first and their
        // strings hold no raw quote), so its start is the first `,"payload":` of the row text
        const at = row.indexOf(PAYLOAD_MEMBER) + PAYLOAD_MEMBER.length;
        const raw = row.slice(at, -1);
        const canonical = compactValidGoJson(canonicalExactJson(parseExactJson(raw)));
        rowTexts[index - 1] = `${row.slice(0, at)}${canonical}}`;
        bytes += Buffer.byteLength(canonical, 'utf8') - Buffer.byteLength(raw, 'utf8');
      }
      delta += bytes;
      fixed.push({
        first: block.first_ordinal,
        lengths: rowTexts.map(codePointLength),
        text: rowTexts.join(','),
        bytes,
      });
    }
    await client.query(
      `UPDATE sync.snapshot_row_blocks b
          SET rows_text = u.rows_text, row_lengths = ARRAY(SELECT json_array_elements_text(u.row_lengths)::int),
              payload_bytes = b.payload_bytes + u.bytes, fallback_rows = NULL
         FROM unnest($3::bigint[], $4::json[], $5::text[], $6::bigint[]) AS u(first_ordinal, row_lengths, rows_text,
           bytes)
        WHERE b.user_pk = $1 AND b.snapshot_id = $2::uuid AND b.first_ordinal = u.first_ordinal`,
      [
        session.userPk,
        session.snapshotId,
        fixed.map((f) => f.first),
        fixed.map((f) => JSON.stringify(f.lengths)),
        fixed.map((f) => f.text),
        fixed.map((f) => f.bytes),
      ],
    );
  }
  return BigInt(delta);
}

const PAYLOAD_MEMBER = ',"payload":';

/** The rows of a block's text, cut by their lengths in characters (code points, as PostgreSQL counts them). */
function splitRows(text: string, lengths: number[]): string[] {
  const rows: string[] = [];
  let at = 0;
  for (const length of lengths) {
    let end = at;
    for (let n = 0; n < length; n++) {
      const code = text.charCodeAt(end);
      end += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
    }
    rows.push(text.slice(at, end));
    at = end + 1;
  }
  return rows;
}

function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0xd800 || code > 0xdbff) n++;
  }
  return n;
}

/**
 * The pass-through payload of a jsonb row image: bytea members (`"\\x…"` under bytea_output=hex,
 * which every sync transaction pins) replaced by standard padded base64; everything else, numbers
 * included, exactly as PostgreSQL prints it.
 */
function wirePayloadSql(table: RegisteredTable, payload: string): string {
  const bytea = [...byteaColumnsOf(table)];
  if (bytea.length === 0) return payload;
  const members = bytea.map((column) => {
    const name = quoteLiteral(column);
    return `${name}, translate(encode(decode(substr(${payload}->>${name}, 3), 'hex'), 'base64'), E'\\n', '')`;
  });
  return `(${payload} || jsonb_build_object(${members.join(', ')}))`;
}
