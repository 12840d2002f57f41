/**
 * Pull to the stable sequence and snapshot rebuilds (spec/client.md §8). Every pulled bundle is
 * hash-verified and applied in its own transaction with capture suppressed; the checkpoint moves
 * in the same transaction.
 */
import { readPullPageLayout, SYNC_ROUTES } from '@oversync/protocol';
import { APPLY_PAGE_ROWS, applyAuthoritativePage, ApplyPages, resolveWireRow } from './authoritative-apply.js';
import { pulledBundleHash, type PulledRowSpans } from './bundle-hash.js';
import { SUSPEND_TRIGGERS_MIN_ROWS, suspendTriggers } from './capture-triggers.js';
import { type ClientContext, ensureBoundToSessionUser, ensureConnectedSession } from './client-context.js';
import {
  applyPipelinedPage,
  applyRequestedPage,
  PULL_WORKER_MIN_BODY,
  type PullCursor,
  pullPageWorker,
  type RequestedPage,
  warmPullPageWorker,
} from './pull-page-pipeline.js';
import {
  BundleHashMismatchError,
  decodeErrorEnvelope,
  DestructiveTransitionInProgressError,
  DirtyStateRejectedError,
  errorMessage,
  PendingPushReplayError,
  RebuildRequiredError,
  SourceRecoveryRequiredError,
  SyncProtocolError,
  TransportError,
} from './errors.js';
import { generateFreshSourceId, prefixError } from './lifecycle.js';

import type { RemoteSyncOutcome, RestoreSummary } from './results.js';
import { rebuildFromSnapshot } from './snapshot.js';
import type { RowOp } from './sync-state.js';
import { recoveryCode } from './sync-status.js';
import {
  httpStatusError,
  type SyncRequest,
  type SyncResponse,
  throwIfTransientStatus,
  withRetry,
} from './sync-transport.js';
import { decodePull, type PullResponse, type WireBundle, wireRowProblem } from './wire-decode.js';

export interface RemoteSyncResult {
  readonly outcome: RemoteSyncOutcome;
  readonly restore: RestoreSummary | null;
}

/**
 * Clients whose last pull page was below the worker's size: their next pull does not start the worker
 * beside its request. The others (no page since open: a device catching up; the last page large) do.
 */
const lastPageSmall = new WeakSet<ClientContext>();

/** `PullToStable()` (§8.1, §8.2). */
export async function pullToStable(ctx: ClientContext, signal?: AbortSignal): Promise<RemoteSyncResult> {
  ensureConnectedSession(ctx, 'pullToStable()');
  const operation = ctx.state.operation();
  if (operation.kind === 'source_recovery') throw new SourceRecoveryRequiredError(recoveryCode(operation.reason));
  if (operation.kind !== 'none' && operation.kind !== 'remote_replace')
    throw new DestructiveTransitionInProgressError(operation.kind);
  ensureBoundToSessionUser(ctx, 'sync operations');
  if (ctx.state.attachment().rebuildRequired) throw new RebuildRequiredError();
  const outboxRows = ctx.state.outboxRowCount();
  if (outboxRows > 0) throw new PendingPushReplayError(outboxRows);
  const dirty = ctx.state.dirtyCount();
  if (dirty > 0) {
    const error = new DirtyStateRejectedError(dirty);
    ctx.logger.warn(error.message);
    throw error;
  }
  if (ctx.paused.downloads) return { outcome: 'skipped_paused', restore: null };

  ensureBoundToSessionUser(ctx, 'lastBundleSeqSeen()/pullToStable()');
  const start = ctx.state.attachment().lastBundleSeqSeen;
  const cursor = { after: start, target: 0 };
  let applied = false;
  const bundleApplied = (bundleSeq: number) => {
    cursor.after = bundleSeq;
    applied = true;
    ctx.progress({ phase: 'pull', done: bundleSeq - start, total: cursor.target - start });
  };
  ctx.progress({ phase: 'pull', done: 0, total: 0 });
  if (requestsByWorker(ctx)) warmPullPageWorker();
  for (;;) {
    const pageAfter = cursor.after;
    const requested = requestsByWorker(ctx) ? await requestPage(ctx, cursor, bundleApplied, signal) : undefined;
    let page: { bundles: number; hasMore: boolean };
    if (requested?.read) page = requested;
    else if (requested && 'body' in requested)
      page = applyPulledPage(ctx, requested.body, pageAfter, cursor, requested.applied, bundleApplied);
    else {
      // the usual way (a page the worker requested and did not apply: from the first bundle not applied,
      // the worker's answer or transport failure its first attempt)
      const first =
        requested && 'answer' in requested
          ? requested.answer
          : requested && 'error' in requested && requested.error !== undefined
            ? new TransportError(`fetch failed: ${requested.error}`, true, undefined)
            : undefined;
      const fetched = await fetchPullPage(ctx, pullQuery(ctx, cursor), signal, first);
      if (fetched === 'history_pruned') {
        const restore = await rebuildFromSnapshot(ctx, { persistGate: false }, signal);
        return { outcome: 'applied_snapshot', restore };
      }
      const { body, bytes } = fetched;
      const fetchedAfter = cursor.after;
      const forWorker = pageForWorker(ctx, body) && bytes !== undefined;
      if (forWorker) lastPageSmall.delete(ctx);
      else lastPageSmall.add(ctx);
      const running = forWorker ? await pullPageWorker() : undefined;
      const pipelined = running && applyPipelinedPage(ctx, running, body, bytes!, cursor, bundleApplied);
      page = pipelined?.read
        ? { bundles: pipelined.bundles, hasMore: pipelined.hasMore }
        : applyPulledPage(ctx, body, fetchedAfter, cursor, pipelined?.applied ?? 0, bundleApplied);
    }
    const { after, target } = cursor;
    if (after >= target) return { outcome: applied ? 'applied_incremental' : 'already_at_target', restore: null };
    if (!page.hasMore) {
      throw new SyncProtocolError(
        page.bundles === 0
          ? `pull ended before reaching stable bundle seq ${target}`
          : `pull ended early at bundle seq ${after} before stable bundle seq ${target}`,
      );
    }
  }
}

/**
 * Whether the next page goes to the worker thread, requested and read as it arrives where the transport
 * allows (`forWorker`): a client whose last page was large or that has pulled none since open.
 */
function requestsByWorker(ctx: ClientContext): boolean {
  const mode = ctx.config.pullWorker;
  return mode === 'always' || (mode === 'auto' && !lastPageSmall.has(ctx));
}

/** A page requested and read by the worker, or undefined where it cannot (the usual way then requests it). */
async function requestPage(
  ctx: ClientContext,
  cursor: PullCursor,
  bundleApplied: (bundleSeq: number) => void,
  signal?: AbortSignal,
): Promise<RequestedPage | undefined> {
  let request;
  try {
    request = await ctx.transport.forWorker({
      path: SYNC_ROUTES.pull,
      query: pullQuery(ctx, cursor),
      sourceId: ctx.session.sourceId,
    });
  } catch (err) {
    throw prefixError(err, 'failed to send pull request');
  }
  const running = request && (await pullPageWorker());
  if (!running) return undefined;
  const page = await applyRequestedPage(ctx, running, request!, cursor, bundleApplied, signal);
  if (page.read) ctx.counters.pullPagesRequestedByWorker++;
  const small = page.read
    ? page.received < PULL_WORKER_MIN_BODY
    : 'body' in page && page.body.length < PULL_WORKER_MIN_BODY;
  if (small) lastPageSmall.add(ctx);
  return page;
}

function pullQuery(ctx: ClientContext, cursor: PullCursor): SyncRequest['query'] {
  return {
    after_bundle_seq: cursor.after,
    max_bundles: ctx.config.downloadLimit,
    target_bundle_seq: cursor.target > 0 ? cursor.target : undefined,
  };
}

function pageForWorker(ctx: ClientContext, body: string): boolean {
  const mode = ctx.config.pullWorker;
  return mode === 'always' || (mode === 'auto' && body.length >= PULL_WORKER_MIN_BODY);
}

/**
 * A pull page decoded, checked and applied here, bundle by bundle from its `skip`-th (the ones before
 * were applied with the worker reading the page). `pageAfter`: the `after_bundle_seq` it was asked with.
 */
function applyPulledPage(
  ctx: ClientContext,
  body: string,
  pageAfter: number,
  cursor: PullCursor,
  skip: number,
  bundleApplied: (bundleSeq: number) => void,
): { bundles: number; hasMore: boolean } {
  const { page, wire } = decodePullPage(body);
  validatePullPage(ctx, page, pageAfter);
  const target = cursor.target;
  if (target === 0) cursor.target = Number(page.stable_bundle_seq);
  else if (Number(page.stable_bundle_seq) !== target)
    throw new SyncProtocolError(`pull response stable bundle seq changed from ${target} to ${page.stable_bundle_seq}`);
  let first = 0;
  page.bundles.forEach((bundle, i) => {
    if (i >= skip) {
      applyPulledBundle(ctx, bundle, wire && { ...wire, first });
      bundleApplied(Number(bundle.bundle_seq));
    }
    first += bundle.rows.length;
  });
  return { bundles: page.bundles.length, hasMore: page.has_more };
}

/**
 * The page asked with `query`, the usual way; `first`: what its first attempt already gave (the pull worker's
 * answer, or its transport failure).
 */
async function fetchPullPage(
  ctx: ClientContext,
  query: SyncRequest['query'],
  signal?: AbortSignal,
  first?: SyncResponse | TransportError,
): Promise<{ body: string; bytes?: ArrayBuffer } | 'history_pruned'> {
  let response;
  let given = first;
  try {
    response = await withRetry(
      ctx.config.retry,
      'pull_request',
      async () => {
        if (given instanceof TransportError) {
          const failure = given;
          given = undefined;
          throw failure;
        }
        const answer =
          given ??
          (await ctx.transport.send({
            method: 'GET',
            path: SYNC_ROUTES.pull,
            query,
            sourceId: ctx.session.sourceId,
            signal,
            keepBytes: ctx.config.pullWorker !== 'off',
          }));
        given = undefined;
        return throwIfTransientStatus('pull_request', answer);
      },
      signal,
    );
  } catch (err) {
    throw prefixError(err, 'failed to send pull request');
  }
  if (response.status === 409 && decodeErrorEnvelope(response.body)?.known === 'history_pruned')
    return 'history_pruned';
  if (response.status !== 200) {
    throw httpStatusError('pull_request', response, `server returned status ${response.status}: ${response.body}`);
  }
  return { body: response.body, bytes: response.bytes };
}

export function decodePullPage(body: string): { page: PullResponse; wire?: Omit<PulledRowSpans, 'first'> } {
  try {
    // where the rows' key and payload texts are: the bundle hash takes those already canonical as they are
    const spans: number[] = [];
    const page = readPullPageLayout(body, spans);
    return page ? { page, wire: { body, spans } } : { page: decodePull(body) };
  } catch (err) {
    throw new SyncProtocolError(`failed to decode pull response: ${errorMessage(err)}`, { cause: err });
  }
}

/** §8.3, plus the row count and schema checks the reference skips (§15 item 17). */
export function validatePullPage(ctx: ClientContext, page: PullResponse, after: number): void {
  if (page.stable_bundle_seq < 0)
    throw new SyncProtocolError(`pull response stable_bundle_seq ${page.stable_bundle_seq} must be non-negative`);
  if (page.stable_bundle_seq < after) {
    throw new SyncProtocolError(
      `pull response stable_bundle_seq ${page.stable_bundle_seq} is behind requested after_bundle_seq ${after}`,
    );
  }
  if (page.bundles.length > 0 && page.stable_bundle_seq === 0n)
    throw new SyncProtocolError('pull response missing stable_bundle_seq for non-empty bundle list');
  let previous = after;
  page.bundles.forEach((bundle, i) => {
    const problem =
      bundle.bundle_seq <= 0n
        ? `bundle_seq ${bundle.bundle_seq} must be positive`
        : !bundle.source_id.trim()
          ? 'bundle source_id must be non-empty'
          : bundle.source_bundle_id <= 0n
            ? `bundle source_bundle_id ${bundle.source_bundle_id} must be positive`
            : bundle.rows.length !== Number(bundle.row_count)
              ? `bundle row_count ${bundle.row_count} does not match ${bundle.rows.length} rows`
              : '';
    if (problem) throw new SyncProtocolError(`invalid pull bundle ${i}: ${problem}`);
    if (bundle.bundle_seq <= previous)
      throw new SyncProtocolError(
        `pull response bundle_seq ${bundle.bundle_seq} is not strictly greater than previous ${previous}`,
      );
    if (bundle.bundle_seq > page.stable_bundle_seq) {
      throw new SyncProtocolError(
        `pull response bundle_seq ${bundle.bundle_seq} exceeds stable_bundle_seq ${page.stable_bundle_seq}`,
      );
    }
    previous = Number(bundle.bundle_seq);
    bundle.rows.forEach((row, j) => {
      const rowProblem =
        wireRowProblem(row) ||
        (row.schema !== ctx.schema ? `row schema ${row.schema} does not match client schema ${ctx.schema}` : '');
      if (rowProblem) throw new SyncProtocolError(`invalid pull bundle ${i}: invalid bundle row ${j}: ${rowProblem}`);
    });
  });
}

/**
 * `applyPulledBundleLocked` (§8.4): hash first, then one transaction; nothing is applied on mismatch.
 * `wire`: where the rows' texts are in the page's body (a page the layout view read).
 */
export function applyPulledBundle(ctx: ClientContext, bundle: WireBundle, wire?: PulledRowSpans): void {
  const hash = pulledBundleHash(bundle.rows, wire);
  if (hash !== bundle.bundle_hash)
    throw new BundleHashMismatchError(
      Number(bundle.bundle_seq),
      bundle.bundle_hash,
      hash,
      `pulled bundle ${bundle.bundle_seq}`,
    );
  ctx.state.applyTransaction(() => {
    const restoreTriggers =
      bundle.rows.length >= SUSPEND_TRIGGERS_MIN_ROWS
        ? suspendTriggers(ctx.db, new Set(bundle.rows.map((row) => ctx.table(row.table)?.name ?? row.table)))
        : undefined;
    const pages = new ApplyPages();
    for (let start = 0; start < bundle.rows.length; start += APPLY_PAGE_ROWS) {
      const page = bundle.rows.slice(start, start + APPLY_PAGE_ROWS).map((row, i) => ({
        ref: resolveWireRow(ctx, row.table, row.key, wireKeyText(wire, start + i)),
        op: row.op as RowOp,
        rowVersion: Number(row.row_version),
        payload: row.payload,
      }));
      applyAuthoritativePage(ctx, page, { skipStale: true, clearDirty: true }, pages);
    }
    restoreTriggers?.();
    const last = ctx.state.attachment().lastBundleSeqSeen;
    if (bundle.bundle_seq > last) ctx.state.updateAttachment({ lastBundleSeqSeen: Number(bundle.bundle_seq) });
  });
}

/** The `index`-th row's key text as the page's body holds it (undefined for a page the layout view did not read). */
function wireKeyText(wire: PulledRowSpans | undefined, index: number): string | undefined {
  if (wire === undefined) return undefined;
  const at = 4 * (wire.first + index);
  return wire.body.slice(wire.spans[at], wire.spans[at + 1]);
}

/** `Rebuild()`: rotated in source recovery, keep-source otherwise (§5.8, §8.8). */
export async function rebuild(ctx: ClientContext, signal?: AbortSignal): Promise<RemoteSyncResult> {
  const operation = ctx.state.operation();
  ensureConnectedSession(ctx, 'rebuild()');
  const dirty = ctx.state.dirtyCount();
  if (dirty > 0) throw new DirtyStateRejectedError(dirty);

  if (operation.kind === 'source_recovery') {
    if (ctx.paused.downloads) return { outcome: 'skipped_paused', restore: null };
    const current = ctx.session.sourceId;
    const newSourceId = operation.replacementSourceId.trim() || generateFreshSourceId(ctx, current);
    const restore = await rebuildFromSnapshot(
      ctx,
      {
        persistGate: true,
        replacement: { previousSourceId: current, newSourceId, reason: recoveryCode(operation.reason) },
        rotateTo: { newSourceId, requireFresh: true },
        preserveOutbox: true,
        clearSourceRecovery: true,
      },
      signal,
    );
    return { outcome: 'applied_snapshot', restore };
  }

  // A committed_remote outbox is already on the server: the snapshot contains it (§15 item 23).
  const outbox = ctx.state.outbox();
  const outboxRows = ctx.state.outboxRowCount();
  if (outboxRows > 0 && outbox.state !== 'committed_remote') throw new PendingPushReplayError(outboxRows);
  if (operation.kind === 'remote_replace')
    throw new Error(`cannot rebuild while lifecycle operation ${JSON.stringify(operation.kind)} is pending`);
  if (ctx.paused.downloads) return { outcome: 'skipped_paused', restore: null };
  // No persisted gate (unlike §8.8): a keep-source rebuild that fails before its apply transaction
  // leaves consistent local data, and a gate would dead-end the app's next writes (push refuses the
  // gate, Rebuild refuses the dirty rows). Found by the convergence fuzz, seed 1 (regression "seed 1a").
  const restore = await rebuildFromSnapshot(
    ctx,
    { persistGate: false, advanceSourceBundleFloor: outboxRows > 0 ? outbox.sourceBundleId + 1 : 0 },
    signal,
  );
  return { outcome: 'applied_snapshot', restore };
}
