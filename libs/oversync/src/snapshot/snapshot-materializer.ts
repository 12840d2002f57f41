import type { SyncClient } from '../database/sync-database.js';
import { quoteLiteral } from '../database/sql-quote.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { byteaColumnsOf, type RegisteredTable } from '../schema/registered-table.js';
import { scopeRowCountSql, scopeRowsSql } from '../scope/scope-rows.sql.js';
import { canonicalExactJson, compareUtf8, parseExactJson, quoteGoJsonString } from '@oversync/protocol';
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
                           WHERE rs.user_pk = $5 AND rs.table_id = $3 AND rs.key_bytes = b.key_bytes AND rs.deleted = false`;

/**
 * Freezes the user's live rows into `sync.snapshot_session_rows` (spec §4.10 steps 6–9) entirely in
 * PostgreSQL: one `INSERT … SELECT` per registered table, ordinals by `(table_id, key_bytes)` so
 * repeated sessions order identically, row_version from `sync.row_state`, payloads canonical like
 * bundles (§8.11) with bytea members as base64 (§4.7.4). No row passes through this process (§8.10)
 * except the rare ones whose canonical text PostgreSQL does not build (nested values, long numbers).
 * Business rows without live sync state raise `UnsyncedRowsError` unless `tolerateUnsynced`, in
 * which case they are counted and left out.
 */
export async function materializeSnapshotRows(
  client: SyncClient,
  catalog: SyncCatalog,
  session: { snapshotId: string; userPk: string; userId: string; tolerateUnsynced: boolean },
): Promise<MaterializedSnapshot> {
  const totals: MaterializedSnapshot = { rowCount: 0n, byteCount: 0n, unsyncedRows: 0n };
  // The session rows reference the session inserted just before and catalog ids: their foreign keys
  // hold by construction; where the role may, skip re-checking them row by row (as bundle_rows does).
  // The ordering sort of a large scope stays in memory.
  await client.query(
    `SET LOCAL work_mem = '64MB'${catalog.trustedSyncWrites ? '; SET LOCAL session_replication_role = replica' : ''}`,
  );
  try {
    await materializeTables(client, catalog, session, totals);
  } finally {
    if (catalog.trustedSyncWrites) await client.query('SET LOCAL session_replication_role = origin');
  }
  return totals;
}

async function materializeTables(
  client: SyncClient,
  catalog: SyncCatalog,
  session: { snapshotId: string; userPk: string; userId: string; tolerateUnsynced: boolean },
  totals: MaterializedSnapshot,
): Promise<void> {
  for (const table of catalog.tables) {
    const { rows } = await client.query<{
      inserted: string;
      bytes: string;
      business: string;
      uncanonical: string | null;
    }>(
      `WITH src AS (
         SELECT $2::bigint + row_number() OVER (ORDER BY v.key_bytes) AS row_ordinal, v.key_bytes, v.bundle_seq, v.payload,
                ${canonicalPayloadSql(table, 'v.payload')} AS canonical
           FROM (SELECT b.key_bytes, ${wirePayloadSql(table, 'b.payload')} AS payload, (${LIVE_VERSION_SQL}) AS bundle_seq
                   FROM (${scopeRowsSql(table, '$4')}) b OFFSET 0) v
          WHERE v.bundle_seq IS NOT NULL),
       inserted AS (
         INSERT INTO sync.snapshot_session_rows (snapshot_id, row_ordinal, table_id, key_bytes, bundle_seq, payload_wire)
         SELECT $1::uuid, row_ordinal, $3, key_bytes, bundle_seq, COALESCE(canonical, payload::text)::json FROM src
         RETURNING octet_length(payload_wire::text) AS bytes)
       SELECT (SELECT count(*) FROM inserted) AS inserted,
              (SELECT COALESCE(sum(bytes), 0) FROM inserted) AS bytes,
              (${scopeRowCountSql(table, '$4')}) AS business,
              (SELECT string_agg(row_ordinal || ' ' || payload::text, E'\\n') FROM src WHERE canonical IS NULL) AS uncanonical`,
      [session.snapshotId, totals.rowCount.toString(), table.tableId, session.userId, session.userPk],
    );
    const inserted = BigInt(rows[0]!.inserted);
    const unsynced = BigInt(rows[0]!.business) - inserted;
    if (unsynced > 0n && !session.tolerateUnsynced) throw new UnsyncedRowsError(table, unsynced);
    totals.rowCount += inserted;
    totals.byteCount +=
      BigInt(rows[0]!.bytes) + (await canonicaliseRemaining(client, session.snapshotId, rows[0]!.uncanonical));
    totals.unsyncedRows += unsynced;
  }
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
    WHEN length(ltrim(translate(${trimmed}, '-.', ''), '0')) <= 15 AND abs(${t}::numeric) >= 0.000001 AND abs(${t}::numeric) < 1e21 THEN ${trimmed} END`;
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
    return `${quoteLiteral(`${i === 0 ? '{' : ','}${quoteGoJsonString(column)}:`)} || ${canonicalValueSql(type, value, text)}`;
  });
  // the fast paths read every column by its (lower-cased) name: a payload spelled otherwise falls back
  return `CASE WHEN ${payload} ?& ARRAY[${columns.map(([column]) => quoteLiteral(column)).join(', ')}] THEN ${members.join('\n    || ')} || '}' END`;
}

/** Types whose jsonb text is a string Go prints as is (no character to escape): quoted directly. */
const PLAIN_STRING_TYPES = new Set(['uuid', 'date', 'time', 'timetz', 'timestamp', 'timestamptz', 'bytea']);
/** Types whose jsonb text is an integer or boolean literal, already canonical. */
const PLAIN_LITERAL_TYPES = new Set(['int2', 'int4', 'int8', 'bool']);
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'name', 'citext']);

/** One member's canonical value by column type (`->>` is NULL for a JSON null); NULL when it needs the fallback. */
function canonicalValueSql(type: string, value: string, text: string): string {
  if (PLAIN_STRING_TYPES.has(type)) return `COALESCE('"' || ${text} || '"', 'null')`;
  if (PLAIN_LITERAL_TYPES.has(type)) return `COALESCE(${text}, 'null')`;
  if (TEXT_TYPES.has(type)) return `COALESCE(${goJsonStringSql(text)}, 'null')`;
  return `CASE jsonb_typeof(${value})
      WHEN 'string' THEN ${goJsonStringSql(text)} WHEN 'number' THEN ${canonicalNumberSql(text)}
      WHEN 'boolean' THEN ${text} WHEN 'null' THEN 'null' END`;
}

/**
 * Rows whose payload PostgreSQL left uncanonical (`<row_ordinal> <jsonb text>` lines; jsonb text holds
 * no raw newline) are canonicalised here, once, and written back in one statement. Returns the change
 * of byte_count.
 */
async function canonicaliseRemaining(client: SyncClient, snapshotId: string, lines: string | null): Promise<bigint> {
  if (!lines) return 0n;
  const ordinals: string[] = [];
  const payloads: string[] = [];
  let delta = 0;
  for (const line of lines.split('\n')) {
    const space = line.indexOf(' ');
    const raw = line.slice(space + 1);
    const canonical = canonicalExactJson(parseExactJson(raw));
    ordinals.push(line.slice(0, space));
    payloads.push(canonical);
    delta += Buffer.byteLength(canonical, 'utf8') - Buffer.byteLength(raw, 'utf8');
  }
  await client.query(
    `UPDATE sync.snapshot_session_rows s SET payload_wire = u.payload::json
       FROM unnest($2::bigint[], $3::text[]) AS u(row_ordinal, payload)
      WHERE s.snapshot_id = $1::uuid AND s.row_ordinal = u.row_ordinal`,
    [snapshotId, ordinals, payloads],
  );
  return BigInt(delta);
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
