/**
 * Capture and guard triggers (spec/client.md §3). The triggers append every local write to
 * `_sync_capture_log`, which `foldCaptureLog` coalesces into `_sync_dirty_rows` before anything reads the
 * queue (the queue it leaves is the one §3.2's per-row upserts would have left); the same SQL
 * expressions build row images and keys everywhere else, so the two producers can never disagree
 * (§15 items 6 and 21).
 */
import type { Database, Statement } from 'better-sqlite3';
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
 * One append to `_sync_capture_log` (S, T, K, payload — NULL for a DELETE —, NOW). The log's key is
 * its INTEGER PRIMARY KEY, so every append lands on the right edge of one B-tree and reads nothing:
 * no queue row, no row state, no next ordinal. The coalescing by key that the triggers did in
 * `_sync_dirty_rows` (§3.2) happens in `foldCaptureLog`, before anything reads the queue.
 */
function captureAppend(
  schema: string,
  table: ManagedTable,
  key: string,
  payload: string,
  whereKeyChanged?: string,
): string {
  const values = `${quoteLiteral(schema)}, ${quoteLiteral(table.name)}, ${key}, ${payload}, ${NOW_SQL}`;
  const source = whereKeyChanged ? `SELECT ${values} WHERE ${whereKeyChanged}` : `VALUES (${values})`;
  return `INSERT INTO _sync_capture_log(schema_name, table_name, key_json, payload, updated_at) ${source};`;
}

/**
 * Folds `_sync_capture_log` into `_sync_dirty_rows` in one statement, exactly as the per-row upserts of
 * spec/client.md §3.2 would have left the queue had each captured write been applied at its time:
 * per key the last entry wins (op and payload, updated_at); a key already queued keeps its base version
 * and ordinal; a key not yet queued takes its row state's version (0 without one) and the next ordinal,
 * the keys in the order of their first capture; the op of an upsert is UPDATE when the row state is live,
 * INSERT otherwise. Row state and queue are as they were at capture time because every client
 * transaction, and every read of the queue, folds first (`SyncState`). The rows are written in key order,
 * so the queue's key index is filled left to right. The `WHERE true` keeps the upsert parser unambiguous.
 */
export const FOLD_CAPTURE_LOG_SQL = `INSERT INTO _sync_dirty_rows(schema_name, table_name, key_json, op,
    base_row_version, payload, dirty_ordinal, updated_at)
  SELECT schema_name, table_name, key_json,
    CASE WHEN payload IS NULL THEN 'DELETE' WHEN live THEN 'UPDATE' ELSE 'INSERT' END,
    base_row_version, payload,
    (SELECT COALESCE(MAX(dirty_ordinal), 0) FROM _sync_dirty_rows)
      + row_number() OVER (PARTITION BY queued ORDER BY first_seq),
    updated_at
  FROM (
    SELECT l.schema_name, l.table_name, l.key_json, l.payload, l.updated_at, l.first_seq,
      COALESCE(rs.row_version, 0) AS base_row_version, COALESCE(rs.deleted = 0, 0) AS live,
      EXISTS (SELECT 1 FROM _sync_dirty_rows d WHERE d.schema_name = l.schema_name AND d.table_name = l.table_name
        AND d.key_json = l.key_json) AS queued
    FROM (
      SELECT schema_name, table_name, key_json, payload, updated_at, seq,
        first_value(seq) OVER w AS first_seq, last_value(seq) OVER w AS last_seq
      FROM _sync_capture_log
      WINDOW w AS (PARTITION BY schema_name, table_name, key_json ORDER BY seq
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ) l
    LEFT JOIN _sync_row_state rs ON rs.schema_name = l.schema_name AND rs.table_name = l.table_name
      AND rs.key_json = l.key_json
    WHERE l.seq = l.last_seq
  )
  WHERE true
  ORDER BY schema_name, table_name, key_json
  ON CONFLICT(schema_name, table_name, key_json) DO UPDATE SET
    op = excluded.op, payload = excluded.payload, updated_at = excluded.updated_at`;

/** Whether the capture log holds anything to fold (one seek). */
export const CAPTURE_LOG_PENDING_SQL = 'SELECT EXISTS (SELECT 1 FROM _sync_capture_log) AS e';
export const CLEAR_CAPTURE_LOG_SQL = 'DELETE FROM _sync_capture_log';

/**
 * Folds the capture log into `_sync_dirty_rows` and empties it, in one transaction (a savepoint inside
 * one); nothing when the log is empty (one seek). `prepare` lets a caller reuse its statement cache.
 * Returns whether there was anything to fold.
 */
export function foldCaptureLog(db: Database, prepare: (sql: string) => Statement = (sql) => db.prepare(sql)): boolean {
  if ((prepare(CAPTURE_LOG_PENDING_SQL).get() as { e: number }).e !== 1) return false;
  db.transaction(() => {
    prepare(FOLD_CAPTURE_LOG_SQL).run();
    prepare(CLEAR_CAPTURE_LOG_SQL).run();
  })();
  return true;
}

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
  const upsertNew = captureAppend(schema, table, newKey, rowImageSql(table, 'NEW'));
  return {
    ai: { timing: 'AFTER', event: 'INSERT', when: capture, body: [upsertNew] },
    au: {
      timing: 'AFTER',
      event: 'UPDATE',
      when: capture,
      // a key change is a DELETE of the old key first (the smaller ordinal when both are new), then the upsert
      body: [captureAppend(schema, table, oldKey, 'NULL', `${oldKey} != ${newKey}`), upsertNew],
    },
    ad: { timing: 'AFTER', event: 'DELETE', when: capture, body: [captureAppend(schema, table, oldKey, 'NULL')] },
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
