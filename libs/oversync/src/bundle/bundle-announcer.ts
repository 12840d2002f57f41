import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncClient } from '../database/sync-database.js';
import { encodeGoJson } from '@oversync/protocol';
import type { CommittedBundle } from './bundle-capture.js';

/**
 * NOTIFY of a new bundle inside the committing transaction (spec §4.14 "Emit"): PostgreSQL delivers
 * it only if the transaction commits, to every listening server process.
 */
@Injectable()
export class BundleAnnouncer {
  constructor(@Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig) {}

  async announce(client: SyncClient, userPk: string, bundle: CommittedBundle): Promise<void> {
    if (!this.config.watch.enabled) return;
    const payload = encodeGoJson({
      user_pk: BigInt(userPk),
      bundle_seq: BigInt(bundle.bundleSeq),
      source_id: bundle.sourceId || undefined,
      source_bundle_id: bundle.sourceBundleId !== '0' ? BigInt(bundle.sourceBundleId) : undefined,
    });
    await client.query('SELECT pg_notify($1, $2)', [this.config.watch.notifyChannel, payload]);
  }
}
