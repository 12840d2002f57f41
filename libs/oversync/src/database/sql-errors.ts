import { isKnownErrorCode, type ErrorExtra } from '@oversync/protocol';
import { OversyncError } from '../errors/oversync.error.js';
import { OVERSYNC_SQLSTATE } from '../schema/sync-request-functions.sql.js';
import { sqlState } from './sync-database.js';

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
