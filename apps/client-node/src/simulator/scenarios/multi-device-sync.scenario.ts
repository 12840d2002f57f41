import { columnValues, deleteRow, insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';

/** spec/client.md §13.2 `multi-device-sync`: two devices of one user exchange a create and a delete. */
export const multiDeviceSync: Scenario = {
  name: 'multi-device-sync',
  summary: "two devices each create a user; one deletes its own; both end with exactly the other's row",
  async run(ctx) {
    const user = ctx.user('owner');
    const first = await ctx.signedInDevice('device-1', user, { expectedOutcome: 'started_empty' });
    const second = await ctx.signedInDevice('device-2', user, { expectedOutcome: 'used_remote_state' });
    for (const device of [first, second]) expectEqual((await device.client.rebuild()).outcome, 'applied_snapshot', `${device.label} rebuild`);

    const fromFirst = insertUser(first.db, 'From device 1');
    const fromSecond = insertUser(second.db, 'From device 2');
    await first.client.pushPending();
    await first.client.pullToStable();
    await second.client.pushPending();
    expectEqual((await second.client.pullToStable()).outcome, 'applied_incremental', "device 2 pulls device 1's row");
    expectEqual(columnValues(second.db, 'users', 'id'), [fromFirst, fromSecond].sort(), 'device 2 holds both rows');

    deleteRow(first.db, 'users', fromFirst);
    expectEqual(columnValues(first.db, 'users', 'id'), [], 'device 1 after deleting its row (device 2 not yet pulled)');
    await first.client.pushPending();
    await first.client.pullToStable();
    expectEqual(columnValues(first.db, 'users', 'id'), [fromSecond], 'device 1 after its pull');
    await second.client.pullToStable();
    expectEqual(columnValues(second.db, 'users', 'id'), [fromSecond], 'device 2 after its pull');
    expectEqual(await second.client.lastBundleSeqSeen(), await first.client.lastBundleSeqSeen(), 'both devices at the same checkpoint');
  },
};
