/**
 * `@oversync/client-node/testing`: fault-injection hooks (spec/client.md §6.10) and transfer
 * counters for tests and simulators. Not part of the application API.
 */
import type { PushHooks } from './client-context.js';
import { clientContextOf, type OversqliteClient } from './oversqlite-client.js';
import type { PushTransferDiagnostics, SnapshotTransferDiagnostics } from './results.js';

export type { PushHooks, PushTransferDiagnostics, SnapshotTransferDiagnostics };

/** Runs once before the next push freezes its outbox; a throw aborts the push there. */
export function setBeforePushFreezeHook(client: OversqliteClient, hook: PushHooks['beforeFreeze']): void {
  clientContextOf(client).hooks.beforeFreeze = hook;
}

/** Runs once before the next push commits its session; a throw aborts the push there. */
export function setBeforePushCommitHook(client: OversqliteClient, hook: PushHooks['beforeCommit']): void {
  clientContextOf(client).hooks.beforeCommit = hook;
}

/** Runs once before the next committed-bundle replay; a throw aborts the push there. */
export function setBeforePushReplayHook(client: OversqliteClient, hook: PushHooks['beforeReplay']): void {
  clientContextOf(client).hooks.beforeReplay = hook;
}

export function snapshotTransferDiagnostics(client: OversqliteClient): SnapshotTransferDiagnostics {
  const { counters } = clientContextOf(client);
  return { sessionsCreated: counters.snapshotSessionsCreated, chunksFetched: counters.snapshotChunksFetched };
}

export function resetSnapshotTransferDiagnostics(client: OversqliteClient): void {
  const { counters } = clientContextOf(client);
  counters.snapshotSessionsCreated = 0;
  counters.snapshotChunksFetched = 0;
}

export function pushTransferDiagnostics(client: OversqliteClient): PushTransferDiagnostics {
  const { counters } = clientContextOf(client);
  return {
    sessionsCreated: counters.pushSessionsCreated,
    chunksUploaded: counters.pushChunksUploaded,
    committedBundleChunksRead: counters.committedBundleChunksRead,
  };
}

export function resetPushTransferDiagnostics(client: OversqliteClient): void {
  const { counters } = clientContextOf(client);
  counters.pushSessionsCreated = 0;
  counters.pushChunksUploaded = 0;
  counters.committedBundleChunksRead = 0;
}

/** Pulled bundles this client applied with the worker thread reading their page (`pullWorker`). */
export function pullBundlesReadByWorker(client: OversqliteClient): number {
  return clientContextOf(client).counters.pullBundlesReadByWorker;
}

/** Pull pages the worker thread requested itself and read as they arrived (`pullWorker`). */
export function pullPagesRequestedByWorker(client: OversqliteClient): number {
  return clientContextOf(client).counters.pullPagesRequestedByWorker;
}
