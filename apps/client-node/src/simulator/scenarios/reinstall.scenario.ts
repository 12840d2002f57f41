import { columnValues, insertUser } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';

/** spec/client.md §13.2 `reinstall`: the app is deleted and installed again; the server's data comes back. */
export const reinstall: Scenario = {
  name: 'reinstall',
  summary: 'after the database is deleted, a new install hydrates exactly the 3 synced users and keeps syncing',
  async run(ctx) {
    const user = ctx.user('owner');
    const before = await ctx.signedInDevice('before-reinstall', user);
    const ids = [
      insertUser(before.db, 'First'),
      insertUser(before.db, 'Second'),
      insertUser(before.db, 'Third'),
    ].sort();
    await before.client.pushPending();
    await before.client.pullToStable();
    await before.destroy();

    const after = await ctx.device('after-reinstall');
    expectEqual(after.client.userId, '', 'a new install starts signed out');
    const attached = await ctx.attach(after, user);
    expectEqual(
      [attached.outcome, attached.restore?.rowCount],
      ['used_remote_state', 3],
      'sign-in hydrates from the server',
    );
    expectEqual((await after.client.rebuild()).outcome, 'applied_snapshot', 'rebuild');
    expectEqual(columnValues(after.db, 'users', 'id'), ids, 'exactly the 3 synced users');

    insertUser(after.db, 'Fourth');
    expectEqual((await after.client.sync()).pushOutcome, 'committed', 'the reinstalled app pushes on its new source');
    expectEqual(columnValues(after.db, 'users', 'id').length, 4, 'users after the first push of the new install');
  },
};
