import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { runRetryable, type SyncClient, type SyncDatabase } from '../database/sync-database.js';
import { rfc3339Sql, trimRfc3339 } from '../database/timestamps.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import type { SyncActor } from '../auth/sync-actor.js';
import { requireInitializedScope } from '../connect/scope-state.js';
import { OversyncScopeService } from '../scope/oversync-scope.service.js';
import { EncodedJson, isCanonicalUuid, TX_RETRY_ATTEMPTS, TX_RETRY_BASE_DELAY_MS } from '@oversync/protocol';
import { SNAPSHOT_ROW_BLOCK_ROWS } from '../schema/sync-schema.sql.js';
import type { SnapshotChunkResponse } from '@oversync/protocol';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { quoteLiteral } from '../database/sql-quote.js';
import { copyOutBinary } from '../database/copy-out.js';
import { StreamedJson, WireBuffer, type WireReply, type WireWrite } from '../http/wire-stream.js';
import { materializeSnapshotRows, UnsyncedRowsError } from './snapshot-materializer.js';
import { applySourceReplacement } from './source-replacement.js';
import type { SourceReplacementRequest } from './snapshot-request.parser.js';

export interface SnapshotSession {
  snapshotId: string;
  snapshotBundleSeq: bigint;
  rowCount: bigint;
  byteCount: bigint;
  /** RFC3339Nano UTC */
  expiresAt: string;
}

export interface SnapshotChunkQuery {
  afterRowOrdinal: bigint;
  maxRows: number | null;
}

/**
 * The slices of stored SnapshotRow texts holding ordinals (after, last] of a session, one per covering
 * block in ordinal order: `(first_ordinal, rows, rows_text)`, `rows` the count of rows of the slice.
 * Ordinals are dense (1..row_count) and a block holds at most SNAPSHOT_ROW_BLOCK_ROWS rows, so the
 * covering blocks are a bounded range of the primary key, first_ordinal in (after − B + 1, last]: a
 * chunk costs the same at any position of any size of snapshot. Rows are cut by their stored lengths
 * (characters); a block read whole is sent as stored. `p` are SQL expressions of (user_pk, snapshot
 * id, after, last): parameters, or literals for a COPY.
 */
const chunkSlicesSql = (p: [string, string, string, string]) => `SELECT s.first_ordinal, s.z - s.a + 1 AS rows,
       CASE WHEN s.a = 1 AND s.z = s.n THEN s.rows_text
            ELSE substr(s.rows_text, COALESCE((SELECT sum(l) FROM unnest(s.lengths[1:s.a - 1]) l), 0)::int + s.a::int,
                        (SELECT sum(l) FROM unnest(s.lengths[s.a:s.z]) l)::int + (s.z - s.a)::int) END AS rows_text
  FROM (SELECT b.first_ordinal, b.rows_text, b.row_lengths AS lengths, cardinality(b.row_lengths) AS n,
               greatest(1, ${p[2]} - b.first_ordinal + 2) AS a,
               least(cardinality(b.row_lengths), ${p[3]} - b.first_ordinal + 1) AS z
          FROM sync.snapshot_row_blocks b
         WHERE b.user_pk = ${p[0]} AND b.snapshot_id = ${p[1]}
           AND b.first_ordinal > ${p[2]} - ${SNAPSHOT_ROW_BLOCK_ROWS} + 1 AND b.first_ordinal <= ${p[3]}
           AND b.first_ordinal + cardinality(b.row_lengths) - 1 > ${p[2]}) s`;

/**
 * One chunk of a session as one JSON text ($1 user_pk, $2 snapshot id, rows ($3, $4]): the slices of
 * `chunkSlicesSql` comma-joined; `fetched` counts the rows.
 */
export const SNAPSHOT_CHUNK_SQL = `SELECT COALESCE(sum(c.rows), 0) AS fetched,
       string_agg(c.rows_text, ',' ORDER BY c.first_ordinal) AS rows_text
  FROM (${chunkSlicesSql(['$1', '$2::uuid', '$3::bigint', '$4::bigint'])}) c`;

/** `chunkSlicesSql` as a self-contained statement (for a COPY), in ordinal order. */
export function snapshotChunkSlicesSql(userPk: string, snapshotId: string, after: bigint, last: bigint): string {
  const params: [string, string, string, string] = [
    BigInt(userPk).toString(),
    `${quoteLiteral(snapshotId)}::uuid`,
    `${after}::bigint`,
    `${last}::bigint`,
  ];
  return `${chunkSlicesSql(params)}
   ORDER BY s.first_ordinal`;
}

/** Chunks of at least this many rows are written while PostgreSQL reads them (smaller ones in one round trip). */
export const SNAPSHOT_STREAM_MIN_ROWS = SNAPSHOT_ROW_BLOCK_ROWS;

const COMMA = Buffer.from(',');
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

const notFoundError = (id: string) =>
  new OversyncError('snapshot_session_not_found', `snapshot session ${id} was not found`);
const forbiddenError = (id: string) =>
  new OversyncError('snapshot_session_forbidden', `snapshot session ${id} does not belong to the authenticated user`);

/**
 * Snapshot sessions (spec §3.9–§3.11, §4.10, §4.11): a frozen after-image of the user's rows at the
 * stable bundle sequence, materialised set-based and served by ordinal. Expiry uses the database
 * clock only; expired sessions are removed by `OversyncSessionSweeper`, not by requests (§8.8, §8.9).
 */
@Injectable()
export class SnapshotSessionService {
  private readonly logger = new Logger('Oversync');

  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly lifecycle: SyncLifecycle,
    private readonly schema: OversyncSchemaService,
    private readonly scopes: OversyncScopeService,
    private readonly telemetry: OversyncTelemetry,
  ) {}

  create(actor: SyncActor, replacement: SourceReplacementRequest | null): Promise<SnapshotSession> {
    const timer = this.telemetry.timer('snapshot_create');
    return this.lifecycle
      .run(async () => {
        try {
          return await this.materialize(actor, replacement, false);
        } catch (error) {
          if (!(error instanceof UnsyncedRowsError)) throw error;
          // Rows written outside sync would fail the snapshot forever in the reference (§8.10,
          // §8.16): adopt, then retry once.
          const adopted = await this.scopes.adoptUnsyncedRows(actor.userId);
          this.logger.log(
            `adopted ${adopted.rows} business row(s) without sync state for user ${actor.userId} in ` +
              `${adopted.bundles} bundle(s)`,
          );
          return this.materialize(actor, replacement, true);
        }
      })
      .then((session) => (this.telemetry.snapshotCreated(Number(session.rowCount), timer.done()), session));
  }

  private materialize(
    actor: SyncActor,
    replacement: SourceReplacementRequest | null,
    tolerateUnsynced: boolean,
  ): Promise<SnapshotSession> {
    // A concurrent writer of the same source_state rows makes REPEATABLE READ fail with 40001: retry rather than 500.
    return runRetryable(TX_RETRY_ATTEMPTS, TX_RETRY_BASE_DELAY_MS, () =>
      this.db.transaction((client) => this.materializeInTransaction(client, actor, replacement, tolerateUnsynced), {
        isolation: 'REPEATABLE READ',
      }),
    );
  }

  private async materializeInTransaction(
    client: SyncClient,
    actor: SyncActor,
    replacement: SourceReplacementRequest | null,
    tolerateUnsynced: boolean,
  ): Promise<SnapshotSession> {
    const user = await requireInitializedScope(client, actor.userId);
    if (replacement) await applySourceReplacement(client, user.userPk, actor, replacement);
    const snapshotId = randomUUID();
    const { rows: created } = await client.query<{ expires_at: string }>(
      `INSERT INTO sync.snapshot_sessions (snapshot_id, user_pk, snapshot_bundle_seq, row_count, byte_count, expires_at)
       VALUES ($1::uuid, $2, $3, 0, 0, now() + $4 * interval '1 millisecond')
       RETURNING ${rfc3339Sql('expires_at')} AS expires_at`,
      [snapshotId, user.userPk, user.latest.toString(), this.config.snapshotSessionTtlMs],
    );
    const totals = await materializeSnapshotRows(client, this.schema.catalog, {
      snapshotId,
      userPk: user.userPk,
      userId: actor.userId,
      tolerateUnsynced,
    });
    if (totals.unsyncedRows > 0n) {
      this.logger.warn(
        `snapshot ${snapshotId} of user ${actor.userId} left out ${totals.unsyncedRows} business row(s) ` +
          `without sync state`,
      );
    }
    this.enforceLimits(totals.rowCount, totals.byteCount);
    await client.query(
      'UPDATE sync.snapshot_sessions SET row_count = $2, byte_count = $3 WHERE snapshot_id = $1::uuid',
      [snapshotId, totals.rowCount.toString(), totals.byteCount.toString()],
    );
    return {
      snapshotId,
      snapshotBundleSeq: user.latest,
      rowCount: totals.rowCount,
      byteCount: totals.byteCount,
      expiresAt: trimRfc3339(created[0]!.expires_at),
    };
  }

  /** Configured session limits; exceeding them is the size of the user's data, not a server failure: 413 (§8.1). */
  private enforceLimits(rowCount: bigint, byteCount: bigint): void {
    const { maxRowsPerSnapshotSession: maxRows, maxBytesPerSnapshotSession: maxBytes } = this.config;
    const tooLarge = (message: string) => new OversyncError('snapshot_session_too_large', message);
    if (maxRows > 0 && rowCount > BigInt(maxRows))
      throw tooLarge(`snapshot session row_count ${rowCount} exceeds limit ${maxRows}`);
    if (maxBytes > 0 && byteCount > BigInt(maxBytes))
      throw tooLarge(`snapshot session byte_count ${byteCount} exceeds limit ${maxBytes}`);
  }

  /**
   * Answers on `reply`: a chunk of fewer than SNAPSHOT_STREAM_MIN_ROWS rows after its one round trip, a
   * larger one streamed from the stored blocks inside its transaction (one binary COPY of the slices,
   * their bytes passed from PostgreSQL's socket buffers to the client's without becoming JS strings).
   */
  chunk(
    actor: SyncActor,
    snapshotId: string,
    query: SnapshotChunkQuery,
    reply: WireReply<SnapshotChunkResponse<EncodedJson>>,
  ): Promise<void> {
    return this.lifecycle.run(async () => {
      this.requireId(snapshotId);
      if (query.afterRowOrdinal < 0n)
        throw new OversyncError('snapshot_chunk_invalid', 'after_row_ordinal must be >= 0');
      if (query.maxRows !== null && query.maxRows <= 0)
        throw new OversyncError('snapshot_chunk_invalid', 'max_rows must be > 0');
      const maxRows = Math.min(
        query.maxRows ?? this.config.defaultRowsPerSnapshotChunk,
        this.config.maxRowsPerSnapshotChunk,
      );
      if (!isCanonicalUuid(snapshotId)) throw notFoundError(snapshotId);
      return this.db.transaction(
        async (client) => {
          const { rows: sessions } = await client.query<{
            user_id: string;
            user_pk: string;
            snapshot_bundle_seq: string;
            row_count: string;
            expired: boolean;
          }>(
            `SELECT us.user_id, ss.user_pk, ss.snapshot_bundle_seq, ss.row_count, ss.expires_at < now() AS expired
             FROM sync.snapshot_sessions ss JOIN sync.user_state us ON us.user_pk = ss.user_pk
            WHERE ss.snapshot_id = $1::uuid`,
            [snapshotId],
          );
          const session = sessions[0];
          if (!session) throw notFoundError(snapshotId);
          if (session.user_id !== actor.userId) throw forbiddenError(snapshotId);
          if (session.expired)
            throw new OversyncError(
              'snapshot_session_expired',
              `snapshot session ${snapshotId} has expired; start a new snapshot session`,
            );
          const after = query.afterRowOrdinal;
          const rowCount = BigInt(session.row_count);
          const last = after + BigInt(maxRows) < rowCount ? after + BigInt(maxRows) : rowCount;
          const count = last > after ? last - after : 0n;
          const header = {
            snapshot_id: snapshotId,
            snapshot_bundle_seq: BigInt(session.snapshot_bundle_seq),
          };
          const tail = { next_row_ordinal: after + count, has_more: after + BigInt(maxRows) < rowCount };
          if (count >= BigInt(SNAPSHOT_STREAM_MIN_ROWS)) {
            const sql = snapshotChunkSlicesSql(session.user_pk, snapshotId, after, last);
            return reply.send(200, {
              ...header,
              rows: new StreamedJson((write) => writeChunkRows(client, sql, count, write)),
              ...tail,
            });
          }
          let rowsText = '';
          if (count > 0n) {
            const { rows } = await client.query<{ fetched: string; rows_text: string | null }>(SNAPSHOT_CHUNK_SQL, [
              session.user_pk,
              snapshotId,
              after.toString(),
              last.toString(),
            ]);
            // the blocks are written with the session in one transaction: a gap is a broken invariant
            if (BigInt(rows[0]!.fetched) !== count)
              throw new Error(`snapshot ${snapshotId} holds ${rows[0]!.fetched} of rows ${after + 1n}..${last}`);
            rowsText = rows[0]!.rows_text!;
          }
          // stored wire texts (schema, table, key, row_version, payload), already canonical and Go-escaped
          return reply.send(200, { ...header, rows: new EncodedJson(`[${rowsText}]`), ...tail });
        },
        { isolation: 'REPEATABLE READ', readOnly: true },
      );
    });
  }

  /** Deletes a session of the caller; no expiry check (spec §3.11). */
  delete(actor: SyncActor, snapshotId: string): Promise<void> {
    return this.lifecycle.run(async () => {
      this.requireId(snapshotId);
      if (!isCanonicalUuid(snapshotId)) throw notFoundError(snapshotId);
      await this.db.transaction(async (client) => {
        const { rows } = await client.query<{ user_id: string }>(
          `SELECT us.user_id FROM sync.snapshot_sessions ss JOIN sync.user_state us ON us.user_pk = ss.user_pk
            WHERE ss.snapshot_id = $1::uuid FOR UPDATE OF ss`,
          [snapshotId],
        );
        if (!rows[0]) throw notFoundError(snapshotId);
        if (rows[0].user_id !== actor.userId) throw forbiddenError(snapshotId);
        await client.query('DELETE FROM sync.snapshot_sessions WHERE snapshot_id = $1::uuid', [snapshotId]);
      });
    });
  }

  private requireId(snapshotId: string): void {
    if (snapshotId === '') throw new OversyncError('snapshot_chunk_invalid', 'snapshot_id must be provided');
  }
}

/**
 * The `rows` array of a streamed chunk: '[' + the slices of `sql` comma-joined + ']', each slice's
 * bytes written as PostgreSQL sends them. The blocks are written with the session in one transaction:
 * a count of rows other than `count` is a broken invariant, and cuts the answer.
 */
async function writeChunkRows(client: SyncClient, sql: string, count: bigint, write: WireWrite): Promise<void> {
  const out = new WireBuffer(write);
  let slices = 0;
  let rows = 0n;
  out.bytes(OPEN);
  await copyOutBinary(client, sql, {
    tuple(lead) {
      rows += lead[1]!.readBigInt64BE(0);
      if (slices++ > 0) out.bytes(COMMA);
    },
    piece: (bytes) => out.bytes(bytes),
    flush: () => out.flush(),
  });
  if (rows !== count) throw new Error(`snapshot chunk holds ${rows} of ${count} rows`);
  out.bytes(CLOSE);
  await out.flush();
}
