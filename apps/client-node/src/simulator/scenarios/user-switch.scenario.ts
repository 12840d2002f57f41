import { AttachBindingConflictError } from '../../errors.js';
import { columnValues, insertUser, rowCount } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual, expectRejection } from '../scenario-checks.js';

/**
 * `user-switch` (a stub in the reference, spec/client.md §13.2 and §5.7): one database, two users
 * in turn. Each user only ever sees their own rows; signing out keeps unsynced data safe.
 */
export const userSwitch: Scenario = {
  name: 'user-switch',
  summary:
    "user A signs out, user B signs in on the same device and sees none of A's rows; A comes back to exactly A's rows",
  async run(ctx) {
    const alice = ctx.user('alice');
    const bob = ctx.user('bob');
    const shared = await ctx.signedInDevice('shared-device', alice, { expectedOutcome: 'started_empty' });
    const aliceRows = [insertUser(shared.db, 'Alice 1'), insertUser(shared.db, 'Alice 2')].sort();
    await expectRejection(shared.client.attach(bob), AttachBindingConflictError, 'attaching B while A is attached');
    expectEqual(
      (await shared.client.detach()).outcome,
      'blocked_unsynced_data',
      'sign-out with unsynced rows is refused',
    );
    const signedOut = await shared.client.syncThenDetach();
    expectEqual([signedOut.isSuccess, signedOut.detach.outcome], [true, 'detached'], 'sync, then sign out');
    ctx.signOut(shared);
    expectEqual(rowCount(shared.db, 'users'), 0, "A's rows are removed from the device on sign-out");

    expectEqual((await ctx.attach(shared, bob)).outcome, 'started_empty', 'B signs in on the shared device');
    expectEqual(rowCount(shared.db, 'users'), 0, "B sees none of A's rows");
    const bobRow = insertUser(shared.db, 'Bob 1');
    expectEqual((await shared.client.sync()).pushOutcome, 'committed', "B's push");
    const bobTablet = await ctx.signedInDevice('bob-tablet', bob, { expectedOutcome: 'used_remote_state' });
    expectEqual(columnValues(bobTablet.db, 'users', 'id'), [bobRow], "B's other device holds only B's row");

    expectEqual((await shared.client.syncThenDetach()).isSuccess, true, 'B signs out');
    const back = await ctx.attach(shared, alice);
    expectEqual([back.outcome, back.restore?.rowCount], ['used_remote_state', 2], 'A signs in again and hydrates');
    expectEqual(columnValues(shared.db, 'users', 'id'), aliceRows, "exactly A's rows are back");
    insertUser(shared.db, 'Alice 3');
    expectEqual((await shared.client.sync()).pushOutcome, 'committed', "A's push after switching back");
  },
};
