import { TX_RETRY_BASE_DELAY_MS } from '@oversync/protocol';
import { channel } from 'node:diagnostics_channel';
import { OversyncError } from '../errors/oversync.error.js';
import {
  runInTransaction,
  runRetryable,
  sqlState,
  type SyncClient,
  type SyncDatabase,
  type TransactionOptions,
} from './sync-database.js';
import { quoteLiteral } from './sql-quote.js';

/**
 * The per-user lock `hashtextextended(user_id, 0)` of spec §2.7, taken transaction-scoped: the try
 * rides in BEGIN's round trip and COMMIT/ROLLBACK releases it, so a request spends two round trips
 * fewer than with the reference's session lock and unlock, and a failed unlock can never leave the
 * lock held on a pooled connection. It still conflicts with session locks on the same key. Only for
 * READ COMMITTED transactions: every later statement takes a snapshot after the lock was granted.
 */
export function userLockSql(userId: string): string {
  return `SELECT pg_try_advisory_xact_lock(hashtextextended(${quoteLiteral(userId)}, 0)) AS locked`;
}

/**
 * Diagnostics channel of user lock waits (`OversyncTelemetry` counts them; nothing is published without a subscriber).
 */
export const USER_LOCK_CHANNEL = 'oversync:user-lock';
export interface UserLockEvent {
  outcome: 'waited' | 'timed_out';
}
const userLockEvents = channel(USER_LOCK_CHANNEL);

/** Reports a wait (or its timeout) of a lock taken inside a request function (`sync.lock_user`). */
export function reportUserLockWait(outcome: UserLockEvent['outcome']): void {
  if (userLockEvents.hasSubscribers) userLockEvents.publish({ outcome } satisfies UserLockEvent);
}

/**
 * Waits for the user lock when the try in `userLockSql` failed, bounded by `timeoutMs`: the caller
 * gets a retryable 503 instead of queueing forever (§8.15).
 */
export async function waitForUserLock(client: SyncClient, userId: string, timeoutMs: number): Promise<void> {
  if (userLockEvents.hasSubscribers) userLockEvents.publish({ outcome: 'waited' } satisfies UserLockEvent);
  try {
    await client.query(`SET LOCAL lock_timeout = '${Math.max(1, Math.floor(timeoutMs))}ms'`);
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [userId]);
    await client.query('SET LOCAL lock_timeout TO DEFAULT');
  } catch (error) {
    if (sqlState(error) === '55P03') {
      if (userLockEvents.hasSubscribers) userLockEvents.publish({ outcome: 'timed_out' } satisfies UserLockEvent);
      throw new OversyncError(
        'service_unavailable',
        'another sync operation of this user is still running; retry later',
      );
    }
    throw error;
  }
}

export interface UserTransactionOptions extends Omit<
  TransactionOptions,
  'isolation' | 'readOnly' | 'beginWith' | 'afterBegin'
> {
  /** runs of the whole transaction on SQLSTATE 40001/40P01/55P03 (default 1: no retry) */
  attempts?: number;
}

/**
 * Runs `fn` in one READ COMMITTED transaction holding the user's lock, on a pooled connection
 * (connection loss before COMMIT is retried by `SyncDatabase.withClient`).
 */
export function userTransaction<T>(
  db: SyncDatabase,
  userId: string,
  timeoutMs: number,
  fn: (client: SyncClient) => Promise<T>,
  options: UserTransactionOptions = {},
): Promise<T> {
  const { attempts = 1, ...transaction } = options;
  return db.withClient((client) =>
    runRetryable(attempts, TX_RETRY_BASE_DELAY_MS, () =>
      runInTransaction(client, fn, {
        ...transaction,
        beginWith: userLockSql(userId),
        afterBegin: async (row) => {
          if (row?.locked !== true) await waitForUserLock(client, userId, timeoutMs);
        },
      }),
    ),
  );
}
