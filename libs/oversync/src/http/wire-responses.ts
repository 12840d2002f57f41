import type { PushCommitResponse, PushSessionCreateResponse, SnapshotSessionCreateResponse } from '@oversync/protocol';
import type { CommittedBundle } from '../bundle/bundle-capture.js';
import type { CreatePushSessionResult } from '../push/push-session.service.js';
import type { SnapshotSession } from '../snapshot/snapshot-session.service.js';

// The protocol's response types built from the services' results (Go `omitempty` members undefined).

export function pushSessionCreateResponse(result: CreatePushSessionResult): PushSessionCreateResponse {
  if (result.status === 'staging')
    return { push_id: result.pushId, status: 'staging', planned_row_count: result.plannedRowCount };
  const b = result.bundle;
  return {
    status: 'already_committed',
    bundle_seq: BigInt(b.bundleSeq),
    source_id: b.sourceId || undefined,
    source_bundle_id: BigInt(b.sourceBundleId),
    row_count: b.rowCount ? BigInt(b.rowCount) : undefined,
    bundle_hash: b.bundleHash || undefined,
  };
}

export function pushCommitResponse(b: CommittedBundle): PushCommitResponse {
  return {
    bundle_seq: BigInt(b.bundleSeq),
    source_id: b.sourceId,
    source_bundle_id: BigInt(b.sourceBundleId),
    row_count: BigInt(b.rowCount),
    bundle_hash: b.bundleHash,
  };
}

export function snapshotSessionCreateResponse(session: SnapshotSession): SnapshotSessionCreateResponse {
  return {
    snapshot_id: session.snapshotId,
    snapshot_bundle_seq: session.snapshotBundleSeq,
    row_count: session.rowCount,
    byte_count: session.byteCount === 0n ? undefined : session.byteCount,
    expires_at: session.expiresAt,
  };
}
