import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { SCOPE_INITIALIZING, SCOPE_UNINITIALIZED } from '../database/sql-codes.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { OversyncTelemetry } from '../observability/oversync-telemetry.js';

export interface SweepResult {
  /** another instance held the sweep lock, nothing was done */
  skipped: boolean;
  pushSessions: number;
  snapshotSessions: number;
  initializationLeases: number;
}

const SWEEP_BATCH = 1000;

/**
 * Removes expired push and snapshot sessions (their rows cascade) and lapsed initialization leases
 * in the background, every `limits.sweepIntervalMs`, instead of inside client requests (spec §4.13,
 * §8.9). Expiry is judged by the database clock only (§8.8). Several server instances may run it:
 * a transaction-level advisory lock lets one sweep at a time and the others skip that round.
 */
@Injectable()
export class OversyncSessionSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Oversync');
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepResult>;

  constructor(
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly telemetry: OversyncTelemetry,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.logger.warn(`session sweep failed: ${(error as Error).message}`));
    }, this.config.sweepIntervalMs);
    // never keeps the process alive on its own
    this.timer.unref();
  }

  /** Stops the timer and lets a running sweep finish while the host's DataSource is still open. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One sweep now (also what the timer runs); a call while one is running joins it. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.sweepAll()
      .then(
        (result) => (this.telemetry.swept(result), result),
        (error: unknown) => (this.telemetry.swept('failed'), Promise.reject(error)),
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async sweepAll(): Promise<SweepResult> {
    const total: SweepResult = { skipped: false, pushSessions: 0, snapshotSessions: 0, initializationLeases: 0 };
    for (;;) {
      const batch = await this.sweepBatch();
      if (!batch) return { ...total, skipped: true };
      total.pushSessions += batch.pushSessions;
      total.snapshotSessions += batch.snapshotSessions;
      total.initializationLeases += batch.initializationLeases;
      if (
        batch.pushSessions < SWEEP_BATCH &&
        batch.snapshotSessions < SWEEP_BATCH &&
        batch.initializationLeases < SWEEP_BATCH
      )
        return total;
    }
  }

  /** One bounded batch per kind in one short transaction; null when another instance is sweeping. */
  private sweepBatch(): Promise<Omit<SweepResult, 'skipped'> | null> {
    return this.db.transaction(async (client) => {
      const { rows: lock } = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_xact_lock(hashtextextended('oversync.session_sweeper', 0)) AS locked`,
      );
      if (!lock[0]?.locked) return null;
      const count = async (sql: string) => (await client.query(sql, [SWEEP_BATCH])).rowCount ?? 0;
      return {
        pushSessions: await count(
          `DELETE FROM sync.push_sessions WHERE push_id IN (
             SELECT push_id FROM sync.push_sessions WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        ),
        snapshotSessions: await count(
          `DELETE FROM sync.snapshot_sessions WHERE snapshot_id IN (
             SELECT snapshot_id FROM sync.snapshot_sessions WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        ),
        // the same reset a locked scope read does lazily (spec §4.1 step 3); a lease extended
        // meanwhile no longer matches
        initializationLeases: await count(
          `UPDATE sync.scope_state SET state_code = ${SCOPE_UNINITIALIZED},
            initializer_source_id = NULL, initialization_id = NULL,
            lease_expires_at = NULL
            WHERE state_code = ${SCOPE_INITIALIZING} AND lease_expires_at <= now() AND user_pk IN (
              SELECT user_pk FROM sync.scope_state WHERE state_code = ${SCOPE_INITIALIZING}
                AND lease_expires_at <= now()
                LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        ),
      };
    });
  }
}
