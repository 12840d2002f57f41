import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { OVERSYNC_CONFIG } from '../oversync.constants.js';
import type { OversyncConfig } from '../oversync.config.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';

/** One wake-up hint (spec §1.8). Catch-up hints carry no source members. */
export interface BundleChange {
  readonly bundleSeq: bigint;
  readonly sourceId?: string;
  readonly sourceBundleId?: bigint;
}

export interface BundleChangeSubscriber {
  /** `sync.user_state.user_pk` as text: the key of NOTIFY payloads */
  readonly userPk: string;
  readonly userId: string;
  readonly sourceId: string;
}

/**
 * A subscriber's one-slot queue (spec §4.14 "Hub"): a newer change replaces a queued one and older
 * or equal sequences are dropped, so a slow reader only ever sees the latest, never going backwards.
 */
export class BundleChangeSubscription {
  private pending: BundleChange | undefined;
  private wake: (() => void) | undefined;
  private closedHandlers: Array<() => void> = [];
  private isClosed = false;

  constructor(
    readonly subscriber: BundleChangeSubscriber,
    private lastSeq: bigint,
    private readonly detach: (subscription: BundleChangeSubscription) => void,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  /** Called by the hub; never blocks. */
  offer(change: BundleChange): void {
    if (this.isClosed || change.bundleSeq <= this.lastSeq) return;
    this.pending = change;
    this.lastSeq = change.bundleSeq;
    this.wake?.();
  }

  /** The queued change, emptying the slot. */
  take(): BundleChange | undefined {
    const change = this.pending;
    this.pending = undefined;
    return change;
  }

  /** `wake` runs whenever a change is queued (at once when one already is). */
  onChange(wake: () => void): void {
    this.wake = wake;
    if (this.pending) wake();
  }

  onClose(handler: () => void): void {
    if (this.isClosed) handler();
    else this.closedHandlers.push(handler);
  }

  /** Unregisters from the hub; idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.pending = undefined;
    this.wake = undefined;
    this.detach(this);
    for (const handler of this.closedHandlers.splice(0)) handler();
  }
}

/**
 * Process-local fan-out of bundle changes by user (spec §4.14), bounded per user and per process
 * (spec §8.17). Closing the service closes every subscription, which ends their streams.
 */
@Injectable()
export class BundleChangeHub implements BeforeApplicationShutdown {
  /**
   * The id this process's listener registers under in `sync.watch_listeners` while it LISTENs; this process's
   * push commits pass it so that their NOTIFY is sent only for other processes (their bundle reaches this
   * hub in-process).
   */
  readonly listenerId = randomUUID();
  private readonly byUserPk = new Map<string, Set<BundleChangeSubscription>>();
  private readonly userPkOf = new Map<string, string>();
  private total = 0;
  private isClosed = false;
  private readonly emptyHandlers: Array<() => void> = [];

  constructor(
    @Inject(OVERSYNC_CONFIG) private readonly config: OversyncConfig,
    lifecycle: SyncLifecycle,
  ) {
    lifecycle.onClose(() => this.closeAll());
  }

  /**
   * Registers a subscriber whose stream starts after `afterBundleSeq`. At the per-user limit the
   * oldest stream of the same source is replaced (a device that reconnected before the server saw
   * its old connection die); otherwise the limit is a 429.
   */
  subscribe(subscriber: BundleChangeSubscriber, afterBundleSeq: bigint): BundleChangeSubscription {
    if (this.isClosed) throw OversyncError.generic('service_unavailable');
    const { maxSubscribersPerUser, maxSubscribersPerProcess } = this.config.watch;
    const existing = this.byUserPk.get(subscriber.userPk);
    if (existing && existing.size >= maxSubscribersPerUser) {
      const stale = [...existing].find((s) => s.subscriber.sourceId === subscriber.sourceId);
      if (!stale) {
        throw new OversyncError(
          'bundle_change_watch_user_limit',
          `Too many bundle change watch streams for this user (limit ${maxSubscribersPerUser})`,
        );
      }
      stale.close();
    } else if (this.total >= maxSubscribersPerProcess) {
      throw new OversyncError(
        'bundle_change_watch_capacity',
        `Bundle change watch is at this server's limit of ${maxSubscribersPerProcess} streams; retry later`,
      );
    }
    const subscription = new BundleChangeSubscription(subscriber, afterBundleSeq, (s) => this.detach(s));
    let set = this.byUserPk.get(subscriber.userPk);
    if (!set) this.byUserPk.set(subscriber.userPk, (set = new Set()));
    set.add(subscription);
    this.userPkOf.set(subscriber.userId, subscriber.userPk);
    this.total++;
    return subscription;
  }

  /** Offers `change` to every local subscriber of the user; non-positive sequences are ignored. */
  publish(userPk: string, change: BundleChange): void {
    if (change.bundleSeq <= 0n) return;
    for (const subscription of this.byUserPk.get(userPk) ?? []) subscription.offer(change);
  }

  /** `publish` to the user of id `userId`, if it has a local subscriber. */
  publishToUser(userId: string, change: BundleChange): void {
    const userPk = this.userPkOf.get(userId);
    if (userPk !== undefined) this.publish(userPk, change);
  }

  /** Users with at least one local subscriber (the listener's catch-up set). */
  userPks(): string[] {
    return [...this.byUserPk.keys()];
  }

  /** This process's open watch streams, of one user (by user id) or of everyone. */
  subscriberCount(userId?: string): number {
    if (userId === undefined) return this.total;
    const userPk = this.userPkOf.get(userId);
    return userPk === undefined ? 0 : (this.byUserPk.get(userPk)?.size ?? 0);
  }

  /** `handler` runs each time the process's last subscription closes. */
  onEmpty(handler: () => void): void {
    this.emptyHandlers.push(handler);
  }

  closeAll(): void {
    this.isClosed = true;
    for (const set of [...this.byUserPk.values()]) for (const subscription of [...set]) subscription.close();
  }

  // Open streams would otherwise hold the HTTP server's close (Nest closes it before onApplicationShutdown).
  beforeApplicationShutdown(): void {
    this.closeAll();
  }

  private detach(subscription: BundleChangeSubscription): void {
    const { userPk, userId } = subscription.subscriber;
    const set = this.byUserPk.get(userPk);
    if (!set?.delete(subscription)) return;
    this.total--;
    if (set.size === 0) {
      this.byUserPk.delete(userPk);
      if (this.userPkOf.get(userId) === userPk) this.userPkOf.delete(userId);
    }
    if (this.total === 0) for (const handler of this.emptyHandlers) handler();
  }
}
