import { Inject, Injectable } from '@nestjs/common';
import { OVERSYNC_CONFIG } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { encodeBundleChangeNotification } from '@oversync/protocol';
import type { BundleNotification, CommittedBundle, DatabaseNotify } from './bundle-capture.js';
import { BundleChangeHub } from '../watch/bundle-change-hub.js';

/**
 * NOTIFY of a new bundle inside the committing transaction (spec §4.14 "Emit"): PostgreSQL delivers
 * it only if the transaction commits, to every listening server process. Unlike the spec, it is sent only
 * while another server process listens (`sync.notify_bundle`, `sync.watch_listeners`): this process's own
 * streams get a push's bundle in-process (`committed`).
 */
@Injectable()
export class BundleAnnouncer {
  constructor(
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    private readonly hub: BundleChangeHub,
  ) {}

  /**
   * The NOTIFY channel, or null when watch is disabled (`sync.push_commit` sends the payload `notification` encodes).
   */
  get channel(): string | null {
    return this.config.watch.enabled ? this.config.watch.notifyChannel : null;
  }

  /**
   * This process's listener id, for a commit whose bundle `committed` delivers in-process: its NOTIFY is then
   * sent only when another process listens.
   */
  get listenerId(): string {
    return this.hub.listenerId;
  }

  /** The NOTIFY of a bundle built in PostgreSQL that `committed` delivers in-process; null when watch is disabled. */
  get databaseNotify(): DatabaseNotify | null {
    return this.config.watch.enabled ? [this.config.watch.notifyChannel, this.hub.listenerId] : null;
  }

  /**
   * The NOTIFY of `bundle`, or null when watch is disabled; `finalizeCapturedBundle` sends it. `inProcess`: the
   * caller delivers the bundle to this process's streams itself (`committed`), so only other processes need it.
   */
  notification(userPk: string, bundle: CommittedBundle, inProcess = false): BundleNotification | null {
    if (!this.config.watch.enabled) return null;
    const payload = encodeBundleChangeNotification({
      user_pk: BigInt(userPk),
      bundle_seq: BigInt(bundle.bundleSeq),
      source_id: bundle.sourceId,
      source_bundle_id: BigInt(bundle.sourceBundleId),
    });
    return { channel: this.config.watch.notifyChannel, payload, listenerId: inProcess ? this.hub.listenerId : null };
  }

  /**
   * Wakes this process's watch streams of the user as soon as the commit of `bundle` has returned. Its
   * NOTIFY reaches them later (another backend wakes, another socket) and is dropped there as seen
   * (a subscription never goes backwards); other processes still learn of it by the NOTIFY alone.
   */
  committed(userId: string, bundle: CommittedBundle): void {
    if (!this.config.watch.enabled) return;
    this.hub.publishToUser(userId, {
      bundleSeq: BigInt(bundle.bundleSeq),
      sourceId: bundle.sourceId,
      sourceBundleId: BigInt(bundle.sourceBundleId),
    });
  }
}
