import type { QueryConfig, QueryResultRow } from 'pg';
import { isKnownErrorCode, type ErrorExtra } from '@oversync/protocol';
import { OversyncError } from '../errors/oversync.error.js';
import { OVERSYNC_SQLSTATE } from '../schema/sync-request-functions.sql.js';
import { sqlState, type SyncDatabase } from './sync-database.js';

/**
 * The OversyncError a request function raised (SQLSTATE `OVRSY`: DETAIL the code, MESSAGE the
 * message, HINT a JSON object of extra answer members), or undefined for any other error.
 */
export function oversyncErrorFromDatabase(error: unknown): OversyncError | undefined {
  if (sqlState(error) !== OVERSYNC_SQLSTATE) return undefined;
  const pg = error as { message: string; detail?: string; hint?: string };
  const code = pg.detail ?? 'internal_error';
  if (!isKnownErrorCode(code)) throw new Error(`request function raised unknown error code ${code}: ${pg.message}`);
  const extra = pg.hint ? (JSON.parse(pg.hint) as ErrorExtra) : undefined;
  return new OversyncError(code, pg.message, extra);
}

/**
 * One call of a request function: a single autocommit statement on a pooled connection (BEGIN and
 * COMMIT ride in its round trip); a refusal it raised comes back as the OversyncError.
 */
export async function callRequestFunction<R extends QueryResultRow>(
  db: SyncDatabase,
  query: QueryConfig,
): Promise<R[]> {
  try {
    return (await db.withClient((client) => client.query<R>(query))).rows;
  } catch (error) {
    throw oversyncErrorFromDatabase(error) ?? error;
  }
}
