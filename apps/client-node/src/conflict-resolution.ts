/**
 * Applying a resolver's answer to a `409 push_conflict` (spec/client.md §7.1, §7.3): one
 * transaction that writes the chosen row, its row state, and requeues every frozen intent so the
 * push can run again. Local payloads are converted to wire encoding before the resolver sees them
 * and before any upsert (§15 item 3).
 */
import { applyLocalImage, upsertWirePayload } from './authoritative-apply.js';
import type { ClientContext } from './client-context.js';
import type { ConflictContext, MergeResult } from './conflict-resolver.js';
import { InvalidConflictResolutionError, type PushConflictError } from './errors.js';
import { canonicalEqualityText, isJsonObject, type JsonObject, parseJsonObject } from './json-value.js';
import type { ManagedTable } from './managed-table.js';
import type { OutboundRow, OutboundSnapshot } from './push-outbox.js';
import { wirePayloadFromLocalImage } from './row-codec.js';
import type { RowOp } from './sync-state.js';
import type { PushConflictDetail } from './wire-decode.js';

type ServerRowState = 'live' | 'tombstone' | 'missing';

/** The planned effect of a valid resolution. */
interface ResolutionPlan {
  /** `server`: upsert the server row; `local`: the frozen local image; `merged`: the merged payload. */
  readonly write:
    | { kind: 'upsert_server' }
    | { kind: 'upsert_local' }
    | { kind: 'upsert_merged'; payload: JsonObject }
    | { kind: 'delete' };
  /** null = remove the row state. */
  readonly rowState: { deleted: boolean } | null;
  readonly requeue: RowOp | null;
}

/**
 * Resolves the conflict of `error` against the frozen snapshot. Returns false when no frozen row
 * matches the conflict (the caller rethrows the conflict and the outbox stays prepared).
 */
export function resolvePushConflict(ctx: ClientContext, snapshot: OutboundSnapshot, error: PushConflictError): boolean {
  const detail = error.response as PushConflictDetail | null;
  if (!detail) return false;
  const conflictKey = canonicalEqualityText(detail.key);
  const row = snapshot.rows.find(
    (r) =>
      r.schemaName === detail.schema &&
      r.table.name === detail.table &&
      canonicalEqualityText(r.wireKey) === conflictKey,
  );
  if (!row) return false;

  // A write made after the freeze supersedes the frozen intent of this row: resolving the frozen one
  // would overwrite it (KeepLocal/KeepMerged upsert and requeue the frozen or merged image over the
  // newer dirty row; the reference loses that write). Drop the frozen intent only; the newer write is
  // pushed next (this call retries) and meets the conflict itself, with its own payload. Convergence
  // fuzz, seed 1000016.
  if (ctx.state.dirtyRow(row.schemaName, row.table.name, row.keyJson)) {
    ctx.state.applyTransaction(() => requeueFrozenRows(ctx, snapshot, row));
    return true;
  }

  const context = conflictContext(row, detail);
  const result = ctx.resolver().resolve(context) as MergeResult | null | undefined;
  const where = `${row.schemaName}.${row.table.name}`;
  const serverState: ServerRowState =
    context.serverRowPayload !== null ? 'live' : detail.server_row_deleted ? 'tombstone' : 'missing';

  let plan: ResolutionPlan;
  try {
    plan = planResolution(row, result, serverState, detail.server_row_deleted, where);
  } catch (err) {
    if (!(err instanceof InvalidResolution)) throw err;
    requeueFrozenRows(ctx, snapshot, null);
    throw new InvalidConflictResolutionError(context, result ?? null, err.message);
  }
  if (
    (result?.kind === 'keep_local' || result?.kind === 'keep_merged') &&
    row.op === 'INSERT' &&
    serverState === 'missing'
  ) {
    throw new Error(
      `${result.kind === 'keep_local' ? 'KeepLocal' : 'KeepMerged'} INSERT conflict for ${where} must include ` +
        `live row or tombstone`,
    );
  }

  if (result?.kind === 'accept_server' && plan.write.kind === 'delete') {
    // Server wins with a tombstone: deleting the row now, ahead of the checkpoint, breaks the pull of
    // any earlier bundle that references it (its FK check fails on every sync; convergence fuzz, seeds
    // 20 and 1000025). Drop the local intent; the pull applies the deletion in bundle order.
    ctx.state.applyTransaction(() => requeueFrozenRows(ctx, snapshot, row));
    return true;
  }
  try {
    applyResolution(ctx, snapshot, row, detail, context, plan, where);
  } catch (err) {
    // Server wins, but its row cannot stand alone locally: it references a parent this device has
    // not pulled yet. Applying it would fail the FK check on every push (a dead end); drop the local
    // intent instead and let the pull apply the server's bundle whole. Convergence fuzz, seed 20.
    if (result?.kind !== 'accept_server' || !isForeignKeyViolation(err)) throw err;
    ctx.state.applyTransaction(() => requeueFrozenRows(ctx, snapshot, row));
  }
  return true;
}

function isForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

function applyResolution(
  ctx: ClientContext,
  snapshot: OutboundSnapshot,
  row: OutboundRow,
  detail: PushConflictDetail,
  context: ConflictContext,
  plan: ResolutionPlan,
  where: string,
): void {
  ctx.state.applyTransaction(() => {
    switch (plan.write.kind) {
      case 'upsert_server':
        upsertWirePayload(ctx, row.table, context.serverRowPayload!);
        break;
      case 'upsert_local':
        applyLocalImage(ctx, row.table, row.localPayload!);
        break;
      case 'upsert_merged':
        upsertWirePayload(ctx, row.table, plan.write.payload);
        break;
      case 'delete':
        ctx.rows.delete(row.table, row.localKey);
        break;
    }
    if (plan.rowState)
      ctx.state.upsertRowState(row.table.name, row.keyJson, Number(detail.server_row_version), plan.rowState.deleted);
    else ctx.state.deleteRowState(row.table.name, row.keyJson);
    let image: string | null = null;
    if (plan.write.kind !== 'delete') {
      const live = ctx.rows.image(row.table, row.localKey);
      if (live === undefined) throw new Error(`resolved payload for ${where} must exist before requeue`);
      image = live;
    }
    requeueFrozenRows(ctx, snapshot, row);
    if (plan.requeue)
      ctx.state.requeueDirty(
        row.table.name,
        row.keyJson,
        plan.requeue,
        Number(detail.server_row_version),
        plan.requeue === 'DELETE' ? null : image,
      );
  });
}

class InvalidResolution extends Error {}

function planResolution(
  row: OutboundRow,
  result: MergeResult | null | undefined,
  serverState: ServerRowState,
  serverRowDeleted: boolean,
  where: string,
): ResolutionPlan {
  if (result == null) throw new InvalidResolution(`resolver returned nil result for ${where}`);
  // For AcceptServer and DELETE decisions a tombstone flag wins over a payload.
  const deleteState: ServerRowState = serverRowDeleted ? 'tombstone' : serverState;
  switch (result.kind) {
    case 'accept_server':
      if (deleteState === 'tombstone') return { write: { kind: 'delete' }, rowState: { deleted: true }, requeue: null };
      if (deleteState === 'live')
        return { write: { kind: 'upsert_server' }, rowState: { deleted: false }, requeue: null };
      return { write: { kind: 'delete' }, rowState: null, requeue: null };
    case 'keep_local':
      if (row.op === 'DELETE') return deletePlan(deleteState);
      if (row.op === 'UPDATE' && serverState !== 'live') {
        throw new InvalidResolution(
          `KeepLocal is invalid for stale UPDATE on ${where}; authoritative row is deleted or missing`,
        );
      }
      return upsertPlan({ kind: 'upsert_local' }, row.op, serverState);
    case 'keep_merged': {
      if (row.op === 'DELETE') throw new InvalidResolution(`KeepMerged is invalid for DELETE conflict on ${where}`);
      if (row.op === 'UPDATE' && serverState !== 'live') {
        throw new InvalidResolution(
          `KeepMerged is invalid for stale UPDATE on ${where}; authoritative row is deleted or missing`,
        );
      }
      const problem = mergedPayloadProblem(row.table, result.mergedPayload, where);
      if (problem) throw new InvalidResolution(problem);
      return upsertPlan({ kind: 'upsert_merged', payload: result.mergedPayload }, row.op, serverState);
    }
    default:
      throw new InvalidResolution(`resolver returned unsupported result type ${describe(result)} for ${where}`);
  }
}

function deletePlan(state: ServerRowState): ResolutionPlan {
  if (state === 'live') return { write: { kind: 'delete' }, rowState: { deleted: false }, requeue: 'DELETE' };
  if (state === 'tombstone') return { write: { kind: 'delete' }, rowState: { deleted: true }, requeue: null };
  return { write: { kind: 'delete' }, rowState: null, requeue: null };
}

function upsertPlan(write: ResolutionPlan['write'], op: RowOp, state: ServerRowState): ResolutionPlan {
  // INSERT over a tombstone stays an INSERT based on the tombstone version; otherwise an UPDATE.
  if (op === 'INSERT' && state === 'tombstone') return { write, rowState: { deleted: true }, requeue: 'INSERT' };
  return { write, rowState: { deleted: false }, requeue: 'UPDATE' };
}

function describe(result: unknown): string {
  if (result !== null && typeof result === 'object' && 'kind' in result)
    return String((result as { kind: unknown }).kind);
  return typeof result;
}

/** The merged payload must be a JSON object with exactly the local columns (names compared lower-cased). */
function mergedPayloadProblem(table: ManagedTable, payload: unknown, where: string): string {
  if (!isJsonObject(payload as JsonObject)) return `KeepMerged for ${where} must provide a JSON object payload`;
  const names = Object.keys(payload as JsonObject).map((n) => n.toLowerCase());
  const columns = new Set(table.columns.map((c) => c.lowerName));
  return names.length === columns.size && names.every((n) => columns.has(n))
    ? ''
    : `KeepMerged for ${where} must include exactly every table column`;
}

function conflictContext(row: OutboundRow, detail: PushConflictDetail): ConflictContext {
  let localPayload: JsonObject | null = null;
  if (row.op !== 'DELETE') {
    if (row.localPayload === null)
      throw new Error(`local ${row.op} conflict is missing payload for ${row.schemaName}.${row.table.name}`);
    let image: JsonObject;
    try {
      image = parseJsonObject(row.localPayload, 'local payload');
    } catch (err) {
      throw new Error(
        `local ${row.op} conflict payload for ${row.schemaName}.${row.table.name} must be a JSON object: ` +
          `${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    localPayload = wirePayloadFromLocalImage(row.table, image);
  }
  return {
    schema: detail.schema,
    table: detail.table,
    key: detail.key,
    localOp: row.op,
    localPayload,
    baseRowVersion: Number(detail.base_row_version),
    serverRowVersion: Number(detail.server_row_version),
    serverRowDeleted: detail.server_row_deleted,
    serverRowPayload: isJsonObject(detail.server_row) ? detail.server_row : null,
  };
}

/**
 * Requeues the frozen rows (except `resolved`) with their frozen op, base and local payload and
 * clears the outbox. Without `resolved` it runs its own transaction (invalid resolution). A row
 * written again after the freeze keeps that newer dirty row (same base; the reference overwrote it
 * with the frozen payload, so the resolver later saw, and KeepLocal restored, the stale value).
 * Convergence fuzz, seed 1000155.
 */
function requeueFrozenRows(ctx: ClientContext, snapshot: OutboundSnapshot, resolved: OutboundRow | null): void {
  const requeue = () => {
    for (const row of snapshot.rows) {
      if (
        resolved &&
        row.schemaName === resolved.schemaName &&
        row.table.name === resolved.table.name &&
        row.keyJson === resolved.keyJson
      )
        continue;
      if (ctx.state.dirtyRow(row.schemaName, row.table.name, row.keyJson)) continue;
      ctx.state.requeueDirty(row.table.name, row.keyJson, row.op, row.baseRowVersion, row.localPayload);
    }
    ctx.state.clearOutbox();
  };
  if (resolved) requeue();
  else ctx.state.applyTransaction(requeue);
}
