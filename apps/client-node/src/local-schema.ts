/** The `_sync_*` metadata tables (spec/client.md §2.1), created idempotently on every start. */
import type { Database } from 'better-sqlite3';

export const NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

const TABLE_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS _sync_source_state (
  source_id             TEXT    NOT NULL PRIMARY KEY,
  next_source_bundle_id INTEGER NOT NULL DEFAULT 1,
  replaced_by_source_id TEXT    NOT NULL DEFAULT '',
  created_at            TEXT    NOT NULL DEFAULT (${NOW_SQL}))`,
  `CREATE TABLE IF NOT EXISTS _sync_attachment_state (
  singleton_key             INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  current_source_id         TEXT    NOT NULL DEFAULT '',
  binding_state             TEXT    NOT NULL DEFAULT 'anonymous' CHECK (binding_state IN ('anonymous','attached')),
  attached_user_id          TEXT    NOT NULL DEFAULT '',
  schema_name               TEXT    NOT NULL DEFAULT '',
  last_bundle_seq_seen      INTEGER NOT NULL DEFAULT 0,
  rebuild_required          INTEGER NOT NULL DEFAULT 0,
  pending_initialization_id TEXT    NOT NULL DEFAULT '')`,
  `CREATE TABLE IF NOT EXISTS _sync_operation_state (
  singleton_key         INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  kind                  TEXT    NOT NULL DEFAULT 'none' CHECK (kind IN ('none','remote_replace','source_recovery')),
  target_user_id        TEXT    NOT NULL DEFAULT '',
  reason                TEXT    NOT NULL DEFAULT '',
  replacement_source_id TEXT    NOT NULL DEFAULT '',
  staged_snapshot_id    TEXT    NOT NULL DEFAULT '',
  snapshot_bundle_seq   INTEGER NOT NULL DEFAULT 0,
  snapshot_row_count    INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS _sync_apply_state (
  singleton_key INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  apply_mode    INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS _sync_row_state (
  schema_name TEXT    NOT NULL,
  table_name  TEXT    NOT NULL,
  key_json    TEXT    NOT NULL,
  row_version INTEGER NOT NULL DEFAULT 0,
  deleted     INTEGER NOT NULL DEFAULT 0,
  updated_at  TEXT    NOT NULL DEFAULT (${NOW_SQL}),
  PRIMARY KEY (schema_name, table_name, key_json))`,
  `CREATE TABLE IF NOT EXISTS _sync_dirty_rows (
  schema_name      TEXT    NOT NULL,
  table_name       TEXT    NOT NULL,
  key_json         TEXT    NOT NULL,
  op               TEXT    NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')),
  base_row_version INTEGER NOT NULL DEFAULT 0,
  payload          TEXT,
  dirty_ordinal    INTEGER NOT NULL DEFAULT 0,
  updated_at       TEXT    NOT NULL DEFAULT (${NOW_SQL}),
  PRIMARY KEY (schema_name, table_name, key_json))`,
  // The capture triggers take MAX(dirty_ordinal) + 1 on every write: without this index each
  // write scanned the whole queue (quadratic local writes); with it the max is one index seek.
  `CREATE INDEX IF NOT EXISTS _sync_dirty_rows_ordinal ON _sync_dirty_rows(dirty_ordinal)`,
  `CREATE TABLE IF NOT EXISTS _sync_snapshot_stage (
  snapshot_id TEXT    NOT NULL,
  row_ordinal INTEGER NOT NULL,
  schema_name TEXT    NOT NULL,
  table_name  TEXT    NOT NULL,
  key_json    TEXT    NOT NULL,
  row_version INTEGER NOT NULL,
  payload     TEXT    NOT NULL,
  PRIMARY KEY (snapshot_id, row_ordinal))`,
  `CREATE TABLE IF NOT EXISTS _sync_outbox_bundle (
  singleton_key          INTEGER NOT NULL PRIMARY KEY CHECK (singleton_key = 1),
  state                  TEXT    NOT NULL DEFAULT 'none' CHECK (state IN ('none','prepared','committed_remote')),
  source_id              TEXT    NOT NULL DEFAULT '',
  source_bundle_id       INTEGER NOT NULL DEFAULT 0,
  canonical_request_hash TEXT    NOT NULL DEFAULT '',
  row_count              INTEGER NOT NULL DEFAULT 0,
  initialization_id      TEXT    NOT NULL DEFAULT '',
  remote_bundle_hash     TEXT    NOT NULL DEFAULT '',
  remote_bundle_seq      INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS _sync_outbox_rows (
  source_bundle_id INTEGER NOT NULL,
  row_ordinal      INTEGER NOT NULL,
  schema_name      TEXT    NOT NULL,
  table_name       TEXT    NOT NULL,
  key_json         TEXT    NOT NULL,
  wire_key_json    TEXT    NOT NULL,
  op               TEXT    NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')),
  base_row_version INTEGER NOT NULL DEFAULT 0,
  local_payload    TEXT,
  wire_payload     TEXT,
  PRIMARY KEY (source_bundle_id, row_ordinal))`,
  `CREATE TABLE IF NOT EXISTS _sync_push_stage (
  bundle_seq  INTEGER NOT NULL,
  row_ordinal INTEGER NOT NULL,
  schema_name TEXT    NOT NULL,
  table_name  TEXT    NOT NULL,
  key_json    TEXT    NOT NULL,
  op          TEXT    NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')),
  row_version INTEGER NOT NULL,
  payload     TEXT,
  PRIMARY KEY (bundle_seq, row_ordinal))`,
  `CREATE TABLE IF NOT EXISTS _sync_managed_tables (
  schema_name TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  PRIMARY KEY (schema_name, table_name))`,
];

/** Drop order used by `uninstallSync()` (spec/client.md §2.1). */
export const METADATA_TABLES = [
  '_sync_source_state',
  '_sync_attachment_state',
  '_sync_operation_state',
  '_sync_apply_state',
  '_sync_row_state',
  '_sync_dirty_rows',
  '_sync_snapshot_stage',
  '_sync_outbox_bundle',
  '_sync_outbox_rows',
  '_sync_push_stage',
  '_sync_managed_tables',
] as const;

const SINGLETON_ROWS: readonly [string, string][] = [
  [
    'attachment state',
    `INSERT INTO _sync_attachment_state(singleton_key, current_source_id, binding_state, attached_user_id, schema_name,
      last_bundle_seq_seen, rebuild_required, pending_initialization_id)
     VALUES (1, '', 'anonymous', '', '', 0, 0, '') ON CONFLICT(singleton_key) DO NOTHING`,
  ],
  [
    'operation state',
    `INSERT INTO _sync_operation_state(singleton_key, kind, target_user_id, reason, replacement_source_id,
      staged_snapshot_id, snapshot_bundle_seq, snapshot_row_count)
     VALUES (1, 'none', '', '', '', '', 0, 0) ON CONFLICT(singleton_key) DO NOTHING`,
  ],
  [
    'apply state',
    `INSERT INTO _sync_apply_state(singleton_key, apply_mode) VALUES (1, 0) ON CONFLICT(singleton_key) DO NOTHING`,
  ],
  [
    'outbox bundle',
    `INSERT INTO _sync_outbox_bundle(singleton_key, state, source_id, source_bundle_id, canonical_request_hash,
      row_count, initialization_id, remote_bundle_hash, remote_bundle_seq)
     VALUES (1, 'none', '', 0, '', 0, '', '', 0) ON CONFLICT(singleton_key) DO NOTHING`,
  ],
];

/** `initializeDatabase`: pragmas, tables, singleton rows, and a reset of a stuck apply flag. */
export function initializeLocalSchema(db: Database): void {
  wrap('failed to enable WAL mode', () => {
    // In-memory databases answer 'memory'; that is fine.
    db.pragma('journal_mode = WAL');
  });
  wrap('failed to enable foreign keys', () => db.pragma('foreign_keys = ON'));
  // Every application write to a managed table runs a capture trigger, so inside a transaction it
  // keeps a statement journal (the pages it touches, to undo that one statement). SQLite holds that
  // journal in memory only up to 64 KiB, then in a temporary file for the rest of the transaction:
  // a bulk local write paid a file write of its pages per row (about 7 µs of its 24). Temporary
  // storage in memory, as Android's SQLite always has it, unless the application chose a setting
  // (anything but the build's default, 0) before opening the client.
  wrap('failed to set temp_store', () => {
    if ((db.pragma('temp_store', { simple: true }) as number) === 0) db.pragma('temp_store = MEMORY');
  });
  for (const ddl of TABLE_DDL) wrap('failed to create sync table', () => db.exec(ddl));
  for (const [name, sql] of SINGLETON_ROWS) wrap(`failed to initialize ${name} row`, () => db.prepare(sql).run());
  resetApplyMode(db);
}

/** A crash inside an apply transaction rolls the flag back, but a foreign writer may leave it at 1. */
export function resetApplyMode(db: Database): void {
  db.prepare('UPDATE _sync_apply_state SET apply_mode = 0 WHERE singleton_key = 1 AND apply_mode = 1').run();
}

export function tableExists(db: Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** Quotes an SQLite identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQLite string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function wrap(context: string, action: () => unknown): void {
  try {
    action();
  } catch (err) {
    throw new Error(`${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
