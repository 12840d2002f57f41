/**
 * Writing server-authoritative rows into the managed tables and `_sync_row_state`
 * (spec/client.md §8.5). Callers run this inside `applyTransaction` (capture suppressed).
 */
import type { ClientContext } from './client-context.js';
import { errorMessage } from './errors.js';
import { isJsonObject, type JsonObject, type JsonValue, parseJsonObject, emptyJsonObject } from './json-value.js';
import type { ManagedTable } from './managed-table.js';
import { keyJson, localKeyFromWireKey, type SqlValue, sqlValuesFromLocalImage, sqlValuesFromWirePayload } from './row-codec.js';
import type { RowOp } from './sync-state.js';

/** A wire row resolved to its local table and key. */
export interface LocalRowRef {
  readonly table: ManagedTable;
  readonly localKey: string;
  readonly keyJson: string;
}

export class RowApplyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RowApplyError';
  }
}

/** Resolves a wire `table`/`key` to the managed table and local key (strict UUID decoding). */
export function resolveWireRow(ctx: ClientContext, tableName: string, key: JsonObject): LocalRowRef {
  const table = ctx.table(tableName);
  if (!table) throw new RowApplyError(`table ${tableName} is not configured for sync`);
  const localKey = localKeyFromWireKey(table, key);
  return { table, localKey, keyJson: keyJson(table, localKey) };
}

/** INSERT/UPDATE → upsert of the wire payload; DELETE → delete by key; then the row state. */
export function applyWireRow(ctx: ClientContext, ref: LocalRowRef, op: RowOp, rowVersion: number, payload: JsonValue | undefined): void {
  if (op === 'DELETE') {
    ctx.rows.delete(ref.table, ref.localKey);
  } else {
    // A JSON null payload decodes as an empty object and then fails the column check.
    const object = payload === null ? emptyJsonObject() : payload;
    if (!isJsonObject(object)) {
      throw new RowApplyError(`failed to decode bundle row payload for ${ctx.schema}.${ref.table.name}: payload is not a JSON object`);
    }
    upsert(ctx, ref.table, sqlValuesFromWirePayload(ref.table, object));
  }
  ctx.state.upsertRowState(ref.table.name, ref.keyJson, rowVersion, op === 'DELETE');
}

/** Upserts a local image (BLOBs as hex) — KeepLocal/KeepMerged and the outbox re-apply. */
export function applyLocalImage(ctx: ClientContext, table: ManagedTable, image: string): void {
  upsert(ctx, table, sqlValuesFromLocalImage(table, parseJsonObject(image, `local payload for ${ctx.schema}.${table.name}`)));
}

export function upsertWirePayload(ctx: ClientContext, table: ManagedTable, payload: JsonObject): void {
  upsert(ctx, table, sqlValuesFromWirePayload(table, payload));
}

function upsert(ctx: ClientContext, table: ManagedTable, values: SqlValue[]): void {
  try {
    ctx.rows.upsert(table, values);
  } catch (err) {
    throw new RowApplyError(`failed to apply authoritative upsert for ${ctx.schema}.${table.name}: failed to execute upsert: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
