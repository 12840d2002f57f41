import { columnValues, insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';

/** spec/client.md §13.2 `device-replacement`: a new device of the same user takes over and both converge. */
export const deviceReplacement: Scenario = {
  name: 'device-replacement',
  summary: "a new device hydrates the old one's row, adds its own; both end with exactly both rows",
  async run(ctx) {
    const user = ctx.user('owner');
    const oldDevice = await ctx.signedInDevice('old-device', user, { expectedOutcome: 'started_empty' });
    const first = insertUser(oldDevice.db, 'From the old device');
    await oldDevice.client.pushPending();
    await oldDevice.client.pullToStable();

    const newDevice = await ctx.signedInDevice('new-device', user, { expectedOutcome: 'used_remote_state' });
    expectEqual((await newDevice.client.rebuild()).outcome, 'applied_snapshot', 'new device rebuild');
    expectEqual(columnValues(newDevice.db, 'users', 'id'), [first], 'the new device holds the old row');
    expectEqual(
      (await newDevice.client.sourceInfo()).currentSourceId === (await oldDevice.client.sourceInfo()).currentSourceId,
      false,
      'the new device has its own source',
    );
    const second = insertUser(newDevice.db, 'From the new device');
    await newDevice.client.pushPending();
    await newDevice.client.pullToStable();
    await oldDevice.client.pullToStable();
    for (const device of [oldDevice, newDevice])
      expectEqual(columnValues(device.db, 'users', 'id'), [first, second].sort(), `${device.label} users`);
  },
};
