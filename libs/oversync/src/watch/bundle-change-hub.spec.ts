import { describe, expect, it } from '@jest/globals';
import { resolveOversyncConfig } from '../oversync.config.js';
import { OversyncError } from '../errors/oversync.error.js';
import { SyncLifecycle } from '../lifecycle/sync-lifecycle.js';
import { BundleChangeHub, type BundleChangeSubscription } from './bundle-change-hub.js';
import { encodeBundleChangeFrame } from './bundle-change-stream.js';

function hub(watch = {}) {
  const lifecycle = new SyncLifecycle();
  const config = resolveOversyncConfig({ tables: [], watch: { enabled: true, ...watch } });
  return { hub: new BundleChangeHub(config, lifecycle), lifecycle };
}

const alice = (sourceId = 's1') => ({ userPk: '1', userId: 'alice', sourceId });
const bob = { userPk: '2', userId: 'bob', sourceId: 's1' };

function thrown(fn: () => unknown): OversyncError | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof OversyncError) return error;
    throw error;
  }
  return undefined;
}

function received(subscription: BundleChangeSubscription): bigint[] {
  const seqs: bigint[] = [];
  for (let change = subscription.take(); change; change = subscription.take()) seqs.push(change.bundleSeq);
  return seqs;
}

describe('BundleChangeHub (spec §4.14, reference bundle_change_watch_test.go)', () => {
  it('subscribes and unsubscribes, telling the subscription it closed', () => {
    const { hub: h } = hub();
    const s = h.subscribe(alice(), 0n);
    let closed = false;
    s.onClose(() => (closed = true));
    expect(h.subscriberCount('alice')).toBe(1);
    s.close();
    s.close();
    expect([h.subscriberCount('alice'), h.subscriberCount(), closed, h.userPks()]).toEqual([0, 0, true, []]);
  });

  it("fans out by user and isolates other users' changes", () => {
    const { hub: h } = hub();
    const [a1, a2, b1] = [h.subscribe(alice('s1'), 0n), h.subscribe(alice('s2'), 0n), h.subscribe(bob, 0n)];
    h.publish('1', { bundleSeq: 4n, sourceId: 's1', sourceBundleId: 2n });
    expect(a1.take()).toEqual({ bundleSeq: 4n, sourceId: 's1', sourceBundleId: 2n });
    expect(received(a2)).toEqual([4n]);
    expect(received(b1)).toEqual([]);
  });

  it('coalesces a slow subscriber to the latest change and never goes backwards', () => {
    const { hub: h } = hub();
    const s = h.subscribe(alice(), 2n);
    let wakes = 0;
    s.onChange(() => wakes++);
    for (const seq of [1n, 2n, 3n, 4n, 5n, 0n, -1n]) h.publish('1', { bundleSeq: seq });
    expect([received(s), wakes]).toEqual([[5n], 3]);
    h.publish('1', { bundleSeq: 4n });
    expect(received(s)).toEqual([]);
  });

  it('wakes at once a consumer that attaches after a change was queued', () => {
    const { hub: h } = hub();
    const s = h.subscribe(alice(), 0n);
    h.publish('1', { bundleSeq: 1n });
    let woke = false;
    s.onChange(() => (woke = true));
    expect(woke).toBe(true);
  });

  it('bounds streams per user (replacing the oldest of the same source) and per process', () => {
    const { hub: h } = hub({ maxSubscribersPerUser: 2, maxSubscribersPerProcess: 3 });
    const first = h.subscribe(alice('s1'), 0n);
    h.subscribe(alice('s2'), 0n);
    expect(thrown(() => h.subscribe(alice('s3'), 0n))).toMatchObject({
      code: 'bundle_change_watch_user_limit',
      status: 429,
    });
    h.subscribe(alice('s1'), 0n);
    expect([first.closed, h.subscriberCount('alice')]).toEqual([true, 2]);
    h.subscribe(bob, 0n);
    expect(thrown(() => h.subscribe({ userPk: '3', userId: 'carol', sourceId: 's1' }, 0n))).toMatchObject({
      code: 'bundle_change_watch_capacity',
      status: 503,
    });
  });

  it('closes every subscription when the service closes and refuses new ones', async () => {
    const { hub: h, lifecycle } = hub();
    const s = h.subscribe(alice(), 0n);
    await lifecycle.close();
    expect([s.closed, h.subscriberCount()]).toEqual([true, 0]);
    expect(() => h.subscribe(alice(), 0n)).toThrow('Sync service is shutting down');
  });
});

describe('SSE frame', () => {
  it('encodes events like the Go encoder, source members omitted when empty, id last', () => {
    expect(encodeBundleChangeFrame({ bundleSeq: 8n, sourceId: 'dev<&>', sourceBundleId: 3n })).toBe(
      'event: bundle\ndata: {"bundle_seq":8,"source_id":"dev\\u003c\\u0026\\u003e","source_bundle_id":3}\nid: 8\n\n',
    );
    expect(encodeBundleChangeFrame({ bundleSeq: 7n })).toBe('event: bundle\ndata: {"bundle_seq":7}\nid: 7\n\n');
  });
});
