import { Logger } from '@nestjs/common';
import { OversyncError } from '../errors/oversync.error.js';
import { sqlState, type SyncClient, type SyncDatabase } from './sync-database.js';

const logger = new Logger('Oversync');

/**
 * Runs `fn` on one pooled connection holding the per-user session advisory lock
 * `pg_advisory_lock(hashtextextended(user_id, 0))` (spec §2.7). Unlike the reference the wait is
 * bounded: past `timeoutMs` the caller gets a retryable 503 instead of queueing forever (§8.15).
 */
export async function withUserLock<T>(
  db: SyncDatabase,
  userId: string,
  timeoutMs: number,
  fn: (client: SyncClient) => Promise<T>,
): Promise<T> {
  return db.withClient(async (client) => {
    await acquireUserLock(client, userId, timeoutMs);
    try {
      return await fn(client);
    } finally {
      await releaseUserLock(client, userId);
    }
  });
}

/** Takes the per-user session lock on `client` (a connection the caller keeps until `releaseUserLock`). */
export async function acquireUserLock(client: SyncClient, userId: string, timeoutMs: number): Promise<void> {
  // Uncontended (the common case): one round trip, no lock_timeout juggling.
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [userId]);
  if (rows[0]?.locked) return;
  try {
    await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${timeoutMs}ms`]);
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [userId]);
  } catch (error) {
    if (sqlState(error) === '55P03') {
      throw new OversyncError('service_unavailable', 503, 'another sync operation of this user is still running; retry later');
    }
    throw error;
  } finally {
    await client.query('RESET lock_timeout').catch(() => undefined);
  }
}

/** Releases the per-user session lock; a closed connection has released it already (spec §2.7). */
export async function releaseUserLock(client: SyncClient, userId: string): Promise<void> {
  await client
    .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [userId])
    .catch((error: unknown) => logger.debug(`Skipped releasing user advisory lock: ${(error as Error).message}`));
}
