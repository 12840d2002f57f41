import { keyTextSql, opCodeCaseSql, SCOPE_INITIALIZED, SCOPE_INITIALIZING } from '../database/sql-codes.js';
import { Injectable } from '@nestjs/common';
import { computeBundleHash, isCanonicalUuid, RawJson, type BundleHashRow, type RowOp } from '@oversync/protocol';
import type { SyncClient, SyncDatabase } from '../database/sync-database.js';
import { OversyncError } from '../errors/oversync.error.js';
import { AdminRuntime } from './admin-runtime.js';
import { decodeCursor, int64Text, toPage, type AdminPage } from './admin-paging.js';

/** Live rows counted per user in lists / in a user's detail; beyond it the count reads "at least". */
const LIST_ROW_COUNT_CAP = 10_000;
const DETAIL_ROW_COUNT_CAP = 1_000_000;
/** Bundles up to this many rows get their hash recomputed when opened. */
export const VERIFY_MAX_ROWS = 10_000;

type Row = Record<string, string | null>;

const ts = (value: string | null | undefined) => (value ? new Date(value).toISOString() : null);
/** `LIKE` pattern of a literal prefix. */
const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const KEY_TEXT_SQL = (alias: string) => keyTextSql('tc.sync_key_kind', `${alias}.key_bytes`);
const OP_SQL = (alias: string) => opCodeCaseSql(`${alias}.op_code`);

const userSummarySql = (rowCap: number) => `
  us.user_pk, us.user_id, (us.next_bundle_seq - 1)::text AS bundle_seq, us.retained_bundle_floor::text
    AS retained_floor,
  (SELECT count(*) FROM (SELECT 1 FROM sync.row_state rs WHERE rs.user_pk = us.user_pk AND NOT rs.deleted
    LIMIT ${rowCap + 1}) x)::text AS live_rows,
  (SELECT count(*) FROM (SELECT 1 FROM sync.source_state ss WHERE ss.user_pk = us.user_pk LIMIT ${rowCap + 1}) x)::text
    AS sources,
  GREATEST((SELECT bl.committed_at FROM sync.bundle_log bl WHERE bl.user_pk = us.user_pk ORDER BY bl.bundle_seq DESC
    LIMIT 1),
           (SELECT max(ss.last_pulled_at) FROM sync.source_state ss WHERE ss.user_pk = us.user_pk)) AS last_activity`;

function userSummary(row: Row, rowCap: number) {
  const capped = (value: string | null) => ({
    count: Math.min(Number(value), rowCap),
    at_least: Number(value) > rowCap,
  });
  return {
    user_id: row.user_id!,
    bundle_seq: row.bundle_seq!,
    retained_floor: row.retained_floor!,
    retained_bundles: (BigInt(row.bundle_seq!) - BigInt(row.retained_floor!)).toString(),
    live_rows: capped(row.live_rows),
    sources: capped(row.sources),
    last_activity: ts(row.last_activity),
  };
}

/**
 * Read side of the admin console: bounded, keyset-paginated reads of sync.* (issue 26). Sort keys
 * are always table-qualified: an unqualified ORDER BY would pick the `::text` output column.
 */
@Injectable()
export class AdminQueryService {
  constructor(private readonly runtime: AdminRuntime) {}

  private get db(): SyncDatabase {
    return this.runtime.db;
  }

  async users(
    prefix: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<AdminPage<ReturnType<typeof userSummary>>> {
    const [after] = decodeCursor(cursor, ['']);
    const rows = await this.db.query<Row>(
      `SELECT ${userSummarySql(LIST_ROW_COUNT_CAP)} FROM sync.user_state us
        WHERE us.user_id COLLATE "C" LIKE $1 AND us.user_id COLLATE "C" > $2
        ORDER BY us.user_id COLLATE "C" LIMIT $3`,
      [likePrefix(prefix), after, limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => userSummary(row, LIST_ROW_COUNT_CAP),
      (row) => [row.user_id!],
    );
  }

  async user(userId: string) {
    const [row] = await this.db.query<Row>(
      `SELECT ${userSummarySql(DETAIL_ROW_COUNT_CAP)},
              CASE sc.state_code WHEN ${SCOPE_INITIALIZING} THEN 'initializing' WHEN ${SCOPE_INITIALIZED}
                THEN 'initialized' ELSE 'uninitialized' END
                AS scope_state,
              sc.initialized_by_source_id,
              (SELECT count(*) FROM sync.push_sessions ps WHERE ps.user_pk = us.user_pk)::text AS push_sessions,
              (SELECT count(*) FROM sync.snapshot_sessions sn WHERE sn.user_pk = us.user_pk)::text AS snapshot_sessions,
              (SELECT count(*) FROM sync.rejected_writes rw WHERE rw.user_pk = us.user_pk)::text AS rejected_writes
         FROM sync.user_state us LEFT JOIN sync.scope_state sc ON sc.user_pk = us.user_pk
        WHERE us.user_id = $1`,
      [userId],
    );
    if (!row) throw unknownUser(userId);
    return {
      ...userSummary(row, DETAIL_ROW_COUNT_CAP),
      scope_state: row.scope_state!,
      initialized_by_source_id: row.initialized_by_source_id ?? '',
      push_sessions: row.push_sessions!,
      snapshot_sessions: row.snapshot_sessions!,
      rejected_writes: row.rejected_writes!,
      watch_subscribers: this.runtime.watchSubscribers(userId),
    };
  }

  async sources(userId: string, cursor: string | undefined, limit: number) {
    const userPk = await this.userPk(userId);
    const [after] = decodeCursor(cursor, ['']);
    const rows = await this.db.query<Row>(
      `SELECT ss.source_id, ss.state, ss.replaced_by_source_id, ss.retirement_reason,
              ss.max_committed_source_bundle_id::text AS last_source_bundle_id,
                (ss.max_committed_source_bundle_id + 1)::text AS next_source_bundle_id,
              ss.last_pulled_bundle_seq::text AS last_pulled_bundle_seq, ss.last_pulled_at,
              GREATEST(us.next_bundle_seq - 1 - ss.last_pulled_bundle_seq, 0)::text AS lag,
              (SELECT bl.committed_at FROM sync.bundle_log bl
                WHERE bl.user_pk = ss.user_pk AND bl.source_id = ss.source_id ORDER BY bl.source_bundle_id DESC LIMIT 1)
                  AS last_push_at
         FROM sync.source_state ss JOIN sync.user_state us ON us.user_pk = ss.user_pk
        WHERE ss.user_pk = $1 AND ss.source_id > $2 ORDER BY ss.source_id LIMIT $3`,
      [userPk, after, limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        source_id: row.source_id!,
        state: row.state!,
        replaced_by_source_id: row.replaced_by_source_id!,
        retirement_reason: row.retirement_reason!,
        last_source_bundle_id: row.last_source_bundle_id!,
        next_source_bundle_id: row.next_source_bundle_id!,
        last_push_at: ts(row.last_push_at),
        last_pulled_bundle_seq: row.last_pulled_bundle_seq!,
        last_pulled_at: ts(row.last_pulled_at),
        lag: row.lag!,
      }),
      (row) => [row.source_id!],
    );
  }

  async pushSessions(userId: string, cursor: string | undefined, limit: number) {
    const userPk = await this.userPk(userId);
    const [source, bundle] = decodeCursor(cursor, ['', '0']);
    const rows = await this.db.query<Row>(
      `SELECT push_id::text, source_id, source_bundle_id::text, planned_row_count::text, next_expected_row_ordinal::text
        AS staged_rows,
              COALESCE(initialization_id::text, '') AS initialization_id, created_at, expires_at,
              floor(extract(epoch FROM now() - created_at))::text AS age_seconds, expires_at <= now() AS expired
         FROM sync.push_sessions ps
        WHERE ps.user_pk = $1 AND (ps.source_id, ps.source_bundle_id) > ($2, $3::bigint)
        ORDER BY ps.source_id, ps.source_bundle_id LIMIT $4`,
      [userPk, source, int64Text(bundle!, 'cursor'), limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        push_id: row.push_id!,
        source_id: row.source_id!,
        source_bundle_id: row.source_bundle_id!,
        planned_row_count: row.planned_row_count!,
        staged_rows: row.staged_rows!,
        initialization_id: row.initialization_id!,
        created_at: ts(row.created_at),
        expires_at: ts(row.expires_at),
        age_seconds: row.age_seconds!,
        expired: Boolean(row.expired),
      }),
      (row) => [row.source_id!, row.source_bundle_id!],
    );
  }

  async snapshotSessions(userId: string, cursor: string | undefined, limit: number) {
    const userPk = await this.userPk(userId);
    const [after] = decodeCursor(cursor, ['00000000-0000-0000-0000-000000000000']);
    if (!isCanonicalUuid(after!)) throw new OversyncError('invalid_request', 'cursor is not valid for this list');
    const rows = await this.db.query<Row>(
      `SELECT snapshot_id::text, snapshot_bundle_seq::text, row_count::text, byte_count::text, created_at, expires_at,
              floor(extract(epoch FROM now() - created_at))::text AS age_seconds, expires_at <= now() AS expired
         FROM sync.snapshot_sessions sn WHERE sn.user_pk = $1 AND sn.snapshot_id > $2::uuid ORDER BY sn.snapshot_id
           LIMIT $3`,
      [userPk, after, limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        snapshot_id: row.snapshot_id!,
        snapshot_bundle_seq: row.snapshot_bundle_seq!,
        row_count: row.row_count!,
        byte_count: row.byte_count!,
        created_at: ts(row.created_at),
        expires_at: ts(row.expires_at),
        age_seconds: row.age_seconds!,
        expired: Boolean(row.expired),
      }),
      (row) => [row.snapshot_id!],
    );
  }

  async bundles(userId: string, cursor: string | undefined, limit: number) {
    const userPk = await this.userPk(userId);
    const [before] = decodeCursor(cursor, ['9223372036854775807']);
    const rows = await this.db.query<Row>(
      `SELECT bundle_seq::text, source_id, source_bundle_id::text, row_count::text, byte_count::text,
              encode(bundle_hash, 'hex') AS bundle_hash, committed_at
         FROM sync.bundle_log bl WHERE bl.user_pk = $1 AND bl.bundle_seq < $2::bigint ORDER BY bl.bundle_seq DESC
           LIMIT $3`,
      [userPk, int64Text(before!, 'cursor'), limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        bundle_seq: row.bundle_seq!,
        source_id: row.source_id!,
        source_bundle_id: row.source_bundle_id!,
        row_count: row.row_count!,
        byte_count: row.byte_count!,
        bundle_hash: row.bundle_hash!,
        committed_at: ts(row.committed_at),
      }),
      (row) => [row.bundle_seq!],
    );
  }

  /** A bundle's header, a page of its rows, and its hash recomputed with @oversync/protocol. */
  async bundle(userId: string, bundleSeq: string, cursor: string | undefined, limit: number) {
    const userPk = await this.userPk(userId);
    const seq = int64Text(bundleSeq, 'bundle_seq');
    const [afterOrdinal] = decodeCursor(cursor, ['0']);
    return this.db.transaction(
      async (client) => {
        const { rows: headers } = await client.query<Row>(
          `SELECT bundle_seq::text, source_id, source_bundle_id::text, row_count::text, byte_count::text,
                encode(bundle_hash, 'hex') AS bundle_hash, committed_at
           FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq = $2`,
          [userPk, seq],
        );
        const header = headers[0];
        if (!header)
          throw new OversyncError('admin_bundle_not_found', `bundle ${seq} of user ${userId} is not retained`);
        // storage row_ordinal is wire ordinal + 1
        const { rows } = await client.query<Row>(
          `${BUNDLE_ROWS_SQL} AND br.row_ordinal > $3::bigint ORDER BY br.row_ordinal LIMIT $4`,
          [userPk, seq, int64Text(afterOrdinal!, 'cursor'), limit + 1],
        );
        const page = toPage(
          rows,
          limit,
          (row) => ({
            row_ordinal: (BigInt(row.row_ordinal!) - 1n).toString(),
            schema: row.schema_name!,
            table: row.table_name!,
            key: { [row.key_column!]: row.key_text! },
            op: row.op!,
            payload: row.payload,
          }),
          (row) => [row.row_ordinal!],
        );
        return {
          bundle: {
            bundle_seq: header.bundle_seq!,
            source_id: header.source_id!,
            source_bundle_id: header.source_bundle_id!,
            row_count: header.row_count!,
            byte_count: header.byte_count!,
            bundle_hash: header.bundle_hash!,
            committed_at: ts(header.committed_at),
          },
          verification: await verifyBundle(client, userPk, seq, header),
          rows: page,
        };
      },
      { isolation: 'REPEATABLE READ', readOnly: true },
    );
  }

  async rejectedWrites(userId: string, cursor: string | undefined, limit: number) {
    const userPk = await this.userPk(userId);
    const [before] = decodeCursor(cursor, ['9223372036854775807']);
    const rows = await this.db.query<Row>(
      `SELECT rejection_id::text, recorded_at, source_id, source_bundle_id::text, push_id::text, http_status::text,
        error_code,
              answer::text AS answer, planned_row_count::text, rows_sent::text AS rows_sent, rows_truncated
         FROM sync.rejected_writes rw WHERE rw.user_pk = $1 AND rw.rejection_id < $2::bigint
           ORDER BY rw.rejection_id DESC LIMIT $3`,
      [userPk, int64Text(before!, 'cursor'), limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        rejection_id: row.rejection_id!,
        recorded_at: ts(row.recorded_at),
        source_id: row.source_id!,
        source_bundle_id: row.source_bundle_id!,
        push_id: row.push_id!,
        http_status: Number(row.http_status),
        error_code: row.error_code!,
        answer: new RawJson(row.answer!),
        planned_row_count: row.planned_row_count!,
        rows_sent: new RawJson(row.rows_sent!),
        rows_truncated: Boolean(row.rows_truncated),
      }),
      (row) => [row.rejection_id!],
    );
  }

  async audit(cursor: string | undefined, limit: number) {
    const [before] = decodeCursor(cursor, ['9223372036854775807']);
    const rows = await this.db.query<Row>(
      `SELECT audit_id::text, performed_at, admin_id, action, user_id, target, detail::text AS detail
         FROM sync.admin_audit au WHERE au.audit_id < $1::bigint ORDER BY au.audit_id DESC LIMIT $2`,
      [int64Text(before!, 'cursor'), limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        audit_id: row.audit_id!,
        performed_at: ts(row.performed_at),
        admin_id: row.admin_id!,
        action: row.action!,
        user_id: row.user_id!,
        target: row.target!,
        detail: new RawJson(row.detail!),
      }),
      (row) => [row.audit_id!],
    );
  }

  /** The live counters of the page: the status service's, this process's watch streams, rejected commits so far. */
  async counters() {
    const { body } = await this.runtime.status.status();
    const [rejected] = await this.db.query<Row>(
      `SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('sync.rejected_writes', 'rejection_id')::regclass),
        0)::text AS n`,
    );
    return {
      status: body,
      watch_subscribers: this.runtime.watchSubscribers(),
      rejected_commit_count: rejected!.n!,
      at: new Date().toISOString(),
    };
  }

  async userPk(userId: string): Promise<string> {
    const [row] = await this.db.query<{ user_pk: string }>('SELECT user_pk FROM sync.user_state WHERE user_id = $1', [
      userId,
    ]);
    if (!row) throw unknownUser(userId);
    return row.user_pk;
  }
}

const BUNDLE_ROWS_SQL = `SELECT br.row_ordinal::text, tc.schema_name, tc.table_name, tc.sync_key_column AS key_column,
         ${KEY_TEXT_SQL('br')} AS key_text, ${OP_SQL('br')} AS op, br.payload_wire::text AS payload
    FROM sync.bundle_rows br JOIN sync.table_catalog tc ON tc.table_id = br.table_id
   WHERE br.user_pk = $1 AND br.bundle_seq = $2`;

/** Recomputes bundle_hash and byte_count from the stored rows (bounded by VERIFY_MAX_ROWS). */
async function verifyBundle(client: SyncClient, userPk: string, seq: string, header: Row) {
  if (Number(header.row_count) > VERIFY_MAX_ROWS)
    return { verified: null, reason: `more than ${VERIFY_MAX_ROWS} rows: not recomputed` };
  const { rows } = await client.query<Row>(`${BUNDLE_ROWS_SQL} ORDER BY br.row_ordinal`, [userPk, seq]);
  const hashRows: BundleHashRow[] = rows.map((row) => ({
    schema: row.schema_name!,
    table: row.table_name!,
    key: { [row.key_column!]: row.key_text! },
    op: row.op as RowOp,
    row_version: BigInt(seq),
    payload: row.payload === null ? undefined : new RawJson(row.payload),
  }));
  const computed = computeBundleHash(hashRows);
  const verified =
    computed.bundleHash === header.bundle_hash &&
    computed.byteCount === Number(header.byte_count) &&
    rows.length === Number(header.row_count);
  return {
    verified,
    recomputed_hash: computed.bundleHash,
    recomputed_byte_count: String(computed.byteCount),
    reason: verified ? '' : 'stored hash, byte count or row count differs from the rows',
  };
}

function unknownUser(userId: string) {
  return new OversyncError('admin_user_not_found', `user ${userId} has no sync state`);
}
