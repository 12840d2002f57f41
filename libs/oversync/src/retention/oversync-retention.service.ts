import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { SyncDatabase } from '../database/sync-database.js';

/**
 * The retained history of a user's bundles, for hosts and test harnesses (the reference's test surface, spec §3.14).
 */
@Injectable()
export class OversyncRetentionService {
  constructor(@Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase) {}

  /**
   * Sets the user's retained bundle floor as given, pruning nothing: a pull after a checkpoint below it
   * answers `history_pruned`. False when the user has no sync state; a floor outside 0…latest bundle_seq
   * is refused by the table's check constraint.
   */
  async setRetainedFloor(userId: string, floor: bigint): Promise<boolean> {
    // idempotent, so the database's retry of a connection lost before the answer is safe
    // (convergence fuzz, seed 184570144)
    const { rowCount } = await this.db.withClient((client) =>
      client.query('UPDATE sync.user_state SET retained_bundle_floor = $2 WHERE user_id = $1', [
        userId,
        floor.toString(),
      ]),
    );
    return (rowCount ?? 0) > 0;
  }
}
