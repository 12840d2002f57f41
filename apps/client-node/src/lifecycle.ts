/**
 * The lifecycle state machine (spec/client.md §5): Open, Attach (connect resolutions, remote
 * replace), Detach, source recovery entry, stale initialization reset, uninstall.
 */
import { goQuote } from '@oversync/protocol';
import { randomUUID } from 'node:crypto';
import type { ClientContext } from './client-context.js';
import { dropTriggers } from './capture-triggers.js';
import {
  AttachBindingConflictError,
  AttachLifecycleUnsupportedError,
  AttachLocalStateConflictError,
  errorMessage,
  OpenRequiredError,
  renderServerErrorBody,
  type SourceRecoveryCode,
  SourceReplacementDivergedError,
  SyncProtocolError,
} from './errors.js';
import { METADATA_TABLES, quoteIdent, tableExists } from './local-schema.js';
import { warmPullPageWorker } from './pull-page-pipeline.js';
import { clearManagedDataInTx, historicallyManagedTables } from './local-reset.js';
import { type AttachResult, type DetachResult, type RestoreSummary, ZERO_SYNC_STATUS } from './results.js';
import { keyJson } from './row-codec.js';
import {
  applyStagedSnapshot,
  createSnapshotSession,
  deleteSnapshotSession,
  type StagedSnapshot,
  stageSnapshot,
} from './snapshot.js';
import { NO_OPERATION } from './sync-state.js';
import { pendingSyncStatus, syncStatus } from './sync-status.js';
import { httpStatusError, serverStatusError, throwIfTransientStatus, withRetry } from './sync-transport.js';
import { type Capabilities, decodeCapabilities, decodeConnect } from './wire-decode.js';

/** Prefixes an error's message in place (keeps its class, like Go's `%w` wrapping keeps `errors.As`). */
export function prefixError(err: unknown, prefix: string): unknown {
  if (err !== null && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    (err as { message: string }).message = `${prefix}: ${(err as { message: string }).message}`;
    return err;
  }
  return new Error(`${prefix}: ${String(err)}`);
}

/** `generateFreshSourceID`: a UUIDv4 unused by this database. */
export function generateFreshSourceId(ctx: ClientContext, current: string): string {
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = randomUUID();
    if (candidate === current || ctx.state.source(candidate)) continue;
    return candidate;
  }
  throw new Error('failed to generate a fresh internal source id');
}

/** `openLocked` (§5.2): one transaction, no network. */
export function openLocked(ctx: ClientContext): void {
  const opened = ctx.state.transaction(() => {
    const attachment = ctx.state.attachment();
    let sourceId = attachment.currentSourceId;
    const firstOpen = !sourceId.trim();
    if (firstOpen) sourceId = generateFreshSourceId(ctx, sourceId);
    if (!attachment.schemaName.trim()) ctx.state.updateAttachment({ schemaName: ctx.schema });
    if (firstOpen && attachment.bindingState === 'anonymous') capturePreexistingRows(ctx);
    ctx.state.ensureSource(sourceId);
    ctx.state.updateAttachment({ currentSourceId: sourceId });
    ctx.state.setApplyMode(false);
    return {
      sourceId,
      userId: attachment.bindingState === 'attached' ? attachment.attachedUserId : '',
      pendingInitializationId: attachment.pendingInitializationId,
    };
  });
  ctx.session.sourceId = opened.sourceId;
  ctx.session.userId = opened.userId;
  ctx.session.pendingInitializationId = opened.pendingInitializationId;
  ctx.session.connected = false;
}

/** Rows written before sync was installed are queued as local INSERTs (§3.6). */
function capturePreexistingRows(ctx: ClientContext): void {
  for (const table of ctx.tables) {
    for (const localKey of ctx.rows.localKeys(table)) {
      const image = ctx.rows.image(table, localKey);
      if (image === undefined) continue;
      ctx.state.requeueDirty(table.name, keyJson(table, localKey), 'INSERT', 0, image);
    }
  }
}

/** `Attach(userID)` (§5.3). */
export async function attachLocked(ctx: ClientContext, rawUserId: string, signal?: AbortSignal): Promise<AttachResult> {
  const userId = rawUserId.trim();
  if (!userId) throw new Error('userId must be provided');
  if (!ctx.session.sourceId.trim()) throw new OpenRequiredError('attach(userId)');
  const wasConnected = ctx.session.connected;
  openLocked(ctx);
  // pulls follow an attach: the pull worker starts now, not with the first page's request (it ends when idle)
  if (ctx.config.pullWorker !== 'off') warmPullPageWorker();
  const attachment = ctx.state.attachment();
  const operation = ctx.state.operation();

  if (operation.kind === 'remote_replace') {
    if (operation.targetUserId.trim() !== userId) {
      throw new AttachLocalStateConflictError(
        `pending remote_replace belongs to scope ${goQuote(operation.targetUserId)} on source ` +
          `${goQuote(attachment.currentSourceId)}`,
      );
    }
    ctx.session.userId = userId;
    const restore = await finalizeRemoteReplace(ctx, userId, signal);
    persistConnected(ctx, userId, '');
    return { status: 'connected', outcome: 'used_remote_state', retryAfterMs: 0, syncStatus: syncStatus(ctx), restore };
  }

  if (
    attachment.bindingState === 'attached' &&
    attachment.attachedUserId.trim() === userId &&
    attachment.currentSourceId === ctx.session.sourceId
  ) {
    ctx.session.userId = userId;
    ctx.session.pendingInitializationId = attachment.pendingInitializationId;
    ctx.session.connected = true;
    return {
      status: 'connected',
      outcome: 'resumed_attached_state',
      retryAfterMs: 0,
      syncStatus: syncStatus(ctx),
      restore: null,
    };
  }
  if (
    attachment.bindingState === 'attached' &&
    attachment.attachedUserId.trim() &&
    attachment.attachedUserId.trim() !== userId
  ) {
    // A refused attach leaves the current user's session usable (the reference disconnects it).
    ctx.session.connected = wasConnected;
    throw new AttachBindingConflictError(attachment.attachedUserId, userId);
  }

  await verifyConnectLifecycleSupported(ctx, signal);
  startFreshScope(ctx);
  // Outbox rows count too (the reference counts dirty rows only): a seed frozen before an
  // initialization_expired must still be announced as local data.
  const connect = await sendConnect(ctx, ctx.state.dirtyCount() + ctx.state.outboxRowCount() > 0, signal);
  switch (connect.resolution) {
    case 'retry_later':
      ctx.session.connected = false;
      return {
        status: 'retry_later',
        outcome: '',
        retryAfterMs: connect.retry_after_seconds * 1000,
        syncStatus: ZERO_SYNC_STATUS,
        restore: null,
      };
    case 'initialize_empty':
    case 'initialize_local': {
      ensureAttachableLocalState(ctx, userId);
      const initializationId = connect.resolution === 'initialize_local' ? connect.initialization_id : '';
      persistConnected(ctx, userId, initializationId);
      return {
        status: 'connected',
        outcome: connect.resolution === 'initialize_local' ? 'seeded_from_local' : 'started_empty',
        retryAfterMs: 0,
        syncStatus: syncStatus(ctx),
        restore: null,
      };
    }
    case 'remote_authoritative': {
      ctx.session.userId = userId;
      ctx.state.transaction(() => {
        ctx.state.updateAttachment({ bindingState: 'anonymous', attachedUserId: '', pendingInitializationId: '' });
        ctx.state.writeOperation({ ...NO_OPERATION, kind: 'remote_replace', targetUserId: userId });
      });
      const restore = await finalizeRemoteReplace(ctx, userId, signal);
      persistConnected(ctx, userId, '');
      return {
        status: 'connected',
        outcome: 'used_remote_state',
        retryAfterMs: 0,
        syncStatus: syncStatus(ctx),
        restore,
      };
    }
    default:
      throw new SyncProtocolError(`unexpected connect resolution ${goQuote(connect.resolution)}`);
  }
}

/**
 * Before a network attach: a source that already committed bundles (for a previous user) would be
 * unknown to the new scope and fail with `source_sequence_out_of_order`; a fresh source and a zero
 * checkpoint avoid that (spec/client.md §15 item 4). It must happen before the connect request,
 * which binds an initialization lease to the source. Only when no outbox is frozen.
 */
function startFreshScope(ctx: ClientContext): void {
  const source = ctx.state.source(ctx.session.sourceId);
  if (!source || source.nextSourceBundleId <= 1 || ctx.state.outbox().state !== 'none') return;
  const fresh = generateFreshSourceId(ctx, ctx.session.sourceId);
  ctx.state.transaction(() => {
    ctx.state.ensureSource(fresh);
    ctx.state.updateAttachment({ currentSourceId: fresh, lastBundleSeqSeen: 0 });
  });
  ctx.session.sourceId = fresh;
}

/** `ensureAttachedClientStateLocked`: guards kept although steps 2–5 make them unreachable. */
function ensureAttachableLocalState(ctx: ClientContext, userId: string): void {
  ctx.state.ensureSource(ctx.session.sourceId);
  const attachment = ctx.state.attachment();
  if (
    attachment.bindingState === 'attached' &&
    attachment.attachedUserId.trim() &&
    attachment.attachedUserId.trim() !== userId
  ) {
    throw new AttachLocalStateConflictError(
      `existing attached state belongs to user ${goQuote(attachment.attachedUserId)}`,
    );
  }
  if (attachment.currentSourceId.trim() && attachment.currentSourceId !== ctx.session.sourceId) {
    throw new AttachLocalStateConflictError(
      `existing attached state is bound to source ${goQuote(attachment.currentSourceId)}, not ` +
        `${goQuote(ctx.session.sourceId)}`,
    );
  }
}

/** `persistConnectedLifecycleState` (§5.4), here in one transaction. */
export function persistConnected(ctx: ClientContext, userId: string, initializationId: string): void {
  ctx.state.transaction(() => {
    ctx.state.ensureSource(ctx.session.sourceId);
    const attachment = ctx.state.attachment();
    ctx.state.updateAttachment({
      currentSourceId: ctx.session.sourceId,
      bindingState: 'attached',
      attachedUserId: userId,
      pendingInitializationId: initializationId,
      schemaName: attachment.schemaName.trim() ? attachment.schemaName : ctx.schema,
    });
    ctx.state.clearOperation();
  });
  ctx.session.userId = userId;
  ctx.session.pendingInitializationId = initializationId;
  ctx.session.connected = true;
}

async function verifyConnectLifecycleSupported(ctx: ClientContext, signal?: AbortSignal): Promise<void> {
  const response = await withRetry(
    ctx.config.retry,
    'connect_capabilities',
    async () =>
      throwIfTransientStatus(
        'connect_capabilities',
        await ctx.transport.send({ method: 'GET', path: '/sync/capabilities', sourceId: ctx.session.sourceId, signal }),
      ),
    signal,
  );
  if ([404, 405, 501].includes(response.status))
    throw new AttachLifecycleUnsupportedError('missing /sync/capabilities endpoint');
  if (response.status !== 200) {
    // the server's reason (e.g. `unauthorized: Invalid token`) is what a user can act on
    const reason = renderServerErrorBody(response.body).trim();
    throw httpStatusError(
      'connect_capabilities',
      response,
      `server returned status ${response.status} while fetching capabilities${reason ? `: ${reason}` : ''}`,
    );
  }
  let capabilities: Capabilities;
  try {
    capabilities = decodeCapabilities(response.body);
  } catch {
    throw new AttachLifecycleUnsupportedError('invalid capabilities response');
  }
  if (capabilities.features.connect_lifecycle !== true)
    throw new AttachLifecycleUnsupportedError('connect_lifecycle capability is absent');
  if (capabilities.schema_version < ctx.config.minServerSchemaVersion) {
    throw new AttachLifecycleUnsupportedError(
      `server schema_version ${capabilities.schema_version} is older than the ` +
        `${ctx.config.minServerSchemaVersion} this app requires`,
    );
  }
}

/**
 * A pending seed with nothing left to push (its rows were inserted and deleted before the upload):
 * connect again without pending rows, which ends the initialization (`initialize_empty`); otherwise
 * the lease keeps the scope initializing for its whole TTL — pulls answer `scope_initializing` and
 * every other device of the user gets `retry_later`. Convergence fuzz, seed 1000168.
 */
export async function finishEmptySeed(ctx: ClientContext, signal?: AbortSignal): Promise<void> {
  await sendConnect(ctx, false, signal);
  // Whatever the resolution, this source no longer seeds: nothing of it is pending.
  ctx.state.updateAttachment({ pendingInitializationId: '' });
  ctx.session.pendingInitializationId = '';
}

async function sendConnect(ctx: ClientContext, hasLocalPendingRows: boolean, signal?: AbortSignal) {
  let response;
  try {
    response = await withRetry(
      ctx.config.retry,
      'connect_request',
      async () =>
        throwIfTransientStatus(
          'connect_request',
          await ctx.transport.send({
            method: 'POST',
            path: '/sync/connect',
            body: JSON.stringify({ has_local_pending_rows: hasLocalPendingRows }),
            sourceId: ctx.session.sourceId,
            signal,
          }),
        ),
      signal,
    );
  } catch (err) {
    throw prefixError(err, 'failed to send connect request');
  }
  if ([404, 405, 501].includes(response.status))
    throw new AttachLifecycleUnsupportedError('missing /sync/connect endpoint');
  if (response.status !== 200) throw serverStatusError('connect_request', response);
  try {
    return decodeConnect(response.body);
  } catch (err) {
    throw new SyncProtocolError(`failed to decode connect response: ${errorMessage(err)}`, { cause: err });
  }
}

/** `finalizeRemoteReplaceLocked` (§5.5). */
async function finalizeRemoteReplace(
  ctx: ClientContext,
  userId: string,
  signal?: AbortSignal,
): Promise<RestoreSummary> {
  const session = await ensureRemoteReplaceSnapshotStaged(ctx, signal);
  ctx.state.transaction(() => {
    ctx.state.ensureSource(ctx.session.sourceId);
    ctx.state.updateAttachment({
      currentSourceId: ctx.session.sourceId,
      bindingState: 'attached',
      attachedUserId: userId,
      schemaName: ctx.schema,
      lastBundleSeqSeen: 0,
      rebuildRequired: false,
      pendingInitializationId: '',
    });
    ctx.state.writeOperation({ ...NO_OPERATION, kind: 'remote_replace', targetUserId: userId });
  });
  applyStagedSnapshot(ctx, session, {});
  return { bundleSeq: session.snapshotBundleSeq, rowCount: session.rowCount };
}

/** Reuses a fully staged snapshot (no network) or downloads a new one; the session is deleted either way. */
async function ensureRemoteReplaceSnapshotStaged(ctx: ClientContext, signal?: AbortSignal): Promise<StagedSnapshot> {
  const operation = ctx.state.operation();
  if (operation.stagedSnapshotId) {
    const staged = Number(
      (
        ctx.state
          .stmt('SELECT COUNT(*) AS n FROM _sync_snapshot_stage WHERE snapshot_id = ?')
          .get(operation.stagedSnapshotId) as { n: number }
      ).n,
    );
    if (staged === operation.snapshotRowCount) {
      return {
        snapshotId: operation.stagedSnapshotId,
        snapshotBundleSeq: operation.snapshotBundleSeq,
        rowCount: operation.snapshotRowCount,
      };
    }
  }
  const clearStage = () => ctx.state.stmt('DELETE FROM _sync_snapshot_stage').run();
  ctx.state.transaction(() => {
    clearStage();
    ctx.state.writeOperation({
      ...ctx.state.operation(),
      stagedSnapshotId: '',
      snapshotBundleSeq: 0,
      snapshotRowCount: 0,
    });
  });
  const session = await createSnapshotSession(ctx, null, signal);
  try {
    ctx.state.transaction(() => {
      clearStage();
      ctx.state.writeOperation({
        ...ctx.state.operation(),
        stagedSnapshotId: session.snapshotId,
        snapshotBundleSeq: session.snapshotBundleSeq,
        snapshotRowCount: session.rowCount,
      });
    });
    return await stageSnapshot(ctx, session, signal);
  } finally {
    await deleteSnapshotSession(ctx, session.snapshotId);
  }
}

/** `Detach()` (§5.6); resets the checkpoint too, since the synced data is gone (§15 item 4). */
export function detachLocked(ctx: ClientContext): DetachResult {
  const pending = pendingSyncStatus(ctx);
  if (pending.blocksDetach) return { outcome: 'blocked_unsynced_data', pendingRowCount: pending.pendingRowCount };
  ctx.state.applyTransaction(() => {
    clearManagedDataInTx(ctx, { preserveOutbox: false, clearSnapshotStage: true });
    ctx.state.updateAttachment({
      bindingState: 'anonymous',
      attachedUserId: '',
      pendingInitializationId: '',
      lastBundleSeqSeen: 0,
    });
    ctx.state.clearOperation();
  });
  ctx.session.userId = '';
  ctx.session.pendingInitializationId = '';
  ctx.session.connected = false;
  return { outcome: 'detached', pendingRowCount: 0 };
}

/** `beginSourceRecoveryLocked` (§5.8): persists the recovery and returns the replacement source. */
export function beginSourceRecovery(
  ctx: ClientContext,
  code: SourceRecoveryCode,
  preferredReplacement: string,
): string {
  return ctx.state.transaction(() => {
    const operation = ctx.state.operation();
    const reserved = operation.replacementSourceId.trim();
    const preferred = preferredReplacement.trim();
    if (reserved && preferred && reserved !== preferred) throw new SourceReplacementDivergedError(reserved, preferred);
    const replacement = reserved || preferred || generateFreshSourceId(ctx, ctx.session.sourceId);
    ctx.state.setRebuildRequired(true);
    ctx.state.ensureSource(replacement);
    ctx.state.writeOperation({
      ...NO_OPERATION,
      kind: 'source_recovery',
      reason: code,
      replacementSourceId: replacement,
    });
    return replacement;
  });
}

/** `clearStalePendingInitializationStateLocked` (§5.9): back to anonymous, outbox and dirty rows kept. */
export function clearStaleInitialization(ctx: ClientContext): void {
  ctx.state.transaction(() => {
    ctx.state.updateAttachment({ bindingState: 'anonymous', attachedUserId: '', pendingInitializationId: '' });
    ctx.state.clearOperation();
  });
  ctx.session.userId = '';
  ctx.session.pendingInitializationId = '';
  ctx.session.connected = false;
}

/** `UninstallSync()` (§5.10): triggers and metadata dropped in one transaction; business rows kept. */
export function uninstallLocked(ctx: ClientContext): void {
  ctx.state.transaction(() => {
    for (const table of historicallyManagedTables(ctx)) dropTriggers(ctx.db, table);
    for (const name of METADATA_TABLES) {
      if (!tableExists(ctx.db, name)) continue;
      try {
        ctx.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(name)}`);
      } catch (err) {
        throw new Error(`failed to drop sync metadata table ${name}: ${errorMessage(err)}`, { cause: err });
      }
    }
  });
}
