// The push steps (spec §4.2–§4.6) as PL/pgSQL request functions: push create, chunk upload and commit
// are one autocommit call each (issue 21), the per-user lock taken inside. Checks, their order and
// their messages are those of the Node code they replace (push/push-session.service.ts keeps the
// commit path for large bundles and payloads SQL cannot canonicalise; both must stay in step).
import { createHash } from 'node:crypto';
import {
  keyTextSql,
  keyTypeSql,
  netOpCodeSql,
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  opCodeCaseSql,
  SCOPE_INITIALIZED,
  SCOPE_INITIALIZING,
  SCOPE_UNINITIALIZED,
} from '../database/sql-codes.js';
import { ensureUserScopeSql } from '../connect/scope-state.js';
import { bundleChangeNotificationSql } from '../watch/bundle-change-notify.sql.js';
import { goJsonStringSql, BUNDLE_ROW_JSON_SQL } from '../pull/bundle-reader.js';
import { canonicalNumberSql } from '../snapshot/snapshot-materializer.js';
import { BUNDLE_ROW_BLOCK_ROWS } from './sync-schema.sql.js';
import { maySetReplicationRoleSql } from './sync-trigger-functions.sql.js';
import { NO_BITMAP_SCAN, NO_JIT } from './function-settings.sql.js';

/**
 * SQLSTATE of a push_conflict raised by sync.push_commit; HINT is the conflict's raw facts (JSON),
 * which the service words.
 */
export const PUSH_CONFLICT_SQLSTATE = 'OVRSC';
/**
 * SQLSTATE of sync.push_commit declining a bundle it cannot build exactly (too many rows, a payload
 * SQL cannot canonicalise).
 */
export const PUSH_NODE_PATH_SQLSTATE = 'OVRSN';
/** HINT prefix of a business-table error re-raised by sync.push_commit, followed by the failing rows (JSON). */
export const APPLY_ERROR_HINT = 'oversync_apply:';

const refuse = (code: string, message: string, extra = 'NULL') =>
  `PERFORM sync.push_refuse('${code}', ${message}, ${extra})`;

/** Raises a protocol refusal (the OVRSY convention of sync-request-functions.sql.ts). */
const PUSH_REFUSE_SQL = `CREATE OR REPLACE FUNCTION sync.push_refuse(p_code TEXT, p_message TEXT, p_extra TEXT)
RETURNS VOID
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'OVRSY', DETAIL = p_code, MESSAGE = p_message, HINT = COALESCE(p_extra, '');
END;
$$`;

/**
 * lockScope of connect/scope-state.ts: the user's scope row locked, created when missing, an
 * initialization lease that lapsed (database clock, §8.8) expired lazily (§4.1 steps 1–3).
 */
const PUSH_LOCK_SCOPE_SQL = `CREATE OR REPLACE FUNCTION sync.push_lock_scope(p_user_id TEXT)
RETURNS sync.scope_state
LANGUAGE plpgsql
AS $$
DECLARE
  scope sync.scope_state;
BEGIN
  SELECT ss.* INTO scope FROM sync.scope_state ss JOIN sync.user_state us ON us.user_pk = ss.user_pk
   WHERE us.user_id = p_user_id FOR UPDATE OF ss;
  IF NOT FOUND THEN
    ${ensureUserScopeSql('p_user_id')};
    SELECT ss.* INTO scope FROM sync.scope_state ss JOIN sync.user_state us ON us.user_pk = ss.user_pk
     WHERE us.user_id = p_user_id FOR UPDATE OF ss;
    IF NOT FOUND THEN
      ${refuse('scope_uninitialized', `format('sync scope for user %s is not initialized', p_user_id)`)};
    END IF;
  END IF;
  IF scope.state_code = ${SCOPE_INITIALIZING}
    AND scope.lease_expires_at IS NOT NULL AND scope.lease_expires_at <= now() THEN
    UPDATE sync.scope_state SET state_code = ${SCOPE_UNINITIALIZED},
      initializer_source_id = NULL, initialization_id = NULL,
      lease_expires_at = NULL
     WHERE user_pk = scope.user_pk;
    scope.state_code := ${SCOPE_UNINITIALIZED};
    scope.initializer_source_id := NULL;
    scope.initialization_id := NULL;
    scope.lease_expires_at := NULL;
  END IF;
  RETURN scope;
END;
$$`;

/**
 * requireActiveInitializationLease of connect/scope-state.ts (§4.1): the scope still INITIALIZING,
 * owned by this source and initialization id; the lease renewed. Returns the scope's initialization id.
 */
const PUSH_REQUIRE_LEASE_SQL = `CREATE OR REPLACE FUNCTION sync.push_require_lease(p_user_id TEXT, p_source_id TEXT,
  p_initialization_id TEXT, p_lease_ttl_ms BIGINT)
RETURNS UUID
LANGUAGE plpgsql
AS $$
DECLARE
  scope sync.scope_state := sync.push_lock_scope(p_user_id);
BEGIN
  IF scope.state_code <> ${SCOPE_INITIALIZING} THEN
    ${refuse('initialization_stale', `'scope is no longer initializing'`)};
  END IF;
  IF COALESCE(scope.lease_expires_at <= now(), false) THEN
    ${refuse('initialization_expired', `'initialization lease has expired'`)};
  END IF;
  IF p_source_id = '' OR scope.initializer_source_id IS DISTINCT FROM p_source_id THEN
    ${refuse('initialization_stale', `'source does not own the active initialization lease'`)};
  END IF;
  IF p_initialization_id = '' OR scope.initialization_id::text IS DISTINCT FROM p_initialization_id THEN
    ${refuse('initialization_stale', `'initialization_id does not match the active initialization lease'`)};
  END IF;
  UPDATE sync.scope_state SET lease_expires_at = now() + p_lease_ttl_ms * interval '1 millisecond'
    WHERE user_pk = scope.user_pk;
  RETURN scope.initialization_id;
END;
$$`;

/**
 * The user lock, then the upload lock_timeout when configured (in this order, as the Node transaction
 * took them: the lock wait resets lock_timeout).
 */
const LOCK = `lock_waited := sync.lock_user(p_user_id, p_lock_timeout_ms);
  IF p_upload_lock_timeout_ms > 0 THEN
    PERFORM set_config('lock_timeout', p_upload_lock_timeout_ms || 'ms', true);
  END IF;`;

/**
 * The checks of a loaded `session`, its user's id the SQL `owner`: 403 other user or source (§8.7), 410 expired (§8.8).
 */
const sessionChecks = (owner: string) => `IF ${owner} <> p_user_id THEN
    ${refuse(
      'push_session_forbidden',
      `format('push session %s does not belong to the authenticated user', p_push_id)`,
    )};
  END IF;
  IF session.source_id <> p_source_id THEN
    ${refuse(
      'push_session_forbidden',
      `format('push session %s does not belong to the authenticated source', p_push_id)`,
    )};
  END IF;
  IF session.expires_at < now() THEN
    ${refuse('push_session_expired', `format('push session %s has expired; start a new push session', p_push_id)`)};
  END IF;`;

/** Loads and locks a session: 404 unknown (or another user's), 403 other user or source (§8.7), 410 expired (§8.8). */
const PUSH_LOAD_SESSION_SQL = `CREATE OR REPLACE FUNCTION sync.push_load_session(p_push_id UUID, p_user_id TEXT,
  p_source_id TEXT)
RETURNS sync.push_sessions
LANGUAGE plpgsql
AS $$
DECLARE
  session sync.push_sessions;
  owner TEXT;
BEGIN
  SELECT ps.* INTO session FROM sync.push_sessions ps WHERE ps.push_id = p_push_id FOR UPDATE;
  IF FOUND THEN
    SELECT us.user_id INTO owner FROM sync.user_state us WHERE us.user_pk = session.user_pk;
  ELSE
    ${refuse('push_session_not_found', `format('push session %s was not found', p_push_id)`)};
  END IF;
  ${sessionChecks('owner')}
  RETURN session;
END;
$$`;

/**
 * push_load_session inline, for chunk upload: the session locked with its owner (`owner`) into the RECORD
 * `session` in one statement (the function call and the owner's own query were two more).
 */
const LOAD_SESSION = `SELECT ps.*, us.user_id AS owner INTO session
    FROM sync.push_sessions ps JOIN sync.user_state us ON us.user_pk = ps.user_pk
   WHERE ps.push_id = p_push_id FOR UPDATE OF ps;
  IF NOT FOUND THEN
    ${refuse('push_session_not_found', `format('push session %s was not found', p_push_id)`)};
  END IF;
  ${sessionChecks('session.owner')}`;

/**
 * Source sequencing of push create (§4.2.1 step 7): requireNextSourceBundle and sourceRetired of push/source-state.ts.
 */
const SOURCE_RETIRED = (sourceId: string, requested = '') => `IF t.state = 'retired' THEN
      ${refuse(
        'source_retired',
        `CASE WHEN t.replaced_by_source_id <> '' THEN format('source %s for user %s was retired and replaced by %s',
          ${sourceId}, p_user_id, t.replaced_by_source_id)
              ELSE format('source %s for user %s was retired', ${sourceId}, p_user_id) END`,
        `CASE WHEN t.replaced_by_source_id <> '' THEN json_build_object('source_id', ${sourceId},
          'replaced_by_source_id', t.replaced_by_source_id)::text
              ELSE json_build_object('source_id', ${sourceId})::text END`,
      )};
    END IF;${requested}`;

/**
 * Push create (§4.2.1): scope and lease checks, idempotent replay of a committed tuple (with the
 * sweep of this tuple's uncommitted session and the user's expired ones, §4.4, §8.9), source
 * sequencing, the new session. Status 'staging' or 'already_committed' (with the bundle).
 */
const PUSH_CREATE_SQL = `CREATE OR REPLACE FUNCTION sync.push_create(p_user_id TEXT, p_source_id TEXT,
  p_source_bundle_id BIGINT, p_planned_row_count BIGINT,
  p_initialization_id TEXT, p_push_id UUID, p_session_ttl_ms BIGINT, p_lease_ttl_ms BIGINT, p_lock_timeout_ms INTEGER,
    p_upload_lock_timeout_ms INTEGER)
RETURNS TABLE (out_status TEXT, out_bundle_seq BIGINT, out_source_id TEXT, out_source_bundle_id BIGINT,
  out_row_count BIGINT, out_bundle_hash TEXT,
  out_lock_waited BOOLEAN)
LANGUAGE plpgsql
SET TimeZone = 'UTC'
SET bytea_output = 'hex'
${NO_JIT}
${NO_BITMAP_SCAN}
AS $$
DECLARE
  lock_waited BOOLEAN;
  scope sync.scope_state;
  session_initialization_id UUID;
  t RECORD;
  expected BIGINT;
  sync_commit TEXT;
BEGIN
  ${LOCK}
  scope := sync.push_lock_scope(p_user_id);
  IF scope.state_code = ${SCOPE_UNINITIALIZED} THEN
    IF p_initialization_id <> '' THEN
      ${refuse('initialization_expired', `'initialization lease is no longer active'`)};
    END IF;
    ${refuse('scope_uninitialized', `format('sync scope for user %s is not initialized', p_user_id)`)};
  ELSIF scope.state_code = ${SCOPE_INITIALIZING} THEN
    IF p_initialization_id = '' THEN
      ${refuse('push_session_invalid', `'initialization_id is required while the scope is initializing'`)};
    END IF;
    session_initialization_id := sync.push_require_lease(p_user_id, p_source_id, p_initialization_id, p_lease_ttl_ms);
  END IF;
  WITH swept AS (
    DELETE FROM sync.push_sessions
     WHERE user_pk = scope.user_pk AND ((source_id = p_source_id AND source_bundle_id = p_source_bundle_id)
       OR expires_at <= now()))
  SELECT bl.bundle_seq, bl.source_id AS bundle_source_id, bl.row_count, encode(bl.bundle_hash, 'hex') AS bundle_hash,
         ss.state, COALESCE(ss.max_committed_source_bundle_id, 0) AS max_committed, COALESCE(ss.replaced_by_source_id,
           '') AS replaced_by_source_id
    INTO t
    FROM (SELECT retained_bundle_floor AS floor FROM sync.user_state WHERE user_pk = scope.user_pk) us
    LEFT JOIN sync.bundle_log bl ON bl.user_pk = scope.user_pk AND bl.source_id = p_source_id
          AND bl.source_bundle_id = p_source_bundle_id AND bl.bundle_seq > us.floor
    LEFT JOIN sync.source_state ss ON ss.user_pk = scope.user_pk AND ss.source_id = p_source_id;
  IF t.bundle_seq IS NOT NULL THEN
    -- the idempotent replay, also of a seeding push whose answer was lost (convergence fuzz, seed 10)
    out_status := 'already_committed'; out_bundle_seq := t.bundle_seq; out_source_id := t.bundle_source_id;
    out_source_bundle_id := p_source_bundle_id; out_row_count := t.row_count; out_bundle_hash := t.bundle_hash;
    out_lock_waited := lock_waited;
    RETURN NEXT;
    RETURN;
  END IF;
  -- A seeding push that committed, lost its answer and was then pruned is not replayable: it gets the
  -- history_pruned of any pruned tuple below (the device rebuilds), not a 400 forever (convergence
  -- fuzz, seed 208703004).
  IF scope.state_code = ${SCOPE_INITIALIZED} AND p_initialization_id <> '' AND p_source_bundle_id > t.max_committed THEN
    ${refuse('push_session_invalid', `'initialization_id must be absent once the scope is initialized'`)};
  END IF;
  ${SOURCE_RETIRED('p_source_id')}
  expected := t.max_committed + 1;
  IF p_source_bundle_id < expected THEN
    ${refuse(
      'history_pruned',
      `format('source tuple (%s, %s) for user %s is older than retained duplicate history; '
      || 'max committed source_bundle_id is %s',
      p_source_id, p_source_bundle_id, p_user_id, t.max_committed)`,
    )};
  END IF;
  IF p_source_bundle_id > expected THEN
    ${refuse(
      'source_sequence_out_of_order',
      `format('source %s for user %s expected next source_bundle_id %s, got %s',
      p_source_id, p_user_id, expected, p_source_bundle_id)`,
    )};
  END IF;
  -- The session commits without waiting for its WAL flush (one fsync fewer per push), as its chunks do:
  -- a crash can lose only a tail of the session's staging (the commit's durable flush covers all of it),
  -- whose client then gets 404 / 409 / 400 before any commit and pushes its frozen outbox again.
  -- Set by the session's INSERT, and the answer given as OUT values: two statements fewer.
  INSERT INTO sync.push_sessions (push_id, user_pk, source_id, source_bundle_id, planned_row_count,
    next_expected_row_ordinal, initialization_id, expires_at)
  VALUES (p_push_id, scope.user_pk, p_source_id, p_source_bundle_id, p_planned_row_count, 0, session_initialization_id,
          now() + p_session_ttl_ms * interval '1 millisecond')
  RETURNING set_config('synchronous_commit', 'off', true) INTO sync_commit;
  out_status := 'staging'; out_lock_waited := lock_waited;
  RETURN NEXT;
END;
$$`;

/** Chunks of at least this many rows stage without per-row foreign-key checks where the role may. */
const TRUSTED_STAGING_MIN_ROWS = 1000;

const elapsed = (since: string) => `extract(epoch FROM clock_timestamp() - ${since}) * 1000`;

/** A chunk's session: the user lock, the session locked and checked, the lease renewed while initializing. */
const CHUNK_SESSION = `${LOCK}
  stages := ARRAY[${elapsed('mark')}]; mark := clock_timestamp();
  ${LOAD_SESSION}
  IF session.initialization_id IS NOT NULL THEN
    PERFORM sync.push_require_lease(p_user_id, session.source_id, session.initialization_id::text, p_lease_ttl_ms);
  END IF;`;

/**
 * The staged rows' two foreign keys hold by construction (push_id is the session locked above, table ids the
 * server's catalog): where the role may, their per-row checks (most of a large chunk's staging) are skipped.
 */
const TRUSTED_STAGING = `${maySetReplicationRoleSql('trusted')}
    IF trusted THEN
      PERFORM set_config('session_replication_role', 'replica', true);
    END IF;`;

/**
 * The watermark moved past a staged chunk (p_start_row_ordinal up to next_ordinal), the session's expiry
 * renewed, and its recorded insert shape: 'shape:rows' while every row staged so far is an INSERT of one table
 * and member list (the chunks' own p_insert_shape), else NULL — the bulk commit then needs no pass over the
 * payloads to find its statements. The transaction commits without waiting for its WAL flush (see push_chunk).
 */
const CHUNK_WATERMARK = `UPDATE sync.push_sessions SET next_expected_row_ordinal = next_ordinal,
    expires_at = now() + p_session_ttl_ms * interval '1 millisecond',
    staged_insert_shape = CASE WHEN p_start_row_ordinal = 0 OR staged_insert_shape = p_insert_shape || ':'
      || p_start_row_ordinal THEN p_insert_shape || ':' || next_ordinal END
   WHERE push_id = p_push_id
  RETURNING set_config('synchronous_commit', 'off', true) INTO sync_commit;`;

/**
 * Chunk upload (§4.2.2): the session locked and checked, the lease renewed while initializing, the
 * rows staged in order and the watermark moved. Payloads arrive newline-joined (canonical JSON has no
 * raw newline), keys as hex. Returns the next expected row ordinal and the lock/session/stage times (ms).
 */
const PUSH_CHUNK_SQL = `CREATE OR REPLACE FUNCTION sync.push_chunk(p_push_id UUID, p_user_id TEXT, p_source_id TEXT,
  p_start_row_ordinal BIGINT,
  p_table_ids INTEGER[], p_key_hex TEXT[], p_op_codes SMALLINT[], p_base_bundle_seqs BIGINT[], p_payloads TEXT,
  p_session_ttl_ms BIGINT, p_lease_ttl_ms BIGINT, p_lock_timeout_ms INTEGER, p_upload_lock_timeout_ms INTEGER,
  p_insert_shape TEXT)
RETURNS TABLE (out_next_row_ordinal BIGINT, out_stage_ms DOUBLE PRECISION[], out_lock_waited BOOLEAN)
LANGUAGE plpgsql
SET TimeZone = 'UTC'
SET bytea_output = 'hex'
${NO_JIT}
AS $$
DECLARE
  mark TIMESTAMPTZ := clock_timestamp();
  stages DOUBLE PRECISION[];
  lock_waited BOOLEAN;
  session RECORD;
  next_ordinal BIGINT;
  trusted BOOLEAN := false;
  sync_commit TEXT;
BEGIN
  ${CHUNK_SESSION}
  -- Staging commits without waiting for its WAL flush (one fsync fewer per chunk; README Reliability):
  -- WAL is flushed in order and the session's commit waits for its own flush, so a crash keeps a
  -- prefix of the staging (whole chunks, or no session) and never a committed bundle without its rows;
  -- a chunk acknowledged and lost gets its client 409 push_chunk_out_of_order at the next chunk, 400
  -- push_commit_invalid at the commit or 404 push_session_not_found, and the frozen outbox is pushed again.
  -- (Set by the watermark's UPDATE at the end, one statement fewer.)
  IF p_start_row_ordinal <> session.next_expected_row_ordinal THEN
    ${refuse(
      'push_chunk_out_of_order',
      `format('push session %s expected start_row_ordinal %s, got %s', p_push_id,
      session.next_expected_row_ordinal, p_start_row_ordinal)`,
    )};
  END IF;
  next_ordinal := p_start_row_ordinal + cardinality(p_table_ids);
  IF next_ordinal > session.planned_row_count THEN
    ${refuse('push_chunk_invalid', `'chunk exceeds planned_row_count'`)};
  END IF;
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();
  -- A large chunk stages trusted for this one statement, as the bulk commit's capture and finalize do.
  -- Small chunks keep the checks: switching session_replication_role discards the connection's cached plans.
  IF cardinality(p_table_ids) >= ${TRUSTED_STAGING_MIN_ROWS} THEN
    ${TRUSTED_STAGING}
  END IF;
  INSERT INTO sync.push_session_rows (push_id, row_ordinal, table_id, key_bytes, op_code, base_bundle_seq,
    payload_apply)
  SELECT p_push_id, p_start_row_ordinal + m.ord - 1, m.table_id, decode(m.key_hex, 'hex'), m.op_code, m.base_bundle_seq,
    NULLIF(m.payload, '')::json
    FROM unnest(p_table_ids, p_key_hex, p_op_codes, p_base_bundle_seqs, string_to_array(p_payloads, E'\\n'))
         WITH ORDINALITY AS m(table_id, key_hex, op_code, base_bundle_seq, payload, ord);
  IF trusted THEN
    PERFORM set_config('session_replication_role', 'origin', true);
  END IF;
  ${CHUNK_WATERMARK}
  -- the answer as OUT values: RETURN QUERY would be one more statement
  out_next_row_ordinal := next_ordinal; out_stage_ms := stages || ${elapsed('mark')}; out_lock_waited := lock_waited;
  RETURN NEXT;
END;
$$`;

/**
 * A large chunk staged by COPY (push/push-chunk-copy.ts), opened inside the caller's transaction: what
 * push_chunk does before its INSERT, the staging made trusted where the role may. Answers where the chunk
 * must start and the session's planned row count: the caller checks its chunk against them (and takes the
 * push_chunk path, which words the refusal, when it does not fit).
 */
const PUSH_CHUNK_OPEN_SQL = `CREATE OR REPLACE FUNCTION sync.push_chunk_open(p_push_id UUID, p_user_id TEXT,
  p_source_id TEXT, p_lease_ttl_ms BIGINT, p_lock_timeout_ms INTEGER, p_upload_lock_timeout_ms INTEGER)
RETURNS TABLE (out_next_row_ordinal BIGINT, out_planned_row_count BIGINT, out_stage_ms DOUBLE PRECISION[],
  out_lock_waited BOOLEAN)
LANGUAGE plpgsql
SET TimeZone = 'UTC'
SET bytea_output = 'hex'
${NO_JIT}
AS $$
DECLARE
  mark TIMESTAMPTZ := clock_timestamp();
  stages DOUBLE PRECISION[];
  lock_waited BOOLEAN;
  session RECORD;
  trusted BOOLEAN := false;
BEGIN
  ${CHUNK_SESSION}
  ${TRUSTED_STAGING}
  out_next_row_ordinal := session.next_expected_row_ordinal; out_planned_row_count := session.planned_row_count;
  out_stage_ms := stages || ${elapsed('mark')}; out_lock_waited := lock_waited;
  RETURN NEXT;
END;
$$`;

/** The end of a chunk staged by COPY: the trusted staging ended and the watermark moved, as push_chunk does. */
const PUSH_CHUNK_CLOSE_SQL = `CREATE OR REPLACE FUNCTION sync.push_chunk_close(p_push_id UUID,
  p_start_row_ordinal BIGINT, next_ordinal BIGINT, p_session_ttl_ms BIGINT, p_insert_shape TEXT)
RETURNS VOID
LANGUAGE plpgsql
AS $$
DECLARE
  sync_commit TEXT;
BEGIN
  IF current_setting('session_replication_role') = 'replica' THEN
    PERFORM set_config('session_replication_role', 'origin', true);
  END IF;
  ${CHUNK_WATERMARK}
END;
$$`;

/** Prepared statements of the apply a session keeps (a client can vary column sets; beyond this, plain EXECUTE). */
const MAX_APPLY_STATEMENTS = 200;

/**
 * Runs an apply statement (`statement`: the SQL expression giving its text, with parameters of
 * `types`) with `args` as a statement prepared in the session: PL/pgSQL plans a dynamic EXECUTE at
 * every call (0.2–0.5 ms of a 1-row commit), a prepared statement keeps its plan (PostgreSQL replans it
 * when a table changes). Not transactional: it outlives a rolled-back commit. Its name is a digest of
 * what determines its text — this template and the run's table, key and columns (identifiers quoted,
 * so the key is unambiguous) — and the text is only built to prepare it (built each time, it was
 * 0.03 ms of a 1-row commit).
 */
function runPrepared(
  types: string,
  statement: string,
  args: string[],
  key = `format('%I.%I %I %s %s', r.schema_name, r.table_name, r.sync_key_column, r.key_type, r.columns)`,
): string {
  const literals = args.map(() => '%L').join(', ');
  return `stmt := ${preparedName(types, statement, key)};
        SELECT COALESCE(bool_or(ps.name = stmt), false), count(*) INTO stmt_ready, stmt_count
          FROM pg_prepared_statements ps WHERE ps.name LIKE 'oversync\\_apply\\_%';
        IF NOT stmt_ready AND stmt_count < ${MAX_APPLY_STATEMENTS} THEN
          EXECUTE format('PREPARE %I (${types}) AS ', stmt) || ${statement};
          stmt_ready := true;
        END IF;
        IF stmt_ready THEN
          EXECUTE format('EXECUTE %I(${literals})', stmt, ${args.join(', ')});
        ELSE
          EXECUTE ${statement} USING ${args.join(', ')};
        END IF;`;
}

/** The name `runPrepared` gives the statement of `types` and `statement` for the SQL text `key`. */
function preparedName(types: string, statement: string, key: string): string {
  const template = createHash('md5').update(`${types}\n${statement}`).digest('hex');
  return `'oversync_apply_' || md5('${template}' || ${key})`;
}

/** Parameter types of the apply's INSERT of a run of rows (push id, first and last ordinal, user id). */
const INSERT_RUN_TYPES = 'uuid, bigint, text, bigint';
/**
 * The apply's INSERT of a run of staged rows `$2`..`$4` of one table and member list (`r`: its table and
 * key as the loop query reads them, `r.columns` the members) as an SQL expression giving its text.
 */
const INSERT_RUN_SQL = `format('INSERT INTO %I.%I (%s) SELECT $3::text%s
                          FROM sync.push_session_rows psr, '
                       || 'jsonb_populate_record(NULL::%I.%I, psr.payload_apply::jsonb) r
                         WHERE psr.push_id = $1 AND psr.row_ordinal BETWEEN $2 AND $4 ORDER BY psr.row_ordinal',
                       r.schema_name, r.table_name,
                       (SELECT string_agg(quote_ident(c), ', ') FROM unnest('{_sync_scope_id}' || r.columns) AS c),
                       (SELECT COALESCE(string_agg(', r.' || quote_ident(c), ''), '') FROM unnest(r.columns) AS c),
                       r.schema_name, r.table_name)`;
/**
 * Its prepared name is keyed by table id and member list: the text of the chunks' insert shape
 * (`<table_id> <members>`, push-chunk.parser.ts), so a commit whose rows all have one shape finds it by name.
 */
const INSERT_RUN_KEY = `r.table_id || ' ' || array_to_string(r.columns, ',')`;

/** A member's canonical value (`CANONICAL_PAYLOAD_OF_NET`; NULL: the Node path), `j` a jsonb_each row. */
const CANONICAL_MEMBER_SQL = (tableId: string) => `CASE WHEN j.key <> lower(j.key) THEN NULL
      WHEN (${tableId} || '.' || j.key) = ANY (p_bytea_columns) THEN CASE jsonb_typeof(j.value)
        WHEN 'null' THEN 'null'
        WHEN 'string' THEN CASE WHEN left(j.value #>> '{}', 2) = '\\x' THEN '"'
          || translate(encode(decode(substr(j.value #>> '{}', 3), 'hex'), 'base64'), E'\\n', '') || '"' END END
      WHEN jsonb_typeof(j.value) = 'string' THEN ${goJsonStringSql(`(j.value #>> '{}')`)}
      WHEN jsonb_typeof(j.value) = 'number' THEN CASE WHEN strpos(j.value #>> '{}', '.') = 0
        AND abs((j.value #>> '{}')::numeric) > 9007199254740992 THEN NULL
        ELSE ${canonicalNumberSql(`(j.value #>> '{}')`)} END
      WHEN jsonb_typeof(j.value) = 'boolean' THEN j.value #>> '{}'
      WHEN jsonb_typeof(j.value) = 'null' THEN 'null' END`;

/**
 * The canonical payload of a netted key's captured row image `net.payload` (§4.7.4, §5.2) when its wire form
 * (§8.2) and the reference's double form (hashed, §5.1) are the same text PostgreSQL can build exactly:
 * members sorted by UTF-8 bytes, Go string escaping, bytea members (`p_bytea_columns`: 'table_id.column')
 * as base64, numbers that a double holds exactly (integers up to 2^53, at most 15 significant digits)
 * printed as Go prints them. NULL otherwise (nested values, long numbers, upper-case names): the commit
 * then takes the Node path (the protocol's captureWirePayload), which handles every value. A subquery of
 * the commit's capture statement, not a function: its expressions are set up once per commit (a PL/pgSQL
 * function called per key, as before, cost ≈ 0.03 ms a key).
 */
const CANONICAL_PAYLOAD_OF_NET = `SELECT CASE WHEN bool_and(m.v IS NOT NULL) IS NOT FALSE
        THEN COALESCE('{' || string_agg(${goJsonStringSql('m.k')} || ':' || m.v, ',' ORDER BY m.k COLLATE "C") || '}',
          '{}') END AS canonical
        FROM (SELECT j.key AS k, ${CANONICAL_MEMBER_SQL('net.table_id')} AS v
                FROM jsonb_each(net.payload) AS j) m
       WHERE net.last_op <> ${OP_DELETE}`;

/** A netted key whose last staged op is not a DELETE keeps a payload. */
const LAST_OP_KEEPS_ROW = `last_op <> ${OP_DELETE}`;

/**
 * Push commit (§4.2.3, §4.3, §4.5, §4.6) of a bundle up to `p_max_rows` rows: session, staged rows,
 * lease and source checks; the first conflict in upload order (raised as PUSH_CONFLICT_SQLSTATE with
 * its facts); the rows applied under deferred constraints in upload order (consecutive INSERTs of a
 * table and column set as one statement; a business-table error re-raised with the rows it failed
 * on); the captured effects netted into one bundle with its hash (§5.1), log row, NOTIFY (watch),
 * bundle rows, row state and wire row blocks (as bundle/bundle-capture.ts writes them); the source's
 * watermark, retention and scope initialization. A bundle it cannot build exactly raises
 * PUSH_NODE_PATH_SQLSTATE and changes nothing. Generic plans: with custom ones (the default whenever
 * they look cheaper, as with the arrays of the bundle hash) a statement was planned again at every call.
 */
const PUSH_COMMIT_SQL = `CREATE OR REPLACE FUNCTION sync.push_commit(p_push_id UUID, p_user_id TEXT, p_source_id TEXT,
  p_max_rows BIGINT,
  p_bytea_columns TEXT[], p_notify_channel TEXT, p_retained_bundles BIGINT, p_prune_batch BIGINT,
  p_lease_ttl_ms BIGINT, p_lock_timeout_ms INTEGER, p_upload_lock_timeout_ms INTEGER, p_notify_listener UUID)
RETURNS TABLE (out_bundle_seq BIGINT, out_source_id TEXT, out_source_bundle_id BIGINT, out_row_count BIGINT,
  out_bundle_hash TEXT,
  out_stage_ms DOUBLE PRECISION[], out_lock_waited BOOLEAN)
LANGUAGE plpgsql
SET TimeZone = 'UTC'
SET bytea_output = 'hex'
${NO_JIT}
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  mark TIMESTAMPTZ := clock_timestamp();
  stages DOUBLE PRECISION[];
  lock_waited BOOLEAN;
  session sync.push_sessions;
  bundle_user_pk BIGINT;
  staged_count BIGINT;
  bad RECORD;
  t RECORD;
  r RECORD;
  hit RECORD;
  server_row TEXT;
  batch_first BIGINT;
  batch_last BIGINT;
  batch_table_id INTEGER;
  batch_op SMALLINT;
  batch_key BYTEA;
  failing JSON;
  err_state TEXT; err_message TEXT; err_detail TEXT; err_schema TEXT; err_table TEXT; err_constraint TEXT;
    err_column TEXT; err_datatype TEXT;
  seq BIGINT;
  old_floor BIGINT;
  new_floor BIGINT;
  net_table_ids INTEGER[];
  net_keys BYTEA[];
  net_ops SMALLINT[];
  net_payloads TEXT[];
  net_count BIGINT;
  hash_input TEXT;
  hash_bytes BYTEA;
  stmt TEXT;
  stmt_ready BOOLEAN;
  stmt_count BIGINT;
  shape TEXT;
  shape_stmt TEXT;
BEGIN
  SET CONSTRAINTS ALL DEFERRED;
  ${LOCK}
  stages := ARRAY[${elapsed('mark')}]; mark := clock_timestamp();
  session := sync.push_load_session(p_push_id, p_user_id, p_source_id);
  IF session.planned_row_count > p_max_rows THEN
    RAISE EXCEPTION USING ERRCODE = '${PUSH_NODE_PATH_SQLSTATE}', MESSAGE = 'bundle too large for sync.push_commit';
  END IF;
  -- the staged count, and the first row out of place or staged twice (if any), in one statement
  SELECT count(*) OVER () AS staged, s.row_ordinal, s.i, s.seen, s.table_id, s.key_bytes INTO bad
    FROM (SELECT psr.row_ordinal, psr.table_id, psr.key_bytes, row_number() OVER (ORDER BY psr.row_ordinal) - 1 AS i,
                 count(*) OVER (PARTITION BY psr.table_id, psr.key_bytes ORDER BY psr.row_ordinal) AS seen
            FROM sync.push_session_rows psr WHERE psr.push_id = p_push_id) s
   ORDER BY (s.row_ordinal <> s.i OR s.seen > 1) DESC, s.i LIMIT 1;
  staged_count := COALESCE(bad.staged, 0);
  IF session.next_expected_row_ordinal <> session.planned_row_count OR staged_count <> session.planned_row_count THEN
    ${refuse(
      'push_commit_invalid',
      `format('staged row count %s does not match planned_row_count %s', staged_count, session.planned_row_count)`,
    )};
  END IF;
  IF bad.row_ordinal <> bad.i THEN
    ${refuse('push_commit_invalid', `format('staged rows are not contiguous at row_ordinal %s', bad.i)`)};
  END IF;
  IF bad.seen > 1 THEN
    SELECT tc.schema_name || '.' || tc.table_name AS table_name, ${keyTextSql('tc.sync_key_kind', 'bad.key_bytes')}
      AS key_text INTO r
      FROM sync.table_catalog tc WHERE tc.table_id = bad.table_id;
    ${refuse(
      'push_commit_invalid',
      `format('duplicate target row in staged push session: %s %s', r.table_name, r.key_text)`,
    )};
  END IF;
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();

  bundle_user_pk := session.user_pk;
  IF session.initialization_id IS NOT NULL THEN
    PERFORM sync.push_require_lease(p_user_id, session.source_id, session.initialization_id::text, p_lease_ttl_ms);
  END IF;
  SELECT ss.state, ss.max_committed_source_bundle_id AS max_committed, ss.replaced_by_source_id INTO t
    FROM sync.source_state ss WHERE ss.user_pk = bundle_user_pk AND ss.source_id = session.source_id FOR UPDATE;
  IF NOT FOUND THEN
    SELECT NULL::text AS state, 0::bigint AS max_committed, ''::text AS replaced_by_source_id INTO t;
  END IF;
  ${SOURCE_RETIRED('session.source_id')}
  IF COALESCE(t.max_committed, 0) + 1 <> session.source_bundle_id THEN
    ${refuse(
      'source_sequence_changed',
      `format('source %s for user %s changed expected next source_bundle_id from staged %s to %s before commit',
      session.source_id, p_user_id, session.source_bundle_id, COALESCE(t.max_committed, 0) + 1)`,
    )};
  END IF;
  PERFORM set_config('oversync.bundle_user_id', p_user_id, true), set_config('oversync.bundle_user_pk',
    bundle_user_pk::text, true),
          set_config('oversync.bundle_source_id', session.source_id, true),
            set_config('oversync.bundle_source_bundle_id', session.source_bundle_id::text, true),
          set_config('oversync.bundle_initialization_id', COALESCE(session.initialization_id::text, ''), true);

  -- conflicts (§4.3), as push/push-conflicts.ts: a scalar row_state probe per staged row (once: OFFSET 0)
  SELECT q.row_ordinal, q.table_id, q.op_code, q.key_bytes, q.base, (q.rs).bundle_seq AS bundle_seq, (q.rs).deleted
    AS deleted INTO hit
    FROM (SELECT psr.row_ordinal, psr.table_id, psr.op_code, psr.key_bytes, psr.base_bundle_seq AS base,
                 (SELECT rs FROM sync.row_state rs
                   WHERE rs.user_pk = bundle_user_pk AND rs.table_id = psr.table_id AND rs.key_bytes = psr.key_bytes)
                     AS rs
            FROM sync.push_session_rows psr WHERE psr.push_id = p_push_id OFFSET 0) q
   WHERE CASE WHEN q.op_code = ${OP_INSERT}
              THEN ((q.rs).bundle_seq IS NULL AND q.base <> 0)
                OR ((q.rs).bundle_seq IS NOT NULL AND (q.base <> (q.rs).bundle_seq OR NOT (q.rs).deleted))
              ELSE (q.rs).bundle_seq IS NULL OR (q.rs).deleted OR q.base <> (q.rs).bundle_seq END
   ORDER BY q.row_ordinal LIMIT 1;
  IF FOUND THEN
    IF hit.bundle_seq IS NOT NULL AND NOT hit.deleted THEN
      SELECT tc.schema_name, tc.table_name, tc.sync_key_column, ${keyTextSql('tc.sync_key_kind', 'hit.key_bytes')}
        AS key_text,
             ${keyTypeSql('tc.sync_key_kind')} AS key_type INTO r
        FROM sync.table_catalog tc WHERE tc.table_id = hit.table_id;
      EXECUTE
        format('SELECT (to_jsonb(src) - ''_sync_scope_id'')::text FROM %I.%I AS src '
               || 'WHERE %I = $1::%s AND _sync_scope_id = $2',
                     r.schema_name, r.table_name, r.sync_key_column, r.key_type)
        INTO server_row USING r.key_text, p_user_id;
    END IF;
    RAISE EXCEPTION USING ERRCODE = '${PUSH_CONFLICT_SQLSTATE}', DETAIL = 'push_conflict', MESSAGE = 'push_conflict',
      HINT = json_build_object('row_ordinal', hit.row_ordinal, 'table_id', hit.table_id, 'op_code', hit.op_code,
        'key_hex', encode(hit.key_bytes, 'hex'),
                               'base', hit.base::text, 'bundle_seq', hit.bundle_seq::text, 'deleted', hit.deleted,
                                 'server_row', server_row)::text;
  END IF;
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();

  -- The bundle_seq reservation and the retention floor (§4.12: latest includes this bundle) in one update,
  -- before the apply: the apply's block is a subtransaction whose foreign-key checks lock this row, and an
  -- update after them made its old version's xmax a MultiXact, which every later reader of the row then
  -- resolved for each version of its HOT chain (10-38 % of a pushing backend's samples in long runs).
  -- A rolled-back commit gives the number back (gap-free, §1.5).
  UPDATE sync.user_state us SET next_bundle_seq = us.next_bundle_seq + 1,
    retained_bundle_floor = GREATEST(us.retained_bundle_floor,
      LEAST(GREATEST(0, us.next_bundle_seq - p_retained_bundles), us.retained_bundle_floor + p_prune_batch))
    FROM sync.user_state old WHERE us.user_pk = bundle_user_pk AND old.user_pk = bundle_user_pk
    RETURNING us.next_bundle_seq - 1, old.retained_bundle_floor, us.retained_bundle_floor
      INTO seq, old_floor, new_floor;

  -- apply (§4.5), as push/push-apply.ts: upload order; a run of INSERTs of one table and column set is one statement
  -- Every staged row an INSERT of one table and member list (the chunks' insert shape, the everyday push):
  -- its statement, prepared in this session by an earlier commit, runs by its name (the shape's), without
  -- the loop's query (window, member lists, catalog join), name digests and prepared-statement lookup; where
  -- it is not prepared (yet, or deallocated), the loop below runs and prepares it (beyond the session's
  -- MAX_APPLY_STATEMENTS, every such commit tries the name first).
  shape := substring(session.staged_insert_shape FROM '^(.*):' || session.planned_row_count || '$');
  IF shape IS NOT NULL THEN
    shape_stmt := ${preparedName(INSERT_RUN_TYPES, INSERT_RUN_SQL, 'shape')};
  END IF;
  <<apply>>
  LOOP
  BEGIN
    IF shape_stmt IS NOT NULL THEN
      batch_first := 0; batch_last := session.planned_row_count - 1; batch_op := ${OP_INSERT};
        batch_table_id := split_part(shape, ' ', 1)::integer;
      EXECUTE format('EXECUTE %I(%L, %L, %L, %L)', shape_stmt, p_push_id, batch_first, p_user_id, batch_last);
      batch_first := NULL;
    ELSE
      FOR r IN
        SELECT x.*, lead(x.op_code) OVER w AS next_op, lead(x.table_id) OVER w AS next_table_id,
               lead(x.columns) OVER w AS next_columns
          FROM (SELECT psr.row_ordinal, psr.op_code, psr.table_id, psr.key_bytes, tc.schema_name, tc.table_name,
            tc.sync_key_column,
                       ${keyTypeSql('tc.sync_key_kind')} AS key_type,
                         ${keyTextSql('tc.sync_key_kind', 'psr.key_bytes')} AS key_text,
                       ARRAY(SELECT json_object_keys(psr.payload_apply)) AS columns
                  FROM sync.push_session_rows psr JOIN sync.table_catalog tc ON tc.table_id = psr.table_id
                 WHERE psr.push_id = p_push_id) x
        WINDOW w AS (ORDER BY x.row_ordinal)
         ORDER BY x.row_ordinal
      LOOP
        IF r.op_code = ${OP_INSERT} THEN
          IF batch_first IS NULL THEN
            batch_first := r.row_ordinal; batch_table_id := r.table_id; batch_op := r.op_code;
              batch_key := r.key_bytes;
          END IF;
          batch_last := r.row_ordinal;
          CONTINUE WHEN r.next_op = ${OP_INSERT} AND r.next_table_id = r.table_id AND r.next_columns = r.columns;
          ${runPrepared(
            INSERT_RUN_TYPES,
            INSERT_RUN_SQL,
            ['p_push_id', 'batch_first', 'p_user_id', 'batch_last'],
            INSERT_RUN_KEY,
          )}
          batch_first := NULL;
        ELSIF r.op_code = ${OP_UPDATE} THEN
          batch_first := r.row_ordinal; batch_last := r.row_ordinal; batch_table_id := r.table_id;
            batch_op := r.op_code;
            batch_key := r.key_bytes;
          ${runPrepared(
            'uuid, bigint, text, text',
            `format('UPDATE %I.%I AS dst SET %s
                            FROM sync.push_session_rows psr, '
                         || 'jsonb_populate_record(NULL::%I.%I, psr.payload_apply::jsonb) AS src
                           WHERE psr.push_id = $1 AND psr.row_ordinal = $2 AND dst.%I = $3::%s '
                         || 'AND dst._sync_scope_id = $4',
                         r.schema_name, r.table_name,
                         (SELECT string_agg(format('%I = src.%I', c, c), ', ') FROM unnest(r.columns) AS c),
                         r.schema_name, r.table_name, r.sync_key_column, r.key_type)`,
            ['p_push_id', 'r.row_ordinal', 'r.key_text', 'p_user_id'],
          )}
          batch_first := NULL;
        ELSE
          batch_first := r.row_ordinal; batch_last := r.row_ordinal; batch_table_id := r.table_id;
            batch_op := r.op_code;
            batch_key := r.key_bytes;
          ${runPrepared(
            'text, text',
            `format('DELETE FROM %I.%I WHERE %I = $1::%s AND _sync_scope_id = $2',
            r.schema_name, r.table_name, r.sync_key_column, r.key_type)`,
            ['r.key_text', 'p_user_id'],
          )}
          batch_first := NULL;
        END IF;
      END LOOP;
    END IF;
    EXIT apply;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL,
      err_schema = SCHEMA_NAME, err_table = TABLE_NAME, err_constraint = CONSTRAINT_NAME, err_column = COLUMN_NAME,
        err_datatype = PG_DATATYPE_NAME;
    IF err_state = '26000' AND shape_stmt IS NOT NULL THEN
      -- the shape's statement is not prepared in this session (undefined_pstatement; any other source of it
      -- raises again from the loop): the subtransaction undid the attempt, and the loop prepares it
      shape_stmt := NULL; batch_first := NULL;
      CONTINUE apply;
    END IF;
    IF batch_first IS NOT NULL AND batch_key IS NULL THEN
      -- the shape's run: its first row's key, read only now
      SELECT psr.key_bytes INTO batch_key FROM sync.push_session_rows psr
       WHERE psr.push_id = p_push_id AND psr.row_ordinal = batch_first;
    END IF;
    failing := json_build_object('first', batch_first, 'last', batch_last, 'table_id', batch_table_id, 'op_code',
      batch_op, 'key_hex', encode(batch_key, 'hex'));
    RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_message, DETAIL = err_detail, SCHEMA = err_schema,
      TABLE = err_table,
      CONSTRAINT = err_constraint, COLUMN = err_column, DATATYPE = err_datatype, HINT = '${APPLY_ERROR_HINT}'
        || failing::text;
  END;
  END LOOP;
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();

  -- the bundle (§4.6), as bundle/bundle-capture.ts: net effect per logical row in first-capture order, and the
  -- hash input of §5.1 (row objects with members in canonical order, payloads in the reference's form)
  WITH taken AS (
    DELETE FROM sync.bundle_capture_stage WHERE txid = txid_current() AND user_pk = bundle_user_pk
    RETURNING capture_ordinal, table_id, op_code, key_bytes, payload_db),
  net AS (
    SELECT min(capture_ordinal) AS first_ordinal, table_id, key_bytes,
           -- the ops of the first and last ordinal (ordinals are unique): no sort per aggregate, as ORDER BY has
           (min(ARRAY[capture_ordinal, op_code]))[2]::smallint AS first_op,
           (max(ARRAY[capture_ordinal, op_code]))[2]::smallint AS last_op,
           (array_agg(payload_db ORDER BY capture_ordinal DESC))[1] AS payload
      FROM taken GROUP BY table_id, key_bytes),
  kept AS (
    SELECT table_id, key_bytes, ${netOpCodeSql('first_op', 'last_op')} AS op_code,
           CASE WHEN ${LAST_OP_KEEPS_ROW} THEN COALESCE(c.canonical, '') END AS payload,
           row_number() OVER (ORDER BY first_ordinal) AS row_ordinal
      FROM net LEFT JOIN LATERAL (${CANONICAL_PAYLOAD_OF_NET}) c ON true
     WHERE NOT (last_op = ${OP_DELETE} AND first_op = ${OP_INSERT}))
  SELECT COALESCE(array_agg(n.table_id ORDER BY n.row_ordinal), '{}'),
         COALESCE(array_agg(n.key_bytes ORDER BY n.row_ordinal), '{}'),
         COALESCE(array_agg(n.op_code ORDER BY n.row_ordinal), '{}'),
         COALESCE(array_agg(n.payload ORDER BY n.row_ordinal), '{}'),
         '[' || string_agg('{"key":{' || ${goJsonStringSql('tc.sync_key_column')} || ':'
           || ${goJsonStringSql(keyTextSql('tc.sync_key_kind', 'n.key_bytes'))}
           || '},"op":"' || ${opCodeCaseSql('n.op_code')} || '","payload":' || COALESCE(n.payload, 'null')
           || ',"row_ordinal":' || (n.row_ordinal - 1) || ',"row_version":' || seq || ',"schema":'
           || ${goJsonStringSql('tc.schema_name')}
           || ',"table":' || ${goJsonStringSql('tc.table_name')} || '}', ',' ORDER BY n.row_ordinal) || ']'
    INTO net_table_ids, net_keys, net_ops, net_payloads, hash_input
    FROM kept n JOIN sync.table_catalog tc ON tc.table_id = n.table_id;
  net_count := cardinality(net_table_ids);
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();
  IF net_count = 0 THEN
    ${refuse('push_commit_invalid', `'push session produced no captured business-table effects'`)};
  END IF;
  IF '' = ANY (net_payloads) THEN
    RAISE EXCEPTION USING ERRCODE = '${PUSH_NODE_PATH_SQLSTATE}', MESSAGE = 'a payload needs the Node canonical form';
  END IF;
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();
  hash_bytes := sha256(convert_to(hash_input, 'UTF8'));
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();

  IF p_notify_channel IS NOT NULL THEN
    -- the payload BundleAnnouncer encodes (bundle/bundle-announcer.ts), sent only if another process listens
    PERFORM sync.notify_bundle(p_notify_channel,
      ${bundleChangeNotificationSql('bundle_user_pk', 'seq', 'session.source_id', 'session.source_bundle_id')},
      p_notify_listener);
  END IF;
  -- the log row in the same statement as its rows: their foreign keys see it (checked at the statement's end)
  WITH log AS (
    INSERT INTO sync.bundle_log (user_pk, bundle_seq, source_id, source_bundle_id, row_count, byte_count, bundle_hash)
    VALUES (bundle_user_pk, seq, session.source_id, session.source_bundle_id, net_count, octet_length(hash_input),
      hash_bytes)),
  rows AS (
    INSERT INTO sync.bundle_rows (user_pk, bundle_seq, row_ordinal, table_id, key_bytes, op_code, payload_wire)
    SELECT bundle_user_pk, seq, n.row_ordinal, n.table_id, n.key_bytes, n.op_code, n.payload::json
      FROM unnest(net_table_ids, net_keys, net_ops, net_payloads) WITH ORDINALITY AS n(table_id, key_bytes, op_code,
        payload, row_ordinal)
    RETURNING bundle_seq, row_ordinal, table_id, key_bytes, op_code, payload_wire),
  state AS (
    INSERT INTO sync.row_state (user_pk, table_id, key_bytes, bundle_seq, deleted)
    SELECT bundle_user_pk, table_id, key_bytes, seq, op_code = ${OP_DELETE} FROM rows
    ON CONFLICT (user_pk, table_id, key_bytes) DO UPDATE SET bundle_seq = EXCLUDED.bundle_seq,
      deleted = EXCLUDED.deleted)
  INSERT INTO sync.bundle_row_blocks (user_pk, bundle_seq, block_no, rows_text)
  SELECT bundle_user_pk, seq, (br.row_ordinal - 1) / ${BUNDLE_ROW_BLOCK_ROWS}, string_agg(${BUNDLE_ROW_JSON_SQL}, ','
    ORDER BY br.row_ordinal)
    FROM rows br
    JOIN (SELECT table_id, '{"schema":' || ${goJsonStringSql('schema_name')} || ',"table":'
      || ${goJsonStringSql('table_name')}
                 || ',"key":{' || ${goJsonStringSql('sync_key_column')} || ':' AS prefix, sync_key_kind AS key_kind
                   FROM sync.table_catalog) tc
      ON tc.table_id = br.table_id
   GROUP BY 3;
  stages := stages || ${elapsed('mark')}; mark := clock_timestamp();

  -- source watermark with the session closed (push/source-state.ts activateSource), retention (retention/retention.ts)
  WITH closed AS (DELETE FROM sync.push_sessions WHERE push_id = p_push_id)
  INSERT INTO sync.source_state (user_pk, source_id, state, max_committed_source_bundle_id, replaced_by_source_id,
    retirement_reason)
  VALUES (bundle_user_pk, session.source_id, 'active', session.source_bundle_id, '', '')
  ON CONFLICT (user_pk, source_id) DO UPDATE SET state = 'active',
    max_committed_source_bundle_id = EXCLUDED.max_committed_source_bundle_id,
    replaced_by_source_id = '', retirement_reason = ''
  WHERE sync.source_state.state <> 'retired';
  IF new_floor > old_floor THEN
    DELETE FROM sync.bundle_log WHERE user_pk = bundle_user_pk AND bundle_seq <= new_floor;
  END IF;
  IF session.initialization_id IS NOT NULL THEN
    UPDATE sync.scope_state SET state_code = ${SCOPE_INITIALIZED},
      initializer_source_id = NULL, initialization_id = NULL,
           lease_expires_at = NULL, initialized_at = now(), initialized_by_source_id = session.source_id
             WHERE user_pk = bundle_user_pk;
  END IF;
  stages := stages || ${elapsed('mark')};
  RETURN QUERY SELECT seq, session.source_id, session.source_bundle_id, net_count, encode(hash_bytes, 'hex'), stages,
    lock_waited;
END;
$$`;

/**
 * The advisory lock (of the database) between a commit's look at `sync.watch_listeners` and a listener's
 * registration: commits hold it shared to their end; a registering listener waits for its holders of the moment
 * (`sync.watch_listeners_barrier`). Two int4 keys ('over', 'sync' in ASCII): a space of their own, apart from
 * the bigint user locks (`hashtextextended`).
 */
const WATCH_LISTENERS_LOCK = [1870030194, 1937337955] as const;

/** `pg_locks l` rows of the registry's lock granted in this database (two-int4 advisory locks have objsubid 2). */
const WATCH_LISTENERS_LOCK_HELD = `l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND (l.classid, l.objid) = (${WATCH_LISTENERS_LOCK[0]}::oid, ${WATCH_LISTENERS_LOCK[1]}::oid)`;

/**
 * The bundle's NOTIFY (spec §4.14 "Emit"), sent only when a server process other than `p_listener` (the caller's
 * own listener, whose streams get the bundle in-process; null: none) is registered in `sync.watch_listeners`:
 * PostgreSQL serialises every NOTIFYing commit of the cluster through its WAL flush (a lock held from pre-commit
 * to the end of the commit), so a NOTIFY nobody receives stops commits from group-committing.
 *
 * The race with a process that starts listening: the shared lock is taken first, and the registry is read by a
 * later query of this VOLATILE function, which under READ COMMITTED takes a new snapshot. A listener commits its
 * row and LISTEN, then waits until the transactions holding the lock at that moment have ended (every commit that
 * may have read the registry before the row was visible, so its catch-up read sees them); every commit that takes
 * the shared lock after that moment sees the row and notifies. Under REPEATABLE READ or SERIALIZABLE the
 * transaction's snapshot may predate the row: then it always notifies.
 */
const NOTIFY_BUNDLE_SQL = `CREATE OR REPLACE FUNCTION sync.notify_bundle(p_channel TEXT, p_payload TEXT,
  p_listener UUID)
RETURNS void
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
  IF current_setting('transaction_isolation') = 'read committed' THEN
    PERFORM pg_advisory_xact_lock_shared(${WATCH_LISTENERS_LOCK.join(', ')});
    IF NOT EXISTS (SELECT FROM sync.watch_listeners WHERE listener_id IS DISTINCT FROM p_listener) THEN
      RETURN;
    END IF;
  END IF;
  PERFORM pg_notify(p_channel, p_payload);
END;
$$`;

/**
 * A registering listener's wait (watch/bundle-change-listener.ts, after its row and LISTEN are committed): until
 * every transaction that holds the registry's lock now has ended. It polls `pg_locks` for those transactions
 * instead of taking the lock exclusively, which would queue every new commit behind the longest one in flight.
 * `pg_locks` is read live (not from a snapshot) at each query.
 */
const WATCH_LISTENERS_BARRIER_SQL = `CREATE OR REPLACE FUNCTION sync.watch_listeners_barrier()
RETURNS void
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  holders TEXT[];
BEGIN
  SELECT array_agg(l.virtualtransaction) INTO holders FROM pg_locks l WHERE ${WATCH_LISTENERS_LOCK_HELD};
  WHILE holders IS NOT NULL AND EXISTS (SELECT FROM pg_locks l
     WHERE l.virtualtransaction = ANY (holders) AND ${WATCH_LISTENERS_LOCK_HELD}) LOOP
    PERFORM pg_sleep(0.001);
  END LOOP;
END;
$$`;

/** The push request functions (added to REQUEST_FUNCTIONS), helpers first. */
export const PUSH_FUNCTIONS: ReadonlyArray<{ signature: string; sql: string }> = [
  { signature: 'sync.notify_bundle(text,text,uuid)', sql: NOTIFY_BUNDLE_SQL },
  { signature: 'sync.watch_listeners_barrier()', sql: WATCH_LISTENERS_BARRIER_SQL },
  { signature: 'sync.push_refuse(text,text,text)', sql: PUSH_REFUSE_SQL },
  { signature: 'sync.push_lock_scope(text)', sql: PUSH_LOCK_SCOPE_SQL },
  { signature: 'sync.push_require_lease(text,text,text,bigint)', sql: PUSH_REQUIRE_LEASE_SQL },
  { signature: 'sync.push_load_session(uuid,text,text)', sql: PUSH_LOAD_SESSION_SQL },
  {
    signature: 'sync.push_create(text,text,bigint,bigint,text,uuid,bigint,bigint,integer,integer)',
    sql: PUSH_CREATE_SQL,
  },
  {
    signature:
      'sync.push_chunk(uuid,text,text,bigint,integer[],text[],smallint[],bigint[],text,bigint,bigint,integer,integer,' +
      'text)',
    sql: PUSH_CHUNK_SQL,
  },
  {
    signature: 'sync.push_chunk_open(uuid,text,text,bigint,integer,integer)',
    sql: PUSH_CHUNK_OPEN_SQL,
  },
  { signature: 'sync.push_chunk_close(uuid,bigint,bigint,bigint,text)', sql: PUSH_CHUNK_CLOSE_SQL },
  {
    signature: 'sync.push_commit(uuid,text,text,bigint,text[],text,bigint,bigint,bigint,integer,integer,uuid)',
    sql: PUSH_COMMIT_SQL,
  },
];
