import {
  KEY_KINDS_SQL,
  OP_CODES_SQL,
  payloadByOpSql,
  SCOPE_INITIALIZED,
  SCOPE_INITIALIZING,
  SCOPE_STATE_CODES_SQL,
  SCOPE_UNINITIALIZED,
} from '../database/sql-codes.js';
import { CAPTURE_FUNCTION_SQL, OWNER_GUARD_FUNCTION_SQL } from './sync-trigger-functions.sql.js';

/**
 * The 19 statements of bootstrap step 2.3 (spec §2.2–2.6), in order: schema, 13 tables, 3 sequences,
 * 2 functions. Column order and constraint names are normative; unnamed constraints rely on
 * PostgreSQL's default names (`<table>_pkey`, `<table>_<column>_fkey`, …), which the spec pins.
 * Errors name a statement by its 1-based position here (`sync migration <n> failed`).
 */
export const SYNC_SCHEMA_STATEMENTS: readonly string[] = [
  `CREATE SCHEMA IF NOT EXISTS sync`,

  `CREATE TABLE IF NOT EXISTS sync.meta (
    singleton_key  BOOLEAN PRIMARY KEY CHECK (singleton_key),
    protocol_label TEXT    NOT NULL DEFAULT 'v1',
    layout_name    TEXT    NOT NULL
  )`,

  `CREATE TABLE IF NOT EXISTS sync.table_catalog (
    table_id        INTEGER  PRIMARY KEY,
    schema_name     TEXT     NOT NULL,
    table_name      TEXT     NOT NULL,
    sync_key_column TEXT     NOT NULL,
    sync_key_kind   SMALLINT NOT NULL,
    CONSTRAINT table_catalog_schema_table_key UNIQUE (schema_name, table_name),
    CONSTRAINT table_catalog_sync_key_kind_chk CHECK (sync_key_kind IN ${KEY_KINDS_SQL})
  )`,

  `CREATE TABLE IF NOT EXISTS sync.user_state (
    user_pk               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id               TEXT   NOT NULL UNIQUE,
    next_bundle_seq       BIGINT NOT NULL DEFAULT 1,
    retained_bundle_floor BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT user_state_bundle_seq_chk CHECK (next_bundle_seq >= 1),
    CONSTRAINT user_state_retained_floor_chk CHECK (
      retained_bundle_floor >= 0 AND retained_bundle_floor <= next_bundle_seq - 1)
  )`,

  `CREATE TABLE IF NOT EXISTS sync.scope_state (
    user_pk                  BIGINT PRIMARY KEY REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    state_code               SMALLINT NOT NULL,
    initializer_source_id    TEXT,
    initialization_id        UUID,
    lease_expires_at         TIMESTAMPTZ,
    initialized_at           TIMESTAMPTZ,
    initialized_by_source_id TEXT,
    CONSTRAINT scope_state_fields_chk CHECK (
         (state_code = ${SCOPE_UNINITIALIZED} AND initializer_source_id IS NULL AND initialization_id IS NULL
                         AND lease_expires_at IS NULL AND initialized_at IS NULL
                         AND initialized_by_source_id IS NULL)
      OR (state_code = ${SCOPE_INITIALIZING} AND initializer_source_id IS NOT NULL AND initialization_id IS NOT NULL
                         AND lease_expires_at IS NOT NULL AND initialized_at IS NULL
                         AND initialized_by_source_id IS NULL)
      OR (state_code = ${SCOPE_INITIALIZED} AND initializer_source_id IS NULL AND initialization_id IS NULL
                         AND lease_expires_at IS NULL AND initialized_at IS NOT NULL
                         AND initialized_by_source_id IS NOT NULL)),
    CONSTRAINT scope_state_code_chk CHECK (state_code IN ${SCOPE_STATE_CODES_SQL})
  )`,

  `CREATE TABLE IF NOT EXISTS sync.source_state (
    user_pk                        BIGINT NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    source_id                      TEXT   NOT NULL,
    state                          TEXT   NOT NULL,
    max_committed_source_bundle_id BIGINT NOT NULL DEFAULT 0,
    replaced_by_source_id          TEXT   NOT NULL DEFAULT '',
    retirement_reason              TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (user_pk, source_id),
    CONSTRAINT source_state_state_chk CHECK (state IN ('active', 'reserved', 'retired')),
    CONSTRAINT source_state_max_committed_chk CHECK (max_committed_source_bundle_id >= 0),
    CONSTRAINT source_state_active_chk CHECK (
      state <> 'active' OR (replaced_by_source_id = '' AND retirement_reason = '')),
    CONSTRAINT source_state_reserved_chk CHECK (
      state <> 'reserved'
      OR (replaced_by_source_id = '' AND retirement_reason = '' AND max_committed_source_bundle_id = 0)),
    CONSTRAINT source_state_retired_chk CHECK (
      state <> 'retired' OR (replaced_by_source_id <> '' AND retirement_reason <> ''))
  )`,

  `CREATE TABLE IF NOT EXISTS sync.row_state (
    user_pk    BIGINT  NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    table_id   INTEGER NOT NULL REFERENCES sync.table_catalog(table_id),
    key_bytes  BYTEA   NOT NULL,
    bundle_seq BIGINT  NOT NULL,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_pk, table_id, key_bytes)
  )`,

  `CREATE TABLE IF NOT EXISTS sync.bundle_capture_stage (
    capture_ordinal BIGINT   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid            BIGINT   NOT NULL,
    user_pk         BIGINT   NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    table_id        INTEGER  NOT NULL REFERENCES sync.table_catalog(table_id),
    op_code         SMALLINT NOT NULL,
    key_bytes       BYTEA    NOT NULL,
    payload_db      JSONB,
    CONSTRAINT bundle_capture_stage_op_code_chk CHECK (op_code IN ${OP_CODES_SQL}),
    CONSTRAINT bundle_capture_stage_payload_by_op_chk CHECK (
      ${payloadByOpSql('payload_db')})
  )`,

  `CREATE TABLE IF NOT EXISTS sync.bundle_log (
    user_pk          BIGINT      NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    bundle_seq       BIGINT      NOT NULL,
    source_id        TEXT        NOT NULL,
    source_bundle_id BIGINT      NOT NULL,
    row_count        BIGINT      NOT NULL,
    byte_count       BIGINT      NOT NULL,
    bundle_hash      BYTEA       NOT NULL,
    committed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_pk, bundle_seq),
    CONSTRAINT bundle_log_source_tuple_key UNIQUE (user_pk, source_id, source_bundle_id)
  )`,

  // payload_wire is json, not jsonb: the stored text is served verbatim.
  `CREATE TABLE IF NOT EXISTS sync.bundle_rows (
    user_pk      BIGINT   NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    bundle_seq   BIGINT   NOT NULL,
    row_ordinal  BIGINT   NOT NULL,
    table_id     INTEGER  NOT NULL REFERENCES sync.table_catalog(table_id),
    key_bytes    BYTEA    NOT NULL,
    op_code      SMALLINT NOT NULL,
    payload_wire JSON,
    PRIMARY KEY (user_pk, bundle_seq, row_ordinal),
    CONSTRAINT bundle_rows_bundle_fk FOREIGN KEY (user_pk, bundle_seq)
      REFERENCES sync.bundle_log(user_pk, bundle_seq) ON DELETE CASCADE,
    CONSTRAINT bundle_rows_op_code_chk CHECK (op_code IN ${OP_CODES_SQL}),
    CONSTRAINT bundle_rows_payload_by_op_chk CHECK (
      ${payloadByOpSql('payload_wire')})
  )`,

  `CREATE TABLE IF NOT EXISTS sync.push_sessions (
    push_id                   UUID        PRIMARY KEY,
    user_pk                   BIGINT      NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    source_id                 TEXT        NOT NULL,
    source_bundle_id          BIGINT      NOT NULL,
    planned_row_count         BIGINT      NOT NULL,
    next_expected_row_ordinal BIGINT      NOT NULL DEFAULT 0,
    initialization_id         UUID,
    expires_at                TIMESTAMPTZ NOT NULL,
    CONSTRAINT push_sessions_source_tuple_key UNIQUE (user_pk, source_id, source_bundle_id),
    CONSTRAINT push_sessions_row_count_chk CHECK (
      planned_row_count > 0 AND next_expected_row_ordinal >= 0
      AND next_expected_row_ordinal <= planned_row_count)
  )`,

  `CREATE TABLE IF NOT EXISTS sync.push_session_rows (
    push_id         UUID     NOT NULL REFERENCES sync.push_sessions(push_id) ON DELETE CASCADE,
    row_ordinal     BIGINT   NOT NULL,
    table_id        INTEGER  NOT NULL REFERENCES sync.table_catalog(table_id),
    key_bytes       BYTEA    NOT NULL,
    op_code         SMALLINT NOT NULL,
    base_bundle_seq BIGINT   NOT NULL,
    payload_apply   JSON,
    PRIMARY KEY (push_id, row_ordinal),
    CONSTRAINT push_session_rows_op_code_chk CHECK (op_code IN ${OP_CODES_SQL}),
    CONSTRAINT push_session_rows_payload_by_op_chk CHECK (
      ${payloadByOpSql('payload_apply')})
  )`,

  `CREATE TABLE IF NOT EXISTS sync.snapshot_sessions (
    snapshot_id         UUID        PRIMARY KEY,
    user_pk             BIGINT      NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    snapshot_bundle_seq BIGINT      NOT NULL,
    row_count           BIGINT      NOT NULL DEFAULT 0,
    byte_count          BIGINT      NOT NULL DEFAULT 0,
    expires_at          TIMESTAMPTZ NOT NULL
  )`,

  `CREATE TABLE IF NOT EXISTS sync.snapshot_session_rows (
    snapshot_id  UUID    NOT NULL REFERENCES sync.snapshot_sessions(snapshot_id) ON DELETE CASCADE,
    row_ordinal  BIGINT  NOT NULL,
    table_id     INTEGER NOT NULL REFERENCES sync.table_catalog(table_id),
    key_bytes    BYTEA   NOT NULL,
    bundle_seq   BIGINT  NOT NULL,
    payload_wire JSON    NOT NULL,
    PRIMARY KEY (snapshot_id, row_ordinal),
    CONSTRAINT snapshot_session_rows_logical_row_key UNIQUE (snapshot_id, table_id, key_bytes)
  )`,

  `CREATE SEQUENCE IF NOT EXISTS sync.accepted_push_replay_seq`,
  `CREATE SEQUENCE IF NOT EXISTS sync.rejected_registered_write_seq`,
  `CREATE SEQUENCE IF NOT EXISTS sync.history_pruned_error_seq`,

  OWNER_GUARD_FUNCTION_SQL,
  CAPTURE_FUNCTION_SQL,
];

/** Rows per `sync.bundle_row_blocks` block. */
export const BUNDLE_ROW_BLOCK_ROWS = 1000;

/** Rows per `sync.snapshot_row_blocks` block (at most; a table's last block may hold fewer). */
export const SNAPSHOT_ROW_BLOCK_ROWS = 1000;

/** Spec §2.3, created after the layout rows, in this order. */
export const SYNC_BOOTSTRAP_INDEXES: readonly string[] = [
  `CREATE INDEX IF NOT EXISTS bcs_tx_user_ordinal_idx ON sync.bundle_capture_stage (txid, user_pk, capture_ordinal)`,
  `CREATE INDEX IF NOT EXISTS rs_user_live_snapshot_idx ON sync.row_state (user_pk, table_id, key_bytes)
    WHERE deleted = FALSE`,
  `CREATE INDEX IF NOT EXISTS ps_expires_at_idx ON sync.push_sessions (expires_at)`,
  `CREATE INDEX IF NOT EXISTS ss_expires_at_idx ON sync.snapshot_sessions (expires_at)`,
  // Duplicates snapshot_session_rows_logical_row_key; kept because the reference layout has it.
  `CREATE UNIQUE INDEX IF NOT EXISTS ssr_snapshot_table_key_idx ON sync.snapshot_session_rows (snapshot_id, table_id,
    key_bytes)`,
];

/**
 * Additions of this port after the reference layout (stored pull rows, admin console), applied on every start
 * to new and existing deployments alike; each is idempotent. Every table keeps user_pk in its key.
 */
export const SYNC_SCHEMA_UPGRADES: readonly string[] = [
  // Each bundle's wire rows (BundleRow JSON texts, comma-joined) in blocks of BUNDLE_ROW_BLOCK_ROWS
  // rows, written once at commit, so a pull copies stored text instead of building JSON per request.
  `CREATE TABLE IF NOT EXISTS sync.bundle_row_blocks (
    user_pk    BIGINT  NOT NULL,
    bundle_seq BIGINT  NOT NULL,
    block_no   INTEGER NOT NULL,
    rows_text  TEXT    NOT NULL,
    PRIMARY KEY (user_pk, bundle_seq, block_no),
    CONSTRAINT bundle_row_blocks_bundle_fk FOREIGN KEY (user_pk, bundle_seq)
      REFERENCES sync.bundle_log(user_pk, bundle_seq) ON DELETE CASCADE
  )`,
  // A snapshot session's rows as blocks of ready SnapshotRow texts (comma-joined, ordinals
  // first_ordinal… in order, row_lengths in characters), written at create instead of one
  // snapshot_session_rows row per row: a chunk slices the one or two blocks that cover it.
  // fallback_rows (1-based, within the block) marks rows whose payload Node still canonicalises.
  `CREATE TABLE IF NOT EXISTS sync.snapshot_row_blocks (
    user_pk       BIGINT    NOT NULL,
    snapshot_id   UUID      NOT NULL REFERENCES sync.snapshot_sessions(snapshot_id) ON DELETE CASCADE,
    first_ordinal BIGINT    NOT NULL,
    row_lengths   INTEGER[] NOT NULL,
    payload_bytes BIGINT    NOT NULL,
    rows_text     TEXT      NOT NULL,
    fallback_rows INTEGER[],
    PRIMARY KEY (user_pk, snapshot_id, first_ordinal)
  )`,
  // lz4 where the server has it: ~3× cheaper than pglz to write at the same size for these texts
  `DO $$ BEGIN
     IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
       ALTER TABLE sync.snapshot_row_blocks ALTER COLUMN rows_text SET COMPRESSION lz4;
     END IF;
   END $$`,
  // the same for the bundle row blocks a push commit writes: pglz was ~1/8 of a 100,000-row commit
  `DO $$ BEGIN
     IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
       ALTER TABLE sync.bundle_row_blocks ALTER COLUMN rows_text SET COMPRESSION lz4;
     END IF;
   END $$`,
  // last bundle_seq a source pulled through (its checkpoint), raised by pull only when it grows
  `ALTER TABLE sync.source_state ADD COLUMN IF NOT EXISTS last_pulled_bundle_seq BIGINT NOT NULL DEFAULT 0`,
  `ALTER TABLE sync.source_state ADD COLUMN IF NOT EXISTS last_pulled_at TIMESTAMPTZ`,
  // a constant default: filled without touching the sessions' INSERTs, no table rewrite
  `ALTER TABLE sync.push_sessions ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ NOT NULL DEFAULT now()`,
  // 'table_id columns:rows' while every staged row is an INSERT of one table and member list (sync.push_chunk)
  `ALTER TABLE sync.push_sessions ADD COLUMN IF NOT EXISTS staged_insert_shape TEXT`,
  `ALTER TABLE sync.snapshot_sessions ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ NOT NULL DEFAULT now()`,
  // push commits answered 4xx (conflicts first of all): what the device sent (bounded) and what it got
  `CREATE TABLE IF NOT EXISTS sync.rejected_writes (
    user_pk           BIGINT      NOT NULL REFERENCES sync.user_state(user_pk) ON DELETE CASCADE,
    rejection_id      BIGINT      GENERATED ALWAYS AS IDENTITY,
    recorded_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    source_id         TEXT        NOT NULL,
    source_bundle_id  BIGINT      NOT NULL,
    push_id           UUID        NOT NULL,
    http_status       SMALLINT    NOT NULL,
    error_code        TEXT        NOT NULL,
    answer            JSON        NOT NULL,
    planned_row_count BIGINT      NOT NULL,
    rows_sent         JSON        NOT NULL,
    rows_truncated    BOOLEAN     NOT NULL,
    PRIMARY KEY (user_pk, rejection_id)
  )`,
  // who did what from the admin console; user_pk 0 for actions that concern no single user
  `CREATE TABLE IF NOT EXISTS sync.admin_audit (
    user_pk      BIGINT      NOT NULL DEFAULT 0,
    audit_id     BIGINT      GENERATED ALWAYS AS IDENTITY,
    performed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    admin_id     TEXT        NOT NULL,
    action       TEXT        NOT NULL,
    user_id      TEXT        NOT NULL DEFAULT '',
    target       TEXT        NOT NULL DEFAULT '',
    detail       JSON        NOT NULL,
    PRIMARY KEY (user_pk, audit_id)
  )`,
  `CREATE INDEX IF NOT EXISTS admin_audit_id_idx ON sync.admin_audit (audit_id)`,
  // user search by id prefix: LIKE 'p%' uses a btree only under the C collation
  `CREATE INDEX IF NOT EXISTS user_state_user_id_c_idx ON sync.user_state (user_id COLLATE "C")`,
  // a user's snapshot sessions (the spec's layout finds them by id or expiry only)
  `CREATE INDEX IF NOT EXISTS ss_user_snapshot_idx ON sync.snapshot_sessions (user_pk, snapshot_id)`,
  // the server processes that LISTEN for bundle changes now (watch/bundle-change-listener.ts): a commit NOTIFYs
  // only while another process has a row here (sync.notify_bundle). Not keyed by user: it is the deployment's.
  `CREATE TABLE IF NOT EXISTS sync.watch_listeners (
    listener_id UUID        PRIMARY KEY,
    backend_pid INTEGER     NOT NULL,
    since       TIMESTAMPTZ NOT NULL DEFAULT now()
  )`,
];

/** True when one of SYNC_SCHEMA_UPGRADES is missing: skips their ACCESS EXCLUSIVE locks on an up-to-date start. */
export const SYNC_SCHEMA_UPGRADES_NEEDED = `SELECT
  to_regclass('sync.bundle_row_blocks') IS NULL OR to_regclass('sync.snapshot_row_blocks') IS NULL
    OR to_regclass('sync.rejected_writes') IS NULL OR to_regclass('sync.admin_audit_id_idx') IS NULL
  OR to_regclass('sync.user_state_user_id_c_idx') IS NULL OR to_regclass('sync.ss_user_snapshot_idx') IS NULL
  OR to_regclass('sync.watch_listeners') IS NULL
  OR (SELECT count(*) FROM pg_attribute
       WHERE NOT attisdropped
         AND ((attrelid = 'sync.source_state'::regclass AND attname IN ('last_pulled_bundle_seq', 'last_pulled_at'))
          OR (attrelid IN ('sync.push_sessions'::regclass, 'sync.snapshot_sessions'::regclass)
              AND attname = 'created_at')
          OR (attrelid = 'sync.push_sessions'::regclass AND attname = 'staged_insert_shape'))) < 5
  OR (EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))
      AND (SELECT attcompression FROM pg_attribute
            WHERE attrelid = to_regclass('sync.bundle_row_blocks') AND attname = 'rows_text') <> 'l') AS needed`;
