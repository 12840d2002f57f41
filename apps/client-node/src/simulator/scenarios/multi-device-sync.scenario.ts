import { columnValues, deleteRow, insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';
import { STANDARD_CONFIG } from '../scenario-context.js';

/** Background loops poll every 100 ms, so explicit calls meet `SyncOperationInProgressError` now and then. */
const SYNCING_CONFIG = { ...STANDARD_CONFIG, backoffMinMs: 100, backoffMaxMs: 400 };

/**
 * spec/client.md §13.2 `multi-device-sync`: two devices of one user exchange a create and a delete
 * while their background sync keeps running (the reference app's SyncManager), so every explicit
 * call goes through the app's retry helper.
 */
export const multiDeviceSync: Scenario = {
  name: 'multi-device-sync',
  summary:
    'two devices with background sync running each create a user; one deletes its own; both end with exactly ' +
    "the other's row",
  async run(ctx) {
    const user = ctx.user('owner');
    const first = await ctx.signedInDevice('device-1', user, {
      client: SYNCING_CONFIG,
      expectedOutcome: 'started_empty',
    });
    const second = await ctx.signedInDevice('device-2', user, {
      client: SYNCING_CONFIG,
      expectedOutcome: 'used_remote_state',
    });
    for (const device of [first, second]) device.client.start();
    for (const device of [first, second]) await ctx.retrying(`${device.label} rebuild`, () => device.client.rebuild());

    const fromFirst = insertUser(first.db, 'From device 1');
    const fromSecond = insertUser(second.db, 'From device 2');
    for (const device of [first, second]) {
      await ctx.retrying(`${device.label} push`, () => device.client.pushPending());
      await ctx.retrying(`${device.label} pull`, () => device.client.pullToStable());
    }
    expectEqual(columnValues(second.db, 'users', 'id'), [fromFirst, fromSecond].sort(), 'device 2 holds both rows');

    deleteRow(first.db, 'users', fromFirst);
    expectEqual(
      columnValues(first.db, 'users', 'id').includes(fromFirst),
      false,
      'device 1 right after deleting its row',
    );
    await ctx.retrying('device-1 push', () => first.client.pushPending());
    await ctx.retrying('device-1 pull', () => first.client.pullToStable());
    expectEqual(columnValues(first.db, 'users', 'id'), [fromSecond], 'device 1 after its pull');
    await ctx.retrying('device-2 pull', () => second.client.pullToStable());
    expectEqual(columnValues(second.db, 'users', 'id'), [fromSecond], 'device 2 after its pull');
    await ctx.stopAll();
    expectEqual(
      await second.client.lastBundleSeqSeen(),
      await first.client.lastBundleSeqSeen(),
      'both devices at the same checkpoint',
    );
  },
};
