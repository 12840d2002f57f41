import { KIND_UUID, OP_DELETE, OP_INSERT, OP_UPDATE } from '../database/sql-codes.js';
// The plpgsql functions behind the per-table triggers (spec §2.6). Messages, SQLSTATEs and the
// order of checks are observable by hosts and tests; change them only together with the spec.

/** Both row functions start here: `actor` is the bundle's user id; writes without one are counted and refused. */
const REQUIRE_BUNDLE_CONTEXT = `  IF actor IS NULL THEN
    PERFORM nextval('sync.rejected_registered_write_seq');
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
      'write to registered table %I.%I requires oversync sync bundle context', TG_TABLE_SCHEMA, TG_TABLE_NAME);
  END IF;`;

/** The staged payload of NEW: its JSON without the scope column. */
const NEW_PAYLOAD = `to_jsonb(NEW) - '_sync_scope_id'`;
/** The op code of a row trigger's INSERT or UPDATE. */
const TG_OP_CODE = `CASE WHEN TG_OP = 'INSERT' THEN ${OP_INSERT} ELSE ${OP_UPDATE} END`;
/** The leading columns of a statement trigger's staged insert, up to op_code. */
const STAGED_INSERT = `txid_current(), user_pk_text::bigint, TG_ARGV[2]::integer, ${OP_INSERT}`;

/** key_bytes of OLD or NEW: uuid_send for kind 1 (uuid), UTF-8 bytes of the text otherwise. */
function keyBytesOf(row: 'OLD' | 'NEW'): string {
  return `CASE WHEN key_kind = ${KIND_UUID} THEN uuid_send((to_jsonb(${row}) ->> key_column)::uuid)
    ELSE convert_to(to_jsonb(${row}) ->> key_column, 'UTF8') END`;
}

/**
 * PL/pgSQL that sets `target` to whether the current role may set session_replication_role (and so could
 * skip triggers and foreign-key checks anyway): a superuser, or one granted SET on it (PostgreSQL 15+).
 */
export const maySetReplicationRoleSql = (target: string) => `${target} := current_setting('is_superuser') = 'on';
    IF NOT ${target} AND current_setting('server_version_num')::int >= 150000 THEN
      EXECUTE $q$SELECT has_parameter_privilege(current_user, 'session_replication_role', 'SET')$q$ INTO ${target};
    END IF;`;

/** BEFORE row trigger: refuses writes without bundle context and pins rows to their owner. */
export const OWNER_GUARD_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.enforce_registered_row_owner()
RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
DECLARE
  actor TEXT := NULLIF(current_setting('oversync.bundle_user_id', true), '');
BEGIN
${REQUIRE_BUNDLE_CONTEXT}

  IF TG_OP = 'INSERT' THEN
    IF NEW._sync_scope_id IS NULL OR NEW._sync_scope_id = '' THEN
      NEW._sync_scope_id := actor;
    ELSIF NEW._sync_scope_id <> actor THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
        'scope mismatch on registered table %I.%I: actor %s cannot write owner %s',
        TG_TABLE_SCHEMA, TG_TABLE_NAME, actor, NEW._sync_scope_id);
    END IF;
    RETURN NEW;
  END IF;

  IF TG_OP = 'UPDATE' THEN
    IF OLD._sync_scope_id <> actor THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
        'scope mismatch on registered table %I.%I: actor %s cannot update owner %s',
        TG_TABLE_SCHEMA, TG_TABLE_NAME, actor, OLD._sync_scope_id);
    END IF;
    IF NEW._sync_scope_id IS DISTINCT FROM OLD._sync_scope_id THEN
      RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
        'scope mutation is not allowed on registered table %I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
    END IF;
    RETURN NEW;
  END IF;

  IF OLD._sync_scope_id <> actor THEN
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
      'scope mismatch on registered table %I.%I: actor %s cannot delete owner %s',
      TG_TABLE_SCHEMA, TG_TABLE_NAME, actor, OLD._sync_scope_id);
  END IF;
  RETURN OLD;
END;
$$`;

/**
 * AFTER row trigger: stages every change of the bundle transaction in sync.bundle_capture_stage.
 * TG_ARGV = (key column, key kind '1' uuid | '2' text, table_id); a key change stages DELETE + INSERT.
 */
export const CAPTURE_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.capture_registered_row_change()
RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
DECLARE
  actor TEXT := NULLIF(current_setting('oversync.bundle_user_id', true), '');
  user_pk_text TEXT;
  key_column TEXT;
  key_kind_text TEXT;
  table_id_text TEXT;
  bundle_user_pk BIGINT;
  captured_table_id INTEGER;
  key_kind SMALLINT;
  old_key_bytes BYTEA;
  new_key_bytes BYTEA;
BEGIN
${REQUIRE_BUNDLE_CONTEXT}

  user_pk_text := NULLIF(current_setting('oversync.bundle_user_pk', true), '');
  key_column := NULLIF(TG_ARGV[0], '');
  key_kind_text := NULLIF(TG_ARGV[1], '');
  table_id_text := NULLIF(TG_ARGV[2], '');
  IF user_pk_text IS NULL THEN
    RAISE EXCEPTION 'oversync bundle context is missing user_pk for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  IF key_column IS NULL THEN
    RAISE EXCEPTION 'oversync capture trigger is missing sync key column for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  IF key_kind_text IS NULL OR table_id_text IS NULL THEN
    RAISE EXCEPTION 'oversync capture trigger is missing compact metadata for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  bundle_user_pk := user_pk_text::bigint;
  captured_table_id := table_id_text::integer;
  key_kind := key_kind_text::smallint;

  IF TG_OP = 'DELETE' THEN
    IF OLD._sync_scope_id <> actor THEN
      RAISE EXCEPTION 'oversync capture scope mismatch for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
    END IF;
    old_key_bytes := ${keyBytesOf('OLD')};
    INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
    VALUES (txid_current(), bundle_user_pk, captured_table_id, ${OP_DELETE}, old_key_bytes, NULL);
    RETURN OLD;
  END IF;

  IF NEW._sync_scope_id <> actor THEN
    RAISE EXCEPTION 'oversync capture scope mismatch for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  new_key_bytes := ${keyBytesOf('NEW')};

  IF TG_OP = 'UPDATE' THEN
    IF OLD._sync_scope_id <> actor THEN
      RAISE EXCEPTION 'oversync capture scope mismatch for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
    END IF;
    old_key_bytes := ${keyBytesOf('OLD')};
    IF old_key_bytes IS DISTINCT FROM new_key_bytes THEN
      INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
      VALUES (txid_current(), bundle_user_pk, captured_table_id, ${OP_DELETE}, old_key_bytes, NULL);
      INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
      VALUES (txid_current(), bundle_user_pk, captured_table_id, ${OP_INSERT}, new_key_bytes, ${NEW_PAYLOAD});
      RETURN NEW;
    END IF;
  END IF;

  INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
  VALUES (txid_current(), bundle_user_pk, captured_table_id, ${TG_OP_CODE},
          new_key_bytes, to_jsonb(NEW) - '_sync_scope_id');
  RETURN NEW;
END;
$$`;

/**
 * The insert capture's repair when triggers fired by the INSERT staged rows of the keys it inserted (an
 * AFTER INSERT row trigger of the host updating or deleting the row it was given): the statement trigger
 * fires after them, so its INSERT would net after their UPDATE or DELETE, and the bundle would carry the
 * row as first inserted. Where a key's row no longer is the image staged for it, those later rows of the
 * key are moved behind the INSERT (deleted and staged again in their order); where it still is, they came
 * first (a BEFORE trigger deleting an old row of the key) and stay. `nested_upto`: the last ordinal staged
 * before this trigger's own rows.
 */
const REORDER_AFTER_INSERTION = `FOR staged IN
      SELECT s.key_bytes, s.payload_db FROM sync.bundle_capture_stage s
       WHERE s.txid = txid_current() AND s.user_pk = user_pk_text::bigint AND s.capture_ordinal > nested_upto
         AND s.table_id = TG_ARGV[2]::integer AND EXISTS (
           SELECT 1 FROM sync.bundle_capture_stage n
            WHERE n.txid = s.txid AND n.user_pk = s.user_pk AND n.table_id = s.table_id
              AND n.key_bytes = s.key_bytes AND n.capture_ordinal > mark AND n.capture_ordinal <= nested_upto)
    LOOP
      EXECUTE format('SELECT to_jsonb(t) - ''_sync_scope_id'' FROM %I.%I t
                       WHERE t.%I = (jsonb_populate_record(NULL::%I.%I, $1)).%I',
        TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0], TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0])
        INTO current_image USING staged.payload_db;
      IF current_image IS DISTINCT FROM staged.payload_db THEN
        WITH moved AS (
          DELETE FROM sync.bundle_capture_stage n
           WHERE n.txid = txid_current() AND n.user_pk = user_pk_text::bigint AND n.table_id = TG_ARGV[2]::integer
             AND n.key_bytes = staged.key_bytes AND n.capture_ordinal > mark AND n.capture_ordinal <= nested_upto
          RETURNING n.*)
        INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
        SELECT m.txid, m.user_pk, m.table_id, m.op_code, m.key_bytes, m.payload_db FROM moved m
         ORDER BY m.capture_ordinal;
      END IF;
    END LOOP;`;

/**
 * BEFORE INSERT statement trigger: marks where the stage stood when the statement began (per trigger depth),
 * so that its AFTER statement trigger can tell rows staged by triggers the statement fired. A database whose
 * tables lack it (migrations from an older build) captures as before.
 */
export const MARK_INSERTING_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.mark_registered_rows_inserting()
RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
BEGIN
  -- the stage itself, not its sequence: a role may insert into an identity column without rights on the sequence
  PERFORM set_config('oversync.insert_mark_' || pg_trigger_depth(), COALESCE((
    SELECT max(s.capture_ordinal) FROM sync.bundle_capture_stage s
     WHERE s.txid = txid_current()
       AND s.user_pk = NULLIF(current_setting('oversync.bundle_user_pk', true), '')::bigint), 0)::text, true);
  RETURN NULL;
END;
$$`;

/**
 * AFTER INSERT statement trigger with a transition table (not in the reference): stages all rows of
 * an INSERT statement in one set-based statement instead of one PL/pgSQL call per row — the bulk
 * of a push. Rows are staged in insertion order; the owner guard has already pinned every row to
 * the bundle's user. TG_ARGV as for the row function. Where the bundle's writer marks the capture as
 * trusted (\`oversync.bundle_trusted_capture\` = on: a bulk push whose role may set
 * session_replication_role), the stage rows' foreign-key checks are skipped for this one statement:
 * user_pk and table_id come from the writer's own context and the trigger's catalog ids. Static
 * statements: PL/pgSQL caches their plans per session (a dynamic EXECUTE was planned at every call).
 * A bulk commit whose INSERT statements capture their own RETURNING rows sets
 * \`oversync.bundle_writer_capture\` = on for them: honoured only for a role that may skip triggers anyway.
 */
export const CAPTURE_INSERTED_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.capture_registered_rows_inserted()
RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
DECLARE
  user_pk_text TEXT := NULLIF(current_setting('oversync.bundle_user_pk', true), '');
  trusted BOOLEAN := current_setting('oversync.bundle_trusted_capture', true) = 'on';
  writer_captures BOOLEAN := current_setting('oversync.bundle_writer_capture', true) = 'on';
  mark BIGINT := NULLIF(current_setting('oversync.insert_mark_' || pg_trigger_depth(), true), '')::bigint;
  nested_upto BIGINT;
  staged RECORD;
  current_image JSONB;
BEGIN
  IF writer_captures THEN
    ${maySetReplicationRoleSql('writer_captures')}
    IF writer_captures THEN
      RETURN NULL;
    END IF;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM oversync_inserted_rows) THEN
    RETURN NULL;
  END IF;
  IF user_pk_text IS NULL THEN
    RAISE EXCEPTION 'oversync bundle context is missing user_pk for %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  -- rows staged since this statement began come from triggers it fired (its mark: see the BEFORE trigger, which
  -- every INSERT into a registered table fires where this function is installed: bootstrap installs both)
  IF mark IS NOT NULL THEN
    SELECT max(s.capture_ordinal) INTO nested_upto FROM sync.bundle_capture_stage s
     WHERE s.txid = txid_current() AND s.user_pk = user_pk_text::bigint AND s.capture_ordinal > mark;
  END IF;
  IF trusted THEN
    PERFORM set_config('session_replication_role', 'replica', true);
  END IF;
  IF TG_ARGV[1] = '${KIND_UUID}' THEN
    INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
    SELECT ${STAGED_INSERT}, uuid_send((n.j ->> TG_ARGV[0])::uuid),
      n.j - '_sync_scope_id'
      FROM (SELECT to_jsonb(r) AS j FROM oversync_inserted_rows r OFFSET 0) n; -- OFFSET 0: to_jsonb once per row
  ELSE
    INSERT INTO sync.bundle_capture_stage (txid, user_pk, table_id, op_code, key_bytes, payload_db)
    SELECT ${STAGED_INSERT}, convert_to(n.j ->> TG_ARGV[0], 'UTF8'),
      n.j - '_sync_scope_id'
      FROM (SELECT to_jsonb(r) AS j FROM oversync_inserted_rows r OFFSET 0) n;
  END IF;
  IF trusted THEN
    PERFORM set_config('session_replication_role', 'origin', true);
  END IF;
  IF nested_upto IS NOT NULL THEN
    ${REORDER_AFTER_INSERTION}
  END IF;
  RETURN NULL;
END;
$$`;

/**
 * BEFORE TRUNCATE statement trigger (not in the reference, spec §8.14): TRUNCATE would bypass both
 * row triggers, leaving history and row_state describing rows that no longer exist.
 */
export const TRUNCATE_GUARD_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.refuse_registered_table_truncate()
RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM nextval('sync.rejected_registered_write_seq');
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = format(
    'truncate of registered table %I.%I is not allowed; delete rows through a sync bundle', TG_TABLE_SCHEMA,
      TG_TABLE_NAME);
END;
$$`;
