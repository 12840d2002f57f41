import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { prepared, sqlState, type SyncClient, type SyncDatabase, type TransactionOptions } from '../database/sync-database.js';
import { userTransaction } from '../database/user-lock.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import type { StageTimer } from '../lifecycle/stage-timer.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';
import { OversyncSchemaService } from '../schema/oversync-schema.service.js';
import type { SyncActor } from '../auth/sync-actor.js';
import {
  lockScope, markScopeInitialized, requireActiveInitializationLease, scopeUninitialized,
  SCOPE_INITIALIZING, SCOPE_UNINITIALIZED,
} from '../connect/scope-state.js';
import { isCanonicalUuid, ROW_OP_CODES, ROW_OP_NAMES } from '@oversync/protocol';
import { keyStringOf } from '../bundle/row-keys.js';
import { setBundleContext } from '../bundle/bundle-context.js';
import { finalizeCapturedBundle, type CommittedBundle } from '../bundle/bundle-capture.js';
import { BundleAnnouncer } from '../bundle/bundle-announcer.js';
import { applyRetention } from '../retention/retention.js';
import { activateSource, readSourceState, requireNextSourceBundle, sourceRetired, sourceStateOf, type SourceState } from './source-state.js';
import { parsePushChunk } from './push-chunk.parser.js';
import { applyPushRows, ApplyRowError, type ApplyRow } from './push-apply.js';
import { findConflict } from './push-conflicts.js';
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
  /** commit only: `row_ordinal table_id op_code key_hex columns` lines of the staged rows */
  staged_lines?: string | null;
}

const INSERT_PUSH_SESSION = prepared(
  `INSERT INTO sync.push_sessions (push_id, user_pk, source_id, source_bundle_id, planned_row_count, next_expected_row_ordinal, initialization_id, expires_at)
    VALUES ($1, $2, $3, $4, $5, 0, $6, now() + $7 * interval '1 millisecond')`,
);

const READ_PUSH_TUPLE = prepared(
  `WITH swept AS (
      DELETE FROM sync.push_sessions WHERE user_pk = $1 AND ((source_id = $2 AND source_bundle_id = $3) OR expires_at <= now()))
    SELECT bl.bundle_seq, bl.source_id AS bundle_source_id, bl.source_bundle_id, bl.row_count, encode(bl.bundle_hash, 'hex') AS bundle_hash,
           ss.state, ss.max_committed_source_bundle_id AS max, ss.replaced_by_source_id
      FROM (SELECT retained_bundle_floor AS floor FROM sync.user_state WHERE user_pk = $1) us
      LEFT JOIN sync.bundle_log bl ON bl.user_pk = $1 AND bl.source_id = $2 AND bl.source_bundle_id = $3 AND bl.bundle_seq > us.floor
      LEFT JOIN sync.source_state ss ON ss.user_pk = $1 AND ss.source_id = $2`,
);

const loadSessionSql = (staged: string) =>
  `SELECT ps.push_id::text, ps.user_pk, us.user_id, ps.source_id, ps.source_bundle_id, ps.planned_row_count,
          ps.next_expected_row_ordinal, COALESCE(ps.initialization_id::text, '') AS initialization_id,
          ps.expires_at < now() AS expired${staged}
     FROM sync.push_sessions ps JOIN sync.user_state us ON us.user_pk = ps.user_pk
    WHERE ps.push_id = $1::uuid FOR UPDATE OF ps`;
const LOAD_SESSION = prepared(loadSessionSql(''));
// For commit, the staged rows' metadata comes in the same round trip, as one text: payloads stay in
// sync.push_session_rows and are applied from there. Canonical payloads list their members sorted, so
// the column list needs no sorting.
const LOAD_SESSION_WITH_STAGED = prepared(
  loadSessionSql(`,
          (SELECT string_agg(psr.row_ordinal || ' ' || psr.table_id || ' ' || psr.op_code || ' ' || encode(psr.key_bytes, 'hex') || ' '
                             || COALESCE((SELECT string_agg(k, ',') FROM json_object_keys(psr.payload_apply) AS k), ''), E'\\n' ORDER BY psr.row_ordinal)
             FROM sync.push_session_rows psr WHERE psr.push_id = ps.push_id) AS staged_lines`),
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
        throw new OversyncError('push_session_invalid', `planned_row_count must be <= ${this.config.maxPlannedRowCount}`);
      }
      return this.underUserLock(actor, (client) => this.createInTransaction(client, actor, input));
    });
  }

  private async createInTransaction(client: SyncClient, actor: SyncActor, input: CreatePushSessionInput): Promise<CreatePushSessionResult> {
    const scope = await lockScope(client, actor.userId);
    // One round trip: the committed bundle of this tuple (idempotent replay), the source's state, and
    // the sweep of this tuple's uncommitted session and the user's expired ones (§4.4, §8.9). A refusal
    // below rolls the sweep back with everything else.
    const readTuple = async (): Promise<{ committed: CreatePushSessionResult | null; source: SourceState }> => {
      const { rows } = await client.query<{
        bundle_seq: string | null; bundle_source_id: string; source_bundle_id: string; row_count: string; bundle_hash: string;
        state: SourceState['state']; max: string | null; replaced_by_source_id: string | null;
      }>(READ_PUSH_TUPLE([scope.userPk, actor.sourceId, input.sourceBundleId.toString()]));
      const r = rows[0];
      const committed: CreatePushSessionResult | null = r?.bundle_seq
        ? { status: 'already_committed', bundle: { bundleSeq: r.bundle_seq, sourceId: r.bundle_source_id, sourceBundleId: r.source_bundle_id, rowCount: Number(r.row_count), bundleHash: r.bundle_hash } }
        : null;
      return { committed, source: sourceStateOf(r) };
    };
    let initializationId: string | null = null;
    if (scope.stateCode === SCOPE_UNINITIALIZED) {
      if (input.initializationId) throw new OversyncError('initialization_expired', 'initialization lease is no longer active');
      throw scopeUninitialized(actor.userId);
    } else if (scope.stateCode === SCOPE_INITIALIZING) {
      if (!input.initializationId) throw new OversyncError('push_session_invalid', 'initialization_id is required while the scope is initializing');
      const lease = await requireActiveInitializationLease(client, actor.userId, actor.sourceId, input.initializationId, this.config.initializationLeaseTtlMs);
      initializationId = lease.initializationId;
    } else if (input.initializationId) {
      // The seeding push itself committed (and initialized the scope) but its answer was lost: the
      // retry still carries the initialization id and must get its idempotent replay, or the
      // device could never finish (the reference answers 400 forever). Convergence fuzz, seed 10.
      const { committed } = await readTuple();
      if (committed) return committed;
      throw new OversyncError('push_session_invalid', 'initialization_id must be absent once the scope is initialized');
    }
    const { committed, source } = await readTuple();
    if (committed) return committed;
    requireNextSourceBundle(source, actor.sourceId, actor.userId, input.sourceBundleId);
    const pushId = randomUUID();
    await client.query(INSERT_PUSH_SESSION([pushId, scope.userPk, actor.sourceId, input.sourceBundleId.toString(), input.plannedRowCount.toString(), initializationId, this.config.pushSessionTtlMs]));
    return { status: 'staging', pushId, plannedRowCount: input.plannedRowCount };
  }

  uploadChunk(actor: SyncActor, pushId: string, body: string): Promise<{ nextExpectedRowOrdinal: bigint }> {
    return this.lifecycle.run(async () => {
      const timer = this.telemetry.timer('push_chunk');
      const chunk = parsePushChunk(body, this.schema.catalog, this.config.maxRowsPerPushChunk);
      timer.mark('parse');
      return this.underUserLock(actor, async (client) => {
        timer.mark('lock');
        const session = await this.loadSession(client, actor, pushId);
        if (session.initialization_id) {
          await requireActiveInitializationLease(client, actor.userId, session.source_id, session.initialization_id, this.config.initializationLeaseTtlMs);
        }
        const expected = BigInt(session.next_expected_row_ordinal);
        if (chunk.startRowOrdinal !== expected) {
          throw new OversyncError('push_chunk_out_of_order', `push session ${pushId} expected start_row_ordinal ${expected}, got ${chunk.startRowOrdinal}`);
        }
        const next = chunk.startRowOrdinal + BigInt(chunk.rows.length);
        if (next > BigInt(session.planned_row_count)) throw new OversyncError('push_chunk_invalid', 'chunk exceeds planned_row_count');
        timer.mark('session');
        const start = Number(chunk.startRowOrdinal);
        // Payloads as one newline-joined text (canonical JSON has no raw newline), keys as hex: no per-element
        // escaping. The session's watermark moves in the same statement.
        await client.query(
          `WITH staged AS (
             INSERT INTO sync.push_session_rows (push_id, row_ordinal, table_id, key_bytes, op_code, base_bundle_seq, payload_apply)
             SELECT $1, $2::int8 + m.ord - 1, m.table_id, decode(m.key_hex, 'hex'), m.op_code, m.base_bundle_seq, NULLIF(m.payload, '')::json
               FROM unnest($3::int4[], $4::text[], $5::int2[], $6::int8[], string_to_array($7, E'\\n'))
                    WITH ORDINALITY AS m(table_id, key_hex, op_code, base_bundle_seq, payload, ord))
           UPDATE sync.push_sessions SET next_expected_row_ordinal = $8, expires_at = now() + $9 * interval '1 millisecond' WHERE push_id = $1`,
          [
            session.push_id,
            start,
            chunk.rows.map((r) => r.table.tableId),
            chunk.rows.map((r) => r.keyBytes.toString('hex')),
            chunk.rows.map((r) => ROW_OP_CODES[r.op]),
            chunk.rows.map((r) => r.baseRowVersion.toString()),
            chunk.rows.map((r) => r.payloadApply ?? '').join('\n'),
            next.toString(),
            this.config.pushSessionTtlMs,
          ],
        );
        timer.mark('stage', { 'oversync.rows': chunk.rows.length });
        timer.done();
        this.telemetry.chunkStaged(chunk.rows.length, body);
        return { nextExpectedRowOrdinal: next };
      });
    });
  }

  commit(actor: SyncActor, pushId: string): Promise<CommittedBundle> {
    return this.lifecycle.run(async () => {
      const timer = this.telemetry.timer('push_commit');
      try {
        // deferred FK violations surface at COMMIT, outside the callback: map around the whole transaction
        // constraints deferred from the start (spec step 6; nothing is written before it)
        const bundle = await this.underUserLock(actor, (client) => this.commitInTransaction(client, actor, pushId, timer), { deferConstraints: true });
        // COMMIT makes the bundle visible and delivers the NOTIFY queued with its bundle_log row
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

  private async commitInTransaction(client: SyncClient, actor: SyncActor, pushId: string, timer: StageTimer): Promise<CommittedBundle> {
    timer.mark('lock');
    const session = await this.loadSession(client, actor, pushId, true);
    const catalog = this.schema.catalog;
    const staged = parseStagedLines(session.staged_lines ?? null);
    const planned = BigInt(session.planned_row_count);
    if (BigInt(session.next_expected_row_ordinal) !== planned || BigInt(staged.length) !== planned) {
      throw new OversyncError('push_commit_invalid', `staged row count ${staged.length} does not match planned_row_count ${planned}`);
    }
    const rows: ApplyRow[] = [];
    const seen = new Set<string>();
    staged.forEach((row, i) => {
      if (Number(row.row_ordinal) !== i) throw new OversyncError('push_commit_invalid', `staged rows are not contiguous at row_ordinal ${i}`);
      const table = catalog.get(row.table_id);
      const key = keyStringOf(table, row.key_bytes);
      const identity = `${row.table_id}:${row.key_bytes.toString('hex')}`;
      if (seen.has(identity)) throw new OversyncError('push_commit_invalid', `duplicate target row in staged push session: ${table.name} ${key}`);
      seen.add(identity);
      rows.push({ ordinal: i, table, key, op: ROW_OP_NAMES[row.op_code]!, columns: row.columns ? row.columns.split(',') : [] });
    });
    timer.mark('stage', { 'oversync.rows': rows.length });
    let userPk = session.user_pk;
    if (session.initialization_id) {
      const lease = await requireActiveInitializationLease(client, actor.userId, session.source_id, session.initialization_id, this.config.initializationLeaseTtlMs);
      userPk = lease.userPk;
    }
    const source = await readSourceState(client, userPk, session.source_id, true);
    if (source.state === 'retired') throw sourceRetired(session.source_id, actor.userId, source.replacedBy);
    if (source.maxCommitted + 1n !== BigInt(session.source_bundle_id)) {
      throw new OversyncError('source_sequence_changed',
        `source ${session.source_id} for user ${actor.userId} changed expected next source_bundle_id from staged ${session.source_bundle_id} to ${source.maxCommitted + 1n} before commit`);
    }
    await setBundleContext(client, { userId: actor.userId, userPk, sourceId: session.source_id, sourceBundleId: session.source_bundle_id, initializationId: session.initialization_id });
    const found = await findConflict(client, session.push_id, userPk, actor.userId, rows);
    if (found) {
      this.telemetry.conflict(found);
      throw found;
    }
    timer.mark('conflicts');
    await applyPushRows(client, session.push_id, actor.userId, rows);
    timer.mark('apply');
    const bundle = await finalizeCapturedBundle(client, catalog, {
      userPk,
      sourceId: session.source_id,
      sourceBundleId: session.source_bundle_id,
      notification: (b) => this.announcer.notification(userPk, b),
      timer,
    });
    if (!bundle) throw new OversyncError('push_commit_invalid', 'push session produced no captured business-table effects');
    await activateSource(client, userPk, session.source_id, actor.userId, session.source_bundle_id, session.push_id);
    await applyRetention(client, userPk, this.config);
    if (session.initialization_id) await markScopeInitialized(client, userPk, session.source_id);
    timer.mark('retention');
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

  /** Transaction under the per-user lock, retried on 40001/40P01/55P03 (3 × 25 ms), with the optional upload lock_timeout (§2.7, §2.8). */
  private underUserLock<T>(actor: SyncActor, fn: (client: SyncClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return userTransaction(this.db, actor.userId, this.config.userLockTimeoutMs, async (client) => {
      if (this.config.uploadLockTimeoutMs > 0) await client.query(`SET LOCAL lock_timeout = '${Math.max(1, Math.floor(this.config.uploadLockTimeoutMs))}ms'`);
      return fn(client);
    }, { ...options, attempts: 3 });
  }

  /** Loads and locks a session: 404 unknown, 403 other user or source (§8.7), 410 expired — database clock (§8.8). */
  private async loadSession(client: SyncClient, actor: SyncActor, pushId: string, withStagedLines = false): Promise<PushSessionRow> {
    if (!isCanonicalUuid(pushId)) throw new OversyncError('push_session_not_found', `push session ${pushId} was not found`);
    const { rows } = await client.query<PushSessionRow>((withStagedLines ? LOAD_SESSION_WITH_STAGED : LOAD_SESSION)([pushId]));
    const session = rows[0];
    // Another user's session is reported as missing: its existence is not the caller's business.
    if (!session) throw new OversyncError('push_session_not_found', `push session ${pushId} was not found`);
    if (session.user_id !== actor.userId) throw new OversyncError('push_session_forbidden', `push session ${pushId} does not belong to the authenticated user`);
    if (session.source_id !== actor.sourceId) throw new OversyncError('push_session_forbidden', `push session ${pushId} does not belong to the authenticated source`);
    if (session.expired) throw new OversyncError('push_session_expired', `push session ${pushId} has expired; start a new push session`);
    return session;
  }
}

interface StagedMeta {
  row_ordinal: string;
  table_id: number;
  op_code: number;
  key_bytes: Buffer;
  columns: string;
}

/** Lines of `row_ordinal table_id op_code key_hex columns` (identifiers are [a-z0-9_], keys hex). */
function parseStagedLines(lines: string | null): StagedMeta[] {
  if (!lines) return [];
  return lines.split('\n').map((line) => {
    const [ordinal, tableId, opCode, keyHex, columns] = line.split(' ');
    return { row_ordinal: ordinal!, table_id: Number(tableId), op_code: Number(opCode), key_bytes: Buffer.from(keyHex!, 'hex'), columns: columns ?? '' };
  });
}

const REJECTED_CLASSES = ['22', '23', '42'];

/** A business-table error at commit is the client's data, not our failure: 400 naming table, row and constraint (§8.1). */
function rejectedByDatabase(error: unknown): unknown {
  if (error instanceof OversyncError) return error;
  const cause = error instanceof ApplyRowError ? error.cause : error;
  const state = sqlState(cause);
  if (!state || !(REJECTED_CLASSES.includes(state.slice(0, 2)) || state === 'P0001')) return error;
  const pg = cause as { message: string; detail?: string; table?: string; schema?: string; constraint?: string; column?: string };
  const parts: string[] = [];
  if (error instanceof ApplyRowError) {
    const first = error.rows[0]!;
    const last = error.rows[error.rows.length - 1]!;
    const where = error.rows.length === 1 ? `row ${first.ordinal} (${first.op} ${first.table.name} ${first.key})` : `rows ${first.ordinal}..${last.ordinal} (${first.op} ${first.table.name})`;
    parts.push(`${where} was rejected by PostgreSQL: ${pg.message}`);
  } else {
    parts.push(`commit was rejected by PostgreSQL: ${pg.message}`);
  }
  if (pg.table) parts.push(`table ${pg.schema ? `${pg.schema}.` : ''}${pg.table}`);
  if (pg.constraint) parts.push(`constraint ${pg.constraint}`);
  if (pg.detail) parts.push(pg.detail);
  return new OversyncError('push_commit_invalid', parts.join('; '));
}
