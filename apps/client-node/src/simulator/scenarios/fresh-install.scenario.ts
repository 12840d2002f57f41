import { deleteRow, inTransaction, insertRow, insertUser, newId, rowCount, updateRow } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';

/** spec/client.md §13.2 `fresh-install`: data written before the first sign-in seeds the server. */
export const freshInstall: Scenario = {
  name: 'fresh-install',
  summary: 'rows written while signed out are captured and seed the new scope on the first sign-in',
  async run(ctx) {
    const user = ctx.user('owner');
    const phone = await ctx.device('phone');
    const users: string[] = [];
    const posts: string[] = [];
    for (let i = 0; i < 5; i++) {
      inTransaction(phone.db, () => {
        users.push(insertUser(phone.db, `Offline ${i}`));
        posts.push(newId());
        insertRow(phone.db, 'posts', {
          id: posts[i]!,
          title: `post ${i}`,
          content: 'written before sign-in',
          author_id: users[i]!,
        });
      });
    }
    for (const id of users.slice(0, 3)) updateRow(phone.db, 'users', id, { name: `Edited ${id.slice(0, 4)}` });
    inTransaction(phone.db, () => {
      deleteRow(phone.db, 'posts', posts[4]!);
      deleteRow(phone.db, 'users', users[4]!);
    });
    // 5 users + 5 posts captured; the never-synced insert+delete pair is dropped at the freeze.
    expectEqual((await phone.client.pendingSyncStatus()).pendingRowCount, 10, 'anonymous dirty rows');

    const attached = await ctx.attach(phone, user);
    expectEqual(attached.outcome, 'seeded_from_local', 'first sign-in with local rows');
    expectEqual(attached.syncStatus.authority, 'pending_local_seed', 'authority before the seed push');
    const pushed = await phone.client.pushPending();
    expectEqual(pushed.outcome, 'committed', 'seed push');
    expectEqual(pushed.status.pending.pendingRowCount, 0, 'nothing pending after the seed');
    expectEqual(pushed.status.lastBundleSeqSeen, 1, 'the seed is bundle 1');
    expectEqual([rowCount(phone.db, 'users'), rowCount(phone.db, 'posts')], [4, 4], 'local users/posts after the seed');
  },
};
