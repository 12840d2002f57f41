/** `PendingSyncStatus`, `SyncStatus` and `SourceInfo` (spec/client.md §0.3). */
import { type ClientContext, ensureConnectedSession } from './client-context.js';
import type { SourceRecoveryCode } from './errors.js';
import type { PendingSyncStatus, SourceInfo, SyncStatus } from './results.js';

export function pendingSyncStatus(ctx: ClientContext): PendingSyncStatus {
  const attachment = ctx.state.attachment();
  const total = ctx.state.dirtyCount() + ctx.state.outboxRowCount() + (attachment.pendingInitializationId ? 1 : 0);
  return {
    hasPendingSyncData: total > 0,
    pendingRowCount: total,
    blocksDetach: attachment.bindingState === 'attached' && total > 0,
  };
}

/** Requires a connected session (operation `SyncStatus()`). */
export function syncStatus(ctx: ClientContext): SyncStatus {
  ensureConnectedSession(ctx, 'syncStatus()');
  const attachment = ctx.state.attachment();
  return {
    authority: attachment.pendingInitializationId
      ? 'pending_local_seed'
      : !ctx.state.hasLiveRows()
        ? 'authoritative_empty'
        : 'authoritative_materialized',
    pending: pendingSyncStatus(ctx),
    lastBundleSeqSeen: attachment.lastBundleSeqSeen,
  };
}

const RECOVERY_CODES: readonly SourceRecoveryCode[] = [
  'history_pruned',
  'source_sequence_out_of_order',
  'source_sequence_changed',
  'source_retired',
];

/** The persisted recovery reason; unknown reasons map to `history_pruned`. */
export function recoveryCode(reason: string): SourceRecoveryCode {
  const trimmed = reason.trim();
  return (RECOVERY_CODES as readonly string[]).includes(trimmed) ? (trimmed as SourceRecoveryCode) : 'history_pruned';
}

export function sourceInfo(ctx: ClientContext): SourceInfo {
  const attachment = ctx.state.attachment();
  const operation = ctx.state.operation();
  const recovering = operation.kind === 'source_recovery';
  return {
    currentSourceId: ctx.session.sourceId || attachment.currentSourceId,
    rebuildRequired: attachment.rebuildRequired,
    sourceRecoveryRequired: recovering,
    sourceRecoveryReason: recovering ? recoveryCode(operation.reason) : '',
  };
}
