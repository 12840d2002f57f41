import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG, OVERSYNC_DATABASE } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import type { SyncDatabase } from '../database/sync-database.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import type { SyncActor } from '../auth/sync-actor.js';
import { requireInitializedScope, scopeUninitialized } from '../connect/scope-state.js';
import { readUserState } from '../pull/bundle-reader.js';
import { CapabilitiesService } from '../health/capabilities.service.js';
import { BundleChangeHub, type BundleChangeSubscription } from './bundle-change-hub.js';
import { BundleChangeListener } from './bundle-change-listener.js';

/** `SubscribeBundleChanges` (spec §4.14 "Subscribe"): checks, registration, then a catch-up hint. */
@Injectable()
export class WatchService {
  constructor(
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    @Inject(OVERSYNC_DATABASE) private readonly db: SyncDatabase,
    private readonly lifecycle: SyncLifecycle,
    private readonly capabilities: CapabilitiesService,
    private readonly hub: BundleChangeHub,
    private readonly listener: BundleChangeListener,
  ) {}

  get heartbeatIntervalMs(): number {
    return this.config.watch.heartbeatIntervalMs;
  }

  /**
   * The caller owns the returned subscription and must close it. Registration and the listener's
   * LISTEN come before the latest-sequence read, so a commit in between is either seen by the read or
   * published after it.
   */
  async subscribe(actor: SyncActor, afterBundleSeq: bigint): Promise<BundleChangeSubscription> {
    if (!this.config.watch.enabled) throw OversyncError.generic('bundle_change_watch_disabled');
    if (!this.capabilities.watchAllowed(actor)) throw OversyncError.generic('bundle_change_watch_forbidden');
    if (afterBundleSeq < 0n) throw new OversyncError('invalid_request', 'after_bundle_seq must be >= 0');
    return this.lifecycle.run(async () => {
      // text, whatever int8 parser the host's pg types use
      const userPk = String(
        await this.db.transaction(
          async (client) => {
            await requireInitializedScope(client, actor.userId);
            const user = await readUserState(client, actor.userId);
            if (!user) throw scopeUninitialized(actor.userId);
            return user.userPk;
          },
          { readOnly: true },
        ),
      );
      const subscription = this.hub.subscribe(
        { userPk, userId: actor.userId, sourceId: actor.sourceId },
        afterBundleSeq,
      );
      try {
        await this.listener.listen();
        const rows = await this.db.query<{ latest: string }>(
          'SELECT (next_bundle_seq - 1)::text AS latest FROM sync.user_state WHERE user_pk = $1',
          [userPk],
        );
        const latest = BigInt(rows[0]?.latest ?? '0');
        if (latest > afterBundleSeq) this.hub.publish(userPk, { bundleSeq: latest });
      } catch (error) {
        subscription.close();
        throw error;
      }
      return subscription;
    });
  }

  /** This process's open watch streams of a user (`GET /test/watch-subscribers`, spec §3.14), or of all users. */
  subscriberCount(userId?: string): number {
    return this.hub.subscriberCount(userId);
  }
}
