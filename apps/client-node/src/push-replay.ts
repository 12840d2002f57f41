/**
 * Local replay of a committed push (spec/client.md §6.5): one transaction that applies the
 * committed rows, rebases local writes made since the freeze, advances the checkpoint and the
 * source bundle counter, and clears the outbox.
 */
import { applyWireRow } from './authoritative-apply.js';
import type { ClientContext } from './client-context.js';
import { SyncProtocolError } from './errors.js';
import { canonicalEqualityText, type JsonObject, type JsonValue, parseJson, stringifyJson } from './json-value.js';
import type { OutboundRow, OutboundSnapshot } from './push-outbox.js';
import { type CommittedPush, type StagedPushRow, stagedPushRows } from './push-transfer.js';
import type { RowOp } from './sync-state.js';

type ReplayDecision =
  | { readonly apply: true }
  | { readonly apply: false; readonly requeueOp: RowOp; readonly requeuePayload: string | null };

/** Applies the committed bundle locally in one transaction, rebasing writes made meanwhile. */
export function replayCommittedBundle(ctx: ClientContext, snapshot: OutboundSnapshot, committed: CommittedPush): void {
  const { header } = committed;
  ctx.state.applyTransaction(() => {
    const staged = stagedPushRows(ctx, Number(header.bundle_seq));
    if (staged.length !== Number(header.row_count)) {
      throw new SyncProtocolError(
        `staged push replay row count ${staged.length} does not match expected row_count ${header.row_count}`,
      );
    }
    if (committed.alreadyCommitted) proveCommittedMatchesOutbox(snapshot, staged);

    const decisions = new Map<string, ReplayDecision>();
    const uploadedRows = new Map<string, OutboundRow>();
    for (const uploaded of snapshot.rows) {
      const identity = rowIdentity(uploaded.table.name, uploaded.keyJson);
      decisions.set(identity, replayDecision(ctx, uploaded));
      uploadedRows.set(identity, uploaded);
    }

    ctx.progress({ phase: 'push_replay', done: 0, total: staged.length });
    staged.forEach((row, i) => {
      const identity = rowIdentity(row.managed.name, row.keyJson);
      const decision = decisions.get(identity);
      if (!decision || decision.apply) {
        const payload = keepExactIntegers(row.payload, uploadedRows.get(identity)?.localPayload ?? null);
        applyWireRow(
          ctx,
          { table: row.managed, localKey: row.localKey, keyJson: row.keyJson },
          row.op,
          row.rowVersion,
          payload,
        );
        if (decision) ctx.state.deleteDirty(row.schema, row.managed.name, row.keyJson);
      } else {
        ctx.state.upsertRowState(row.managed.name, row.keyJson, row.rowVersion, row.op === 'DELETE');
        ctx.state.requeueDirty(
          row.managed.name,
          row.keyJson,
          decision.requeueOp,
          row.rowVersion,
          decision.requeuePayload,
        );
      }
      if ((i + 1) % 1000 === 0) ctx.progress({ phase: 'push_replay', done: i + 1, total: staged.length });
    });

    const attachment = ctx.state.attachment();
    if (Number(header.bundle_seq) === attachment.lastBundleSeqSeen + 1)
      ctx.state.updateAttachment({ lastBundleSeqSeen: Number(header.bundle_seq) });
    ctx.state.advanceNextSourceBundleId(header.source_id, Number(header.source_bundle_id) + 1);
    ctx.state.stmt('DELETE FROM _sync_outbox_rows WHERE source_bundle_id = ?').run(snapshot.sourceBundleId);
    ctx.state.clearOutbox();
    ctx.state.stmt('DELETE FROM _sync_push_stage WHERE bundle_seq = ?').run(Number(header.bundle_seq));
  });
  ctx.progress({ phase: 'push_replay', done: Number(header.row_count), total: Number(header.row_count) });
}

/**
 * Bundles carry numbers as doubles (the hash is defined that way), so an uploaded integer beyond
 * 2^53 comes back rounded. Where the committed value is exactly the double of the uploaded
 * integer, the uploaded exact value is kept — PostgreSQL stored it exactly too.
 */
function keepExactIntegers(committed: JsonValue | undefined, uploadedImage: string | null): JsonValue | undefined {
  if (uploadedImage === null || committed === null || typeof committed !== 'object' || Array.isArray(committed))
    return committed;
  let uploaded: JsonValue;
  try {
    uploaded = parseJson(uploadedImage);
  } catch {
    return committed;
  }
  if (uploaded === null || typeof uploaded !== 'object' || Array.isArray(uploaded)) return committed;
  const result: JsonObject = Object.create(null) as JsonObject;
  for (const name of Object.keys(committed)) {
    const exact = uploaded[name];
    const value = committed[name]!;
    const numeric = typeof value === 'number' || typeof value === 'bigint';
    result[name] = typeof exact === 'bigint' && numeric && Number(exact) === Number(value) ? exact : value;
  }
  return result;
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
  const pendingMatches =
    pending !== undefined && pending.op === uploaded.op && sameJson(pending.payload, uploaded.localPayload);
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
  const committed = new Set(
    staged.map(
      (row) => `${row.schema}\u0000${row.managed.name}\u0000${row.op}\u0000${canonicalEqualityText(row.wireKey)}`,
    ),
  );
  snapshot.rows.forEach((row, i) => {
    const identity =
      `${row.schemaName}\u0000${row.table.name}\u0000${row.op}\u0000` + `${canonicalEqualityText(row.wireKey)}`;
    if (!committed.has(identity)) {
      throw new SyncProtocolError(
        `committed bundle does not match canonical outbox row ${i}: outbox=(${row.schemaName}.` +
          `${row.table.name} ${row.op} ${stringifyJson(row.wireKey)}) has no committed counterpart`,
      );
    }
  });
}
