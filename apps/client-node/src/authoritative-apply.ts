/**
 * Writing server-authoritative rows into the managed tables and `_sync_row_state`
 * (spec/client.md §8.5). Callers run this inside `applyTransaction` (capture suppressed).
 */
import type { ClientContext } from './client-context.js';
import { errorMessage } from './errors.js';
import { isJsonObject, type JsonObject, type JsonValue, parseJsonObject, emptyJsonObject } from './json-value.js';
import type { ManagedTable } from './managed-table.js';
import {
  keyJson,
  localKeyFromWireKey,
  type SqlValue,
  sqlValuesFromLocalImage,
  sqlValuesFromWirePayload,
} from './row-codec.js';
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
export function applyWireRow(
  ctx: ClientContext,
  ref: LocalRowRef,
  op: RowOp,
  rowVersion: number,
  payload: JsonValue | undefined,
): void {
  writeBusinessRow(ctx, { ref, op, rowVersion, payload });
  ctx.state.upsertRowState(ref.table.name, ref.keyJson, rowVersion, op === 'DELETE');
}

/** Upserts a local image (BLOBs as hex) — KeepLocal/KeepMerged and the outbox re-apply. */
export function applyLocalImage(ctx: ClientContext, table: ManagedTable, image: string): void {
  upsert(
    ctx,
    table,
    sqlValuesFromLocalImage(table, parseJsonObject(image, `local payload for ${ctx.schema}.${table.name}`)),
  );
}

export function upsertWirePayload(ctx: ClientContext, table: ManagedTable, payload: JsonObject): void {
  upsert(ctx, table, sqlValuesFromWirePayload(table, payload));
}

function upsert(ctx: ClientContext, table: ManagedTable, values: SqlValue[]): void {
  try {
    ctx.rows.upsert(table, values);
  } catch (err) {
    throw new RowApplyError(
      `failed to apply authoritative upsert for ${ctx.schema}.${table.name}: failed to execute upsert: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** One authoritative row resolved to its local table and key. */
export interface AuthoritativeRow {
  readonly ref: LocalRowRef;
  readonly op: RowOp;
  readonly rowVersion: number;
  readonly payload: JsonValue | undefined;
}

/** Rows per set-based metadata statement (row-state read and write, dirty-row delete). */
export const APPLY_PAGE_ROWS = 1000;

/**
 * Applies authoritative rows a page at a time (inside `applyTransaction`): business rows through
 * one prepared statement per table and operation, row versions read and written set-based per
 * page and table, never one metadata statement per row.
 * `skipStale`: rows not newer than their row state are skipped (pulls); `clearDirty`: queued
 * local intents of the applied keys are dropped. Returns the number of rows written.
 */
export function applyAuthoritativePage(
  ctx: ClientContext,
  rows: readonly AuthoritativeRow[],
  options: { skipStale: boolean; clearDirty: boolean },
): number {
  const byTable = new Map<ManagedTable, AuthoritativeRow[]>();
  for (const row of rows) {
    const list = byTable.get(row.ref.table);
    if (list) list.push(row);
    else byTable.set(row.ref.table, [row]);
  }
  const versions = new Map<ManagedTable, Map<string, number>>();
  if (options.skipStale) {
    for (const [table, list] of byTable)
      versions.set(
        table,
        ctx.state.rowVersions(
          table.name,
          list.map((r) => r.ref.keyJson),
        ),
      );
  }
  const written = new Map<ManagedTable, [string, number, 0 | 1][]>();
  for (const row of rows) {
    const table = row.ref.table;
    if (options.skipStale) {
      // later rows of the same key in this page compare against the earlier ones
      const known = versions.get(table)!;
      const current = known.get(row.ref.keyJson);
      if (current !== undefined && current >= row.rowVersion) continue;
      known.set(row.ref.keyJson, row.rowVersion);
    }
    writeBusinessRow(ctx, row);
    const entries = written.get(table);
    const entry: [string, number, 0 | 1] = [row.ref.keyJson, row.rowVersion, row.op === 'DELETE' ? 1 : 0];
    if (entries) entries.push(entry);
    else written.set(table, [entry]);
  }
  let count = 0;
  const clearDirty = options.clearDirty && ctx.state.hasDirtyRows();
  for (const [table, entries] of written) {
    ctx.state.upsertRowStates(table.name, entries);
    if (clearDirty)
      ctx.state.deleteDirtyKeys(
        table.name,
        entries.map((e) => e[0]),
      );
    count += entries.length;
  }
  return count;
}

function writeBusinessRow(ctx: ClientContext, row: AuthoritativeRow): void {
  if (row.op === 'DELETE') {
    ctx.rows.delete(row.ref.table, row.ref.localKey);
    return;
  }
  // A JSON null payload decodes as an empty object and then fails the column check.
  const object = row.payload === null ? emptyJsonObject() : row.payload;
  if (!isJsonObject(object)) {
    throw new RowApplyError(
      `failed to decode bundle row payload for ${ctx.schema}.${row.ref.table.name}: payload is not a JSON object`,
    );
  }
  upsert(ctx, row.ref.table, sqlValuesFromWirePayload(row.ref.table, object));
}
