/**
 * Capture and guard triggers (spec/client.md §3). The triggers coalesce every local write into
 * `_sync_dirty_rows`; the same SQL expressions build row images and keys everywhere else, so the
 * two producers can never disagree (§15 items 6 and 21).
 */
import type { Database } from 'better-sqlite3';
import { NOW_SQL, quoteIdent, quoteLiteral } from './local-schema.js';
import type { ManagedColumn, ManagedTable } from './managed-table.js';

const APPLY_MODE = 'COALESCE((SELECT apply_mode FROM _sync_apply_state WHERE singleton_key = 1), 0)';
const OPERATION_KIND = "COALESCE((SELECT kind FROM _sync_operation_state WHERE singleton_key = 1), 'none')";

/** `CASE WHEN x IS NULL THEN NULL ELSE lower(hex(x)) END` for BLOB columns, `x` otherwise. */
function columnValueSql(ref: string, column: ManagedColumn): string {
  const value = `${ref}.${quoteIdent(column.name)}`;
  return column.isBlob ? `CASE WHEN ${value} IS NULL THEN NULL ELSE lower(hex(${value})) END` : value;
}

/** `K(ref)`: the local key object, e.g. `{"id":"6f1c…"}`. */
export function keyJsonSql(table: ManagedTable, ref: string): string {
  return `json_object(${quoteLiteral(table.keyColumn.lowerName)}, ${columnValueSql(ref, table.keyColumn)})`;
}

/** `P(ref)`: the local row image, members lower-cased in column order. */
export function rowImageSql(table: ManagedTable, ref: string): string {
  return (
    `json_object(` +
    `${table.columns.map((c) => `${quoteLiteral(c.lowerName)}, ${columnValueSql(ref, c)}`).join(', ')})`
  );
}

/**
 * One upsert into `_sync_dirty_rows`. A queued row keeps its first base version and ordinal (the
 * conflict branch never assigns them), so the inserted values only matter for a row not yet
 * queued: they need no lookup of the queue itself, only the next ordinal (one index seek).
 * A single-row VALUES, unlike INSERT … SELECT, reads its own target without a temporary copy.
 */
function captureUpsert(
  schema: string,
  table: ManagedTable,
  key: string,
  op: string,
  payload: string,
  assignments: string,
  whereKeyChanged?: string,
): string {
  const s = quoteLiteral(schema);
  const t = quoteLiteral(table.name);
  const values = `${s}, ${t}, ${key}, ${op},
    COALESCE((SELECT row_version FROM _sync_row_state WHERE schema_name = ${s} AND table_name = ${t}
      AND key_json = ${key}), 0),
    ${payload},
    COALESCE((SELECT MAX(dirty_ordinal) FROM _sync_dirty_rows), 0) + 1,
    ${NOW_SQL}`;
  const source = whereKeyChanged ? `SELECT ${values} WHERE ${whereKeyChanged}` : `VALUES (${values})`;
  return `INSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op, base_row_version, payload, dirty_ordinal,
    updated_at)
  ${source}
  ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET ${assignments};`;
}

/** UPDATE when the server has a live version of the row, INSERT otherwise (absent or tombstone). */
function upsertOp(schema: string, table: ManagedTable, key: string): string {
  return `CASE WHEN EXISTS (SELECT 1 FROM _sync_row_state WHERE schema_name = ${quoteLiteral(schema)}
    AND table_name = ${quoteLiteral(
      table.name,
    )} AND key_json = ${key} AND deleted = 0) THEN 'UPDATE' ELSE 'INSERT' END`;
}

const UPSERT_ASSIGNMENTS = 'op = excluded.op, payload = excluded.payload, updated_at = excluded.updated_at';
const DELETE_ASSIGNMENTS = "op = 'DELETE', payload = NULL, updated_at = excluded.updated_at";

export type TriggerName = 'ai' | 'au' | 'ad' | 'bi_guard' | 'bu_guard' | 'bd_guard';
export const TRIGGER_SUFFIXES: readonly TriggerName[] = ['ai', 'au', 'ad', 'bi_guard', 'bu_guard', 'bd_guard'];

export function triggerName(table: string, suffix: TriggerName): string {
  return `trg_${table}_${suffix}`;
}

/** What one trigger runs: its timing/event, its `WHEN` condition and the statements of its body. */
export interface TriggerProgram {
  readonly timing: 'BEFORE' | 'AFTER';
  readonly event: 'INSERT' | 'UPDATE' | 'DELETE';
  readonly when: string;
  readonly body: readonly string[];
}

/** The six trigger programs of one table (NEW/OLD references unresolved), keyed by suffix. */
export function triggerPrograms(schema: string, table: ManagedTable): Record<TriggerName, TriggerProgram> {
  const newKey = keyJsonSql(table, 'NEW');
  const oldKey = keyJsonSql(table, 'OLD');
  const capture = `${APPLY_MODE} = 0`;
  const guard = (event: TriggerProgram['event']): TriggerProgram => ({
    timing: 'BEFORE',
    event,
    when: `${OPERATION_KIND} != 'none' AND ${APPLY_MODE} != 1`,
    body: ["SELECT RAISE(ABORT, 'SYNC_TRANSITION_PENDING')"],
  });
  const upsertNew = captureUpsert(
    schema,
    table,
    newKey,
    upsertOp(schema, table, newKey),
    rowImageSql(table, 'NEW'),
    UPSERT_ASSIGNMENTS,
  );
  return {
    ai: { timing: 'AFTER', event: 'INSERT', when: capture, body: [upsertNew] },
    au: {
      timing: 'AFTER',
      event: 'UPDATE',
      when: capture,
      body: [
        captureUpsert(schema, table, oldKey, "'DELETE'", 'NULL', DELETE_ASSIGNMENTS, `${oldKey} != ${newKey}`),
        upsertNew,
      ],
    },
    ad: {
      timing: 'AFTER',
      event: 'DELETE',
      when: capture,
      body: [captureUpsert(schema, table, oldKey, "'DELETE'", 'NULL', DELETE_ASSIGNMENTS)],
    },
    bi_guard: guard('INSERT'),
    bu_guard: guard('UPDATE'),
    bd_guard: guard('DELETE'),
  };
}

/** The six trigger statements of one table, keyed by suffix. */
export function renderTriggers(schema: string, table: ManagedTable): Record<TriggerName, string> {
  const programs = triggerPrograms(schema, table);
  const rendered = {} as Record<TriggerName, string>;
  for (const suffix of TRIGGER_SUFFIXES) {
    const p = programs[suffix];
    rendered[suffix] =
      `CREATE TRIGGER ${quoteIdent(triggerName(table.name, suffix))} ${p.timing} ${p.event} ON ${quoteIdent(table.name)}
        WHEN ${p.when}
BEGIN
${p.body.map((statement) => `  ${statement.endsWith(';') ? statement : `${statement};`}`).join('\n')}
END`;
  }
  return rendered;
}

function normalizeTriggerSql(sql: string): string {
  return sql.trim().replace(/\s+/g, ' ').toLowerCase().replace('create trigger if not exists', 'create trigger');
}

/** (Re)installs a table's triggers: unchanged ones are kept, changed ones dropped and re-created. */
export function installTriggers(db: Database, schema: string, table: ManagedTable): void {
  let existing: Map<string, string>;
  try {
    const rows = db
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?")
      .all(table.name) as {
      name: string;
      sql: string | null;
    }[];
    existing = new Map(rows.map((r) => [r.name, r.sql ?? '']));
  } catch (err) {
    throw new Error(`failed to inspect triggers for table ${table.name}: ${(err as Error).message}`, { cause: err });
  }
  const rendered = renderTriggers(schema, table);
  for (const suffix of TRIGGER_SUFFIXES) {
    const triggerNameText = triggerName(table.name, suffix);
    const sql = rendered[suffix];
    const current = existing.get(triggerNameText);
    if (current !== undefined && normalizeTriggerSql(current) === normalizeTriggerSql(sql)) continue;
    if (current !== undefined) {
      try {
        db.exec(`DROP TRIGGER IF EXISTS ${quoteIdent(triggerNameText)}`);
      } catch (err) {
        throw new Error(`failed to drop ${suffix} trigger for table ${table.name}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    try {
      db.exec(sql);
    } catch (err) {
      throw new Error(`failed to create ${suffix} trigger for table ${table.name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

/** Drops the six triggers of a table (uninstall). */
export function dropTriggers(db: Database, tableName: string): void {
  for (const suffix of TRIGGER_SUFFIXES) {
    const name = triggerName(tableName, suffix);
    try {
      db.exec(`DROP TRIGGER IF EXISTS ${quoteIdent(name)}`);
    } catch (err) {
      throw new Error(`failed to drop sync trigger ${name}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Rows of one apply from which suspending the triggers pays (below it the DDL costs more than the rows save). */
export const SUSPEND_TRIGGERS_MIN_ROWS = 1000;

/**
 * Drops the six triggers of each of `tableNames` for the rest of the current apply transaction and
 * returns the function that re-creates them from their stored SQL, byte for byte, to be called
 * before COMMIT (spec/client.md §3.5 unchanged: nothing an apply writes is captured or guarded;
 * other connections only ever see the committed schema, triggers in place). Inside an apply
 * (`apply_mode = 1`) each trigger would still run for every row only to find the flag set, about
 * 1.2 µs a row for an upsert; without them a bulk apply pays nothing per row. The application's own
 * triggers on those tables keep firing; those created after ours are re-created after ours again,
 * so every trigger keeps its place in SQLite's firing order (newest first). A failure anywhere
 * rolls the transaction back, triggers included.
 */
export function suspendTriggers(db: Database, tableNames: Iterable<string>): () => void {
  const suspension = new TriggerSuspension(db);
  for (const table of tableNames) suspension.suspend(table);
  return () => suspension.restore();
}

/**
 * `suspendTriggers` a table at a time, as an apply meets them (a pull page read beside the apply):
 * the triggers are read once at the start and re-created at `restore()` exactly as `suspendTriggers`
 * of the same tables would have done.
 */
export class TriggerSuspension {
  private readonly stored: readonly { name: string; tbl_name: string; sql: string | null }[];
  private readonly tables = new Set<string>();
  private readonly ours = new Set<string>();
  private readonly dropped = new Set<string>();

  constructor(private readonly db: Database) {
    this.stored = db
      .prepare("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid")
      .all() as { name: string; tbl_name: string; sql: string | null }[];
  }

  /** Drops our triggers of `tableName` (once), as `suspendTriggers` would with the tables suspended so far. */
  suspend(tableName: string): void {
    const table = tableName.toLowerCase();
    if (this.tables.has(table)) return;
    this.tables.add(table);
    for (const suffix of TRIGGER_SUFFIXES) this.ours.add(triggerName(tableName, suffix));
    for (const t of this.stored) {
      if (!t.sql || this.dropped.has(t.name) || !this.tables.has(t.tbl_name.toLowerCase()) || !this.ours.has(t.name))
        continue;
      this.db.exec(`DROP TRIGGER ${quoteIdent(t.name)}`);
      this.dropped.add(t.name);
    }
  }

  /** From our oldest trigger on: ours are re-created, the application's dropped and re-created in place after. */
  restore(): void {
    const stored = this.stored.filter((t) => this.tables.has(t.tbl_name.toLowerCase()) && t.sql);
    const first = stored.findIndex((t) => this.ours.has(t.name));
    if (first < 0) return;
    const later = stored.slice(first);
    for (const t of later) if (!this.ours.has(t.name)) this.db.exec(`DROP TRIGGER ${quoteIdent(t.name)}`);
    for (const t of later) this.db.exec(t.sql!);
  }
}
