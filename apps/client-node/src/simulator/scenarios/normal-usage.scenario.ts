import { columnValues, deleteRow, insertUser, updateRow } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';

/** spec/client.md §13.2 `normal-usage`: a signed-in app creates, edits and deletes, then syncs. */
export const normalUsage: Scenario = {
  name: 'normal-usage',
  summary: 'a signed-in device creates 10 users, edits 8, deletes 2; one push leaves exactly 8 on the server',
  async run(ctx) {
    const phone = await ctx.signedInDevice('phone', ctx.user('owner'), { expectedOutcome: 'started_empty' });
    const ids = Array.from({ length: 10 }, (_, i) => insertUser(phone.db, `User ${i}`));
    for (const id of ids.slice(0, 8)) updateRow(phone.db, 'users', id, { name: `Updated ${id}` });
    for (const id of ids.slice(8)) deleteRow(phone.db, 'users', id);
    const pushed = await phone.client.pushPending();
    expectEqual(pushed.outcome, 'committed', 'push');
    expectEqual(pushed.status.lastBundleSeqSeen, 1, 'one bundle for the whole change set');
    expectEqual(
      columnValues(phone.db, 'users', 'name'),
      ids
        .slice(0, 8)
        .map((id) => `Updated ${id}`)
        .sort(),
      'local users after the push',
    );

    // A second session on the same device: edits of synced rows become a second bundle.
    updateRow(phone.db, 'users', ids[0]!, { email: 'changed@example.test' });
    deleteRow(phone.db, 'users', ids[1]!);
    const synced = await phone.client.sync();
    expectEqual(
      [synced.pushOutcome, synced.remoteOutcome, synced.status.lastBundleSeqSeen],
      ['committed', 'already_at_target', 2],
      'second sync',
    );
    expectEqual(columnValues(phone.db, 'users', 'id').length, 7, 'users after the second sync');
  },
};
