/**
 * Push (spec/client.md §6): freeze the dirty queue into the durable outbox, upload it through a
 * push session, commit, fetch the committed bundle back, verify its hash and replay it locally.
 * Every step is restartable: the outbox survives crashes and the server answers a re-sent tuple
 * with `already_committed`.
 */
import { SYNC_ROUTES } from '@oversync/protocol';
import { applyWireRow } from './authoritative-apply.js';
import { bundleHashOf, canonicalSha256 } from './bundle-hash.js';
import { type ClientContext, ensureBoundToSessionUser, ensureConnectedSession } from './client-context.js';
import { resolvePushConflict } from './conflict-resolution.js';
import {
  BundleHashMismatchError,
  decodeErrorEnvelope,
  DestructiveTransitionInProgressError,
  errorMessage,
  HttpStatusError,
  PushConflictError,
  PushConflictRetryExhaustedError,
  PushRejectedError,
  RebuildRequiredError,
  renderServerErrorBody,
  type SourceRecoveryCode,
  SourceRecoveryRequiredError,
  SyncProtocolError,
} from './errors.js';
import { canonicalEqualityText, type JsonObject, type JsonValue, parseJson, parseJsonObject, stringifyJson } from './json-value.js';
import { beginSourceRecovery, clearStaleInitialization, prefixError } from './lifecycle.js';
import type { ManagedTable } from './managed-table.js';
import type { PushOutcome } from './results.js';
import { keyJson, localKeyFromKeyJson, localKeyFromWireKey, RowCodecError, wireKeyObject, wirePayloadFromLocalImage } from './row-codec.js';
import { rebuildFromSnapshot } from './snapshot.js';
import type { RowOp } from './sync-state.js';
import { recoveryCode } from './sync-status.js';
import { type SyncResponse, withRetry } from './sync-transport.js';
import { type CommittedBundleHeader, decodeCommit, decodeCommittedRows, decodePushChunk, decodePushConflict, decodePushSession } from './wire-decode.js';

/** One frozen row, decoded once per push. */
export interface OutboundRow {
  readonly rowOrdinal: number;
  readonly schemaName: string;
  readonly table: ManagedTable;
  readonly keyJson: string;
  readonly localKey: string;
  readonly wireKey: JsonObject;
  readonly op: RowOp;
  readonly baseRowVersion: number;
  readonly localPayload: string | null;
}

export interface OutboundSnapshot {
  readonly sourceBundleId: number;
  readonly rows: readonly OutboundRow[];
}

/** The committed bundle of a push, and whether the server answered `already_committed`. */
interface CommittedPush {
  readonly header: CommittedBundleHeader;
  readonly alreadyCommitted: boolean;
}

/** The committed bundle can no longer be fetched (§6.8). */
class ReplayPrunedError extends Error {
  constructor(readonly sourceBundleId: number) {
    super('committed bundle replay was pruned');
  }
}

const MAX_CONFLICT_AUTO_RETRIES = 2;

/** `pushPendingLocked` (§6.1). */
export async function pushPending(ctx: ClientContext, signal?: AbortSignal, conflictRetries = 0): Promise<PushOutcome> {
  ensurePushAllowed(ctx, 'PushPending()');
  if (ctx.paused.uploads) return 'skipped_paused';
  const snapshot = loadOutboundSnapshot(ctx) ?? freezeOutbound(ctx);
  if (!snapshot) return 'no_change';
  ctx.state.stmt('DELETE FROM _sync_push_stage').run();

  let committed: CommittedPush;
  try {
    committed = await withRetry(
      ctx.config.retry,
      'push_pending',
      async () => {
        const result = await uploadAndCommit(ctx, snapshot, signal);
        await fetchCommittedBundle(ctx, result.header, signal);
        return result;
      },
      signal,
    );
  } catch (err) {
    if (err instanceof ReplayPrunedError) {
      await rebuildFromSnapshot(ctx, { persistGate: false, advanceSourceBundleFloor: err.sourceBundleId + 1 }, signal);
      return 'committed';
    }
    if (err instanceof PushConflictError && resolvePushConflict(ctx, snapshot, err)) {
      const remaining = ctx.state.dirtyCount();
      if (remaining === 0) return 'no_change';
      if (conflictRetries >= MAX_CONFLICT_AUTO_RETRIES) throw new PushConflictRetryExhaustedError(conflictRetries, remaining);
      return pushPending(ctx, signal, conflictRetries + 1);
    }
    throw err;
  }
  await runHook(ctx, 'beforeReplay');
  replayCommittedBundle(ctx, snapshot, committed);
  return 'committed';
}

/** Preconditions shared by push and `Sync` (§6.1 step 1). */
export function ensurePushAllowed(ctx: ClientContext, operation: string): void {
  ensureConnectedSession(ctx, operation);
  const operationState = ctx.state.operation();
  if (operationState.kind === 'source_recovery') throw new SourceRecoveryRequiredError(recoveryCode(operationState.reason));
  if (operationState.kind !== 'none' && operationState.kind !== 'remote_replace') throw new DestructiveTransitionInProgressError(operationState.kind);
  ensureBoundToSessionUser(ctx, 'sync operations');
  if (ctx.state.attachment().rebuildRequired) throw new RebuildRequiredError();
}

async function runHook(ctx: ClientContext, name: 'beforeCommit' | 'beforeReplay'): Promise<void> {
  const hook = ctx.hooks[name];
  if (!hook) return;
  delete ctx.hooks[name];
  await hook();
}

// ---- freeze (§6.2) --------------------------------------------------------------------------------

/** A frozen outbox left by an earlier attempt, or null. */
export function loadOutboundSnapshot(ctx: ClientContext): OutboundSnapshot | null {
  if (ctx.state.outbox().state === 'none') return null;
  const stored = ctx.state.outboxRows();
  if (stored.length === 0) return null;
  const rows = stored.map((row): OutboundRow => {
    if (row.sourceBundleId !== stored[0]!.sourceBundleId) {
      throw new Error(`outbound push snapshot contains multiple source_bundle_id values (${stored[0]!.sourceBundleId} and ${row.sourceBundleId})`);
    }
    const table = configuredTable(ctx, row.tableName);
    return {
      rowOrdinal: row.rowOrdinal,
      schemaName: row.schemaName,
      table,
      keyJson: row.keyJson,
      localKey: localKeyFromKeyJson(row.schemaName, table, row.keyJson),
      wireKey: parseJsonObject(row.wireKeyJson, 'wire key'),
      op: row.op,
      baseRowVersion: row.baseRowVersion,
      localPayload: row.localPayload,
    };
  });
  return { sourceBundleId: stored[0]!.sourceBundleId, rows };
}

function configuredTable(ctx: ClientContext, name: string): ManagedTable {
  const table = ctx.table(name);
  if (!table) throw new Error(`table ${name} is not configured for sync`);
  return table;
}

interface DirtyCandidate {
  readonly row: Omit<OutboundRow, 'rowOrdinal'>;
  readonly dirtyOrdinal: number;
}

/**
 * Moves the dirty queue into the outbox in one transaction. No-op rows (a never-synced row
 * inserted then deleted) are dropped and that deletion is committed even when nothing else is
 * frozen (§15 item 22), so they no longer block pull and Detach.
 */
export function freezeOutbound(ctx: ClientContext): OutboundSnapshot | null {
  return ctx.state.transaction(() => {
    const source = ctx.state.source(ctx.session.sourceId);
    if (!source) throw new Error(`missing source state for ${ctx.session.sourceId}`);
    const dirty = ctx.state
      .stmt(
        `SELECT d.schema_name, d.table_name, d.key_json, d.base_row_version, d.payload, d.dirty_ordinal,
                (rs.key_json IS NOT NULL) AS state_exists, COALESCE(rs.deleted, 0) AS deleted
         FROM _sync_dirty_rows d
         LEFT JOIN _sync_row_state rs ON rs.schema_name = d.schema_name AND rs.table_name = d.table_name AND rs.key_json = d.key_json
         ORDER BY d.dirty_ordinal, d.table_name, d.key_json`,
      )
      .all() as {
      schema_name: string;
      table_name: string;
      key_json: string;
      base_row_version: number;
      payload: string | null;
      dirty_ordinal: number;
      state_exists: number;
      deleted: number;
    }[];
    const candidates: DirtyCandidate[] = [];
    for (const d of dirty) {
      const table = configuredTable(ctx, d.table_name);
      const localKey = localKeyFromKeyJson(d.schema_name, table, d.key_json);
      const wireKey = wireKeyObject(table, localKey);
      const live = d.state_exists === 1 && d.deleted === 0;
      if (d.payload === null && !live) {
        ctx.state.deleteDirty(d.schema_name, d.table_name, d.key_json);
        continue;
      }
      const op: RowOp = d.payload !== null ? (live ? 'UPDATE' : 'INSERT') : 'DELETE';
      candidates.push({
        row: { schemaName: d.schema_name, table, keyJson: d.key_json, localKey, wireKey, op, baseRowVersion: Number(d.base_row_version), localPayload: d.payload },
        dirtyOrdinal: Number(d.dirty_ordinal),
      });
    }
    if (candidates.length === 0) return null;

    const ordered = orderForPush(candidates).map((c, i): OutboundRow => ({ ...c.row, rowOrdinal: i }));
    const wireRows = ordered.map((row) => pushRequestRow(ctx, row));
    ctx.state.writeOutbox({
      state: 'prepared',
      sourceId: ctx.session.sourceId,
      sourceBundleId: source.nextSourceBundleId,
      canonicalRequestHash: canonicalSha256(wireRows),
      rowCount: ordered.length,
      initializationId: ctx.session.pendingInitializationId,
      remoteBundleHash: '',
      remoteBundleSeq: 0,
    });
    ordered.forEach((row, i) => {
      const wirePayload = wireRows[i]!.payload;
      ctx.state.insertOutboxRow({
        sourceBundleId: source.nextSourceBundleId,
        rowOrdinal: row.rowOrdinal,
        schemaName: row.schemaName,
        tableName: row.table.name,
        keyJson: row.keyJson,
        wireKeyJson: stringifyJson(row.wireKey),
        op: row.op,
        baseRowVersion: row.baseRowVersion,
        localPayload: row.localPayload,
        wirePayload: wirePayload === undefined ? null : stringifyJson(wirePayload),
      });
      ctx.state.deleteDirty(row.schemaName, row.table.name, row.keyJson);
    });
    const hook = ctx.hooks.beforeFreeze;
    if (hook) {
      delete ctx.hooks.beforeFreeze;
      hook();
    }
    return { sourceBundleId: source.nextSourceBundleId, rows: ordered };
  });
}

/** Upserts parents first, then deletes children first (§6.2 step 4); stable by dirty ordinal. */
function orderForPush(candidates: DirtyCandidate[]): DirtyCandidate[] {
  const upserts = candidates.filter((c) => c.row.op !== 'DELETE');
  const deletes = candidates.filter((c) => c.row.op === 'DELETE');
  upserts.sort((a, b) => a.row.table.order - b.row.table.order || a.dirtyOrdinal - b.dirtyOrdinal);
  deletes.sort((a, b) => b.row.table.order - a.row.table.order || a.dirtyOrdinal - b.dirtyOrdinal);
  return [...upserts, ...deletes];
}

/** A push chunk row `{schema, table, key, op, base_row_version, payload}` (payload absent for DELETE). */
function pushRequestRow(ctx: ClientContext, row: Omit<OutboundRow, 'rowOrdinal'>): JsonObject {
  const wire: JsonObject = Object.create(null) as JsonObject;
  wire.schema = row.schemaName;
  wire.table = row.table.name;
  wire.key = row.wireKey;
  wire.op = row.op;
  wire.base_row_version = row.baseRowVersion;
  if (row.op !== 'DELETE') {
    try {
      wire.payload = wirePayloadFromLocalImage(row.table, parseJsonObject(row.localPayload ?? 'null', 'local payload'));
    } catch (err) {
      throw new RowCodecError(`failed to process dirty payload for ${row.schemaName}.${row.table.name}: ${errorMessage(err)}`, { cause: err });
    }
  }
  return wire;
}

// ---- upload and commit (§6.3) ----------------------------------------------------------------------

async function uploadAndCommit(ctx: ClientContext, snapshot: OutboundSnapshot, signal?: AbortSignal): Promise<CommittedPush> {
  const outboxBefore = ctx.state.outbox();
  const createBody: JsonObject = Object.create(null) as JsonObject;
  createBody.source_bundle_id = snapshot.sourceBundleId;
  createBody.planned_row_count = snapshot.rows.length;
  if (ctx.session.pendingInitializationId) createBody.initialization_id = ctx.session.pendingInitializationId;
  const createResponse = await sendPushRequest(ctx, 'push session', {
    method: 'POST',
    path: SYNC_ROUTES.pushSessions,
    body: stringifyJson(createBody),
    signal,
  });
  if (createResponse.status !== 200) {
    throw pushFailure(ctx, 'push_session_create', createResponse, snapshot, outboxBefore.state === 'committed_remote');
  }
  const created = decodeOrFail(() => decodePushSession(createResponse.body), 'failed to decode push session response');

  if (created.status === 'already_committed') {
    if (created.sourceBundleId !== snapshot.sourceBundleId) {
      throw new SyncProtocolError(
        `push session already_committed response source_bundle_id ${created.sourceBundleId} does not match requested ${snapshot.sourceBundleId}`,
      );
    }
    if (created.sourceId !== ctx.session.sourceId) {
      throw new SyncProtocolError(
        `push session already_committed response source_id ${JSON.stringify(created.sourceId)} does not match client ${JSON.stringify(ctx.session.sourceId)}`,
      );
    }
    validateHeader(created, 'push session already_committed response: ');
    markCommittedRemote(ctx, created);
    return { header: created, alreadyCommitted: true };
  }
  if (created.status !== 'staging') throw new SyncProtocolError(`push session response returned unsupported status ${JSON.stringify(created.status)}`);
  if (!created.pushId.trim()) throw new SyncProtocolError('push session response missing push_id');
  if (created.plannedRowCount !== snapshot.rows.length) {
    throw new SyncProtocolError(`push session response planned_row_count ${created.plannedRowCount} does not match requested ${snapshot.rows.length}`);
  }
  if (created.nextExpectedRowOrdinal !== 0) {
    throw new SyncProtocolError(`push session response next_expected_row_ordinal ${created.nextExpectedRowOrdinal} must be 0`);
  }
  ctx.counters.pushSessionsCreated++;

  const pushId = created.pushId;
  let committedOk = false;
  try {
    await uploadChunks(ctx, snapshot, pushId, signal);
    await runHook(ctx, 'beforeCommit');
    const commitResponse = await sendPushRequest(ctx, 'push commit', { method: 'POST', path: SYNC_ROUTES.pushSessionCommit(pushId), signal });
    if (commitResponse.status !== 200) throw pushFailure(ctx, 'push_session_commit', commitResponse, snapshot, false);
    const header = decodeOrFail(() => decodeCommit(commitResponse.body), 'failed to decode push commit response');
    validateHeader(header, 'push commit response: ');
    if (header.sourceId !== ctx.session.sourceId) {
      throw new SyncProtocolError(
        `push commit response source_id ${JSON.stringify(header.sourceId)} does not match client ${JSON.stringify(ctx.session.sourceId)}`,
      );
    }
    committedOk = true;
    markCommittedRemote(ctx, header);
    return { header, alreadyCommitted: false };
  } finally {
    if (!committedOk) {
      // Best effort; the server expires abandoned sessions anyway.
      await ctx.transport.send({ method: 'DELETE', path: SYNC_ROUTES.pushSession(pushId), sourceId: ctx.session.sourceId }).catch(() => undefined);
    }
  }
}

async function uploadChunks(ctx: ClientContext, snapshot: OutboundSnapshot, pushId: string, signal?: AbortSignal): Promise<void> {
  const limit = ctx.config.uploadLimit;
  for (let start = 0; start < snapshot.rows.length; start += limit) {
    const slice = snapshot.rows.slice(start, start + limit);
    const end = start + slice.length;
    const body = `{"start_row_ordinal":${start},"rows":[${slice.map((row) => stringifyJson(pushRequestRow(ctx, row))).join(',')}]}`;
    const response = await sendPushRequest(ctx, 'push chunk', { method: 'POST', path: SYNC_ROUTES.pushSessionChunks(pushId), body, signal });
    if (response.status !== 200) throw pushFailure(ctx, 'push_chunk_upload', response, snapshot, false);
    const chunk = decodeOrFail(() => decodePushChunk(response.body), 'failed to decode push chunk response');
    if (chunk.pushId.trim() !== pushId) {
      throw new SyncProtocolError(`push chunk response push_id ${JSON.stringify(chunk.pushId.trim())} does not match requested ${JSON.stringify(pushId)}`);
    }
    if (chunk.nextExpectedRowOrdinal !== end) {
      throw new SyncProtocolError(`push chunk response next_expected_row_ordinal ${chunk.nextExpectedRowOrdinal} does not match expected ${end}`);
    }
    ctx.counters.pushChunksUploaded++;
    ctx.progress({ phase: 'push_upload', done: end, total: snapshot.rows.length });
  }
}

async function sendPushRequest(
  ctx: ClientContext,
  what: string,
  request: { method: 'POST' | 'GET'; path: string; body?: string; query?: Record<string, number | undefined>; signal?: AbortSignal },
): Promise<SyncResponse> {
  try {
    return await ctx.transport.send({ ...request, sourceId: ctx.session.sourceId });
  } catch (err) {
    throw prefixError(err, `failed to send ${what} request`);
  }
}

function decodeOrFail<T>(decode: () => T, context: string): T {
  try {
    return decode();
  } catch (err) {
    throw new SyncProtocolError(`${context}: ${errorMessage(err)}`, { cause: err });
  }
}

function validateHeader(header: CommittedBundleHeader, prefix: string): void {
  const problem =
    header.bundleSeq <= 0
      ? 'bundle_seq must be positive'
      : !header.sourceId.trim()
        ? 'source_id must be non-empty'
        : header.sourceBundleId <= 0
          ? 'source_bundle_id must be positive'
          : header.rowCount <= 0
            ? 'row_count must be positive'
            : !header.bundleHash.trim()
              ? 'bundle_hash must be non-empty'
              : '';
  if (problem) throw new SyncProtocolError(prefix + problem);
}

/** The server committed the tuple: the seed (if any) is done and the outbox awaits replay. */
function markCommittedRemote(ctx: ClientContext, header: CommittedBundleHeader): void {
  ctx.state.transaction(() => {
    ctx.state.updateAttachment({ pendingInitializationId: '' });
    ctx.state.writeOutbox({
      ...ctx.state.outbox(),
      state: 'committed_remote',
      rowCount: header.rowCount,
      remoteBundleHash: header.bundleHash,
      remoteBundleSeq: header.bundleSeq,
    });
  });
  ctx.session.pendingInitializationId = '';
}

/**
 * Maps a non-200 push answer (create/chunk/commit) to the error of §5.8, §5.9, §7.1 and §15.1,
 * persisting source recovery or the stale-initialization reset where required.
 */
function pushFailure(ctx: ClientContext, operation: string, response: SyncResponse, snapshot: OutboundSnapshot, committedRemote: boolean): Error {
  const envelope = decodeErrorEnvelope(response.body);
  const code = envelope?.code.trim() ?? '';
  if (code === 'initialization_expired' || code === 'initialization_stale') {
    clearStaleInitialization(ctx);
    return new HttpStatusError(
      operation,
      response.status,
      code,
      envelope?.message ?? '',
      response.body,
      `server returned status ${response.status}: ${renderServerErrorBody(response.body)}; reconnect required`,
    );
  }
  if (response.status === 409 && operation !== 'push_chunk_upload') {
    const recovery = recoveryCodeFor(operation, code);
    if (code === 'history_pruned' && committedRemote) return new ReplayPrunedError(snapshot.sourceBundleId);
    if (recovery) {
      const replacedBy = envelope?.members.replaced_by_source_id;
      beginSourceRecovery(ctx, recovery, code === 'source_retired' && typeof replacedBy === 'string' ? replacedBy : '');
      return new SourceRecoveryRequiredError(recovery, envelope?.message ?? '');
    }
  }
  if (response.status === 409 && decodePushConflict(response.body)) {
    return new PushConflictError(response.status, response.body, decodePushConflict(response.body));
  }
  const permanent =
    (operation === 'push_chunk_upload' && code === 'push_chunk_invalid') ||
    (operation === 'push_session_commit' && (code === 'push_commit_invalid' || code === 'push_session_commit_failed'));
  if (permanent) return new PushRejectedError(response.status, code, envelope?.message ?? '', snapshot.rows.length);
  return new HttpStatusError(operation, response.status, code, envelope?.message ?? '', response.body);
}

function recoveryCodeFor(operation: string, code: string): SourceRecoveryCode | null {
  if (operation === 'push_session_create' && (code === 'history_pruned' || code === 'source_sequence_out_of_order' || code === 'source_retired')) {
    return code;
  }
  if (operation === 'push_session_commit' && (code === 'source_sequence_changed' || code === 'source_retired')) return code;
  return null;
}

// ---- committed bundle fetch (§6.4) ------------------------------------------------------------------

async function fetchCommittedBundle(ctx: ClientContext, header: CommittedBundleHeader, signal?: AbortSignal): Promise<void> {
  ctx.state.stmt('DELETE FROM _sync_push_stage').run();
  const insert = ctx.state.stmt(
    'INSERT INTO _sync_push_stage(bundle_seq, row_ordinal, schema_name, table_name, key_json, op, row_version, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  let after: number | undefined;
  let staged = 0;
  for (;;) {
    const response = await sendPushRequest(ctx, 'committed bundle chunk', {
      method: 'GET',
      path: SYNC_ROUTES.committedBundleRows(header.bundleSeq),
      query: { after_row_ordinal: after, max_rows: ctx.config.downloadLimit },
      signal,
    });
    if (response.status === 409 && decodeErrorEnvelope(response.body)?.code === 'history_pruned') {
      throw new ReplayPrunedError(header.sourceBundleId);
    }
    if (response.status !== 200) {
      const envelope = decodeErrorEnvelope(response.body);
      throw new HttpStatusError('committed_bundle_chunk_fetch', response.status, envelope?.code ?? '', envelope?.message ?? '', response.body);
    }
    const page = decodeOrFail(() => decodeCommittedRows(response.body), 'failed to decode committed bundle chunk response');
    validateCommittedPage(header, page, after);
    const first = after === undefined ? 0 : after + 1;
    ctx.state.transaction(() => {
      page.rows.forEach((row, i) => {
        if (row.schema !== ctx.schema) throw new SyncProtocolError(`committed bundle row schema ${row.schema} does not match client schema ${ctx.schema}`);
        const table = configuredTable(ctx, row.table);
        const localKey = localKeyFromWireKey(table, row.key);
        insert.run(
          header.bundleSeq,
          first + i,
          row.schema,
          table.name,
          keyJson(table, localKey),
          row.op,
          row.rowVersion,
          row.op === 'DELETE' || row.payload === undefined ? null : stringifyJson(row.payload),
        );
      });
    });
    staged += page.rows.length;
    ctx.counters.committedBundleChunksRead++;
    after = page.nextRowOrdinal;
    if (!page.hasMore) break;
  }
  if (staged !== header.rowCount) {
    throw new SyncProtocolError(`staged committed bundle row count ${staged} does not match expected row_count ${header.rowCount}`);
  }
  const hash = bundleHashOf(stagedPushRows(ctx, header.bundleSeq).map((row) => ({ ...row, key: row.wireKey })));
  if (hash !== header.bundleHash) throw new BundleHashMismatchError(header.bundleSeq, header.bundleHash, hash, 'staged committed bundle');
}

function validateCommittedPage(header: CommittedBundleHeader, page: ReturnType<typeof decodeCommittedRows>, after: number | undefined): void {
  const mismatch = (field: string, got: string | number, want: string | number) =>
    new SyncProtocolError(
      `committed bundle chunk response ${field} ${typeof got === 'string' ? JSON.stringify(got) : got} does not match expected ${
        typeof want === 'string' ? JSON.stringify(want) : want
      }`,
    );
  if (page.bundleSeq !== header.bundleSeq) throw mismatch('bundle_seq', page.bundleSeq, header.bundleSeq);
  if (page.sourceId !== header.sourceId) throw mismatch('source_id', page.sourceId, header.sourceId);
  if (page.sourceBundleId !== header.sourceBundleId) throw mismatch('source_bundle_id', page.sourceBundleId, header.sourceBundleId);
  if (page.rowCount !== header.rowCount) throw mismatch('row_count', page.rowCount, header.rowCount);
  if (page.bundleHash !== header.bundleHash) throw mismatch('bundle_hash', page.bundleHash, header.bundleHash);
  const expectedNext = (after ?? -1) + page.rows.length;
  if (page.nextRowOrdinal !== expectedNext) {
    throw new SyncProtocolError(`committed bundle chunk response next_row_ordinal ${page.nextRowOrdinal} does not match expected ${expectedNext}`);
  }
  if (page.hasMore && page.rows.length === 0) throw new SyncProtocolError('committed bundle chunk response with has_more=true must include at least one row');
  page.rows.forEach((row, i) => {
    const problem = wireRowProblem(row);
    if (problem) throw new SyncProtocolError(`invalid committed bundle row ${i}: ${problem}`);
  });
}

/** The row rules of §8.3, shared by pulled and committed rows; '' when valid. */
export function wireRowProblem(row: { schema: string; table: string; key: JsonObject; rowVersion: number; op: string; payload: JsonValue | undefined }): string {
  if (!row.schema.trim()) return 'row schema must be non-empty';
  if (!row.table.trim()) return 'row table must be non-empty';
  if (Object.keys(row.key).length === 0) return 'row key must be non-empty';
  if (row.rowVersion <= 0) return `row_version ${row.rowVersion} must be positive`;
  if (row.op !== 'INSERT' && row.op !== 'UPDATE' && row.op !== 'DELETE') return `unsupported row op ${JSON.stringify(row.op)}`;
  if (row.op !== 'DELETE' && row.payload === undefined) return `${row.op.toLowerCase()} row payload must be present`;
  return '';
}

interface StagedPushRow {
  readonly rowOrdinal: number;
  readonly schema: string;
  readonly table: string;
  readonly managed: ManagedTable;
  readonly keyJson: string;
  readonly localKey: string;
  readonly wireKey: Record<string, string>;
  readonly op: RowOp;
  readonly rowVersion: number;
  readonly payload: JsonValue | undefined;
}

function stagedPushRows(ctx: ClientContext, bundleSeq: number): StagedPushRow[] {
  const rows = ctx.state
    .stmt('SELECT row_ordinal, schema_name, table_name, key_json, op, row_version, payload FROM _sync_push_stage WHERE bundle_seq = ? ORDER BY row_ordinal')
    .all(bundleSeq) as { row_ordinal: number; schema_name: string; table_name: string; key_json: string; op: RowOp; row_version: number; payload: string | null }[];
  return rows.map((r) => {
    const managed = configuredTable(ctx, r.table_name);
    const localKey = localKeyFromKeyJson(r.schema_name, managed, r.key_json);
    return {
      rowOrdinal: Number(r.row_ordinal),
      schema: r.schema_name,
      table: r.table_name,
      managed,
      keyJson: r.key_json,
      localKey,
      wireKey: wireKeyObject(managed, localKey) as Record<string, string>,
      op: r.op,
      rowVersion: Number(r.row_version),
      payload: r.payload === null ? undefined : parseJson(r.payload),
    };
  });
}

// ---- replay (§6.5) -----------------------------------------------------------------------------------

type ReplayDecision =
  | { readonly apply: true }
  | { readonly apply: false; readonly requeueOp: RowOp; readonly requeuePayload: string | null };

/** Applies the committed bundle locally in one transaction, rebasing writes made meanwhile. */
function replayCommittedBundle(ctx: ClientContext, snapshot: OutboundSnapshot, committed: CommittedPush): void {
  const { header } = committed;
  ctx.state.applyTransaction(() => {
    const staged = stagedPushRows(ctx, header.bundleSeq);
    if (staged.length !== header.rowCount) {
      throw new SyncProtocolError(`staged push replay row count ${staged.length} does not match expected row_count ${header.rowCount}`);
    }
    if (committed.alreadyCommitted) proveCommittedMatchesOutbox(snapshot, staged);

    const decisions = new Map<string, ReplayDecision>();
    for (const uploaded of snapshot.rows) decisions.set(rowIdentity(uploaded.table.name, uploaded.keyJson), replayDecision(ctx, uploaded));

    staged.forEach((row, i) => {
      const decision = decisions.get(rowIdentity(row.managed.name, row.keyJson));
      if (!decision || decision.apply) {
        applyWireRow(ctx, { table: row.managed, localKey: row.localKey, keyJson: row.keyJson }, row.op, row.rowVersion, row.payload);
        if (decision) ctx.state.deleteDirty(row.schema, row.managed.name, row.keyJson);
      } else {
        ctx.state.upsertRowState(row.managed.name, row.keyJson, row.rowVersion, row.op === 'DELETE');
        ctx.state.requeueDirty(row.managed.name, row.keyJson, decision.requeueOp, row.rowVersion, decision.requeuePayload);
      }
      if ((i + 1) % 1000 === 0) ctx.progress({ phase: 'push_replay', done: i + 1, total: staged.length });
    });

    const attachment = ctx.state.attachment();
    if (header.bundleSeq === attachment.lastBundleSeqSeen + 1) ctx.state.updateAttachment({ lastBundleSeqSeen: header.bundleSeq });
    ctx.state.advanceNextSourceBundleId(header.sourceId, header.sourceBundleId + 1);
    ctx.state.stmt('DELETE FROM _sync_outbox_rows WHERE source_bundle_id = ?').run(snapshot.sourceBundleId);
    ctx.state.clearOutbox();
    ctx.state.stmt('DELETE FROM _sync_push_stage WHERE bundle_seq = ?').run(header.bundleSeq);
  });
  ctx.progress({ phase: 'push_replay', done: header.rowCount, total: header.rowCount });
}

function rowIdentity(table: string, keyJson: string): string {
  return `${table}\u0000${keyJson}`;
}

/** `reconcileAppliedUploadState`: apply the committed row, or keep the newer local intent. */
function replayDecision(ctx: ClientContext, uploaded: OutboundRow): ReplayDecision {
  const pending = ctx.state.dirtyRow(uploaded.schemaName, uploaded.table.name, uploaded.keyJson);
  const live = ctx.rows.image(uploaded.table, uploaded.localKey);
  if (uploaded.op === 'DELETE') {
    return live === undefined ? { apply: true } : { apply: false, requeueOp: 'INSERT', requeuePayload: live };
  }
  if (live === undefined) return { apply: false, requeueOp: 'DELETE', requeuePayload: null };
  const pendingMatches = pending !== undefined && pending.op === uploaded.op && sameJson(pending.payload, uploaded.localPayload);
  if ((pending && !pendingMatches) || !sameJson(live, uploaded.localPayload)) {
    return { apply: false, requeueOp: 'UPDATE', requeuePayload: live };
  }
  return { apply: true };
}

function sameJson(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  try {
    return canonicalEqualityText(parseJson(a)) === canonicalEqualityText(parseJson(b));
  } catch {
    return a === b;
  }
}

/**
 * `already_committed` proof: every uploaded row has a committed row with the same table, op and
 * wire key. Payloads and extra server-captured rows are tolerated: the tuple identity and the
 * verified bundle hash already prove which bundle was committed (§15 item 2).
 */
function proveCommittedMatchesOutbox(snapshot: OutboundSnapshot, staged: readonly StagedPushRow[]): void {
  const committed = new Set(staged.map((row) => `${row.schema}\u0000${row.managed.name}\u0000${row.op}\u0000${canonicalEqualityText(row.wireKey)}`));
  snapshot.rows.forEach((row, i) => {
    const identity = `${row.schemaName}\u0000${row.table.name}\u0000${row.op}\u0000${canonicalEqualityText(row.wireKey)}`;
    if (!committed.has(identity)) {
      throw new SyncProtocolError(
        `committed bundle does not match canonical outbox row ${i}: outbox=(${row.schemaName}.${row.table.name} ${row.op} ${stringifyJson(row.wireKey)}) has no committed counterpart`,
      );
    }
  });
}

