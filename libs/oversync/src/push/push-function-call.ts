import type { QueryConfig, QueryResultRow } from 'pg';
import {
  CommitOutcomeUnknownError,
  isConnectionError,
  runRetryable,
  sqlState,
  type SyncDatabase,
} from '../database/sync-database.js';
import { oversyncErrorFromDatabase } from '../database/sql-errors.js';
import { reportUserLockWait } from '../database/user-lock.js';

/** Backend errors that abort the statement before it could commit (administrator command, shutdown, recovery). */
const ABORTED_BEFORE_COMMIT = new Set(['57P01', '57P02', '57P03']);

/**
 * Whether a connection error of an autocommit call shows that it never committed: the client could
 * not send it, or the backend answered with its termination instead of a result. A connection that
 * merely went away leaves the outcome unknown.
 */
function neverCommitted(error: unknown): boolean {
  const state = sqlState(error);
  if (state && ABORTED_BEFORE_COMMIT.has(state)) return true;
  const message = error instanceof Error ? error.message : '';
  const errno = (error as { code?: unknown } | null)?.code;
  return /not queryable|ECONNREFUSED/.test(message) || errno === 'ECONNREFUSED';
}

/**
 * Runs one push request function (schema/sync-push-functions.sql.ts) as one autocommit statement:
 * the call is the transaction, so BEGIN and COMMIT ride in its round trip. Retried as a whole on
 * 40001/40P01/55P03 (3 × 25 ms, spec §2.8), and on a lost connection only when the call provably
 * never committed (`SyncDatabase.withClient` runs it again); otherwise the outcome is unknown and
 * the error says so (`idempotent` calls, whose second run answers like the first, are run again
 * anyway). A refusal becomes its OversyncError; user lock waits reach the telemetry.
 */
export async function callPushFunction<R extends QueryResultRow & { out_lock_waited: boolean }>(
  db: SyncDatabase,
  query: QueryConfig,
  options: { idempotent?: boolean } = {},
): Promise<R> {
  return db.withClient((client) =>
    runRetryable(3, 25, async () => {
      let row: R | undefined;
      try {
        ({
          rows: [row],
        } = await client.query<R>(query));
      } catch (error) {
        const refusal = oversyncErrorFromDatabase(error);
        if (refusal?.code === 'service_unavailable') {
          reportUserLockWait('waited');
          reportUserLockWait('timed_out');
        }
        if (refusal) throw refusal;
        if (!options.idempotent && isConnectionError(error) && !neverCommitted(error))
          throw new CommitOutcomeUnknownError(error);
        throw error;
      }
      if (!row) throw new Error('push request function returned no row');
      if (row.out_lock_waited) reportUserLockWait('waited');
      return row;
    }),
  );
}
