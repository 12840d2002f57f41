import { randomUUID } from 'node:crypto';
import type { QueryConfig } from 'pg';
import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import {
  prepared,
  sqlState,
  type SyncClient,
  type SyncDatabase,
  type TransactionOptions,
} from '../database/sync-database.js';
import {
  APPLY_ERROR_HINT,
  PUSH_CONFLICT_SQLSTATE,
  PUSH_NODE_PATH_SQLSTATE,
} from '../schema/sync-push-functions.sql.js';
import type { SyncCatalog } from '../schema/sync-catalog.js';
import { userTransaction } from '../database/user-lock.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import type { StageTimer } from '../lifecycle/stage-timer.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import type { SyncActor } from '../auth/sync-actor.js';
import { markScopeInitialized, requireActiveInitializationLease } from '../connect/scope-state.js';
import { canonicalWirePayload, isCanonicalUuid, ROW_OP_NAMES } from '@oversync/protocol';
import { byteaColumnsOf } from '../schema/registered-table.js';
import { arrayParameter } from '../database/sql-quote.js';
import { keyStringOf } from '../bundle/row-keys.js';
import { setBundleContext } from '../bundle/bundle-context.js';
import {
  finalizeCapturedBundle,
  finalizeInsertedBundle,
  finalizeWriterCapturedBundle,
  type CommittedBundle,
  type FinalizeOptions,
} from '../bundle/bundle-capture.js';
import { BundleAnnouncer } from '../bundle/bundle-announcer.js';
import { applyRetention } from '../retention/retention.js';
import { activateSource, readSourceState, sourceRetired } from './source-state.js';
import { parsePushChunk, parsePushChunkRows } from './push-chunk.parser.js';
import { stageChunkByCopy, type ChunkCopyCall } from './push-chunk-copy.js';
import {
  applyInsertRunFinalized,
  applyInsertRunsCaptured,
  applyPushRows,
  ApplyRowError,
  loadApplyRuns,
  writerCapture,
  type ApplyRow,
  type ApplyRun,
} from './push-apply.js';
import { findConflict, pushConflict, type ConflictFacts } from './push-conflicts.js';
import { callRequestFunction, type RequestFunctionOptions } from '../database/request-function.js';
import { recordRejectedCommit } from './rejected-commit-log.js';

export interface CreatePushSessionInput {
  sourceBundleId: bigint;
  plannedRowCount: bigint;
  initializationId: string;
}

export type CreatePushSessionResult =
  | { status: 'staging'; pushId: string; plannedRowCount: bigint }
  | { status: 'already_committed'; bundle: CommittedBundle };

interface PushSessionRow {
  push_id: string;
  user_pk: string;
  user_id: string;
  source_id: string;
  source_bundle_id: string;
  planned_row_count: string;
  next_expected_row_ordinal: string;
  initialization_id: string;
  expired: boolean;
  /** commit only: `count min_ordinal max_ordinal` of the staged rows */
  staged_shape?: string;
  /** commit only: whether a logical row is staged twice */
  staged_repeats?: boolean;
  /** commit only: `table_id columns:rows` while every staged row is an INSERT of one table and member list */
  staged_insert_shape?: string | null;
  /** commit only: key_bytes (hex) of the first staged row */
  first_key_hex?: string | null;
}

const CALL_PUSH_CREATE = prepared('SELECT * FROM sync.push_create($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)');

/** What `sync.push_create` is called with (spec §4.2.1). */
export interface PushCreateCall {
  userId: string;
  sourceId: string;
  sourceBundleId: bigint;
  plannedRowCount: bigint;
  initializationId: string | undefined;
  pushId: string;
  sessionTtlMs: number;
  leaseTtlMs: number;
  lockTimeoutMs: number;
  uploadLockTimeoutMs: number;
}

/** The `sync.push_create` statement with its parameters in order (also what test/bench/sql-probe.ts times). */
export function pushCreateStatement(call: PushCreateCall): QueryConfig {
  return CALL_PUSH_CREATE([
    call.userId,
    call.sourceId,
    call.sourceBundleId.toString(),
    call.plannedRowCount.toString(),
    call.initializationId ?? '',
    call.pushId,
    call.sessionTtlMs,
    call.leaseTtlMs,
    call.lockTimeoutMs,
    call.uploadLockTimeoutMs,
  ]);
}
const CALL_PUSH_CHUNK = prepared(
  'SELECT * FROM sync.push_chunk($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)',
);
const CALL_PUSH_COMMIT = prepared('SELECT * FROM sync.push_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)');
/** The push functions write under the user lock, answering in `out_lock_waited` whether they waited for it. */
const PUSH_CALL = { lockWaited: 'out_lock_waited', write: { idempotent: false } } satisfies RequestFunctionOptions;

/**
 * Bundles up to this many rows commit inside `sync.push_commit`; larger ones (the bulk path, which
 * skips the derived rows' foreign-key checks from 1000 rows on) take the Node path.
 */
const DATABASE_COMMIT_MAX_ROWS = 999;

/** Stages `sync.push_commit` and `sync.push_chunk` time, in the order of their `out_stage_ms`. */
const COMMIT_STAGES = [
  'lock',
  'stage',
  'conflicts',
  'apply',
  'capture',
  'canonicalize',
  'hash',
  'finalize',
  'retention',
] as const;
const CHUNK_STAGES = ['lock', 'session', 'stage'] as const;
/**
 * Chunk bodies from this size on (about 600 rows of a small table) are staged by COPY while they are parsed
 * (push-chunk-copy.ts); smaller ones, the everyday push, keep the single round trip of `sync.push_chunk`.
 */
export const COPY_STAGING_MIN_BODY_CHARS = 128 * 1024;

/** A body's leading `"start_row_ordinal":N,` as clients write it (a later member could restate it). */
const STATED_START = /^\s*\{\s*"start_row_ordinal"\s*:\s*(\d{1,15})\s*,/;

/**
 * The start ordinal a chunk body states before its rows, if it does: a chunk retried after a lost answer
 * states one the session has moved past, and is declined before the COPY stages and rolls back its rows
 * (only a hint for declining: sync.push_chunk answers from the parse).
 */
function statedStartRowOrdinal(body: string): bigint | undefined {
  const stated = STATED_START.exec(body.slice(0, 256));
  return stated ? BigInt(stated[1]!) : undefined;
}

/**
 * 'table_id.column' of every bytea column of the catalog (`sync.push_commit`'s canonical payloads write them as
 * base64), as the array text pg sends for it: built once per catalog.
 */
const byteaColumns = new WeakMap<SyncCatalog, string>();
function catalogByteaColumns(catalog: SyncCatalog): string {
  let columns = byteaColumns.get(catalog);
  if (columns === undefined) {
    columns = arrayParameter(
      catalog.tables.flatMap((table) => [...byteaColumnsOf(table)].map((column) => `${table.tableId}.${column}`)),
    );
    byteaColumns.set(catalog, columns);
  }
  return columns;
}

const loadSessionSql = (staged: string) =>
  `SELECT ps.push_id::text, ps.user_pk, us.user_id, ps.source_id, ps.source_bundle_id, ps.planned_row_count,
          ps.next_expected_row_ordinal, COALESCE(ps.initialization_id::text, '') AS initialization_id,
          ps.expires_at < now() AS expired${staged}
     FROM sync.push_sessions ps JOIN sync.user_state us ON us.user_pk = ps.user_pk
    WHERE ps.push_id = $1::uuid FOR UPDATE OF ps`;
const LOAD_SESSION = prepared(loadSessionSql(''));
// For commit, the staged rows' shape comes in the same round trip: their count and ordinal range
// (contiguous when they agree with the count: ordinals are unique) and whether a logical row repeats.
const LOAD_SESSION_WITH_STAGED = prepared(
  loadSessionSql(`,
          (SELECT count(*) || ' ' || COALESCE(min(psr.row_ordinal), -1) || ' ' || COALESCE(max(psr.row_ordinal), -1)
             FROM sync.push_session_rows psr WHERE psr.push_id = ps.push_id) AS staged_shape,
          EXISTS (SELECT FROM sync.push_session_rows psr WHERE psr.push_id = ps.push_id
                   GROUP BY psr.table_id, psr.key_bytes HAVING count(*) > 1) AS staged_repeats,
          ps.staged_insert_shape,
          (SELECT encode(psr.key_bytes, 'hex') FROM sync.push_session_rows psr
            WHERE psr.push_id = ps.push_id AND psr.row_ordinal = 0) AS first_key_hex`),
);
/**
 * The first staged row, in upload order, that is out of place or repeats a logical row (as
 * `sync.push_commit` finds it).
 */
const FIRST_BAD_STAGED_ROW = prepared(
  `SELECT s.row_ordinal, s.i, s.table_id, encode(s.key_bytes, 'hex') AS key_hex
     FROM (SELECT psr.row_ordinal, psr.table_id, psr.key_bytes, row_number() OVER (ORDER BY psr.row_ordinal) - 1 AS i,
                  count(*) OVER (PARTITION BY psr.table_id, psr.key_bytes ORDER BY psr.row_ordinal) AS seen
             FROM sync.push_session_rows psr WHERE psr.push_id = $1::uuid) s
    WHERE s.row_ordinal <> s.i OR s.seen > 1
    ORDER BY s.i LIMIT 1`,
);

/** Push sessions: create, chunk upload, commit and delete (spec §3.2–§3.5, §4.2–§4.6). */
@Injectable()
export class PushSessionService {
  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly lifecycle: SyncLifecycle,
    private readonly schema: OversyncSchemaService,
    private readonly announcer: BundleAnnouncer,
    private readonly telemetry: OversyncTelemetry,
  ) {}

  create(actor: SyncActor, input: CreatePushSessionInput): Promise<CreatePushSessionResult> {
    return this.lifecycle.run(async () => {
      if (input.sourceBundleId <= 0n) throw new OversyncError('push_session_invalid', 'source_bundle_id must be > 0');
      if (input.plannedRowCount <= 0n) throw new OversyncError('push_session_invalid', 'planned_row_count must be > 0');
      if (input.plannedRowCount > BigInt(this.config.maxPlannedRowCount)) {
        throw new OversyncError(
          'push_session_invalid',
          `planned_row_count must be <= ${this.config.maxPlannedRowCount}`,
        );
      }
      // one call (spec §4.2.1): scope and lease checks, idempotent replay, sweep, source sequencing, the session
      const pushId = randomUUID();
      const [row] = await callRequestFunction<{
        out_status: 'staging' | 'already_committed';
        out_bundle_seq: string;
        out_source_id: string;
        out_source_bundle_id: string;
        out_row_count: string;
        out_bundle_hash: string;
        out_lock_waited: boolean;
      }>(
        this.db,
        pushCreateStatement({
          userId: actor.userId,
          sourceId: actor.sourceId,
          sourceBundleId: input.sourceBundleId,
          plannedRowCount: input.plannedRowCount,
          initializationId: input.initializationId,
          pushId,
          sessionTtlMs: this.config.pushSessionTtlMs,
          leaseTtlMs: this.config.initializationLeaseTtlMs,
          lockTimeoutMs: this.lockTimeoutMs,
          uploadLockTimeoutMs: this.uploadLockTimeoutMs,
        }),
        { ...PUSH_CALL, write: { idempotent: true } },
      );
      if (row.out_status === 'already_committed') {
        return {
          status: 'already_committed',
          bundle: {
            bundleSeq: row.out_bundle_seq,
            sourceId: row.out_source_id,
            sourceBundleId: row.out_source_bundle_id,
            rowCount: Number(row.out_row_count),
            bundleHash: row.out_bundle_hash,
          },
        };
      }
      return { status: 'staging', pushId, plannedRowCount: input.plannedRowCount };
    });
  }

  uploadChunk(actor: SyncActor, pushId: string, body: string): Promise<{ nextExpectedRowOrdinal: bigint }> {
    return this.lifecycle.run(async () => {
      const timer = this.telemetry.timer('push_chunk');
      const catalog = this.schema.catalog;
      const maxRows = this.config.maxRowsPerPushChunk;
      if (body.length >= COPY_STAGING_MIN_BODY_CHARS && isCanonicalUuid(pushId)) {
        const staged = await stageChunkByCopy(
          this.db,
          this.chunkCall(actor, pushId),
          (sink) => parsePushChunkRows(body, catalog, maxRows, sink),
          statedStartRowOrdinal(body),
        );
        if (staged.status === 'staged') {
          // parse and staging overlap: 'stage' is both, up to the commit
          timer.record('lock', staged.stageMs[0]);
          timer.record('session', staged.stageMs[1]);
          timer.mark('stage', { 'oversync.rows': staged.chunk.length });
          timer.done();
          this.telemetry.chunkStaged(staged.chunk.length, body);
          return { nextExpectedRowOrdinal: staged.nextExpectedRowOrdinal };
        }
      }
      const chunk = parsePushChunk(body, catalog, maxRows);
      timer.mark('parse');
      if (!isCanonicalUuid(pushId))
        throw new OversyncError('push_session_not_found', `push session ${pushId} was not found`);
      // one call (spec §4.2.2). Payloads as one newline-joined text (canonical JSON has no raw newline),
      // the other columns as array literals written here (numbers, hex digits): no per-element escaping.
      const call = this.chunkCall(actor, pushId);
      const [row] = await callRequestFunction<{
        out_next_row_ordinal: string;
        out_stage_ms: number[];
        out_lock_waited: boolean;
      }>(
        this.db,
        CALL_PUSH_CHUNK([
          pushId,
          actor.userId,
          actor.sourceId,
          chunk.startRowOrdinal.toString(),
          `{${chunk.tableIds.join(',')}}`,
          // quoted: an empty text key is an empty element
          `{"${chunk.keyHex.join('","')}"}`,
          `{${chunk.opCodes.join(',')}}`,
          `{${chunk.baseRowVersions.join(',')}}`,
          chunk.payloads,
          call.sessionTtlMs,
          call.leaseTtlMs,
          call.lockTimeoutMs,
          call.uploadLockTimeoutMs,
          chunk.insertShape,
        ]),
        PUSH_CALL,
      );
      CHUNK_STAGES.forEach((stage, i) =>
        timer.record(
          stage,
          row.out_stage_ms[i] ?? 0,
          stage === 'stage' ? { 'oversync.rows': chunk.length } : undefined,
        ),
      );
      timer.done();
      this.telemetry.chunkStaged(chunk.length, body);
      return { nextExpectedRowOrdinal: BigInt(row.out_next_row_ordinal) };
    });
  }

  private chunkCall(actor: SyncActor, pushId: string): ChunkCopyCall {
    return {
      pushId,
      userId: actor.userId,
      sourceId: actor.sourceId,
      sessionTtlMs: this.config.pushSessionTtlMs,
      leaseTtlMs: this.config.initializationLeaseTtlMs,
      lockTimeoutMs: this.lockTimeoutMs,
      uploadLockTimeoutMs: this.uploadLockTimeoutMs,
    };
  }

  commit(actor: SyncActor, pushId: string): Promise<CommittedBundle> {
    return this.lifecycle.run(async () => {
      const timer = this.telemetry.timer('push_commit');
      try {
        if (!isCanonicalUuid(pushId))
          throw new OversyncError('push_session_not_found', `push session ${pushId} was not found`);
        // constraints deferred from the start (spec step 6; nothing is written before it): deferred FK
        // violations surface at COMMIT, outside the callback, so the mapping wraps the whole transaction
        const bundle =
          (await this.commitInDatabase(actor, pushId, timer)) ??
          (await this.underUserLock(actor, (client) => this.commitInTransaction(client, actor, pushId, timer), {
            deferConstraints: true,
          }));
        // COMMIT made the bundle visible and delivered the NOTIFY queued with its bundle_log row
        this.announcer.committed(actor.userId, bundle);
        timer.mark('notify');
        this.telemetry.committed(bundle.rowCount, timer.done());
        return bundle;
      } catch (error) {
        const rejected = rejectedByDatabase(error);
        await recordRejectedCommit(this.db, actor, pushId, rejected);
        throw rejected;
      }
    });
  }

  /**
   * The commit as one `sync.push_commit` call; null when the function declines the bundle (too many
   * rows, a payload SQL cannot canonicalise exactly), which then takes the Node path.
   */
  private async commitInDatabase(actor: SyncActor, pushId: string, timer: StageTimer): Promise<CommittedBundle | null> {
    const catalog = this.schema.catalog;
    let row: {
      out_bundle_seq: string;
      out_source_id: string;
      out_source_bundle_id: string;
      out_row_count: string;
      out_bundle_hash: string;
      out_stage_ms: number[];
      out_lock_waited: boolean;
    };
    try {
      [row] = await callRequestFunction<typeof row>(
        this.db,
        CALL_PUSH_COMMIT([
          pushId,
          actor.userId,
          actor.sourceId,
          DATABASE_COMMIT_MAX_ROWS,
          catalogByteaColumns(catalog),
          this.announcer.channel,
          this.config.retainedBundlesPerUser,
          this.config.retentionPruneBatchSize,
          this.config.initializationLeaseTtlMs,
          this.lockTimeoutMs,
          this.uploadLockTimeoutMs,
          this.announcer.listenerId,
        ]),
        PUSH_CALL,
      );
    } catch (error) {
      const state = sqlState(error);
      if (state === PUSH_NODE_PATH_SQLSTATE) return null;
      if (state === PUSH_CONFLICT_SQLSTATE) {
        const found = conflictFromDatabase(catalog, error);
        this.telemetry.conflict(found);
        throw found;
      }
      throw applyErrorFromDatabase(catalog, error) ?? error;
    }
    const rowCount = Number(row.out_row_count);
    COMMIT_STAGES.forEach((stage, i) => {
      const rows =
        stage === 'stage' || stage === 'capture' || stage === 'finalize' ? { 'oversync.rows': rowCount } : undefined;
      timer.record(stage, row.out_stage_ms[i] ?? 0, rows);
    });
    return {
      bundleSeq: row.out_bundle_seq,
      sourceId: row.out_source_id,
      sourceBundleId: row.out_source_bundle_id,
      rowCount,
      bundleHash: row.out_bundle_hash,
    };
  }

  private async commitInTransaction(
    client: SyncClient,
    actor: SyncActor,
    pushId: string,
    timer: StageTimer,
  ): Promise<CommittedBundle> {
    timer.mark('lock');
    // The statements over a large bundle sort in memory, and none is worth compiling: JIT cost a 100,000-row
    // bundle build 0.25 s of CPU and saved nothing. The staged rows' repeat check groups their keys by hashing:
    // the planner, which takes a session's rows for a handful, would sort them (100,000 keys: twice the CPU).
    await client.query(`SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; SET LOCAL enable_sort = off`);
    const session = await this.loadSession(client, actor, pushId, true);
    const catalog = this.schema.catalog;
    // Where the role may, the capture stage's foreign-key checks are skipped (see
    // sync.capture_registered_rows_inserted).
    const trustedCapture = catalog.trustedSyncWrites && BigInt(session.planned_row_count) > DATABASE_COMMIT_MAX_ROWS;
    await client.query(
      `SET LOCAL enable_sort TO DEFAULT${trustedCapture ? '; SET LOCAL oversync.bundle_trusted_capture = on' : ''}`,
    );
    const [count, min, max] = (session.staged_shape ?? '0 -1 -1').split(' ').map(BigInt) as [bigint, bigint, bigint];
    const planned = BigInt(session.planned_row_count);
    if (BigInt(session.next_expected_row_ordinal) !== planned || count !== planned) {
      throw new OversyncError(
        'push_commit_invalid',
        `staged row count ${count} does not match planned_row_count ${planned}`,
      );
    }
    if (min !== 0n || max !== count - 1n || session.staged_repeats) {
      const { rows: bad } = await client.query<{ row_ordinal: string; i: string; table_id: number; key_hex: string }>(
        FIRST_BAD_STAGED_ROW([session.push_id]),
      );
      const row = bad[0];
      if (row && row.row_ordinal !== row.i)
        throw new OversyncError('push_commit_invalid', `staged rows are not contiguous at row_ordinal ${row.i}`);
      if (row) {
        const table = catalog.get(row.table_id);
        throw new OversyncError(
          'push_commit_invalid',
          `duplicate target row in staged push session: ${table.name} ` +
            `${keyStringOf(table, Buffer.from(row.key_hex, 'hex'))}`,
        );
      }
    }
    timer.mark('stage', { 'oversync.rows': Number(count) });
    let userPk = session.user_pk;
    if (session.initialization_id) {
      const lease = await requireActiveInitializationLease(
        client,
        actor.userId,
        session.source_id,
        session.initialization_id,
        this.config.initializationLeaseTtlMs,
      );
      userPk = lease.userPk;
    }
    const source = await readSourceState(client, userPk, session.source_id, true);
    if (source.state === 'retired') throw sourceRetired(session.source_id, actor.userId, source.replacedBy);
    if (source.maxCommitted + 1n !== BigInt(session.source_bundle_id)) {
      throw new OversyncError(
        'source_sequence_changed',
        `source ${session.source_id} for user ${actor.userId} changed expected next source_bundle_id from ` +
          `staged ${session.source_bundle_id} to ${source.maxCommitted + 1n} before commit`,
      );
    }
    await setBundleContext(client, {
      userId: actor.userId,
      userPk,
      sourceId: session.source_id,
      sourceBundleId: session.source_bundle_id,
      initializationId: session.initialization_id,
    });
    const { conflict, anyRowState } = await findConflict(client, catalog, session.push_id, userPk, actor.userId);
    if (conflict) {
      this.telemetry.conflict(conflict);
      throw conflict;
    }
    timer.mark('conflicts');
    const bulk = BigInt(session.planned_row_count) > DATABASE_COMMIT_MAX_ROWS;
    const runs = (bulk && singleInsertRun(catalog, session)) || (await loadApplyRuns(client, catalog, session.push_id));
    const finalize: FinalizeOptions = {
      userPk,
      sourceId: session.source_id,
      sourceBundleId: session.source_bundle_id,
      notification: (b) => this.announcer.notification(userPk, b, true),
      // small bundles reach this path only when sync.push_commit declined a payload: Node builds those
      inDatabase: bulk ? { notify: this.announcer.databaseNotify } : undefined,
      timer,
    };
    let bundle =
      bulk && catalog.trustedSyncWrites
        ? await this.commitCapturedByWriter(client, session.push_id, actor.userId, runs, finalize, !anyRowState)
        : undefined;
    if (bundle === undefined) {
      await applyPushRows(client, session.push_id, actor.userId, runs);
      timer.mark('apply');
      bundle = await finalizeCapturedBundle(client, catalog, finalize);
    }
    if (!bundle)
      throw new OversyncError('push_commit_invalid', 'push session produced no captured business-table effects');
    await activateSource(client, userPk, session.source_id, actor.userId, session.source_bundle_id, session.push_id);
    await applyRetention(client, userPk, this.config);
    if (session.initialization_id) await markScopeInitialized(client, userPk, session.source_id);
    timer.mark('retention');
    return bundle;
  }

  /**
   * A bulk INSERT-only commit (where the role may skip triggers anyway): its statements capture their own
   * RETURNING rows and the bundle is built from those, with no capture stage to write, net and empty — in the
   * same statement when `writerCapture` allows, else through a temporary table. Undefined when that does not
   * apply or cannot finish (rolled back to before it): trigger capture then.
   */
  private async commitCapturedByWriter(
    client: SyncClient,
    pushId: string,
    userId: string,
    runs: ApplyRun[],
    finalize: FinalizeOptions,
    newKeys: boolean,
  ): Promise<CommittedBundle | null | undefined> {
    const capture = await writerCapture(client, runs);
    if (capture === null) return undefined;
    const catalog = this.schema.catalog;
    const notify = this.announcer.databaseNotify;
    await client.query('SAVEPOINT oversync_writer_capture');
    let bundle: CommittedBundle | null | undefined;
    if (capture === 'one-statement') {
      const finalizeRun = (order: 'key' | 'upload') =>
        applyInsertRunFinalized(
          pushId,
          userId,
          runs[0]!,
          (inserted, parameters) =>
            finalizeInsertedBundle(client, catalog, finalize, notify, { ...inserted, newKeys }, parameters),
          order,
        );
      try {
        bundle = await finalizeRun('key');
      } catch (error) {
        // a refused row: the one the upload order meets first is named, as the row-by-row apply would
        if (!REFUSED_ROW_CLASSES.includes(sqlState(error)?.slice(0, 2) ?? '')) throw error;
        await client.query('ROLLBACK TO SAVEPOINT oversync_writer_capture');
        bundle = await finalizeRun('upload');
      }
    } else {
      await applyInsertRunsCaptured(client, pushId, userId, runs);
      finalize.timer?.mark('apply');
      bundle = await finalizeWriterCapturedBundle(client, catalog, finalize, notify);
    }
    if (bundle === undefined) await client.query('ROLLBACK TO SAVEPOINT oversync_writer_capture');
    return bundle;
  }

  delete(actor: SyncActor, pushId: string): Promise<void> {
    return this.lifecycle.run(() =>
      this.db.transaction(async (client) => {
        const session = await this.loadSession(client, actor, pushId);
        await client.query('DELETE FROM sync.push_sessions WHERE push_id = $1', [session.push_id]);
      }),
    );
  }

  private get lockTimeoutMs(): number {
    return Math.max(1, Math.floor(this.config.userLockTimeoutMs));
  }

  /** the upload lock_timeout (ms), 0 for none */
  private get uploadLockTimeoutMs(): number {
    return this.config.uploadLockTimeoutMs > 0 ? Math.max(1, Math.floor(this.config.uploadLockTimeoutMs)) : 0;
  }

  /**
   * Transaction under the per-user lock, retried on 40001/40P01/55P03 (3 × 25 ms), with the
   * optional upload lock_timeout (§2.7, §2.8).
   */
  private underUserLock<T>(
    actor: SyncActor,
    fn: (client: SyncClient) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    return userTransaction(
      this.db,
      actor.userId,
      this.config.userLockTimeoutMs,
      async (client) => {
        if (this.config.uploadLockTimeoutMs > 0)
          await client.query(
            `SET LOCAL lock_timeout = '${Math.max(1, Math.floor(this.config.uploadLockTimeoutMs))}ms'`,
          );
        return fn(client);
      },
      { ...options, attempts: 3 },
    );
  }

  /** Loads and locks a session: 404 unknown, 403 other user or source (§8.7), 410 expired — database clock (§8.8). */
  private async loadSession(
    client: SyncClient,
    actor: SyncActor,
    pushId: string,
    withStagedLines = false,
  ): Promise<PushSessionRow> {
    if (!isCanonicalUuid(pushId))
      throw new OversyncError('push_session_not_found', `push session ${pushId} was not found`);
    const { rows } = await client.query<PushSessionRow>(
      (withStagedLines ? LOAD_SESSION_WITH_STAGED : LOAD_SESSION)([pushId]),
    );
    const session = rows[0];
    // Another user's session is reported as missing: its existence is not the caller's business.
    if (!session) throw new OversyncError('push_session_not_found', `push session ${pushId} was not found`);
    if (session.user_id !== actor.userId)
      throw new OversyncError(
        'push_session_forbidden',
        `push session ${pushId} does not belong to the authenticated user`,
      );
    if (session.source_id !== actor.sourceId)
      throw new OversyncError(
        'push_session_forbidden',
        `push session ${pushId} does not belong to the authenticated source`,
      );
    if (session.expired)
      throw new OversyncError('push_session_expired', `push session ${pushId} has expired; start a new push session`);
    return session;
  }
}

/**
 * The one apply run of a session whose chunks were all INSERTs of one table and member list (the chunks'
 * shape, recorded by `sync.push_chunk` with the rows it covers), as `loadApplyRuns` would find it without
 * reading every payload; undefined when the shape does not cover every staged row.
 */
function singleInsertRun(catalog: SyncCatalog, session: PushSessionRow): ApplyRun[] | undefined {
  const match = /^(\d+) ([a-z0-9_,]+):(\d+)$/.exec(session.staged_insert_shape ?? '');
  if (!match || match[3] !== session.planned_row_count || !session.first_key_hex) return undefined;
  const table = catalog.tables.find((t) => t.tableId === Number(match[1]));
  if (!table) return undefined;
  const first: ApplyRow = {
    ordinal: 0,
    table,
    key: keyStringOf(table, Buffer.from(session.first_key_hex, 'hex')),
    op: 'INSERT',
    columns: match[2]!.split(','),
  };
  return [{ first, last: Number(session.planned_row_count) - 1 }];
}

/** The push_conflict `sync.push_commit` raised: its facts (HINT) worded as the Node check words them. */
function conflictFromDatabase(catalog: SyncCatalog, error: unknown): OversyncError {
  const facts = JSON.parse((error as { hint: string }).hint) as ConflictFacts & {
    table_id: number;
    op_code: number;
    key_hex: string;
    bundle_seq: string | null;
    server_row: string | null;
  };
  const table = catalog.get(facts.table_id);
  const row = { table, key: keyStringOf(table, Buffer.from(facts.key_hex, 'hex')), op: ROW_OP_NAMES[facts.op_code]! };
  const serverRow = facts.server_row === null ? null : canonicalWirePayload(facts.server_row, byteaColumnsOf(table));
  return pushConflict(row, { base: facts.base, bundleSeq: facts.bundle_seq, deleted: facts.deleted }, serverRow);
}

/**
 * A business-table error `sync.push_commit` re-raised with the rows it failed on (HINT), as the Node path reports it.
 */
function applyErrorFromDatabase(catalog: SyncCatalog, error: unknown): ApplyRowError | undefined {
  const hint = (error as { hint?: string } | null)?.hint;
  if (!hint?.startsWith(APPLY_ERROR_HINT)) return undefined;
  const failed = JSON.parse(hint.slice(APPLY_ERROR_HINT.length)) as {
    first: number;
    last: number;
    table_id: number;
    op_code: number;
    key_hex: string;
  };
  const table = catalog.get(failed.table_id);
  const first: ApplyRow = {
    ordinal: failed.first,
    table,
    key: keyStringOf(table, Buffer.from(failed.key_hex, 'hex')),
    op: ROW_OP_NAMES[failed.op_code]!,
    columns: [],
  };
  return new ApplyRowError(failed.last === failed.first ? [first] : [first, { ...first, ordinal: failed.last }], error);
}

const REJECTED_CLASSES = ['22', '23', '42'];
/** Errors of a value or a constraint, whose wording names the row a statement met first (data exception, integrity). */
const REFUSED_ROW_CLASSES = ['22', '23'];

/**
 * A business-table error at commit is the client's data, not our failure: 400 naming table, row and constraint (§8.1).
 */
function rejectedByDatabase(error: unknown): unknown {
  if (error instanceof OversyncError) return error;
  const cause = error instanceof ApplyRowError ? error.cause : error;
  const state = sqlState(cause);
  if (!state || !(REJECTED_CLASSES.includes(state.slice(0, 2)) || state === 'P0001')) return error;
  const pg = cause as {
    message: string;
    detail?: string;
    table?: string;
    schema?: string;
    constraint?: string;
    column?: string;
  };
  const parts: string[] = [];
  if (error instanceof ApplyRowError) {
    const first = error.rows[0]!;
    const last = error.rows[error.rows.length - 1]!;
    const where =
      error.rows.length === 1
        ? `row ${first.ordinal} (${first.op} ${first.table.name} ${first.key})`
        : `rows ${first.ordinal}..${last.ordinal} (${first.op} ${first.table.name})`;
    parts.push(`${where} was rejected by PostgreSQL: ${pg.message}`);
  } else {
    parts.push(`commit was rejected by PostgreSQL: ${pg.message}`);
  }
  if (pg.table) parts.push(`table ${pg.schema ? `${pg.schema}.` : ''}${pg.table}`);
  if (pg.constraint) parts.push(`constraint ${pg.constraint}`);
  if (pg.detail) parts.push(pg.detail);
  return new OversyncError('push_commit_invalid', parts.join('; '));
}
