import type { QueryConfig, QueryResultRow } from 'pg';
import {
  CommitOutcomeUnknownError,
  isConnectionError,
  runRetryable,
  sqlState,
  type SyncClient,
  type SyncDatabase,
} from './sync-database.js';
import { oversyncErrorFromDatabase } from './sql-errors.js';
import { reportUserLockWait } from './user-lock.js';
import type { OversyncError } from '../errors/oversync.error.js';

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

export interface RequestFunctionOptions {
  /**
   * The column in which a function that takes the user lock (`sync.lock_user`) answers whether it
   * waited: waits and lock timeouts (`service_unavailable`) reach the telemetry.
   */
  lockWaited?: string;
  /**
   * A push function: retried as a whole on 40001/40P01/55P03 (3 × 25 ms, spec §2.8). After a lost
   * connection it runs again (`SyncDatabase.withClient`) only when it provably never committed or is
   * `idempotent` (a second run answers like the first); otherwise the outcome is unknown and the
   * error says so.
   */
  write?: { idempotent?: boolean };
}

/**
 * The refusal a request function raised (SQLSTATE `OVRSY`), or undefined for any other error. A function
 * that takes the user lock (`takesUserLock`) and timed out on it (`service_unavailable`) reports the wait
 * and the timeout to the telemetry.
 */
export function requestFunctionRefusal(error: unknown, takesUserLock: boolean): OversyncError | undefined {
  const refusal = oversyncErrorFromDatabase(error);
  if (refusal && takesUserLock && refusal.code === 'service_unavailable') {
    reportUserLockWait('waited');
    reportUserLockWait('timed_out');
  }
  return refusal;
}

/**
 * One call of a request function (schema/sync-*-functions.sql.ts): a single autocommit statement on
 * a pooled connection, so BEGIN and COMMIT ride in its round trip. A refusal it raised comes back as
 * its OversyncError. Every request function answers at least one row.
 */
export async function callRequestFunction<R extends QueryResultRow>(
  db: SyncDatabase,
  query: QueryConfig,
  options: RequestFunctionOptions = {},
): Promise<[R, ...R[]]> {
  const { lockWaited, write } = options;
  const once = async (client: SyncClient): Promise<[R, ...R[]]> => {
    let rows: R[];
    try {
      ({ rows } = await client.query<R>(query));
    } catch (error) {
      const refusal = requestFunctionRefusal(error, lockWaited !== undefined);
      if (refusal) throw refusal;
      if (write && !write.idempotent && isConnectionError(error) && !neverCommitted(error))
        throw new CommitOutcomeUnknownError(error);
      throw error;
    }
    const [first, ...more] = rows;
    if (first === undefined) throw new Error('request function returned no row');
    if (lockWaited !== undefined && (first as Record<string, unknown>)[lockWaited]) reportUserLockWait('waited');
    return [first, ...more];
  };
  return db.withClient((client) => (write ? runRetryable(3, 25, () => once(client)) : once(client)));
}
