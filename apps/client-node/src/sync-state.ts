/**
 * Reads and writes of the `_sync_*` metadata (spec/client.md §2.3). All metadata SQL lives here;
 * the push, pull and lifecycle code call these methods inside their own transactions.
 */
import type { RowOp } from '@oversync/protocol';
import type { Database, Statement } from 'better-sqlite3';
import { NOW_SQL, quoteLiteral } from './local-schema.js';

export type BindingState = 'anonymous' | 'attached';
export type OperationKind = 'none' | 'remote_replace' | 'source_recovery';
export type { RowOp };
export type OutboxState = 'none' | 'prepared' | 'committed_remote';

export interface AttachmentState {
  readonly currentSourceId: string;
  readonly bindingState: BindingState;
  readonly attachedUserId: string;
  readonly schemaName: string;
  readonly lastBundleSeqSeen: number;
  readonly rebuildRequired: boolean;
  readonly pendingInitializationId: string;
}

export interface OperationState {
  readonly kind: OperationKind;
  readonly targetUserId: string;
  readonly reason: string;
  readonly replacementSourceId: string;
  readonly stagedSnapshotId: string;
  readonly snapshotBundleSeq: number;
  readonly snapshotRowCount: number;
}

export interface OutboxBundle {
  readonly state: OutboxState;
  readonly sourceId: string;
  readonly sourceBundleId: number;
  readonly canonicalRequestHash: string;
  readonly rowCount: number;
  readonly initializationId: string;
  readonly remoteBundleHash: string;
  readonly remoteBundleSeq: number;
}

export interface OutboxRow {
  readonly sourceBundleId: number;
  readonly rowOrdinal: number;
  readonly schemaName: string;
  readonly tableName: string;
  readonly keyJson: string;
  readonly wireKeyJson: string;
  readonly op: RowOp;
  readonly baseRowVersion: number;
  readonly localPayload: string | null;
  readonly wirePayload: string | null;
}

export interface DirtyRow {
  readonly schemaName: string;
  readonly tableName: string;
  readonly keyJson: string;
  readonly op: RowOp;
  readonly baseRowVersion: number;
  readonly payload: string | null;
  readonly dirtyOrdinal: number;
}

export interface RowState {
  readonly rowVersion: number;
  readonly deleted: boolean;
}

export const NO_OPERATION: OperationState = {
  kind: 'none',
  targetUserId: '',
  reason: '',
  replacementSourceId: '',
  stagedSnapshotId: '',
  snapshotBundleSeq: 0,
  snapshotRowCount: 0,
};

/** Page cache (KiB) during an apply transaction. */
const APPLY_CACHE_KIB = 64 * 1024;

// one string each, so the statement cache finds them without building the text per row
const UPSERT_ROW_STATE_SQL = `INSERT INTO _sync_row_state(schema_name, table_name, key_json, row_version, deleted,
  updated_at) VALUES (?, ?, ?, ?, ?, ${NOW_SQL})
       ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET row_version = excluded.row_version,
         deleted = excluded.deleted, updated_at = excluded.updated_at`;
const ADVANCE_ROW_STATE_CONFLICT = `ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET
  row_version = excluded.row_version, deleted = excluded.deleted, updated_at = excluded.updated_at
  WHERE excluded.row_version > _sync_row_state.row_version`;

export class SyncState {
  private readonly statements = new Map<string, Statement>();
  private readonly advanceStatements = new Map<string, Statement>();
  /** `insertRowStates` by table and then by row count. */
  private readonly insertStatements = new Map<string, Statement[]>();

  constructor(
    readonly db: Database,
    readonly schema: string,
  ) {}

  /** A prepared statement, cached for the client's lifetime (§15 item 7). */
  stmt(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * A transaction that writes managed tables: FK checks deferred to COMMIT and capture
   * suppressed by `apply_mode = 1`, which is back to 0 before COMMIT (§3.5).
   */
  applyTransaction<T>(fn: () => T): T {
    // Bulk applies touch pages all over the tables' B-trees: a larger page cache for the
    // transaction (SQLite's default is 2 MiB) keeps them from being re-read; restored after.
    const cacheSize = this.db.pragma('cache_size', { simple: true }) as number;
    if (
      cacheSize > -APPLY_CACHE_KIB && cacheSize >= 0
        ? cacheSize * this.pageSize() < APPLY_CACHE_KIB * 1024
        : cacheSize > -APPLY_CACHE_KIB
    ) {
      this.db.pragma(`cache_size = -${APPLY_CACHE_KIB}`);
    }
    try {
      return this.transaction(() => {
        this.db.pragma('defer_foreign_keys = ON');
        this.setApplyMode(true);
        const result = fn();
        this.setApplyMode(false);
        return result;
      });
    } finally {
      if ((this.db.pragma('cache_size', { simple: true }) as number) !== cacheSize)
        this.db.pragma(`cache_size = ${cacheSize}`);
    }
  }

  private pageSize(): number {
    return this.db.pragma('page_size', { simple: true }) as number;
  }

  /**
   * A transaction of re-downloadable rows (the snapshot stage): committed without an fsync
   * (`synchronous = NORMAL`, safe in WAL mode: a power loss can only drop staged chunks, and a
   * rebuild starts its stage over). The connection's own setting is restored after.
   */
  stagingTransaction<T>(fn: () => T): T {
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    const wal = (this.db.pragma('journal_mode', { simple: true }) as string) === 'wal';
    if (wal && level > 1) this.db.pragma('synchronous = NORMAL');
    try {
      return this.transaction(fn);
    } finally {
      if (wal && level > 1) this.db.pragma(`synchronous = ${level}`);
    }
  }

  setApplyMode(on: boolean): void {
    this.stmt('UPDATE _sync_apply_state SET apply_mode = ? WHERE singleton_key = 1').run(on ? 1 : 0);
  }

  // ---- singleton rows ---------------------------------------------------------------------------

  attachment(): AttachmentState {
    const row = this.stmt(
      `SELECT current_source_id, binding_state, attached_user_id, schema_name, last_bundle_seq_seen, rebuild_required,
        pending_initialization_id
       FROM _sync_attachment_state WHERE singleton_key = 1`,
    ).get() as Record<string, string | number> | undefined;
    if (!row) throw new Error('sync attachment state row is missing');
    return {
      currentSourceId: String(row.current_source_id),
      bindingState: row.binding_state === 'attached' ? 'attached' : 'anonymous',
      attachedUserId: String(row.attached_user_id),
      schemaName: String(row.schema_name),
      lastBundleSeqSeen: Number(row.last_bundle_seq_seen),
      rebuildRequired: Number(row.rebuild_required) === 1,
      pendingInitializationId: String(row.pending_initialization_id),
    };
  }

  updateAttachment(changes: Partial<AttachmentState>): void {
    const columns: Record<keyof AttachmentState, string> = {
      currentSourceId: 'current_source_id',
      bindingState: 'binding_state',
      attachedUserId: 'attached_user_id',
      schemaName: 'schema_name',
      lastBundleSeqSeen: 'last_bundle_seq_seen',
      rebuildRequired: 'rebuild_required',
      pendingInitializationId: 'pending_initialization_id',
    };
    const entries = (Object.keys(changes) as (keyof AttachmentState)[]).filter((k) => changes[k] !== undefined);
    if (entries.length === 0) return;
    const sql = `UPDATE _sync_attachment_state SET ${entries.map((k) => `${columns[k]} = ?`).join(', ')}
      WHERE singleton_key = 1`;
    this.stmt(sql).run(...entries.map((k) => (typeof changes[k] === 'boolean' ? (changes[k] ? 1 : 0) : changes[k])));
  }

  setRebuildRequired(on: boolean): void {
    this.updateAttachment({ rebuildRequired: on });
  }

  operation(): OperationState {
    const row = this.stmt(
      `SELECT kind, target_user_id, reason, replacement_source_id, staged_snapshot_id, snapshot_bundle_seq,
        snapshot_row_count
       FROM _sync_operation_state WHERE singleton_key = 1`,
    ).get() as Record<string, string | number> | undefined;
    if (!row) throw new Error('sync operation state row is missing');
    const kind = String(row.kind).trim();
    return {
      kind: kind === 'remote_replace' || kind === 'source_recovery' ? kind : 'none',
      targetUserId: String(row.target_user_id),
      reason: String(row.reason),
      replacementSourceId: String(row.replacement_source_id),
      stagedSnapshotId: String(row.staged_snapshot_id),
      snapshotBundleSeq: Number(row.snapshot_bundle_seq),
      snapshotRowCount: Number(row.snapshot_row_count),
    };
  }

  writeOperation(operation: OperationState): void {
    this.stmt(
      `UPDATE _sync_operation_state SET kind = ?, target_user_id = ?, reason = ?, replacement_source_id = ?,
         staged_snapshot_id = ?, snapshot_bundle_seq = ?, snapshot_row_count = ? WHERE singleton_key = 1`,
    ).run(
      operation.kind,
      operation.targetUserId,
      operation.reason,
      operation.replacementSourceId,
      operation.stagedSnapshotId,
      operation.snapshotBundleSeq,
      operation.snapshotRowCount,
    );
  }

  clearOperation(): void {
    this.writeOperation(NO_OPERATION);
  }

  // ---- sources ------------------------------------------------------------------------------------

  ensureSource(sourceId: string): void {
    this.stmt('INSERT INTO _sync_source_state(source_id) VALUES (?) ON CONFLICT(source_id) DO NOTHING').run(sourceId);
  }

  source(sourceId: string): { nextSourceBundleId: number; replacedBySourceId: string } | undefined {
    const row = this.stmt(
      'SELECT next_source_bundle_id, replaced_by_source_id FROM _sync_source_state WHERE source_id = ?',
    ).get(sourceId) as { next_source_bundle_id: number; replaced_by_source_id: string } | undefined;
    return (
      row && { nextSourceBundleId: Number(row.next_source_bundle_id), replacedBySourceId: row.replaced_by_source_id }
    );
  }

  /** Monotonic max (§2.3). */
  advanceNextSourceBundleId(sourceId: string, next: number): void {
    this.ensureSource(sourceId);
    this.stmt(
      'UPDATE _sync_source_state SET next_source_bundle_id = CASE WHEN next_source_bundle_id < ? THEN ? ELSE ' +
        'next_source_bundle_id END WHERE source_id = ?',
    ).run(next, next, sourceId);
  }

  markSourceReplaced(sourceId: string, replacement: string): void {
    this.stmt('UPDATE _sync_source_state SET replaced_by_source_id = ? WHERE source_id = ?').run(replacement, sourceId);
  }

  // ---- outbox -------------------------------------------------------------------------------------

  outbox(): OutboxBundle {
    const row = this.stmt(
      `SELECT state, source_id, source_bundle_id, canonical_request_hash, row_count, initialization_id,
        remote_bundle_hash, remote_bundle_seq
       FROM _sync_outbox_bundle WHERE singleton_key = 1`,
    ).get() as Record<string, string | number> | undefined;
    if (!row) throw new Error('sync outbox bundle row is missing');
    const state = String(row.state).trim();
    return {
      state: state === 'prepared' || state === 'committed_remote' ? state : 'none',
      sourceId: String(row.source_id),
      sourceBundleId: Number(row.source_bundle_id),
      canonicalRequestHash: String(row.canonical_request_hash),
      rowCount: Number(row.row_count),
      initializationId: String(row.initialization_id),
      remoteBundleHash: String(row.remote_bundle_hash),
      remoteBundleSeq: Number(row.remote_bundle_seq),
    };
  }

  writeOutbox(bundle: OutboxBundle): void {
    this.stmt(
      `UPDATE _sync_outbox_bundle SET state = ?, source_id = ?, source_bundle_id = ?, canonical_request_hash = ?,
        row_count = ?,
         initialization_id = ?, remote_bundle_hash = ?, remote_bundle_seq = ? WHERE singleton_key = 1`,
    ).run(
      bundle.state,
      bundle.sourceId,
      bundle.sourceBundleId,
      bundle.canonicalRequestHash,
      bundle.rowCount,
      bundle.initializationId,
      bundle.remoteBundleHash,
      bundle.remoteBundleSeq,
    );
  }

  outboxRows(): OutboxRow[] {
    return (
      this.stmt(
        `SELECT source_bundle_id, row_ordinal, schema_name, table_name, key_json, wire_key_json, op, base_row_version,
          local_payload, wire_payload
         FROM _sync_outbox_rows ORDER BY row_ordinal`,
      ).all() as Record<string, string | number | null>[]
    ).map((r) => ({
      sourceBundleId: Number(r.source_bundle_id),
      rowOrdinal: Number(r.row_ordinal),
      schemaName: String(r.schema_name),
      tableName: String(r.table_name),
      keyJson: String(r.key_json),
      wireKeyJson: String(r.wire_key_json),
      op: r.op as RowOp,
      baseRowVersion: Number(r.base_row_version),
      localPayload: r.local_payload === null ? null : String(r.local_payload),
      wirePayload: r.wire_payload === null ? null : String(r.wire_payload),
    }));
  }

  insertOutboxRow(row: OutboxRow): void {
    this.stmt(
      `INSERT INTO _sync_outbox_rows(source_bundle_id, row_ordinal, schema_name, table_name, key_json, wire_key_json,
        op, base_row_version, local_payload, wire_payload)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.sourceBundleId,
      row.rowOrdinal,
      row.schemaName,
      row.tableName,
      row.keyJson,
      row.wireKeyJson,
      row.op,
      row.baseRowVersion,
      row.localPayload,
      row.wirePayload,
    );
  }

  clearOutbox(): void {
    this.stmt('DELETE FROM _sync_outbox_rows').run();
    this.writeOutbox(EMPTY_OUTBOX);
  }

  outboxRowCount(): number {
    return Number((this.stmt('SELECT COUNT(*) AS n FROM _sync_outbox_rows').get() as { n: number }).n);
  }

  // ---- dirty rows and row state ---------------------------------------------------------------------

  dirtyCount(): number {
    return Number((this.stmt('SELECT COUNT(*) AS n FROM _sync_dirty_rows').get() as { n: number }).n);
  }

  dirtyRow(schemaName: string, tableName: string, keyJson: string): DirtyRow | undefined {
    const row = this.stmt(
      `SELECT schema_name, table_name, key_json, op, base_row_version, payload, dirty_ordinal FROM _sync_dirty_rows
       WHERE schema_name = ? AND table_name = ? AND key_json = ?`,
    ).get(schemaName, tableName, keyJson) as Record<string, string | number | null> | undefined;
    return row && toDirtyRow(row);
  }

  deleteDirty(schemaName: string, tableName: string, keyJson: string): void {
    this.stmt('DELETE FROM _sync_dirty_rows WHERE schema_name = ? AND table_name = ? AND key_json = ?').run(
      schemaName,
      tableName,
      keyJson,
    );
  }

  /** `requeueDirtyIntentInTx` (§6.6): unlike the triggers it overwrites the base version. */
  requeueDirty(tableName: string, keyJson: string, op: RowOp, baseRowVersion: number, payload: string | null): void {
    this.stmt(
      `INSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op, base_row_version, payload, dirty_ordinal,
        updated_at)
       VALUES (?, ?, ?, ?, ?, ?,
         COALESCE((SELECT dirty_ordinal FROM _sync_dirty_rows WHERE schema_name = ? AND table_name = ?
           AND key_json = ?),
                  (SELECT COALESCE(MAX(dirty_ordinal), 0) + 1 FROM _sync_dirty_rows)),
         ${NOW_SQL})
       ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET
         op = excluded.op, base_row_version = excluded.base_row_version, payload = excluded.payload,
           updated_at = excluded.updated_at`,
    ).run(this.schema, tableName, keyJson, op, baseRowVersion, payload, this.schema, tableName, keyJson);
  }

  rowState(schemaName: string, tableName: string, keyJson: string): RowState | undefined {
    const row = this.stmt(
      'SELECT row_version, deleted FROM _sync_row_state WHERE schema_name = ? AND table_name = ? AND key_json = ?',
    ).get(schemaName, tableName, keyJson) as { row_version: number; deleted: number } | undefined;
    return row && { rowVersion: Number(row.row_version), deleted: Number(row.deleted) === 1 };
  }

  upsertRowState(tableName: string, keyJson: string, rowVersion: number, deleted: boolean): void {
    this.stmt(UPSERT_ROW_STATE_SQL).run(this.schema, tableName, keyJson, rowVersion, deleted ? 1 : 0);
  }

  /**
   * `upsertRowState` of a pulled row that only moves versions forward, in one statement (no read
   * before the write): true when the row state took `rowVersion` (absent, or older), false when the
   * stored version is the same or newer (the pulled row is stale and is not applied). `updatedAt`
   * is the apply's `now` (from `now()`), read once rather than formatted by SQLite for every row.
   */
  advanceRowState(tableName: string, keyJson: string, rowVersion: number, deleted: 0 | 1, updatedAt: string): boolean {
    let statement = this.advanceStatements.get(tableName);
    if (statement === undefined) {
      // schema and table as literals: one statement per table, two values fewer to bind per row
      statement = this.stmt(
        `INSERT INTO _sync_row_state(schema_name, table_name, key_json, row_version, deleted, updated_at)
         VALUES (${quoteLiteral(this.schema)}, ${quoteLiteral(tableName)}, ?, ?, ?, ?) ${ADVANCE_ROW_STATE_CONFLICT}`,
      );
      this.advanceStatements.set(tableName, statement);
    }
    // an upsert whose DO UPDATE is filtered out changes no row (measured cheaper than RETURNING)
    return statement.run(keyJson, rowVersion, deleted, updatedAt).changes > 0;
  }

  /**
   * `advanceRowState` of `keyJsons.length` pulled rows (not deleted) at once, for keys that have no row
   * state yet: one multi-row `INSERT OR FAIL`, which needs no statement journal (an upsert's `DO UPDATE`
   * may abort, so a multi-row upsert copies every page it touches into one). Returns how many rows, from
   * the first, it inserted (each of them advanced): the row after them has a row state already, or
   * repeats a key of these rows, and is not written (nor are the rest); `advanceRowState` decides it.
   */
  insertRowStates(
    tableName: string,
    keyJsons: readonly string[],
    rowVersions: readonly number[],
    updatedAt: string,
  ): number {
    const count = keyJsons.length;
    let bySize = this.insertStatements.get(tableName);
    if (bySize === undefined) this.insertStatements.set(tableName, (bySize = []));
    let statement = bySize[count];
    if (statement === undefined) {
      // schema and table as literals, @now (the apply's updated_at) bound once for every row
      const row = `(${quoteLiteral(this.schema)}, ${quoteLiteral(tableName)}, ?, ?, 0, @now)`;
      const rows = Array.from({ length: count }, () => row);
      statement = bySize[count] = this.db.prepare(
        `INSERT OR FAIL INTO _sync_row_state(schema_name, table_name, key_json, row_version, deleted, updated_at)
         VALUES ${rows.join(', ')}`,
      );
    }
    const params = new Array<unknown>(2 * count);
    for (let i = 0; i < count; i++) {
      params[2 * i] = keyJsons[i];
      params[2 * i + 1] = rowVersions[i];
    }
    return this.insertPrefix(statement, params, { now: updatedAt });
  }

  /**
   * Runs a multi-row `INSERT OR FAIL`: the number of rows it inserted, from the first, before one broke a
   * constraint (`OR FAIL` keeps the rows before it and writes neither it nor the rest); other errors throw.
   */
  insertPrefix(statement: Statement, params: readonly unknown[], named?: Record<string, unknown>): number {
    try {
      return (named ? statement.run(params, named) : statement.run(params)).changes;
    } catch (err) {
      // by its code, not `instanceof`: the addon's SqliteError is of the realm that loaded it first
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) throw err;
      // changes() of a statement that failed: the rows it wrote before the failure
      return (this.stmt('SELECT changes() AS n').get() as { n: number }).n;
    }
  }

  /** SQLite's `now` as the metadata tables store it (`updated_at`). */
  now(): string {
    return (this.stmt(`SELECT ${NOW_SQL} AS now`).get() as { now: string }).now;
  }

  /**
   * `upsertRowState` of the staged rows of a snapshot in `(after, last]` (deleted = 0), in row
   * order, in one statement: the versions and keys come straight from the stage, no row passes
   * through here. A page at a time: one statement over the whole snapshot kept a statement journal
   * that grew with the snapshot (in memory with `temp_store = MEMORY`: client peak RSS of a 1,000,000-row
   * hydration 282 MiB, 245 MiB a page at a time). Returns the number of staged rows written.
   */
  upsertRowStateFromSnapshotStage(snapshotId: string, after: number, last: number): number {
    return this.stmt(
      `INSERT INTO _sync_row_state(schema_name, table_name, key_json, row_version, deleted, updated_at)
       SELECT ?, table_name, key_json, row_version, 0, ${NOW_SQL} FROM _sync_snapshot_stage
       WHERE snapshot_id = ? AND row_ordinal > ? AND row_ordinal <= ? ORDER BY row_ordinal
       ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET row_version = excluded.row_version,
         deleted = excluded.deleted, updated_at = excluded.updated_at`,
    ).run(this.schema, snapshotId, after, last).changes;
  }

  /** Set-based `deleteDirty` of many keys of one table. */
  deleteDirtyKeys(tableName: string, keyJsons: readonly string[]): void {
    this.stmt(
      'DELETE FROM _sync_dirty_rows WHERE schema_name = ? AND table_name = ? AND key_json IN (SELECT value ' +
        'FROM json_each(?))',
    ).run(this.schema, tableName, JSON.stringify(keyJsons));
  }

  hasDirtyRows(): boolean {
    return (this.stmt('SELECT EXISTS (SELECT 1 FROM _sync_dirty_rows) AS e').get() as { e: number }).e === 1;
  }

  deleteRowState(tableName: string, keyJson: string): void {
    this.stmt('DELETE FROM _sync_row_state WHERE schema_name = ? AND table_name = ? AND key_json = ?').run(
      this.schema,
      tableName,
      keyJson,
    );
  }

  /** Whether any row state is live: the first one found, not a count of all (a hydrated device holds millions). */
  hasLiveRows(): boolean {
    return (
      (this.stmt('SELECT EXISTS (SELECT 1 FROM _sync_row_state WHERE deleted = 0) AS e').get() as { e: number }).e === 1
    );
  }
}

export const EMPTY_OUTBOX: OutboxBundle = {
  state: 'none',
  sourceId: '',
  sourceBundleId: 0,
  canonicalRequestHash: '',
  rowCount: 0,
  initializationId: '',
  remoteBundleHash: '',
  remoteBundleSeq: 0,
};

export function toDirtyRow(row: Record<string, string | number | null>): DirtyRow {
  return {
    schemaName: String(row.schema_name),
    tableName: String(row.table_name),
    keyJson: String(row.key_json),
    op: row.op as RowOp,
    baseRowVersion: Number(row.base_row_version),
    payload: row.payload === null ? null : String(row.payload),
    dirtyOrdinal: Number(row.dirty_ordinal),
  };
}
