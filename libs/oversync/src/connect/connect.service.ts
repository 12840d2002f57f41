import { randomUUID } from 'node:crypto';
import { MIN_RETRY_AFTER_SECONDS, type ConnectResponse } from '@oversync/protocol';
import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { rfc3339Sql, trimRfc3339 } from '../database/timestamps.js';
import { userTransaction } from '../database/user-lock.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import type { SyncActor } from '../auth/sync-actor.js';
import { lockScope, markScopeInitialized, SCOPE_INITIALIZED, SCOPE_UNINITIALIZED } from './scope-state.js';
import { readSourceState, sourceRetired } from '../push/source-state.js';

/** First-authority resolution of a user's scope (spec §4.1). */
@Injectable()
export class ConnectService {
  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly lifecycle: SyncLifecycle,
  ) {}

  connect(actor: SyncActor, hasLocalPendingRows: boolean): Promise<ConnectResponse> {
    return this.lifecycle.run(() =>
      userTransaction(this.db, actor.userId, this.config.userLockTimeoutMs, async (client) => {
        const scope = await lockScope(client, actor.userId);
        // A source retired by a rotated rebuild answers as push create does (§8.7): 409 with its replacement.
        const source = await readSourceState(client, scope.userPk, actor.sourceId, false);
        if (source.state === 'retired') throw sourceRetired(actor.sourceId, actor.userId, source.replacedBy);
        if (scope.stateCode === SCOPE_INITIALIZED) return { resolution: 'remote_authoritative' };
        const ownsLease = scope.stateCode !== SCOPE_UNINITIALIZED && scope.initializerSourceId === actor.sourceId;
        if (scope.stateCode !== SCOPE_UNINITIALIZED && !ownsLease) {
          return {
            resolution: 'retry_later',
            lease_expires_at: scope.leaseExpiresAt ?? undefined,
            retry_after_seconds: Math.max(MIN_RETRY_AFTER_SECONDS, scope.secondsUntilLeaseEnd),
          };
        }
        if (!hasLocalPendingRows) {
          await markScopeInitialized(client, scope.userPk, actor.sourceId);
          return { resolution: 'initialize_empty' };
        }
        const initializationId = scope.initializationId ?? randomUUID();
        const { rows } = await client.query<{ lease: string }>(
          `UPDATE sync.scope_state SET state_code = 1, initializer_source_id = $2, initialization_id = $3::uuid,
                  lease_expires_at = now() + $4 * interval '1 millisecond', initialized_at = NULL, initialized_by_source_id = NULL
            WHERE user_pk = $1 RETURNING ${rfc3339Sql('lease_expires_at')} AS lease`,
          [scope.userPk, actor.sourceId, initializationId, this.config.initializationLeaseTtlMs],
        );
        return { resolution: 'initialize_local', initialization_id: initializationId, lease_expires_at: trimRfc3339(rows[0]!.lease) };
      }),
    );
  }
}
