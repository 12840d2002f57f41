import { compareUtf8, quoteGoJsonString } from '@oversync/protocol';
import { quoteIdentifier, quoteLiteral } from '../database/sql-quote.js';
import { netOpCodeSql, OP_DELETE, OP_INSERT, opCodeCaseSql } from '../database/sql-codes.js';
import { KEY_KIND_UUID, type RegisteredTable } from '../schema/registered-table.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { bundleRowJsonSql, goJsonStringSql, rowPrefixParams } from '../pull/bundle-reader.js';
import { bundleChangeNotificationSql } from '../watch/bundle-change-notify.sql.js';
import { canonicalNumberSql } from '../snapshot/snapshot-materializer.js';
import { BUNDLE_ROW_BLOCK_ROWS } from '../schema/sync-schema.sql.js';

/** Types whose jsonb text is a string Go prints as is (no character to escape): quoted directly. */
const PLAIN_STRING_TYPES = new Set(['uuid', 'date', 'time', 'timetz', 'timestamp', 'timestamptz']);
/** Integer and boolean literals a double holds exactly whatever their value. */
const PLAIN_LITERAL_TYPES = new Set(['int2', 'int4', 'bool']);
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'name', 'citext']);
/** 2^53: integers beyond it print differently once through a double (the hashed form, §5.1). */
const DOUBLE_EXACT_MAX = '9007199254740992';

/** An integer literal's text when a double holds it exactly, else NULL (the literal is known to be an integer). */
const doubleExactIntegerSql = (text: string) =>
  `CASE WHEN length(${text}) < 16 OR abs(${text}::numeric) <= ${DOUBLE_EXACT_MAX} THEN ${text} END`;

/**
 * One member's canonical value by column type, NULL when it needs Node. `value` is the member's jsonb (a JSON null
 * for SQL NULL), `text` its text as `->>` gives it (NULL for a JSON null).
 */
function memberValueSql(type: string, value: string, text: string): string {
  if (PLAIN_STRING_TYPES.has(type)) return `COALESCE('"' || ${text} || '"', 'null')`;
  if (PLAIN_LITERAL_TYPES.has(type)) return `COALESCE(${text}, 'null')`;
  if (type === 'int8') return `CASE WHEN ${text} IS NULL THEN 'null' ELSE ${doubleExactIntegerSql(text)} END`;
  if (TEXT_TYPES.has(type)) return `COALESCE(${goJsonStringSql(text)}, 'null')`;
  // bytea text is `\x…` (bytea_output=hex, pinned by every sync transaction): base64 on the wire (§4.7.4)
  if (type === 'bytea')
    return `CASE WHEN ${text} IS NULL THEN 'null' WHEN left(${text}, 2) = '\\x'
      THEN '"' || translate(encode(decode(substr(${text}, 3), 'hex'), 'base64'), E'\\n', '') || '"' END`;
  return genericMemberValueSql(value, text);
}

function genericMemberValueSql(value: string, text: string): string {
  return `CASE jsonb_typeof(${value})
      WHEN 'string' THEN ${goJsonStringSql(text)}
      WHEN 'number' THEN CASE WHEN strpos(${text}, '.') = 0 AND length(${text}) >= 16
        AND abs(${text}::numeric) > ${DOUBLE_EXACT_MAX} THEN NULL
        ELSE ${canonicalNumberSql(text)} END
      WHEN 'boolean' THEN ${text} WHEN 'null' THEN 'null' END`;
}

/**
 * `memberValueSql` of a typed column value (`column`, e.g. `dst."name"`) instead of a jsonb image's member: the
 * same text, without building the row's jsonb. Each branch gives what the jsonb image's member gives: these
 * types' text output is their jsonb string or number, bytea's bytes are those its hex text decodes to; the
 * other types go through `to_jsonb` of the value, as the row image does per column.
 */
function typedMemberValueSql(type: string, column: string): string {
  // JSON datetime strings (ISO 8601), uuid: nothing to escape, so to_json's quoting is the plain quotes
  if (PLAIN_STRING_TYPES.has(type)) return `COALESCE(to_json(${column})::text, 'null')`;
  if (PLAIN_LITERAL_TYPES.has(type)) return `COALESCE(${column}::text, 'null')`;
  if (type === 'int8')
    return `CASE WHEN ${column} IS NULL THEN 'null' ELSE ${doubleExactIntegerSql(`${column}::text`)} END`;
  // to_json of the value itself (bpchar keeps its padding, as in the jsonb image)
  if (TEXT_TYPES.has(type)) return `COALESCE(${goJsonStringSql(column)}, 'null')`;
  if (type === 'bytea')
    return `CASE WHEN ${column} IS NULL THEN 'null'
      ELSE '"' || translate(encode(${column}, 'base64'), E'\\n', '') || '"' END`;
  const value = `COALESCE(to_jsonb(${column}), 'null'::jsonb)`;
  return genericMemberValueSql(value, `(${value} #>> '{}')`);
}

/** The table's payload columns (all but the scope column) with their types, sorted by UTF-8 bytes. */
function payloadColumns(table: RegisteredTable): Array<[string, string]> {
  return [...table.columnTypes]
    .filter(([column]) => column !== '_sync_scope_id')
    .sort((x, y) => compareUtf8(x[0], y[0]));
}

/**
 * The canonical payload, as `bundlePayloadSql` builds it from the jsonb row image, of a row of `table` read as
 * typed columns of `alias` (an INSERT's RETURNING row). Exact only while the table's columns are the catalog's
 * (names and types; `writerCanCapture` checks it): the image would hold exactly these members.
 */
export function typedPayloadSql(table: RegisteredTable, alias: string): string {
  const columns = payloadColumns(table);
  if (columns.length === 0) return `'{}'`;
  const members = columns.map(
    ([column, type], i) =>
      `${quoteLiteral(`${i === 0 ? '{' : ','}${quoteGoJsonString(column)}:`)} || ` +
      `${typedMemberValueSql(type, `${alias}.${quoteIdentifier(column)}`)}`,
  );
  return `${members.join('\n    || ')} || '}'`;
}

/**
 * The canonical payload (§4.7.4, §5.2) of a captured jsonb row image of `table` when its wire form
 * (§8.2) and the reference's double form (hashed, §5.1) are one text PostgreSQL builds exactly: members
 * are the table's columns, sorted once here by UTF-8 bytes and read by key (no per-row sort); strings
 * with Go's escaping, bytea as base64, numbers a double holds exactly as Go prints them. NULL otherwise
 * (nested values, long numbers, a member that is not a known lower-case column): the bundle then takes
 * the Node path (the protocol's captureWirePayload).
 */
export function bundlePayloadSql(table: RegisteredTable, payload: string): string {
  const columns = payloadColumns(table);
  if (columns.length === 0) return `CASE WHEN ${payload} = '{}'::jsonb THEN '{}' END`;
  const members = columns.map(([column, type], i) => {
    const value = `(${payload}->${quoteLiteral(column)})`;
    const text = `(${payload}->>${quoteLiteral(column)})`;
    return (
      `${quoteLiteral(`${i === 0 ? '{' : ','}${quoteGoJsonString(column)}:`)} || ` +
      `${memberValueSql(type, value, text)}`
    );
  });
  const names = `ARRAY[${columns.map(([column]) => quoteLiteral(column)).join(', ')}]`;
  return (
    `CASE WHEN ${payload} ?& ${names} AND ${payload} - ${names} = '{}'::jsonb THEN ${members.join('\n    || ')} ` +
    `|| '}' END`
  );
}

/** `tc(table_id, prefix, key_kind, hash_prefix, hash_suffix)` from the parameters $5..$9 of `finalizeParams`. */
const TABLES_SQL =
  `unnest($5::int4[], $6::text[], $7::int2[], $8::text[], $9::text[]) AS tc(table_id, prefix, key_kind, ` +
  `hash_prefix, hash_suffix)`;

/** A key of `table` (`keyBytes`) as a JSON string (uuid keys need no escaping). */
export const keyJsonSql = (table: RegisteredTable, keyBytes: string) =>
  table.keyKind === KEY_KIND_UUID
    ? `'"' || encode(${keyBytes}, 'hex')::uuid::text || '"'`
    : goJsonStringSql(`convert_from(${keyBytes}, 'UTF8')`);

/**
 * Where `finalizeInDatabaseSql` reads the transaction's effects: the capture stage (trigger capture, netted
 * per logical row), or `WRITER_CAPTURE_TABLE`, which a bulk commit's INSERT statements filled from their own
 * RETURNING rows (one row per logical row, in capture order: nothing to net), their canonical payloads
 * already built (`typedPayloadSql`).
 */
export type FinalizeSource = 'stage' | 'writer' | InsertedSource;

/**
 * A bulk commit's one INSERT run when it may run under the replica role (no trigger or foreign key of its table
 * fires on INSERT but ours), finalized in the statement that writes it (no temporary table), its parameters from
 * $10 on: the INSERT … RETURNING `k` (key_bytes), `p` (canonical payload) in upload order; or, with `populatedSql`,
 * an INSERT that reads the run's rows from the CTE `populated` in any order (returning at most `k`), where
 * `populatedSql` gives each row as it is inserted with its bundle row ordinal (1..n), key_bytes and canonical
 * payload (`POPULATED_ORDINAL`, `POPULATED_KEY`, `POPULATED_PAYLOAD`) beside its typed columns.
 */
export interface InsertedSource {
  insertSql: string;
  populatedSql?: string;
  /**
   * With `populatedSql`: the INSERT returns each row's `k` (key_bytes) in `row_state`'s index order (a uuid key
   * column sorted by value: uuid order is the order of its bytes), and `row_state` is written from that stream.
   */
  keysInIndexOrder?: boolean;
  tableId: number;
  /**
   * No key of these rows has a row_state row (the commit's conflict check, under the user lock, saw none): they
   * go in by plain INSERTs, without ON CONFLICT's speculative insertion (a third of the row_state write's CPU).
   */
  newKeys?: boolean;
}

/**
 * The columns `InsertedSource.populatedSql` adds to a row's typed columns: quoted names with a character no
 * payload column name has (they match [a-z0-9_]+), so none of the row's columns can take them.
 */
export const POPULATED_ORDINAL = '"#ordinal"';
export const POPULATED_KEY = '"#key"';
export const POPULATED_PAYLOAD = '"#payload"';
/** Beside `POPULATED_KEY`: the key's JSON text (`keyJsonSql` of its bytes), built once for the hash and the blocks. */
export const POPULATED_KEY_JSON = '"#key_json"';

/** The temporary table of a bulk commit's writer-captured INSERT effects (dropped at commit). */
export const WRITER_CAPTURE_TABLE = 'pg_temp.oversync_writer_capture';

const statements = { stage: new WeakMap<SyncCatalog, string>(), writer: new WeakMap<SyncCatalog, string>() };

/** The `net` rows (first_ordinal, table_id, key_bytes, first_op, last_op, payload) of `source`. */
function netRowsSql(source: FinalizeSource): string {
  if (typeof source === 'object' && source.populatedSql)
    return `populated AS MATERIALIZED (${source.populatedSql}),
     inserted AS (${source.insertSql}),
     net AS NOT MATERIALIZED (
       SELECT ${POPULATED_ORDINAL} AS first_ordinal, ${Number(source.tableId)} AS table_id,
              ${POPULATED_KEY} AS key_bytes, ${OP_INSERT}::int2 AS first_op, ${OP_INSERT}::int2 AS last_op,
              ${POPULATED_PAYLOAD} AS payload, ${POPULATED_KEY_JSON} AS key_json
         FROM populated),`;
  if (typeof source === 'object')
    return `inserted AS (${source.insertSql}),
     net AS (
       SELECT row_number() OVER () AS first_ordinal, ${Number(source.tableId)} AS table_id, k AS key_bytes,
              ${OP_INSERT}::int2 AS first_op, ${OP_INSERT}::int2 AS last_op, p AS payload
         FROM inserted),`;
  if (source === 'writer')
    return `net AS (
       SELECT capture_ordinal AS first_ordinal, table_id, key_bytes, ${OP_INSERT}::int2 AS first_op,
              ${OP_INSERT}::int2 AS last_op, payload
         FROM ${WRITER_CAPTURE_TABLE}),`;
  return `staged AS (
       SELECT capture_ordinal, table_id, op_code, key_bytes, payload_db
         FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = $1),
     -- one sort by logical row then capture order; the row kept is the last capture (its op and payload)
     net AS (
       SELECT w.first_ordinal, w.table_id, w.key_bytes, w.first_op, w.last_op, w.payload
         FROM (SELECT table_id, key_bytes, capture_ordinal, payload_db AS payload,
                      first_value(capture_ordinal) OVER k AS first_ordinal, first_value(op_code) OVER k AS first_op,
                      last_value(op_code) OVER k AS last_op, last_value(capture_ordinal) OVER k AS last_ordinal
                 FROM staged
               WINDOW k AS (PARTITION BY table_id, key_bytes ORDER BY capture_ordinal
                            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) w
        WHERE w.capture_ordinal = w.last_ordinal),`;
}

/**
 * The `row_state` rows of the bundle in the index's order (each index page visited once: random keys cost ~1.5× as
 * much): the key-ordered INSERT's own `RETURNING` stream where it comes in that order, else `out` sorted.
 */
function rowStateRowsSql(source: FinalizeSource): string {
  if (typeof source === 'object' && source.keysInIndexOrder)
    return `SELECT $1, ${Number(source.tableId)}, i.k, s.bundle_seq, false FROM inserted i, seq s`;
  return `SELECT $1, o.table_id, o.key_bytes, s.bundle_seq, o.op_code = ${OP_DELETE} FROM out o, seq s
        ORDER BY o.table_id, o.key_bytes`;
}

/**
 * One statement that turns this transaction's captured effects into a bundle inside PostgreSQL (spec
 * §4.6), as `finalizeCapturedBundle` does in Node: net effect per logical row in first-capture order,
 * canonical payloads (`bundlePayloadSql`), the §5.1 hash input aggregated and hashed, the next
 * bundle_seq, bundle_log (+ NOTIFY), bundle_rows, row_state and the wire row blocks; the stage emptied.
 * When a payload needs Node (`ok` false) it writes nothing and the caller runs the Node code; from the
 * writer's table (`source` 'writer') also when the stage holds effects too (the caller then redoes the commit).
 * Parameters: $1 user_pk, $2 source_id, $3 source_bundle_id, $4 the NOTIFY's channel and the committing process's
 * listener id (`DatabaseNotify`; null: none),
 * $5..$9 per-table constants (`finalizeParams`).
 */
export function finalizeInDatabaseSql(catalog: SyncCatalog, source: FinalizeSource = 'stage'): string {
  if (typeof source === 'object') return buildFinalizeSql(catalog, source);
  let sql = statements[source].get(catalog);
  if (!sql) statements[source].set(catalog, (sql = buildFinalizeSql(catalog, source)));
  return sql;
}

function buildFinalizeSql(catalog: SyncCatalog, source: FinalizeSource): string {
  const captured = source !== 'stage';
  const byTable = (sql: (table: RegisteredTable) => string) =>
    catalog.tables.length === 0
      ? 'NULL::text'
      : `CASE n.table_id ${catalog.tables.map((t) => `WHEN ${Number(t.tableId)} THEN ${sql(t)}`).join('\n      ')} END`;
  const payload = captured ? 'n.payload' : byTable((t) => bundlePayloadSql(t, 'n.payload'));
  // rows already materialized in `populated` are read again where used: cheaper than a second tuplestore
  const populated = typeof source === 'object' && source.populatedSql !== undefined;
  // the key's JSON text once per row, for the hash input and the wire rows (`populated` has it)
  const keyJson = populated ? 'n.key_json' : byTable((t) => keyJsonSql(t, 'n.key_bytes'));
  // writer-captured effects are a bundle only while the stage is empty (nothing else was captured)
  // (and their capture ordinals are the bundle's row ordinals 1..n already: the runs cover the staged rows in order)
  const alone = captured
    ? ` AND NOT EXISTS (SELECT FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = $1)
          AND min(row_ordinal) = 1 AND max(row_ordinal) = count(*)`
    : '';
  const rowOrdinal = captured ? 'n.first_ordinal' : 'row_number() OVER (ORDER BY n.first_ordinal)';
  const inserted = populated ? insertedRowsTexts(source.tableId) : undefined;
  return `WITH ${netRowsSql(source)}
     out AS ${populated ? 'NOT MATERIALIZED' : 'MATERIALIZED'} (
       SELECT ${rowOrdinal} AS row_ordinal, n.table_id, n.key_bytes, n.op_code,
              CASE WHEN n.op_code <> ${OP_DELETE} THEN ${payload} END AS payload, ${keyJson} AS key_json
         FROM (SELECT first_ordinal, table_id, key_bytes, payload,${populated ? ' key_json,' : ''}
                      (${netOpCodeSql('first_op', 'last_op')})::int2 AS op_code
                 FROM net WHERE NOT (last_op = ${OP_DELETE} AND first_op = ${OP_INSERT})) n),
     chk AS (SELECT count(*) AS row_count,
                    count(*) > 0 AND bool_and(op_code = ${OP_DELETE} OR payload IS NOT NULL)${alone} AS ok
               FROM out),
     seq AS (
       UPDATE sync.user_state SET next_bundle_seq = next_bundle_seq + 1
        WHERE user_pk = $1 AND (SELECT ok FROM chk) RETURNING next_bundle_seq - 1 AS bundle_seq),
     ${
       inserted?.hashed ??
       `-- the input as bytes aggregated row by row, its brackets on the first and last rows (ordinals 1..n):
     -- the whole text is not copied again to be bracketed and converted (three copies of ~37 MB per 100,000 rows)
     hashed AS (
       SELECT sha256(h.input) AS hash, length(h.input) AS bytes
         FROM (SELECT string_agg(convert_to(CASE WHEN o.row_ordinal = 1 THEN '[' ELSE '' END || tc.hash_prefix
                 || o.key_json || '},"op":"' || ${opCodeCaseSql('o.op_code')}
                 || '","payload":' || COALESCE(o.payload, 'null') || ',"row_ordinal":' || (o.row_ordinal - 1)
                 || ',"row_version":' || s.bundle_seq || tc.hash_suffix
                 || CASE WHEN o.row_ordinal = c.row_count THEN ']' ELSE '' END, 'UTF8'), ','::bytea
                 ORDER BY o.row_ordinal) AS input
                 FROM out o JOIN ${TABLES_SQL} ON tc.table_id = o.table_id, seq s, chk c) h)`
     },
     logged AS (
       INSERT INTO sync.bundle_log (user_pk, bundle_seq, source_id, source_bundle_id, row_count, byte_count,
         bundle_hash)
       SELECT $1, s.bundle_seq, $2, $3, c.row_count, h.bytes, h.hash FROM seq s, chk c, hashed h
       RETURNING bundle_seq),
     announced AS (
       SELECT sync.notify_bundle(($4::text[])[1],
         ${bundleChangeNotificationSql('$1::bigint', 's.bundle_seq', '$2::text', '$3::bigint')}, ($4::text[])[2]::uuid)
         FROM seq s WHERE $4::text[] IS NOT NULL),
     stored AS (
       INSERT INTO sync.bundle_rows (user_pk, bundle_seq, row_ordinal, table_id, key_bytes, op_code, payload_wire)
       SELECT $1, s.bundle_seq, o.row_ordinal, o.table_id, o.key_bytes, o.op_code, o.payload::json FROM out o, seq s),
     state AS (
       INSERT INTO sync.row_state (user_pk, table_id, key_bytes, bundle_seq, deleted)
       ${rowStateRowsSql(source)}${
         typeof source === 'object' && source.newKeys
           ? ''
           : `
       ON CONFLICT (user_pk, table_id, key_bytes)
       DO UPDATE SET bundle_seq = EXCLUDED.bundle_seq, deleted = EXCLUDED.deleted`
       }),
     blocks AS (
       INSERT INTO sync.bundle_row_blocks (user_pk, bundle_seq, block_no, rows_text)
       ${
         inserted?.blocks ??
         `SELECT $1, br.bundle_seq, (br.row_ordinal - 1) / ${BUNDLE_ROW_BLOCK_ROWS},
              string_agg(${bundleRowJsonSql('br.key_json')}, ',' ORDER BY br.row_ordinal)
         FROM (SELECT s.bundle_seq, o.row_ordinal, o.table_id, o.key_json, o.op_code, o.payload AS payload_wire
                 FROM out o, seq s) br
         JOIN ${TABLES_SQL} ON tc.table_id = br.table_id
        GROUP BY 2, 3`
       })${
         source === 'stage'
           ? `,
     taken AS (
       DELETE FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = $1 AND (SELECT ok FROM chk))`
           : ''
       }
   SELECT c.row_count, c.ok, s.bundle_seq, encode(h.hash, 'hex') AS bundle_hash, (SELECT count(*) FROM announced)
     AS announced
     FROM chk c LEFT JOIN seq s ON true LEFT JOIN hashed h ON true`;
}

/**
 * The `hashed` CTE and the `blocks` rows of a bundle read from `populated` (one table, INSERTs only, ordinals 1..n):
 * the same texts as the general statement's, with the parts that are the same on every row (the table's constants,
 * the op, the row version) put together once, in one-row subqueries (evaluated once) instead of joined and
 * concatenated per row. The hash input aggregates `out` alone, a scan of the materialized `populated`, whose rows
 * are in row_ordinal order (its ORDER BY): they reach the aggregate in that order without its own sort of ~37 MB,
 * which the aggregate checks as it goes (the hash is NULL otherwise).
 */
function insertedRowsTexts(tableId: number): { hashed: string; blocks: string } {
  const table = `${TABLES_SQL} WHERE tc.table_id = ${Number(tableId)}`;
  const insert = opCodeCaseSql(String(OP_INSERT));
  // `ordered`: each row reached the aggregate as the row_ordinal-th; were one not, the hash would be NULL, which
  // bundle_log refuses (class 23: the caller redoes the run in upload order, whose aggregate sorts)
  const hashed = `hashed AS (
       SELECT CASE WHEN h.ordered THEN sha256(h.input) END AS hash, length(h.input) AS bytes
         FROM (SELECT bool_and(o.arrived = o.row_ordinal) AS ordered,
                 string_agg(convert_to(CASE WHEN o.row_ordinal = 1 THEN '[' ELSE '' END
                 || (SELECT tc.hash_prefix FROM ${table}) || o.key_json || '},"op":"' || ${insert} || '","payload":'
                 || o.payload || ',"row_ordinal":' || (o.row_ordinal - 1)
                 || (SELECT ',"row_version":' || s.bundle_seq || tc.hash_suffix FROM seq s, ${table})
                 || CASE WHEN o.row_ordinal = (SELECT c.row_count FROM chk c) THEN ']' ELSE '' END, 'UTF8'), ','::bytea)
                 AS input
                 FROM (SELECT o.*, row_number() OVER () AS arrived FROM out o) o) h)`;
  // bundleRowJsonSql's text: prefix, key, op, row_version, payload
  const blocks = `SELECT $1, (SELECT s.bundle_seq FROM seq s), (o.row_ordinal - 1) / ${BUNDLE_ROW_BLOCK_ROWS},
              string_agg((SELECT tc.prefix FROM ${table}) || o.key_json
                || (SELECT '},"op":"' || ${insert} || '","row_version":' || s.bundle_seq || ',"payload":' FROM seq s)
                || o.payload || '}', ',' ORDER BY o.row_ordinal)
         FROM out o WHERE EXISTS (SELECT FROM seq)
        GROUP BY 3`;
  return { hashed, blocks };
}

/**
 * $5..$9 of `finalizeInDatabaseSql`: per registered table its id, BundleRow prefix, key kind and
 * the hash row's constant parts.
 */
export function finalizeParams(catalog: SyncCatalog): [number[], string[], number[], string[], string[]] {
  const tables = catalog.tables;
  // the BundleRow prefixes are the pull's own (one definition of a row's constant start)
  return [
    ...rowPrefixParams(catalog),
    tables.map((t) => `{"key":{${quoteGoJsonString(t.keyColumn)}:`),
    tables.map((t) => `,"schema":${quoteGoJsonString(t.schema)},"table":${quoteGoJsonString(t.table)}}`),
  ];
}
