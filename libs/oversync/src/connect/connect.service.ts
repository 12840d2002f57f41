import { randomUUID } from 'node:crypto';
import type { ConnectResolution, ConnectResponse } from '@oversync/protocol';
import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { prepared, type SyncDatabase } from '../database/sync-database.js';
import { callRequestFunction } from '../database/request-function.js';
import { trimRfc3339 } from '../database/timestamps.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import type { SyncActor } from '../auth/sync-actor.js';

/** `sync.connect` (sync-read-functions.sql.ts) does the whole step under the user lock. */
const CONNECT = prepared('SELECT * FROM sync.connect($1, $2, $3, $4::uuid, $5, $6)');

/** First-authority resolution of a user's scope (spec §4.1): one round trip. */
@Injectable()
export class ConnectService {
  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly lifecycle: SyncLifecycle,
  ) {}

  connect(actor: SyncActor, hasLocalPendingRows: boolean): Promise<ConnectResponse> {
    return this.lifecycle.run(async () => {
      const [row] = await callRequestFunction<{
        resolution: ConnectResolution;
        initialization_id: string | null;
        lease_expires_at: string | null;
        retry_after_seconds: string | null;
        lock_waited: boolean;
      }>(
        this.db,
        CONNECT([
          actor.userId,
          actor.sourceId,
          hasLocalPendingRows,
          randomUUID(),
          this.config.initializationLeaseTtlMs,
          this.config.userLockTimeoutMs,
        ]),
        { lockWaited: 'lock_waited' },
      );
      return {
        resolution: row.resolution,
        initialization_id: row.initialization_id ?? undefined,
        lease_expires_at: row.lease_expires_at === null ? undefined : trimRfc3339(row.lease_expires_at),
        retry_after_seconds: row.retry_after_seconds === null ? undefined : Number(row.retry_after_seconds),
      };
    });
  }
}
