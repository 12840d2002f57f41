// Request functions of connect, pull and committed-rows: each request is one autocommit call, so
// BEGIN and COMMIT ride in its round trip (issue 21). Refusals follow the convention of
// sync-request-functions.sql.ts (SQLSTATE OVRSY, DETAIL the code, HINT the extra members).
import { BUNDLE_ROW_JSON_SQL } from '../pull/bundle-reader.js';
import { SCOPE_INITIALIZED, SCOPE_INITIALIZING, SCOPE_UNINITIALIZED } from '../database/sql-codes.js';
import { rfc3339Sql } from '../database/timestamps.js';
import { ensureUserScopeSql } from '../connect/scope-state.js';
import { NO_JIT } from './function-settings.sql.js';

/** Payload text never depends on the deployment's defaults (spec §8.11); no JIT (see NO_JIT). */
const PINNED = `SET TimeZone = 'UTC' SET bytea_output = 'hex' ${NO_JIT}`;

/** `tc(table_id, prefix, key_kind)` from the function's `rowPrefixParams` arguments (see bundle-reader.ts). */
const PREFIXES = 'unnest(p_table_ids, p_prefixes, p_key_kinds) AS tc(table_id, prefix, key_kind)';

/** The refusal statements of the convention, for the SQLSTATE the caller passes. */
function refusals(sqlState: string) {
  const refuse = (code: string, message: string, hint?: string) =>
    `RAISE EXCEPTION USING ERRCODE = '${sqlState}', DETAIL = '${code}', MESSAGE = ${message}` +
    `${hint ? `, HINT = ${hint}` : ''}`;
  /** Counted in `history_pruned_error_count` (§8.5) before the refusal: a sequence survives the rollback. */
  const refuseHistoryPruned = (provided: string) => `PERFORM nextval('sync.history_pruned_error_seq');
    ${refuse(
      'history_pruned',
      `format('requested checkpoint %s is older than retained history floor %s for user %s',
      ${provided}, v_floor, p_user_id)`,
    )}`;
  return { refuse, refuseHistoryPruned };
}
type Refusals = ReturnType<typeof refusals>;

/** The user's scope row with its user_pk, locked, into `v_scope` (FOUND: it exists). */
const LOCK_SCOPE = `SELECT us.user_pk, ss.state_code, ss.initializer_source_id, ss.initialization_id,
  ss.lease_expires_at INTO v_scope
    FROM sync.scope_state ss JOIN sync.user_state us ON us.user_pk = ss.user_pk
      WHERE us.user_id = p_user_id FOR UPDATE`;

/**
 * POST /sync/connect (spec §4.1): under the user lock, the scope row is created, locked and its lapsed
 * lease expired; a retired source is refused (§8.7); then the resolution. `lease_expires_at` is
 * RFC3339 with microseconds (the service trims it as Go does).
 */
const CONNECT_FUNCTION_SQL = ({ refuse }: Refusals) => `CREATE OR REPLACE FUNCTION sync.connect(
  p_user_id TEXT, p_source_id TEXT, p_has_local_pending_rows BOOLEAN, p_initialization_id UUID,
  p_lease_ttl_ms INTEGER, p_lock_timeout_ms INTEGER)
RETURNS TABLE (resolution TEXT, initialization_id TEXT, lease_expires_at TEXT, retry_after_seconds BIGINT,
  lock_waited BOOLEAN)
LANGUAGE plpgsql ${PINNED}
AS $$
#variable_conflict use_column
DECLARE
  v_waited BOOLEAN;
  v_scope RECORD;
  v_replaced_by TEXT;
  v_state TEXT;
  v_initialization_id TEXT;
  v_lease TEXT;
BEGIN
  v_waited := sync.lock_user(p_user_id, p_lock_timeout_ms);
  ${LOCK_SCOPE};
  IF NOT FOUND THEN
    -- the user's rows are created only for a user never seen: one statement fewer for a known one
    ${ensureUserScopeSql('p_user_id')};
    ${LOCK_SCOPE};
    IF NOT FOUND THEN
      ${refuse('scope_uninitialized', `format('sync scope for user %s is not initialized', p_user_id)`)};
    END IF;
  END IF;
  IF v_scope.state_code = ${SCOPE_INITIALIZING} AND v_scope.lease_expires_at <= now() THEN
    UPDATE sync.scope_state SET state_code = ${SCOPE_UNINITIALIZED},
      initializer_source_id = NULL, initialization_id = NULL,
      lease_expires_at = NULL
     WHERE user_pk = v_scope.user_pk;
    v_scope.state_code := ${SCOPE_UNINITIALIZED};
    v_scope.initializer_source_id := NULL;
    v_scope.initialization_id := NULL;
  END IF;
  SELECT ss.state, ss.replaced_by_source_id INTO v_state, v_replaced_by
    FROM sync.source_state ss WHERE ss.user_pk = v_scope.user_pk AND ss.source_id = p_source_id;
  IF v_state = 'retired' THEN
    IF v_replaced_by <> '' THEN
      ${refuse(
        'source_retired',
        `format('source %s for user %s was retired and replaced by %s', p_source_id, p_user_id, v_replaced_by)`,
        `json_build_object('source_id', p_source_id, 'replaced_by_source_id', v_replaced_by)::text`,
      )};
    END IF;
    ${refuse(
      'source_retired',
      `format('source %s for user %s was retired', p_source_id, p_user_id)`,
      `json_build_object('source_id', p_source_id)::text`,
    )};
  END IF;
  IF v_scope.state_code = ${SCOPE_INITIALIZED} THEN
    RETURN QUERY SELECT 'remote_authoritative', NULL::text, NULL::text, NULL::bigint, v_waited;
    RETURN;
  END IF;
  IF v_scope.state_code <> ${SCOPE_UNINITIALIZED} AND v_scope.initializer_source_id IS DISTINCT FROM p_source_id THEN
    RETURN QUERY SELECT 'retry_later', NULL::text, ${rfc3339Sql('v_scope.lease_expires_at')},
      greatest(1, floor(extract(epoch FROM v_scope.lease_expires_at - now()))::bigint), v_waited;
    RETURN;
  END IF;
  IF NOT p_has_local_pending_rows THEN
    UPDATE sync.scope_state SET state_code = ${SCOPE_INITIALIZED},
      initializer_source_id = NULL, initialization_id = NULL,
           lease_expires_at = NULL, initialized_at = now(), initialized_by_source_id = p_source_id
     WHERE user_pk = v_scope.user_pk;
    RETURN QUERY SELECT 'initialize_empty', NULL::text, NULL::text, NULL::bigint, v_waited;
    RETURN;
  END IF;
  UPDATE sync.scope_state SET state_code = ${SCOPE_INITIALIZING}, initializer_source_id = p_source_id,
         initialization_id = coalesce(v_scope.initialization_id, p_initialization_id),
         lease_expires_at = now() + p_lease_ttl_ms * interval '1 millisecond', initialized_at = NULL,
           initialized_by_source_id = NULL
   WHERE user_pk = v_scope.user_pk
  RETURNING initialization_id::text, ${rfc3339Sql('lease_expires_at')} INTO v_initialization_id, v_lease;
  RETURN QUERY SELECT 'initialize_local', v_initialization_id, v_lease, NULL::bigint, v_waited;
END;
$$`;

const PULL_PAGE_COLUMNS = `user_pk BIGINT, stable_bundle_seq BIGINT, through BIGINT, streamed BOOLEAN,
  bundle_seq BIGINT, source_id TEXT,
  source_bundle_id BIGINT, row_count BIGINT, bundle_hash TEXT, rows_json TEXT, unblocked BOOLEAN`;

/**
 * The rows of a bundle committed before sync.bundle_row_blocks existed, as one JSON array text built from
 * sync.bundle_rows (pull_page's fallback). A function, not a subquery of pull_page's statement: a subquery's plan
 * and its row expression were set up at every pull though almost never run (6–7 % of a pull's backend CPU).
 * SQL and STABLE: the caller's snapshot; with a FROM clause and an aggregate it is never inlined.
 */
const BUNDLE_ROWS_JSON_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.bundle_rows_json(
  p_user_pk BIGINT, p_bundle_seq BIGINT, p_table_ids INT4[], p_prefixes TEXT[], p_key_kinds INT2[])
RETURNS TEXT
LANGUAGE sql STABLE
AS $$
  SELECT '[' || string_agg(${BUNDLE_ROW_JSON_SQL}, ',' ORDER BY br.row_ordinal) || ']'
    FROM sync.bundle_rows br JOIN ${PREFIXES} ON tc.table_id = br.table_id
   WHERE br.user_pk = p_user_pk AND br.bundle_seq = p_bundle_seq
$$`;

/**
 * GET /sync/pull's page read (spec §4.8): STABLE, so every statement shares the calling statement's
 * snapshot (scope state, floor and bundles are one consistent view, as the REPEATABLE READ
 * transaction of the streamed path gives). Rows: the page's bundle headers plus one more (has_more),
 * each page bundle with its rows as one JSON text built around the stored canonical payloads; a page
 * of more than `p_stream_min_rows` rows gets headers only (`streamed`; its rows are streamed by the
 * caller). An empty page is one row with a NULL bundle_seq. `through` is the source's new checkpoint.
 */
const PULL_PAGE_FUNCTION_SQL = ({
  refuse,
  refuseHistoryPruned,
}: Refusals) => `CREATE OR REPLACE FUNCTION sync.pull_page(
  p_user_id TEXT, p_after BIGINT, p_target BIGINT, p_max INTEGER,
  p_table_ids INT4[], p_prefixes TEXT[], p_key_kinds INT2[], p_stream_min_rows BIGINT)
RETURNS TABLE (${PULL_PAGE_COLUMNS})
LANGUAGE plpgsql STABLE ${PINNED}
AS $$
#variable_conflict use_column
DECLARE
  v_user_pk BIGINT;
  v_state SMALLINT;
  v_lease TIMESTAMPTZ;
  v_latest BIGINT;
  v_floor BIGINT;
  v_stable BIGINT;
BEGIN
  SELECT us.user_pk, ss.state_code, ss.lease_expires_at, us.next_bundle_seq - 1, us.retained_bundle_floor
    INTO v_user_pk, v_state, v_lease, v_latest, v_floor
    FROM sync.scope_state ss JOIN sync.user_state us ON us.user_pk = ss.user_pk WHERE us.user_id = p_user_id;
  IF NOT FOUND OR v_state = ${SCOPE_UNINITIALIZED} OR (v_state = ${SCOPE_INITIALIZING} AND v_lease < now()) THEN
    ${refuse('scope_uninitialized', `format('sync scope for user %s is not initialized', p_user_id)`)};
  END IF;
  IF v_state = ${SCOPE_INITIALIZING} THEN
    ${refuse(
      'scope_initializing',
      `format('sync scope for user %s is initializing%s', p_user_id,
      coalesce(' until ' || regexp_replace(regexp_replace(${rfc3339Sql('v_lease')}, '0+Z$', 'Z'), '\\.Z$', 'Z'), ''))`,
    )};
  END IF;
  -- Unlike the reference, a pull from 0 above a pruned floor is refused too, and a checkpoint equal to
  -- the floor is served (§8.5; see PullService).
  IF p_after < v_floor THEN
    ${refuseHistoryPruned('p_after')};
  END IF;
  IF p_target > 0 AND p_target < v_floor THEN
    ${refuseHistoryPruned('p_target')};
  END IF;
  v_stable := CASE WHEN p_target > 0 THEN p_target ELSE v_latest END;
  IF v_stable > 0 AND v_stable < v_floor THEN
    ${refuseHistoryPruned('v_stable')};
  END IF;
  IF p_after < v_stable THEN
    RETURN QUERY
      WITH h AS (
        SELECT bl.bundle_seq, bl.source_id, bl.source_bundle_id, bl.row_count, encode(bl.bundle_hash, 'hex')
          AS bundle_hash,
               row_number() OVER (ORDER BY bl.bundle_seq) AS n
          FROM sync.bundle_log bl WHERE bl.user_pk = v_user_pk AND bl.bundle_seq > p_after AND bl.bundle_seq > v_floor
            AND bl.bundle_seq <= v_stable
         ORDER BY bl.bundle_seq LIMIT p_max + 1),
      t AS (SELECT COALESCE(sum(h.row_count), 0) > p_stream_min_rows AS streamed, max(h.bundle_seq) AS last FROM h
        WHERE h.n <= p_max)
      SELECT v_user_pk, v_stable, t.last, t.streamed, h.bundle_seq, h.source_id, h.source_bundle_id, h.row_count,
        h.bundle_hash,
             CASE WHEN h.n <= p_max AND NOT t.streamed THEN
               COALESCE(
                 (SELECT '[' || string_agg(b.rows_text, ',' ORDER BY b.block_no) || ']'
                    FROM sync.bundle_row_blocks b WHERE b.user_pk = v_user_pk AND b.bundle_seq = h.bundle_seq),
                 sync.bundle_rows_json(v_user_pk, h.bundle_seq, p_table_ids, p_prefixes, p_key_kinds)) END,
             t.streamed AND h.row_count > 0 AND NOT EXISTS (
               SELECT 1 FROM sync.bundle_row_blocks b WHERE b.user_pk = v_user_pk AND b.bundle_seq = h.bundle_seq)
        FROM h, t ORDER BY h.bundle_seq;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  RETURN QUERY SELECT v_user_pk, v_stable, CASE WHEN p_after < v_stable THEN p_after ELSE v_stable END, false,
    NULL::bigint, NULL::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text, false;
END;
$$`;

/**
 * GET /sync/pull: the page of `sync.pull_page`, then the source's checkpoint for the admin console
 * (its lag) in the same transaction. The checkpoint only grows, is skipped when another transaction
 * holds the row (a pull never waits for a push), and a failure to record it never fails the pull;
 * it commits without waiting for the WAL flush (a checkpoint lost in a crash is only bookkeeping).
 * Sources that never pushed have no source_state row. A streamed page records its checkpoint later.
 */
const PULL_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.pull(
  p_user_id TEXT, p_source_id TEXT, p_after BIGINT, p_target BIGINT, p_max INTEGER,
  p_table_ids INT4[], p_prefixes TEXT[], p_key_kinds INT2[], p_stream_min_rows BIGINT)
RETURNS TABLE (${PULL_PAGE_COLUMNS})
LANGUAGE plpgsql ${PINNED}
AS $$
BEGIN
  -- every row carries the page's user_pk, through and streamed: the last one read stays in them
  FOR user_pk, stable_bundle_seq, through, streamed, bundle_seq, source_id, source_bundle_id, row_count, bundle_hash,
    rows_json, unblocked IN
    SELECT * FROM sync.pull_page(p_user_id, p_after, p_target, p_max, p_table_ids, p_prefixes, p_key_kinds,
      p_stream_min_rows) LOOP
    RETURN NEXT;
  END LOOP;
  IF through > 0 AND NOT streamed THEN
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      UPDATE sync.source_state ss SET last_pulled_bundle_seq = through, last_pulled_at = now()
       WHERE (ss.user_pk, ss.source_id) IN (
         SELECT s.user_pk, s.source_id FROM sync.source_state s
          WHERE s.user_pk = pull.user_pk AND s.source_id = p_source_id AND s.last_pulled_bundle_seq < through
            FOR UPDATE SKIP LOCKED);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'oversync pull checkpoint of source % not recorded: %', p_source_id, SQLERRM;
    END;
  END IF;
END;
$$`;

/**
 * GET /sync/committed-bundles/{seq}/rows (spec §4.9): STABLE, one snapshot. Rows after storage
 * ordinal `p_after` (wire + 1), at most `p_limit`, each with the bundle's header; a page without
 * rows is one row with a NULL row_ordinal. A user without state has no bundle: 404 (§8.1).
 */
const COMMITTED_ROWS_FUNCTION_SQL = ({
  refuse,
  refuseHistoryPruned,
}: Refusals) => `CREATE OR REPLACE FUNCTION sync.committed_rows(
  p_user_id TEXT, p_bundle_seq BIGINT, p_after BIGINT, p_limit INTEGER,
  p_table_ids INT4[], p_prefixes TEXT[], p_key_kinds INT2[])
RETURNS TABLE (source_id TEXT, source_bundle_id BIGINT, row_count BIGINT, bundle_hash TEXT, row_ordinal BIGINT,
  row_json TEXT)
LANGUAGE plpgsql STABLE ${PINNED}
AS $$
#variable_conflict use_column
DECLARE
  v_user_pk BIGINT;
  v_floor BIGINT;
  v_header RECORD;
BEGIN
  SELECT us.user_pk, us.retained_bundle_floor INTO v_user_pk, v_floor FROM sync.user_state us
    WHERE us.user_id = p_user_id;
  IF NOT FOUND THEN
    ${refuse('committed_bundle_not_found', `format('committed bundle %s was not found', p_bundle_seq)`)};
  END IF;
  IF p_bundle_seq <= v_floor THEN
    ${refuseHistoryPruned('p_bundle_seq')};
  END IF;
  SELECT bl.source_id, bl.source_bundle_id, bl.row_count, encode(bl.bundle_hash, 'hex') AS bundle_hash INTO v_header
    FROM sync.bundle_log bl WHERE bl.user_pk = v_user_pk AND bl.bundle_seq = p_bundle_seq;
  IF NOT FOUND THEN
    ${refuse('committed_bundle_not_found', `format('committed bundle %s was not found', p_bundle_seq)`)};
  END IF;
  RETURN QUERY
    SELECT v_header.source_id, v_header.source_bundle_id, v_header.row_count, v_header.bundle_hash, br.row_ordinal,
      ${BUNDLE_ROW_JSON_SQL}
      FROM sync.bundle_rows br JOIN ${PREFIXES} ON tc.table_id = br.table_id
     WHERE br.user_pk = v_user_pk AND br.bundle_seq = p_bundle_seq AND br.row_ordinal > p_after ORDER BY br.row_ordinal
       LIMIT p_limit;
  IF NOT FOUND THEN
    RETURN QUERY SELECT v_header.source_id, v_header.source_bundle_id, v_header.row_count, v_header.bundle_hash,
      NULL::bigint, NULL::text;
  END IF;
END;
$$`;

/**
 * The read request functions (connect, pull, committed-rows) for `REQUEST_FUNCTIONS`, raising their
 * refusals with `refusalSqlState` (a parameter: that module imports this one).
 */
export function readRequestFunctions(refusalSqlState: string): Array<{ signature: string; sql: string }> {
  const r = refusals(refusalSqlState);
  return [
    { signature: 'sync.connect(text,text,boolean,uuid,integer,integer)', sql: CONNECT_FUNCTION_SQL(r) },
    {
      signature: 'sync.bundle_rows_json(bigint,bigint,integer[],text[],smallint[])',
      sql: BUNDLE_ROWS_JSON_FUNCTION_SQL,
    },
    {
      signature: 'sync.pull_page(text,bigint,bigint,integer,integer[],text[],smallint[],bigint)',
      sql: PULL_PAGE_FUNCTION_SQL(r),
    },
    {
      signature: 'sync.pull(text,text,bigint,bigint,integer,integer[],text[],smallint[],bigint)',
      sql: PULL_FUNCTION_SQL,
    },
    {
      signature: 'sync.committed_rows(text,bigint,bigint,integer,integer[],text[],smallint[])',
      sql: COMMITTED_ROWS_FUNCTION_SQL(r),
    },
  ];
}
