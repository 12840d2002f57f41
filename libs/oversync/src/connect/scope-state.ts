import { OversyncError } from '../errors/oversync.error.js';
import { SCOPE_INITIALIZED, SCOPE_INITIALIZING, SCOPE_UNINITIALIZED } from '../database/sql-codes.js';
import { prepared, type SyncClient } from '../database/sync-database.js';
import { rfc3339Sql, trimRfc3339 } from '../database/timestamps.js';

export interface LockedScope {
  userPk: string;
  stateCode: number;
  initializerSourceId: string | null;
  initializationId: string | null;
  /** RFC3339Nano UTC text of the stored lease, or null */
  leaseExpiresAt: string | null;
  /** lease end is in the past by the database clock */
  leaseExpired: boolean;
  secondsUntilLeaseEnd: number;
}

/**
 * The statement that creates the user's user_state and scope_state rows when missing (§4.1 step 1),
 * for the user id `userId` (an SQL expression); also inlined into the connect and push request functions.
 */
export function ensureUserScopeSql(userId: string): string {
  return `WITH u AS (
      INSERT INTO sync.user_state (user_id, next_bundle_seq, retained_bundle_floor) VALUES (${userId}, 1, 0)
      ON CONFLICT (user_id) DO NOTHING RETURNING user_pk)
    INSERT INTO sync.scope_state (user_pk, state_code)
    SELECT user_pk, ${SCOPE_UNINITIALIZED} FROM u
      UNION ALL SELECT user_pk, ${SCOPE_UNINITIALIZED} FROM sync.user_state WHERE user_id = ${userId}
    ON CONFLICT (user_pk) DO NOTHING`;
}

const ENSURE_USER_SCOPE = ensureUserScopeSql('$1');

/** Ensures the user_state and scope_state rows (§4.1 step 1). */
async function ensureUserScope(client: SyncClient, userId: string): Promise<void> {
  await client.query(ENSURE_USER_SCOPE, [userId]);
}

const READ_LOCKED_SCOPE = prepared(
  `SELECT us.user_pk, ss.state_code, ss.initializer_source_id, ss.initialization_id::text AS initialization_id,
          ${rfc3339Sql('ss.lease_expires_at')} AS lease,
          COALESCE(ss.lease_expires_at <= now(), false) AS expired,
          floor(extract(epoch FROM ss.lease_expires_at - now()))::bigint AS seconds_left
     FROM sync.scope_state ss JOIN sync.user_state us ON us.user_pk = ss.user_pk
    WHERE us.user_id = $1
      FOR UPDATE`,
);

/**
 * Locks and reads the scope row, expiring a lapsed initialization lease lazily (§4.1 steps 1–3).
 * The user's rows are created only when the first read finds none: one round trip for a known user.
 * One clock: the database's (spec §8.8).
 */
export async function lockScope(client: SyncClient, userId: string): Promise<LockedScope> {
  let row = await readLockedScope(client, userId);
  if (!row) {
    await ensureUserScope(client, userId);
    row = await readLockedScope(client, userId);
  }
  if (!row) throw scopeUninitialized(userId);
  if (row.state_code === SCOPE_INITIALIZING && row.lease !== null && row.expired) {
    await client.query(
      `UPDATE sync.scope_state SET state_code = ${SCOPE_UNINITIALIZED},
        initializer_source_id = NULL, initialization_id = NULL,
              lease_expires_at = NULL WHERE user_pk = $1`,
      [row.user_pk],
    );
    return {
      userPk: row.user_pk,
      stateCode: SCOPE_UNINITIALIZED,
      initializerSourceId: null,
      initializationId: null,
      leaseExpiresAt: null,
      leaseExpired: false,
      secondsUntilLeaseEnd: 0,
    };
  }
  return {
    userPk: row.user_pk,
    stateCode: row.state_code,
    initializerSourceId: row.initializer_source_id,
    initializationId: row.initialization_id,
    leaseExpiresAt: row.lease === null ? null : trimRfc3339(row.lease),
    leaseExpired: row.expired,
    secondsUntilLeaseEnd: Number(row.seconds_left ?? 0),
  };
}

async function readLockedScope(client: SyncClient, userId: string) {
  const { rows } = await client.query<{
    user_pk: string;
    state_code: number;
    initializer_source_id: string | null;
    initialization_id: string | null;
    lease: string | null;
    expired: boolean;
    seconds_left: string | null;
  }>(READ_LOCKED_SCOPE([userId]));
  return rows[0];
}

export function scopeUninitialized(userId: string): OversyncError {
  return new OversyncError('scope_uninitialized', `sync scope for user ${userId} is not initialized`);
}

export interface InitializedUser {
  userPk: string;
  /** highest committed bundle_seq */
  latest: bigint;
  retainedFloor: bigint;
}

/**
 * Non-locking read check of pull, snapshot create and watch (§4.1 "Scope checks"); returns the
 * user's sequence state read by the same statement.
 */
const READ_INITIALIZED_SCOPE = prepared(
  `SELECT ss.state_code, ${rfc3339Sql('ss.lease_expires_at')} AS lease, COALESCE(ss.lease_expires_at < now(), false)
    AS lapsed,
         us.user_pk, us.next_bundle_seq, us.retained_bundle_floor
    FROM sync.scope_state ss JOIN sync.user_state us ON us.user_pk = ss.user_pk WHERE us.user_id = $1`,
);

export async function requireInitializedScope(client: SyncClient, userId: string): Promise<InitializedUser> {
  const { rows } = await client.query<{
    state_code: number;
    lease: string | null;
    lapsed: boolean;
    user_pk: string;
    next_bundle_seq: string;
    retained_bundle_floor: string;
  }>(READ_INITIALIZED_SCOPE([userId]));
  const row = rows[0];
  if (!row || row.state_code === SCOPE_UNINITIALIZED) throw scopeUninitialized(userId);
  if (row.state_code === SCOPE_INITIALIZING) {
    if (row.lapsed) throw scopeUninitialized(userId);
    const until = row.lease === null ? '' : ` until ${trimRfc3339(row.lease)}`;
    throw new OversyncError('scope_initializing', `sync scope for user ${userId} is initializing${until}`);
  }
  return {
    userPk: row.user_pk,
    latest: BigInt(row.next_bundle_seq) - 1n,
    retainedFloor: BigInt(row.retained_bundle_floor),
  };
}

/**
 * The active-lease check of an initialization push (§4.1): the scope must still be INITIALIZING,
 * owned by `sourceId` with `initializationId`; refreshes the lease to now + TTL.
 */
export async function requireActiveInitializationLease(
  client: SyncClient,
  userId: string,
  sourceId: string,
  initializationId: string,
  leaseTtlMs: number,
): Promise<LockedScope> {
  const scope = await lockScope(client, userId);
  if (scope.stateCode !== SCOPE_INITIALIZING) throw initializationStale('scope is no longer initializing');
  if (scope.leaseExpired) throw new OversyncError('initialization_expired', 'initialization lease has expired');
  if (sourceId === '' || scope.initializerSourceId !== sourceId)
    throw initializationStale('source does not own the active initialization lease');
  if (initializationId === '' || scope.initializationId !== initializationId) {
    throw initializationStale('initialization_id does not match the active initialization lease');
  }
  await client.query(
    `UPDATE sync.scope_state SET lease_expires_at = now() + $2 * interval '1 millisecond' WHERE user_pk = $1`,
    [scope.userPk, leaseTtlMs],
  );
  return scope;
}

export function initializationStale(message: string): OversyncError {
  return new OversyncError('initialization_stale', message);
}

export async function markScopeInitialized(client: SyncClient, userPk: string, sourceId: string): Promise<void> {
  await client.query(
    `UPDATE sync.scope_state SET state_code = ${SCOPE_INITIALIZED},
      initializer_source_id = NULL, initialization_id = NULL,
            lease_expires_at = NULL, initialized_at = now(), initialized_by_source_id = $2 WHERE user_pk = $1`,
    [userPk, sourceId],
  );
}
