// PL/pgSQL functions that run a protocol step inside PostgreSQL, so a request is one round trip
// (issue 21). Replaced at every bootstrap with the trigger functions (`installCaptureTriggers`).
// A refusal raises SQLSTATE `OVERSYNC_SQLSTATE` with the protocol error code as DETAIL and, when the
// answer carries more members (conflict, replacement source), their JSON object as HINT; the service
// turns it into the same OversyncError a Node-side check would throw (`oversyncErrorFromDatabase`).

import { readRequestFunctions } from './sync-read-functions.sql.js';
import { PUSH_FUNCTIONS } from './sync-push-functions.sql.js';

/** SQLSTATE of a protocol refusal raised by a request function. */
export const OVERSYNC_SQLSTATE = 'OVRSY';

/**
 * The per-user lock of spec §2.7, transaction-scoped: a try first, then a wait bounded by
 * `timeout_ms` (a retryable 503 instead of queueing forever, §8.15). Returns whether it waited.
 */
export const LOCK_USER_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION sync.lock_user(p_user_id TEXT, p_timeout_ms INTEGER)
RETURNS BOOLEAN
LANGUAGE plpgsql
AS $$
BEGIN
  IF pg_try_advisory_xact_lock(hashtextextended(p_user_id, 0)) THEN
    RETURN false;
  END IF;
  PERFORM set_config('lock_timeout', greatest(1, p_timeout_ms) || 'ms', true);
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_user_id, 0));
  EXCEPTION WHEN lock_not_available THEN
    RAISE EXCEPTION USING ERRCODE = '${OVERSYNC_SQLSTATE}', DETAIL = 'service_unavailable',
      MESSAGE = 'another sync operation of this user is still running; retry later';
  END;
  SET LOCAL lock_timeout TO DEFAULT;
  RETURN true;
END;
$$`;

/** The request functions by signature (as `to_regprocedure` reads it), replaced at every bootstrap. */
export const REQUEST_FUNCTIONS: ReadonlyArray<{ signature: string; sql: string }> = [
  { signature: 'sync.lock_user(text,integer)', sql: LOCK_USER_FUNCTION_SQL },
  ...readRequestFunctions(OVERSYNC_SQLSTATE),
  ...PUSH_FUNCTIONS,
];
