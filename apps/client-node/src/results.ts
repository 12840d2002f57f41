/** Result types and enum values of the public operations (spec/client.md §0.3). */
import type { SourceRecoveryCode } from './errors.js';

export type AttachStatus = 'connected' | 'retry_later';
/** Empty when the status is `retry_later`. */
export type AttachOutcome = 'resumed_attached_state' | 'used_remote_state' | 'seeded_from_local' | 'started_empty' | '';
export type DetachOutcome = 'detached' | 'blocked_unsynced_data';
/** Empty in the zero status of a `retry_later` attach. */
export type AuthorityStatus = 'pending_local_seed' | 'authoritative_empty' | 'authoritative_materialized' | '';
export type PushOutcome = 'no_change' | 'committed' | 'skipped_paused';
export type RemoteSyncOutcome = 'already_at_target' | 'applied_incremental' | 'applied_snapshot' | 'skipped_paused';

export interface PendingSyncStatus {
  readonly hasPendingSyncData: boolean;
  /** Dirty rows + outbox rows + 1 while a local seed is pending. */
  readonly pendingRowCount: number;
  readonly blocksDetach: boolean;
}

export interface SyncStatus {
  readonly authority: AuthorityStatus;
  readonly pending: PendingSyncStatus;
  readonly lastBundleSeqSeen: number;
}

export interface RestoreSummary {
  /** The snapshot's `snapshot_bundle_seq`. */
  readonly bundleSeq: number;
  readonly rowCount: number;
}

export interface AttachResult {
  readonly status: AttachStatus;
  readonly outcome: AttachOutcome;
  /** `retry_after_seconds` × 1000; only for `retry_later`. */
  readonly retryAfterMs: number;
  readonly syncStatus: SyncStatus;
  /** Only for `used_remote_state`. */
  readonly restore: RestoreSummary | null;
}

export interface DetachResult {
  readonly outcome: DetachOutcome;
  readonly pendingRowCount: number;
}

export interface PushReport {
  readonly outcome: PushOutcome;
  readonly status: SyncStatus;
}

export interface RemoteSyncReport {
  readonly outcome: RemoteSyncOutcome;
  readonly status: SyncStatus;
  /** Only for `applied_snapshot`. */
  readonly restore: RestoreSummary | null;
}

export interface SyncReport {
  readonly pushOutcome: PushOutcome;
  readonly remoteOutcome: RemoteSyncOutcome;
  readonly status: SyncStatus;
  readonly restore: RestoreSummary | null;
}

export interface SyncThenDetachResult {
  readonly lastSync: SyncReport | null;
  readonly detach: DetachResult;
  readonly syncRounds: number;
  readonly remainingPendingRowCount: number;
  /** `detach.outcome === 'detached'`. */
  readonly isSuccess: boolean;
}

export interface SourceInfo {
  readonly currentSourceId: string;
  readonly rebuildRequired: boolean;
  readonly sourceRecoveryRequired: boolean;
  /** Empty when no recovery is required. */
  readonly sourceRecoveryReason: SourceRecoveryCode | '';
}

export interface SnapshotTransferDiagnostics {
  readonly sessionsCreated: number;
  readonly chunksFetched: number;
}

export interface PushTransferDiagnostics {
  readonly sessionsCreated: number;
  readonly chunksUploaded: number;
  readonly committedBundleChunksRead: number;
}

export const ZERO_SYNC_STATUS: SyncStatus = {
  authority: '',
  pending: { hasPendingSyncData: false, pendingRowCount: 0, blocksDetach: false },
  lastBundleSeqSeen: 0,
};

/** Progress of long transfers, for progress bars (rows done of rows total; total 0 = unknown). */
export interface SyncProgress {
  readonly phase: 'push_upload' | 'push_replay' | 'pull' | 'snapshot_download' | 'snapshot_apply';
  readonly done: number;
  readonly total: number;
}
