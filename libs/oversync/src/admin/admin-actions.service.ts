import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { isCanonicalUuid } from '@oversync/protocol';
import type { SyncClient } from '../database/sync-database.js';
import { userTransaction } from '../database/user-lock.js';
import { OversyncError } from '../errors/oversync.error.js';
import { isPrintableActorId } from '../auth/oversync-actor.guard.js';
import { AdminRuntime } from './admin-runtime.js';

/** The reason stored on a source retired from the console (any non-empty text satisfies the schema). */
export const ADMIN_RETIREMENT_REASON = 'admin_retired';

interface AuditEntry {
  adminId: string;
  action: string;
  userPk?: string;
  userId?: string;
  target?: string;
  detail: Record<string, unknown>;
}

/**
 * Repairs from the admin console. Each runs in one transaction with its audit row (who, when, what),
 * under the user's sync lock when it touches a user's sync state, so it never interleaves with a push.
 */
@Injectable()
export class AdminActionsService {
  constructor(private readonly runtime: AdminRuntime) {}

  /**
   * Retires a source: its next push or commit gets `409 source_retired` naming `replacedBy` (a fresh
   * UUID unless given), and the client rebuilds under that id (spec §4.11 rotation).
   */
  retireSource(
    adminId: string,
    userId: string,
    sourceId: string,
    replacedBy = '',
  ): Promise<{ source_id: string; replaced_by_source_id: string }> {
    const replacement = replacedBy.trim() || randomUUID();
    if (!isPrintableActorId(replacement) || replacement === sourceId) {
      throw new OversyncError(
        'invalid_request',
        'replaced_by_source_id must be printable text of at most 512 characters, other than the source id',
      );
    }
    return this.underUserLock(userId, async (client, userPk) => {
      const { rows } = await client.query<{ source_id: string; state: string }>(
        `SELECT source_id, state FROM sync.source_state WHERE user_pk = $1 AND source_id = ANY($2::text[]) FOR UPDATE`,
        [userPk, [sourceId, replacement]],
      );
      const source = rows.find((row) => row.source_id === sourceId);
      if (!source)
        throw new OversyncError('admin_source_not_found', `source ${sourceId} of user ${userId} is not known`);
      if (source.state === 'retired')
        throw new OversyncError('admin_source_retired', `source ${sourceId} of user ${userId} is already retired`);
      if (rows.some((row) => row.source_id === replacement)) {
        throw new OversyncError(
          'admin_replacement_known',
          `replacement source ${replacement} is already known for user ${userId}`,
        );
      }
      await client.query(
        `UPDATE sync.source_state SET state = 'retired', replaced_by_source_id = $3, retirement_reason = $4
          WHERE user_pk = $1 AND source_id = $2`,
        [userPk, sourceId, replacement, ADMIN_RETIREMENT_REASON],
      );
      await audit(client, {
        adminId,
        action: 'retire_source',
        userPk,
        userId,
        target: sourceId,
        detail: { previous_state: source.state, replaced_by_source_id: replacement },
      });
      return { source_id: sourceId, replaced_by_source_id: replacement };
    });
  }

  /** Makes a push or snapshot session expired now: its next use gets 410, the sweeper removes it. */
  expireSession(
    adminId: string,
    userId: string,
    kind: 'push' | 'snapshot',
    sessionId: string,
  ): Promise<{ expired: string }> {
    const missing = () =>
      new OversyncError(
        `admin_${kind}_session_not_found`,
        `${kind} session ${sessionId} of user ${userId} was not found`,
      );
    if (!isCanonicalUuid(sessionId)) throw missing();
    const [table, idColumn] =
      kind === 'push' ? ['sync.push_sessions', 'push_id'] : ['sync.snapshot_sessions', 'snapshot_id'];
    return this.underUserLock(userId, async (client, userPk) => {
      const { rows } = await client.query<{ id: string }>(
        `UPDATE ${table} SET expires_at = LEAST(expires_at, now()) WHERE user_pk = $1 AND ${idColumn} = $2::uuid
          RETURNING ${idColumn}::text AS id`,
        [userPk, sessionId],
      );
      if (!rows[0]) throw missing();
      await audit(client, {
        adminId,
        action: `expire_${kind}_session`,
        userPk,
        userId,
        target: rows[0].id,
        detail: {},
      });
      return { expired: rows[0].id };
    });
  }

  /**
   * Raises the user's retained floor and prunes the history up to it: devices behind it get
   * `history_pruned` on their next pull and rebuild from a snapshot.
   */
  raiseRetainedFloor(
    adminId: string,
    userId: string,
    floor: bigint,
  ): Promise<{ retained_floor: string; pruned_bundles: number }> {
    return this.underUserLock(userId, async (client, userPk) => {
      const { rows } = await client.query<{ floor: string; latest: string }>(
        `SELECT retained_bundle_floor AS floor, next_bundle_seq - 1 AS latest FROM sync.user_state
          WHERE user_pk = $1 FOR UPDATE`,
        [userPk],
      );
      const current = BigInt(rows[0]!.floor);
      const latest = BigInt(rows[0]!.latest);
      if (floor <= current || floor > latest) {
        throw new OversyncError(
          'admin_floor_invalid',
          `retained floor must be above ${current} and at most the latest bundle_seq ${latest}`,
        );
      }
      await client.query('UPDATE sync.user_state SET retained_bundle_floor = $2 WHERE user_pk = $1', [
        userPk,
        floor.toString(),
      ]);
      const pruned = await client.query('DELETE FROM sync.bundle_log WHERE user_pk = $1 AND bundle_seq <= $2', [
        userPk,
        floor.toString(),
      ]);
      const prunedBundles = pruned.rowCount ?? 0;
      await audit(client, {
        adminId,
        action: 'raise_retained_floor',
        userPk,
        userId,
        target: floor.toString(),
        detail: { from: current.toString(), to: floor.toString(), pruned_bundles: prunedBundles },
      });
      return { retained_floor: floor.toString(), pruned_bundles: prunedBundles };
    });
  }

  /** Runs the session sweeper now (expired push/snapshot sessions, lapsed initialization leases). */
  async sweep(adminId: string) {
    const result = await this.runtime.sweeper.sweep();
    const detail = {
      skipped: result.skipped,
      push_sessions: result.pushSessions,
      snapshot_sessions: result.snapshotSessions,
      initialization_leases: result.initializationLeases,
    };
    await this.runtime.db.transaction((client) => audit(client, { adminId, action: 'run_sweeper', detail }));
    return detail;
  }

  private underUserLock<T>(userId: string, fn: (client: SyncClient, userPk: string) => Promise<T>): Promise<T> {
    return userTransaction(this.runtime.db, userId, this.runtime.config.userLockTimeoutMs, async (client) => {
      const { rows } = await client.query<{ user_pk: string }>(
        'SELECT user_pk FROM sync.user_state WHERE user_id = $1',
        [userId],
      );
      if (!rows[0]) throw new OversyncError('admin_user_not_found', `user ${userId} has no sync state`);
      return fn(client, rows[0].user_pk);
    });
  }
}

async function audit(client: SyncClient, entry: AuditEntry): Promise<void> {
  await client.query(
    `INSERT INTO sync.admin_audit (user_pk, admin_id, action, user_id, target, detail) VALUES ($1, $2, $3, $4, $5,
      $6::json)`,
    [
      entry.userPk ?? '0',
      entry.adminId,
      entry.action,
      entry.userId ?? '',
      entry.target ?? '',
      JSON.stringify(entry.detail),
    ],
  );
}
