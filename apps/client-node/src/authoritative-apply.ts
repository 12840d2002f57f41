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
  keyJsonHead,
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

/**
 * Resolves a wire `table`/`key` to the managed table and local key (strict UUID decoding).
 * `keyText`: the key's text as the layout view read it (compact, plain strings), taken as the
 * `key_json` when it is exactly the one that `keyJson` writes.
 */
export function resolveWireRow(ctx: ClientContext, tableName: string, key: JsonObject, keyText?: string): LocalRowRef {
  const table = ctx.table(tableName);
  if (!table) throw new RowApplyError(`table ${tableName} is not configured for sync`);
  const localKey = localKeyFromWireKey(table, key);
  return { table, localKey, keyJson: isKeyJsonOf(table, localKey, keyText) ? keyText : keyJson(table, localKey) };
}

/**
 * `{"<key column>":"<local key>"}` and nothing else: the text starts as `keyJson` does and has its
 * length. A plain string (no quote, backslash, control character or surrogate) is one that
 * `JSON.stringify` writes as it is, so the text is then byte for byte `keyJson`'s.
 */
function isKeyJsonOf(table: ManagedTable, localKey: string, keyText: string | undefined): keyText is string {
  if (keyText === undefined || table.keyIsBlob) return false;
  const head = keyJsonHead(table);
  return keyText.length === head.length + localKey.length + 2 && keyText.startsWith(head);
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
    throw upsertError(ctx, table, err);
  }
}

function upsertError(ctx: ClientContext, table: ManagedTable, err: unknown): RowApplyError {
  return new RowApplyError(
    `failed to apply authoritative upsert for ${ctx.schema}.${table.name}: failed to execute upsert: ` +
      `${errorMessage(err)}`,
    { cause: err },
  );
}

/** One authoritative row resolved to its local table and key. */
export interface AuthoritativeRow {
  readonly ref: LocalRowRef;
  readonly op: RowOp;
  readonly rowVersion: number;
  readonly payload: JsonValue | undefined;
  /** The columns' values already decoded from the payload (a pull page read beside the apply); else from `payload`. */
  readonly values?: SqlValue[];
}

/**
 * Rows per page of an apply (a snapshot's staged rows are read back a page at a time; dirty keys are dropped per page).
 */
export const APPLY_PAGE_ROWS = 1000;

/**
 * Rows of a pull written by one multi-row statement: a run of inserts/updates of one table, 16 to 64 rows
 * (fewer bound values than SQLite's smallest limit, 999). One better-sqlite3 call costs about as much
 * again as the row's own B-tree work; a shorter run is not worth preparing a statement for its size.
 */
const BATCH_MAX_ROWS = 64;
const BATCH_MIN_ROWS = 16;
const BATCH_MAX_VALUES = 999;

/**
 * What the pages of one transaction read once (a pull page read beside the apply comes in many small
 * pages): whether dirty rows exist (none appear while capture is suppressed), the apply's `now`, and each
 * table's batch size (the application's triggers do not change inside the transaction). A page alone
 * reads them itself.
 */
export class ApplyPages {
  dirtyRows: boolean | undefined;
  updatedAt: string | undefined;
  readonly batchLimits = new Map<ManagedTable, number>();
}

/**
 * Applies authoritative rows a page at a time (inside `applyTransaction`): business rows through
 * one prepared statement per table and operation, one row-state statement per row (a pull's also
 * decides staleness: it writes only a newer version and says so), never a read before the write;
 * a pull's runs of inserts/updates of one table first try multi-row statements (`applyNewRows`).
 * `skipStale`: rows not newer than their row state are skipped (pulls; a later row of the same key
 * compares against the earlier one); `clearDirty`: queued local intents of the applied keys are
 * dropped, set-based per page and table; `rowStateBySet`: the caller writes the row state of these
 * rows itself, set-based (a snapshot, from its stage); `pages`: shared by the pages of one transaction.
 * Returns the number of rows written.
 */
export function applyAuthoritativePage(
  ctx: ClientContext,
  rows: readonly AuthoritativeRow[],
  options: { skipStale: boolean; clearDirty: boolean; rowStateBySet?: boolean },
  pages: ApplyPages = new ApplyPages(),
): number {
  const clearDirty = options.clearDirty && (pages.dirtyRows ??= ctx.state.hasDirtyRows());
  const applied = new Map<ManagedTable, string[]>();
  let count = 0;
  const state = ctx.state;
  const updatedAt = options.skipStale ? (pages.updatedAt ??= state.now()) : '';
  const batchRows = new Map<ManagedTable, number>();
  const written = (row: AuthoritativeRow) => {
    count++;
    if (!clearDirty) return;
    const keys = applied.get(row.ref.table);
    if (keys) keys.push(row.ref.keyJson);
    else applied.set(row.ref.table, [row.ref.keyJson]);
  };
  const applyRow = (row: AuthoritativeRow) => {
    const { table, keyJson } = row.ref;
    const deleted = row.op === 'DELETE' ? 1 : 0;
    if (options.skipStale) {
      if (!state.advanceRowState(table.name, keyJson, row.rowVersion, deleted, updatedAt)) return;
    } else if (!options.rowStateBySet) state.upsertRowState(table.name, keyJson, row.rowVersion, deleted === 1);
    writeBusinessRow(ctx, row);
    written(row);
  };
  for (let i = 0; i < rows.length;) {
    const run = options.skipStale ? upsertRun(ctx, rows, i, batchRows, pages) : 0;
    if (run < BATCH_MIN_ROWS) {
      applyRow(rows[i++]!);
      continue;
    }
    const batch = rows.slice(i, i + run);
    const done = applyNewRows(ctx, batch, updatedAt);
    // a batch stopped at its first row (rows this device has: updates) tries no more of this table this page
    if (done === 0) batchRows.set(batch[0]!.ref.table, 0);
    for (let j = 0; j < done; j++) written(batch[j]!);
    // the row that stopped the batch (a key with a row state, or repeated) and the rest of the run: one by one
    for (let j = done; j < run; j++) applyRow(batch[j]!);
    i += run;
  }
  for (const [table, keys] of applied) ctx.state.deleteDirtyKeys(table.name, keys);
  return count;
}

/**
 * Rows from `start` that one batch may take: inserts/updates of the first one's table, at most its batch
 * size; a table with triggers of the application's is never batched (`OR FAIL` would override their
 * statements' conflict handling).
 */
function upsertRun(
  ctx: ClientContext,
  rows: readonly AuthoritativeRow[],
  start: number,
  batchRows: Map<ManagedTable, number>,
  pages: ApplyPages,
): number {
  const table = rows[start]!.ref.table;
  let max = batchRows.get(table);
  if (max === undefined) {
    let limit = pages.batchLimits.get(table);
    if (limit === undefined) {
      limit = ctx.rows.hasForeignTriggers(table)
        ? 0
        : Math.min(BATCH_MAX_ROWS, Math.floor(BATCH_MAX_VALUES / table.columns.length));
      pages.batchLimits.set(table, limit);
    }
    max = limit;
    batchRows.set(table, max);
  }
  const end = Math.min(rows.length, start + max);
  let i = start;
  while (i < end && rows[i]!.op !== 'DELETE' && rows[i]!.ref.table === table) i++;
  return i - start;
}

/**
 * Inserts/updates of one table, applied as rows new to this device in two multi-row `INSERT OR FAIL`s
 * (row state, then business rows); the same rows, row states and errors as one by one. Returns how many
 * rows, from the first, it applied: the row after them has a row state already (stale or not, it is
 * `advanceRowState`'s to decide) or repeats a key of the batch. A business row already there is upserted.
 */
function applyNewRows(ctx: ClientContext, rows: readonly AuthoritativeRow[], updatedAt: string): number {
  const table = rows[0]!.ref.table;
  const fresh = ctx.state.insertRowStates(
    table.name,
    rows.map((row) => row.ref.keyJson),
    rows.map((row) => row.rowVersion),
    updatedAt,
  );
  const values: SqlValue[][] = [];
  try {
    // decoded in row order: a payload that fails to decode throws after the rows before it are written
    for (let i = 0; i < fresh; i++) values.push(businessValues(ctx, rows[i]!));
  } finally {
    if (values.length > 0) insertBusinessRows(ctx, table, values);
  }
  return fresh;
}

function insertBusinessRows(ctx: ClientContext, table: ManagedTable, values: SqlValue[][]): void {
  let inserted: number;
  try {
    inserted = ctx.rows.insertPrefix(table, values);
  } catch (err) {
    throw upsertError(ctx, table, err);
  }
  for (let i = inserted; i < values.length; i++) upsert(ctx, table, values[i]!);
}

function writeBusinessRow(ctx: ClientContext, row: AuthoritativeRow): void {
  if (row.op === 'DELETE') ctx.rows.delete(row.ref.table, row.ref.localKey);
  else upsert(ctx, row.ref.table, businessValues(ctx, row));
}

/** The columns' values of an insert/update: decoded beside the apply, else from its payload. */
function businessValues(ctx: ClientContext, row: AuthoritativeRow): SqlValue[] {
  if (row.values !== undefined) return row.values;
  // A JSON null payload decodes as an empty object and then fails the column check.
  const object = row.payload === null ? emptyJsonObject() : row.payload;
  if (!isJsonObject(object)) {
    throw new RowApplyError(
      `failed to decode bundle row payload for ${ctx.schema}.${row.ref.table.name}: payload is not a JSON object`,
    );
  }
  return sqlValuesFromWirePayload(row.ref.table, object);
}
