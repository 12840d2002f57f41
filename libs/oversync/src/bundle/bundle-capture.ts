import { prepared, type SyncClient } from '../database/sync-database.js';
import { OP_DELETE, OP_INSERT, OP_UPDATE } from '../database/sql-codes.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { BundleHasher, captureWirePayload, quoteGoJsonString, ROW_OP_NAMES } from '@oversync/protocol';
import type { StageTimer } from '../lifecycle/stage-timer.js';
import { keyStringOf } from './row-keys.js';
import { byteaColumnsOf } from '../schema/registered-table.js';
import { BUNDLE_ROW_JSON_SQL, rowPrefixesSql, rowPrefixParams } from '../pull/bundle-reader.js';
import { BUNDLE_ROW_BLOCK_ROWS } from '../schema/sync-schema.sql.js';
import {
  finalizeInDatabaseSql,
  finalizeParams,
  type FinalizeSource,
  type InsertedSource,
} from './bundle-finalize.sql.js';

/** The header of a committed bundle as the commit response and WithinSyncBundle report it. */
export interface CommittedBundle {
  bundleSeq: string;
  sourceId: string;
  sourceBundleId: string;
  rowCount: number;
  bundleHash: string;
}

/**
 * The NOTIFY of a bundle built inside PostgreSQL (`finalizeInDatabaseSql`): its channel and the committing
 * process's listener id (`sync.notify_bundle` sends it only when another process listens: the caller delivers the
 * bundle to its own streams in-process).
 */
export type DatabaseNotify = readonly [channel: string, listenerId: string];

/** A NOTIFY to send with the bundle (`sync.notify_bundle`: channel, payload, the caller's own listener or null). */
export interface BundleNotification {
  channel: string;
  payload: string;
  listenerId: string | null;
}

interface StageRow {
  capture_ordinal: string;
  table_id: number;
  op_code: number;
  key_bytes: Buffer;
  payload: string | null;
}

/** Lines of `capture_ordinal table_id op_code key_hex payload` (payload empty for DELETE). */
function parseStageLines(lines: string | null): StageRow[] {
  if (!lines) return [];
  return lines.split('\n').map((line) => {
    const a = line.indexOf(' ');
    const b = line.indexOf(' ', a + 1);
    const c = line.indexOf(' ', b + 1);
    const d = line.indexOf(' ', c + 1);
    const payload = line.slice(d + 1);
    return {
      capture_ordinal: line.slice(0, a),
      table_id: Number(line.slice(a + 1, b)),
      op_code: Number(line.slice(b + 1, c)),
      key_bytes: Buffer.from(line.slice(c + 1, d), 'hex'),
      payload: payload === '' ? null : payload,
    };
  });
}

interface NetRow {
  tableId: number;
  keyBytes: Buffer;
  firstOp: number;
  lastOp: number;
  payload: string | null;
}

export interface FinalizeOptions {
  userPk: string;
  sourceId: string;
  sourceBundleId: string;
  /** the NOTIFY of the committed bundle (watch), sent in the statement that logs it; null: none */
  notification?: (bundle: CommittedBundle) => BundleNotification | null;
  /**
   * Build the bundle in PostgreSQL (`finalizeInDatabaseSql`) when every payload allows, with this NOTIFY
   * (null: none) — large bundles, whose payloads then never pass through this process.
   */
  inDatabase?: { notify: DatabaseNotify | null };
  timer?: StageTimer;
}

const TAKE_STAGE = prepared(
  `WITH taken AS (
     DELETE FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = $1
     RETURNING capture_ordinal, table_id, op_code, key_bytes, payload_db)
   SELECT (SELECT string_agg(capture_ordinal || ' ' || table_id || ' ' || op_code || ' ' || encode(key_bytes, 'hex')
     || ' ' || COALESCE(payload_db::text, ''),
                             E'\\n' ORDER BY capture_ordinal) FROM taken) AS lines,
          (SELECT next_bundle_seq FROM sync.user_state WHERE user_pk = $1) AS next_seq`,
);
const logBundleSql = (returning: string) =>
  `WITH seq AS (
     UPDATE sync.user_state SET next_bundle_seq = next_bundle_seq + 1 WHERE user_pk = $1 AND next_bundle_seq = $2
       RETURNING user_pk)
   INSERT INTO sync.bundle_log (user_pk, bundle_seq, source_id, source_bundle_id, row_count, byte_count, bundle_hash)
   SELECT seq.user_pk, $2, $3, $4, $5, $6, $7 FROM seq${returning}`;
const LOG_BUNDLE = prepared(logBundleSql(''));
const LOG_AND_ANNOUNCE_BUNDLE = prepared(logBundleSql(' RETURNING sync.notify_bundle($8, $9, $10::uuid)'));

/**
 * Turns this transaction's captured effects into one bundle (spec §4.6): net effect per logical row
 * in first-capture order, next gap-free bundle_seq, hash of the canonical rows, bundle_log,
 * bundle_rows and row_state in set-based statements. Returns null when nothing net happened.
 */
export async function finalizeCapturedBundle(
  client: SyncClient,
  catalog: SyncCatalog,
  options: FinalizeOptions,
): Promise<CommittedBundle | null> {
  const { userPk } = options;
  if (options.inDatabase) {
    const bundle = await finalizeInDatabase(client, catalog, options, options.inDatabase.notify);
    if (bundle !== undefined) return bundle;
  }
  // The stage is read and emptied in one statement, as one text value instead of a row per effect
  // (jsonb output never holds a raw newline, so lines split safely), with the user's next bundle_seq.
  const { rows: staged } = await client.query<{ lines: string | null; next_seq: string }>(TAKE_STAGE([userPk]));
  const stage = parseStageLines(staged[0]?.lines ?? null);
  options.timer?.mark('capture', { 'oversync.rows': stage.length });
  if (stage.length === 0) return null;
  const net = new Map<string, NetRow>();
  for (const row of stage) {
    const identity = `${row.table_id}:${row.key_bytes.toString('hex')}`;
    const existing = net.get(identity);
    if (existing) {
      existing.lastOp = row.op_code;
      existing.payload = row.payload;
    } else {
      net.set(identity, {
        tableId: row.table_id,
        keyBytes: row.key_bytes,
        firstOp: row.op_code,
        lastOp: row.op_code,
        payload: row.payload,
      });
    }
  }
  const output: OutputRow[] = [];
  for (const row of net.values()) {
    if (row.lastOp === OP_DELETE) {
      if (row.firstOp !== OP_INSERT)
        output.push({
          tableId: row.tableId,
          keyBytes: row.keyBytes,
          opCode: OP_DELETE,
          payloadWire: null,
          payloadHashed: null,
        });
      continue;
    }
    const table = catalog.get(row.tableId);
    const payload = captureWirePayload(row.payload ?? 'null', byteaColumnsOf(table));
    output.push({
      tableId: row.tableId,
      keyBytes: row.keyBytes,
      opCode: row.firstOp === OP_INSERT ? OP_INSERT : OP_UPDATE,
      payloadWire: payload.wire,
      payloadHashed: payload.hashed,
    });
  }
  if (output.length === 0) return null;
  options.timer?.mark('canonicalize');
  const bundleSeq = staged[0]!.next_seq;
  const { hash: hashBytes, bytes: hashedBytes } = hashCanonicalBundleRows(catalog, bundleSeq, output);
  const bundle: CommittedBundle = {
    bundleSeq,
    sourceId: options.sourceId,
    sourceBundleId: options.sourceBundleId,
    rowCount: output.length,
    bundleHash: hashBytes.toString('hex'),
  };
  options.timer?.mark('hash');
  // bundle_seq is taken, the bundle logged and announced in one statement. The sequence is claimed only
  // if it is still the one read above (every bundle writer holds the user lock, so it is); otherwise
  // nothing is written and the transaction is retried as a serialization failure.
  const notification = options.notification?.(bundle) ?? null;
  const { rowCount } = await client.query(
    (notification ? LOG_AND_ANNOUNCE_BUNDLE : LOG_BUNDLE)([
      userPk,
      bundleSeq,
      options.sourceId,
      options.sourceBundleId,
      output.length,
      hashedBytes,
      hashBytes,
      ...(notification ? [notification.channel, notification.payload, notification.listenerId] : []),
    ]),
  );
  if (rowCount !== 1) {
    throw Object.assign(new Error(`bundle_seq ${bundleSeq} of user_pk ${userPk} was taken concurrently`), {
      code: '40001',
    });
  }
  // bundle_rows and row_state are derived from rows this transaction just wrote (bundle_log, stage,
  // catalog ids): their foreign keys hold by construction, and re-checking them row by row is most of
  // the cost of a large bundle. Where the role may, skip those checks for this statement only; small
  // bundles keep them (two extra round trips would cost more than the checks).
  const trusted = catalog.trustedSyncWrites && output.length >= TRUSTED_WRITE_MIN_ROWS;
  if (trusted) await client.query('SET LOCAL session_replication_role = replica');
  // One statement for both tables. Keys (hex) and payloads travel as newline-joined texts (canonical
  // JSON escapes every control character) zipped by one multi-array unnest: no per-element escaping,
  // and no join whose plan could depend on statistics of the always-emptied stage table.
  // The bundle's wire rows are built here once, by the same SQL expression pulls used to run per
  // request, and kept as comma-joined blocks in sync.bundle_row_blocks (pulls copy them verbatim).
  await client.query(
    `WITH rows AS (
       INSERT INTO sync.bundle_rows (user_pk, bundle_seq, row_ordinal, table_id, key_bytes, op_code, payload_wire)
       SELECT $1, $2, r.row_ordinal, r.table_id, decode(substr(r.key_hex, 2), 'hex'), r.op_code, NULLIF(r.payload_text,
         '')::json
         FROM unnest($3::int4[], $4::int2[], string_to_array($5, E'\\n'), string_to_array($6, E'\\n'))
              WITH ORDINALITY AS r(table_id, op_code, key_hex, payload_text, row_ordinal)
       RETURNING bundle_seq, row_ordinal, table_id, key_bytes, op_code, payload_wire),
     state AS (
       INSERT INTO sync.row_state (user_pk, table_id, key_bytes, bundle_seq, deleted)
       SELECT $1, table_id, key_bytes, $2, op_code = ${OP_DELETE} FROM rows ORDER BY table_id, key_bytes
       ON CONFLICT (user_pk, table_id, key_bytes)
       DO UPDATE SET bundle_seq = EXCLUDED.bundle_seq, deleted = EXCLUDED.deleted)
     INSERT INTO sync.bundle_row_blocks (user_pk, bundle_seq, block_no, rows_text)
     SELECT $1, $2, (br.row_ordinal - 1) / ${BUNDLE_ROW_BLOCK_ROWS}, string_agg(${BUNDLE_ROW_JSON_SQL}, ','
       ORDER BY br.row_ordinal)
       FROM rows br JOIN ${rowPrefixesSql(7)} ON tc.table_id = br.table_id
      GROUP BY 3`,
    [
      userPk,
      bundleSeq,
      output.map((r) => r.tableId),
      output.map((r) => r.opCode),
      // 'k' + hex: an empty text key must not become an empty (dropped) element
      output.map((r) => `k${r.keyBytes.toString('hex')}`).join('\n'),
      output.map((r) => r.payloadWire ?? '').join('\n'),
      ...rowPrefixParams(catalog),
    ],
  );
  if (trusted) await client.query('SET LOCAL session_replication_role = origin');
  options.timer?.mark('finalize', { 'oversync.rows': output.length });
  return bundle;
}

/**
 * The bundle of a bulk commit's writer-captured effects (`WRITER_CAPTURE_TABLE`), built by one statement in
 * PostgreSQL; undefined when it cannot be (a payload needs the Node code, or the stage holds effects too):
 * nothing is written, and the caller redoes the commit with trigger capture.
 */
export function finalizeWriterCapturedBundle(
  client: SyncClient,
  catalog: SyncCatalog,
  options: FinalizeOptions,
  notify: DatabaseNotify | null,
): Promise<CommittedBundle | null | undefined> {
  return finalizeInDatabase(client, catalog, options, notify, 'writer');
}

/**
 * The bundle of a bulk commit's one INSERT run (`inserted`, with its `parameters`), written and built by one
 * statement under the replica role; undefined when a payload needs the Node code (the rows are inserted and
 * nothing else written: the caller rolls back and redoes the commit with trigger capture).
 */
export function finalizeInsertedBundle(
  client: SyncClient,
  catalog: SyncCatalog,
  options: FinalizeOptions,
  notify: DatabaseNotify | null,
  inserted: InsertedSource,
  parameters: unknown[],
): Promise<CommittedBundle | null | undefined> {
  // only the replica role keeps the insert-capture trigger from staging these rows as well
  if (!catalog.trustedSyncWrites) return Promise.resolve(undefined);
  return finalizeInDatabase(client, catalog, options, notify, inserted, parameters);
}

/** The bundle built by one statement in PostgreSQL; undefined when a payload needs the Node code (nothing written). */
async function finalizeInDatabase(
  client: SyncClient,
  catalog: SyncCatalog,
  options: FinalizeOptions,
  notify: DatabaseNotify | null,
  source: FinalizeSource = 'stage',
  parameters: unknown[] = [],
): Promise<CommittedBundle | null | undefined> {
  // bundle_rows, row_state and the blocks derive from rows this statement writes (see below)
  if (catalog.trustedSyncWrites) await client.query('SET LOCAL session_replication_role = replica');
  const { rows } = await client.query<{
    row_count: string;
    ok: boolean;
    bundle_seq: string | null;
    bundle_hash: string | null;
  }>(finalizeInDatabaseSql(catalog, source), [
    options.userPk,
    options.sourceId,
    options.sourceBundleId,
    notify,
    ...finalizeParams(catalog),
    ...parameters,
  ]);
  if (catalog.trustedSyncWrites) await client.query('SET LOCAL session_replication_role = origin');
  const row = rows[0]!;
  const rowCount = Number(row.row_count);
  if (rowCount === 0) return null;
  if (!row.ok) return undefined;
  options.timer?.mark('finalize', { 'oversync.rows': rowCount });
  return {
    bundleSeq: row.bundle_seq!,
    sourceId: options.sourceId,
    sourceBundleId: options.sourceBundleId,
    rowCount,
    bundleHash: row.bundle_hash!,
  };
}

/** Bundles from this size on skip the foreign-key re-checks of derived sync rows (where allowed). */
const TRUSTED_WRITE_MIN_ROWS = 1000;

export interface OutputRow {
  tableId: number;
  keyBytes: Buffer;
  opCode: number;
  /** stored and served: canonical with exact big numbers (§8.2) */
  payloadWire: string | null;
  /** hashed: the reference's canonical form, numbers through doubles (same text unless a number differs) */
  payloadHashed: string | null;
}

/**
 * SHA-256 of the hash input of §5.1 (and its UTF-8 length), written in blocks by the protocol's
 * `BundleHasher`; payloads are the reference's canonical form (numbers through doubles), so the
 * hash is the one a Go client computes.
 */
export function hashCanonicalBundleRows(
  catalog: SyncCatalog,
  bundleSeq: string,
  rows: readonly OutputRow[],
): { hash: Buffer; bytes: number } {
  const hasher = new BundleHasher();
  const rowVersion = BigInt(bundleSeq);
  for (const row of rows) {
    const table = catalog.get(row.tableId);
    const key = `{${quoteGoJsonString(table.keyColumn)}:${quoteGoJsonString(keyStringOf(table, row.keyBytes))}}`;
    hasher.add(
      { schema: table.schema, table: table.table, op: ROW_OP_NAMES[row.opCode]!, rowVersion },
      key,
      row.payloadHashed,
    );
  }
  const { bundleHash, byteCount } = hasher.finish();
  return { hash: Buffer.from(bundleHash, 'hex'), bytes: byteCount };
}
