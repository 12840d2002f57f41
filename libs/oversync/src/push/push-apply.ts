import { createHash } from 'node:crypto';
import { prepared, type SyncClient } from '../database/sync-database.js';
import { OP_INSERT } from '../database/sql-codes.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { keyStringOf } from '../bundle/row-keys.js';
import { quoteIdentifier as quote } from '../database/sql-quote.js';
import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';
import { ROW_OP_NAMES, type RowOp } from '@oversync/protocol';
import {
  keyJsonSql,
  POPULATED_KEY,
  POPULATED_KEY_JSON,
  POPULATED_ORDINAL,
  POPULATED_PAYLOAD,
  typedPayloadSql,
  WRITER_CAPTURE_TABLE,
  type InsertedSource,
} from '../bundle/bundle-finalize.sql.js';
import { REGISTERED_TABLE_TRIGGERS } from '../schema/capture-triggers.js';

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
 * The staged rows of a push as apply statements (spec §4.5), in upload order: consecutive INSERTs of
 * one table and column set are one run (one INSERT … SELECT); every UPDATE and DELETE is a run of its
 * own. Found in PostgreSQL (payloads stay in sync.push_session_rows; only run boundaries travel).
 */
export interface ApplyRun {
  /** the run's first row (its key and columns) */
  first: ApplyRow;
  /** row_ordinal of the run's last row */
  last: number;
}

// One pass in row_ordinal order (the column list computed once per row, then compared with the
// previous row's); a run starts at every row that does not continue an INSERT run.
const LOAD_RUNS = prepared(
  `SELECT min(r.row_ordinal) AS first, max(r.row_ordinal) AS last, min(r.table_id) AS table_id, min(r.op_code)
    AS op_code,
          min(r.columns) AS columns, string_agg(CASE WHEN r.starts THEN encode(r.key_bytes, 'hex') END, '') AS key_hex
     FROM (SELECT x.*, count(*) FILTER (WHERE x.starts) OVER (ORDER BY x.row_ordinal) AS run
             FROM (SELECT s.*, NOT COALESCE(s.op_code = ${OP_INSERT} AND lag(s.op_code) OVER w = ${OP_INSERT}
               AND lag(s.table_id) OVER w = s.table_id
                                            AND lag(s.columns) OVER w = s.columns, false) AS starts
                     FROM (SELECT psr.row_ordinal, psr.table_id, psr.op_code, psr.key_bytes, c.columns
                             FROM sync.push_session_rows psr
                             CROSS JOIN LATERAL (SELECT COALESCE(string_agg(k, ','), '') AS columns
                                                   FROM json_object_keys(psr.payload_apply) AS k) c
                            WHERE psr.push_id = $1::uuid ORDER BY psr.row_ordinal OFFSET 0) s
                   WINDOW w AS (ORDER BY s.row_ordinal)) x) r
    GROUP BY r.run
    ORDER BY r.run`,
);

/**
 * The apply runs of `pushId` in upload order. Canonical payloads list their members sorted, so the
 * column lists need no sorting.
 */
export async function loadApplyRuns(client: SyncClient, catalog: SyncCatalog, pushId: string): Promise<ApplyRun[]> {
  const { rows } = await client.query<{
    first: string;
    last: string;
    table_id: number;
    op_code: number;
    columns: string;
    key_hex: string;
  }>(LOAD_RUNS([pushId]));
  return rows.map((row) => {
    const table = catalog.get(row.table_id);
    return {
      first: {
        ordinal: Number(row.first),
        table,
        key: keyStringOf(table, Buffer.from(row.key_hex, 'hex')),
        op: ROW_OP_NAMES[row.op_code]!,
        columns: row.columns ? row.columns.split(',') : [],
      },
      last: Number(row.last),
    };
  });
}

/** Applies the runs of `pushId` in order (capture keeps upload order, §8.12). */
export async function applyPushRows(
  client: SyncClient,
  pushId: string,
  userId: string,
  runs: ApplyRun[],
): Promise<void> {
  for (const { first, last } of runs) {
    const rows = last === first.ordinal ? [first] : [first, { ...first, ordinal: last }];
    await run(rows, () =>
      first.op === 'INSERT'
        ? insertRows(client, pushId, userId, first, last)
        : first.op === 'UPDATE'
          ? updateRow(client, pushId, userId, first)
          : deleteRow(client, userId, first),
    );
  }
}

async function run<T>(rows: ApplyRow[], statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (error) {
    throw new ApplyRowError(rows, error);
  }
}

async function insertRows(
  client: SyncClient,
  pushId: string,
  userId: string,
  first: ApplyRow,
  last: number,
): Promise<void> {
  await client.query(insertRowsSql(first), [pushId, first.ordinal, userId, last]);
}

/**
 * The INSERT of a run's rows (parameters from `$n`: push_id, first ordinal, user id, last ordinal), RETURNING
 * `returning`.
 */
function insertRowsSql(first: ApplyRow, returning?: string, n = 1): string {
  return `INSERT INTO ${qualified(first.table)} AS dst (${insertColumns(first)})
     SELECT $${n + 2}::text${first.columns.map((c) => `, r.${quote(c)}`).join('')}
       ${populatedRowsSql(first, n)}
      ORDER BY psr.row_ordinal${returning ? `\n     RETURNING ${returning}` : ''}`;
}

const insertColumns = (first: ApplyRow) => ['_sync_scope_id', ...first.columns].map(quote).join(', ');

/** The FROM and WHERE of a run's staged rows `psr` and their typed values `r` (parameters as `insertRowsSql`'s). */
function populatedRowsSql(first: ApplyRow, n: number): string {
  return `FROM sync.push_session_rows psr, jsonb_populate_record(NULL::${qualified(first.table)},
         psr.payload_apply::jsonb) r
      WHERE psr.push_id = $${n}::uuid AND psr.row_ordinal BETWEEN $${n + 1} AND $${n + 3}`;
}

async function updateRow(client: SyncClient, pushId: string, userId: string, row: ApplyRow): Promise<void> {
  const assignments = row.columns.map((c) => `${quote(c)} = src.${quote(c)}`).join(', ');
  await client.query({
    name: statementName('upd', row.table, row.columns),
    text: `UPDATE ${qualified(row.table)} AS dst SET ${assignments}
             FROM sync.push_session_rows psr, jsonb_populate_record(NULL::${qualified(row.table)},
               psr.payload_apply::jsonb) AS src
            WHERE psr.push_id = $1::uuid AND psr.row_ordinal = $2
              AND dst.${quote(row.table.keyColumn)} = $3::${keyType(row.table)} AND dst._sync_scope_id = $4`,
    values: [pushId, row.ordinal, row.key, userId],
  });
}

async function deleteRow(client: SyncClient, userId: string, row: ApplyRow): Promise<void> {
  await client.query({
    name: statementName('del', row.table, []),
    text: `DELETE FROM ${qualified(row.table)} WHERE ${quote(row.table.keyColumn)} = $1::${keyType(row.table)}
      AND _sync_scope_id = $2`,
    values: [row.key, userId],
  });
}

/**
 * How a bulk commit's runs can capture their own effects, if they can: INSERTs only, into plain tables with no
 * trigger or rule but ours, so nothing but these statements writes a registered row; and each table's columns
 * are still the catalog's (names and types), so its canonical payloads can be built from the typed RETURNING
 * columns (`typedPayloadSql`). 'one-statement' (`applyInsertRunFinalized`): a single run into a table where
 * nothing but our triggers fires on INSERT (no foreign key of its own, no deferrable unique key), which may
 * then run under the replica role with the bundle build; 'temporary-table' (`applyInsertRunsCaptured`): by a
 * role that may create temporary tables.
 */
export async function writerCapture(
  client: SyncClient,
  runs: ApplyRun[],
): Promise<'one-statement' | 'temporary-table' | null> {
  if (!runs.every((r) => r.first.op === 'INSERT')) return null;
  const tables = [...new Map(runs.map((r) => [r.first.table.tableId, r.first.table])).values()];
  const { rows } = await client.query<{ others: boolean; insert_checks: boolean; no_temporary: boolean }>(
    `SELECT EXISTS (SELECT FROM pg_class c WHERE c.oid = ANY($1::regclass[]) AND (c.relkind <> 'r' OR c.relhasrules))
         OR EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = ANY($1::regclass[]) AND NOT t.tgisinternal
                     AND t.tgname <> ALL($2::text[]))
         OR EXISTS (SELECT FROM unnest($1::regclass[], $3::text[]) AS w(rel, columns)
                     WHERE w.columns IS DISTINCT FROM
                       (SELECT string_agg(a.attname || ' ' || COALESCE(bt.typname, t.typname), ',' ORDER BY a.attname)
                          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                          LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
                         WHERE a.attrelid = w.rel AND a.attnum > 0 AND NOT a.attisdropped)) AS others,
            -- internal ones too: a foreign key's or a deferrable unique key's checks are triggers (TRIGGER_TYPE_INSERT)
            EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = ANY($1::regclass[]) AND t.tgtype & 4 <> 0
                     AND (t.tgisinternal OR t.tgname <> ALL($2::text[]))) AS insert_checks,
            NOT has_database_privilege(current_database(), 'TEMPORARY') AS no_temporary`,
    [tables.map(qualified), REGISTERED_TABLE_TRIGGERS, tables.map(catalogColumns)],
  );
  const row = rows[0];
  if (!row || row.others) return null;
  if (runs.length === 1 && !row.insert_checks) return 'one-statement';
  return row.no_temporary ? null : 'temporary-table';
}

/** The catalog's `name type` list of a table's columns, as `writerCapture` reads them from pg_attribute. */
function catalogColumns(table: RegisteredTable): string {
  return [...table.columnTypes]
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([column, type]) => `${column} ${type}`)
    .join(',');
}

/**
 * The INSERT runs of `pushId` in order, each writing its RETURNING rows (key and canonical payload of the row
 * images the capture trigger would stage) to `WRITER_CAPTURE_TABLE` with capture ordinals 1..n in upload
 * order, under `oversync.bundle_writer_capture` (the statement trigger stages nothing). The caller finalizes
 * from there.
 */
export async function applyInsertRunsCaptured(
  client: SyncClient,
  pushId: string,
  userId: string,
  runs: ApplyRun[],
): Promise<void> {
  await client.query(
    `CREATE TEMPORARY TABLE IF NOT EXISTS ${WRITER_CAPTURE_TABLE}
       (capture_ordinal BIGINT, table_id INTEGER, key_bytes BYTEA, payload TEXT) ON COMMIT DROP;
     SET LOCAL oversync.bundle_writer_capture = on`,
  );
  for (const { first, last } of runs) {
    const rows = last === first.ordinal ? [first] : [first, { ...first, ordinal: last }];
    const returning = `${keyBytesSql(first.table, 'dst')} AS k, ${typedPayloadSql(first.table, 'dst')} AS p`;
    await run(rows, () =>
      client.query(
        `WITH inserted AS (${insertRowsSql(first, returning)})
         INSERT INTO ${WRITER_CAPTURE_TABLE} (capture_ordinal, table_id, key_bytes, payload)
         SELECT $2 + row_number() OVER (), ${Number(first.table.tableId)}, inserted.k, inserted.p
           FROM inserted`,
        [pushId, first.ordinal, userId, last],
      ),
    );
  }
  await client.query(`SET LOCAL oversync.bundle_writer_capture = off`);
}

/**
 * The one INSERT run of `pushId` as the `InsertedSource` of the statement `finalize` runs (its parameters
 * from $10 on): key and canonical payload of each inserted row in upload order, as `applyInsertRunsCaptured`
 * writes them. A business-table error names the run's rows.
 *
 * `order` 'key' (where `insertsEveryColumn`): the rows go into the table in key order, so its key's B-tree takes
 * them as a sorted run instead of 100,000 random descents, and key and payload are read from the typed values
 * the INSERT stores (nothing but the INSERT writes them: no default, no trigger, as `writerCapture` checks), in
 * upload order. A row the table refuses is then the first refused in key order: the caller redoes the run in
 * upload order ('upload', the INSERT … RETURNING) to name the row the upload order meets first.
 */
export function applyInsertRunFinalized<T>(
  pushId: string,
  userId: string,
  { first, last }: ApplyRun,
  finalize: (source: InsertedSource, parameters: unknown[]) => Promise<T>,
  order: 'key' | 'upload' = 'key',
): Promise<T> {
  const rows = last === first.ordinal ? [first] : [first, { ...first, ordinal: last }];
  const source = order === 'key' && insertsEveryColumn(first) ? keyOrderedSource(first) : uploadOrderedSource(first);
  return run(rows, () => finalize(source, [pushId, first.ordinal, userId, last]));
}

function uploadOrderedSource(first: ApplyRow): InsertedSource {
  const returning = `${keyBytesSql(first.table, 'dst')} AS k, ${typedPayloadSql(first.table, 'dst')} AS p`;
  return { insertSql: insertRowsSql(first, returning, 10), tableId: first.table.tableId };
}

function keyOrderedSource(first: ApplyRow): InsertedSource {
  const { table } = first;
  const columns = first.columns.map((c) => `r.${quote(c)}`).join(', ');
  // a uuid key column's order is its key_bytes' order: row_state takes the INSERT's RETURNING stream unsorted
  const keysInIndexOrder = table.keyKind === KEY_KIND_UUID && table.columnTypes.get(table.keyColumn) === 'uuid';
  return {
    populatedSql: `SELECT psr.row_ordinal - $11 + 1 AS ${POPULATED_ORDINAL},
         ${keyBytesSql(table, 'r')} AS ${POPULATED_KEY},
         ${keyJsonOf(table, 'r', keysInIndexOrder)} AS ${POPULATED_KEY_JSON},
         ${typedPayloadSql(table, 'r')} AS ${POPULATED_PAYLOAD}, ${columns}
       ${populatedRowsSql(first, 10)}
      ORDER BY psr.row_ordinal`,
    insertSql: `INSERT INTO ${qualified(table)} AS dst (${insertColumns(first)})
     SELECT $12::text${first.columns.map((c) => `, p.${quote(c)}`).join('')} FROM populated p
      ORDER BY p.${quote(table.keyColumn)}${keysInIndexOrder ? ` RETURNING ${keyBytesSql(table, 'dst')} AS k` : ''}`,
    keysInIndexOrder,
    tableId: table.tableId,
  };
}

/**
 * `keyJsonSql` of the key bytes of a row `alias` of `table` (the typed values an INSERT stores); of a uuid key
 * column the quoted text of the value itself (uuid_out of it is the text of its bytes as uuid).
 */
function keyJsonOf(table: RegisteredTable, alias: string, uuidColumn: boolean): string {
  return uuidColumn
    ? `'"' || ${alias}.${quote(table.keyColumn)}::text || '"'`
    : keyJsonSql(table, keyBytesSql(table, alias));
}

/**
 * Whether a run's rows name exactly the payload columns of the table: none takes its default (whose value the
 * statement could not know before the INSERT), and a member that names no column fails as the INSERT words it.
 */
function insertsEveryColumn(first: ApplyRow): boolean {
  const columns = [...first.table.columnTypes.keys()].filter((column) => column !== '_sync_scope_id');
  const named = new Set(first.columns);
  return named.size === columns.length && columns.every((column) => named.has(column));
}

/**
 * key_bytes of a row `alias` of `table` (an inserted row or the typed values it stores), as the capture trigger
 * derives them from its jsonb image: uuid_send of a uuid key, the UTF-8 bytes of the key's JSON string text
 * otherwise.
 */
function keyBytesSql(table: RegisteredTable, alias: string): string {
  const key = `${alias}.${quote(table.keyColumn)}`;
  if (table.keyKind === KEY_KIND_UUID)
    return table.columnTypes.get(table.keyColumn) === 'uuid' ? `uuid_send(${key})` : `uuid_send((${key})::text::uuid)`;
  return `convert_to(to_jsonb(${key}) #>> '{}', 'UTF8')`;
}
