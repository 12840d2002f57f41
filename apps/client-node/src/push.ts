/**
 * Push (spec/client.md §6): freeze the dirty queue into the durable outbox, upload it through a
 * push session, commit, fetch the committed bundle back, verify its hash and replay it locally.
 * Every step is restartable: the outbox survives crashes and the server answers a re-sent tuple
 * with `already_committed`.
 */
import { type ClientContext, ensureBoundToSessionUser, ensureConnectedSession } from './client-context.js';
import { resolvePushConflict } from './conflict-resolution.js';
import {
  DestructiveTransitionInProgressError,
  PushConflictError,
  PushConflictRetryExhaustedError,
  RebuildRequiredError,
  SourceRecoveryRequiredError,
} from './errors.js';
import { freezeOutbound, loadOutboundSnapshot } from './push-outbox.js';
import { replayCommittedBundle } from './push-replay.js';
import { type CommittedPush, fetchCommittedBundle, ReplayPrunedError, runHook, uploadAndCommit } from './push-transfer.js';
import type { PushOutcome } from './results.js';
import { rebuildFromSnapshot } from './snapshot.js';
import { recoveryCode } from './sync-status.js';
import { withRetry } from './sync-transport.js';

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
      // Writes made after the freeze stay queued (the reference drops them, §6.8; convergence fuzz, seed 6).
      const preserveDirty = { committedBundleSeq: ctx.state.outbox().remoteBundleSeq };
      await rebuildFromSnapshot(ctx, { persistGate: false, advanceSourceBundleFloor: err.sourceBundleId + 1, preserveDirty }, signal);
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
