import { DirtyStateRejectedError } from '../../errors.js';
import { deleteRow, inTransaction, insertRow, insertUser, newId, rowCount, updateRow } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual, expectRejection, expectTrue } from '../scenario-checks.js';
import type { SimulatedDevice } from '../simulated-device.js';

const FK_TABLES = ['users', 'posts', 'categories', 'teams', 'team_members'] as const;

function counts(device: SimulatedDevice): number[] {
  return FK_TABLES.map((table) => rowCount(device.db, table));
}

/** spec/client.md §13.2 `bundle-fk-atomicity`: FK graphs (self reference, two-table cycle) travel as whole bundles. */
export const bundleFkAtomicity: Scenario = {
  name: 'bundle-fk-atomicity',
  summary:
    'a self-referencing tree and an FK cycle are created and cascade-deleted as single bundles; a dirty ' +
    'device refuses to pull',
  async run(ctx) {
    const user = ctx.user('owner');
    const d1 = await ctx.signedInDevice('device-1', user);
    const d2 = await ctx.signedInDevice('device-2', user);
    const d3 = await ctx.signedInDevice('device-3', user);
    const ids = { user: newId(), post: newId(), root: newId(), child: newId(), team: newId(), member: newId() };
    inTransaction(d1.db, () => {
      // Children first and a cycle (team ↔ captain): valid only because the FKs are deferred.
      insertRow(d1.db, 'posts', {
        id: ids.post,
        title: 'FK post',
        content: 'child before parent',
        author_id: ids.user,
      });
      insertUser(d1.db, 'FK author', ids.user);
      insertRow(d1.db, 'categories', { id: ids.child, name: 'child', parent_id: ids.root });
      insertRow(d1.db, 'categories', { id: ids.root, name: 'root', parent_id: null });
      insertRow(d1.db, 'teams', { id: ids.team, name: 'team', captain_member_id: ids.member });
      insertRow(d1.db, 'team_members', { id: ids.member, name: 'captain', team_id: ids.team });
    });
    expectTrue((await d1.client.pendingSyncStatus()).pendingRowCount >= 6, 'at least 6 rows pending');
    const seeded = await d1.client.pushPending();
    expectEqual(seeded.status.pending.pendingRowCount, 0, 'nothing pending after the seed push');
    expectTrue(seeded.status.lastBundleSeqSeen > 0, 'checkpoint moved');
    for (const device of [d2, d3]) {
      await device.client.rebuild();
      expectEqual(counts(device), [1, 1, 2, 1, 1], `${device.label} seed counts`);
    }

    updateRow(d2.db, 'categories', ids.root, { name: 'root edited on device 2' });
    const checkpoint = await d2.client.lastBundleSeqSeen();
    await expectRejection(d2.client.pullToStable(), DirtyStateRejectedError, 'pull with a dirty row');
    expectEqual(await d2.client.lastBundleSeqSeen(), checkpoint, 'a refused pull leaves the checkpoint');

    inTransaction(d1.db, () => {
      deleteRow(d1.db, 'categories', ids.root);
      deleteRow(d1.db, 'teams', ids.team);
      deleteRow(d1.db, 'posts', ids.post);
      deleteRow(d1.db, 'users', ids.user);
    });
    expectEqual(counts(d1), [0, 0, 0, 0, 0], 'cascades emptied device 1');
    const deleted = await d1.client.pushPending();
    const before = await d3.client.lastBundleSeqSeen();
    const pulled = await d3.client.pullToStable();
    expectEqual(pulled.outcome, 'applied_incremental', 'device 3 pull');
    expectEqual(
      [pulled.status.lastBundleSeqSeen, before + 1],
      [deleted.status.lastBundleSeqSeen, deleted.status.lastBundleSeqSeen],
      'device 3 applied exactly the delete bundle',
    );
    expectEqual(counts(d3), [0, 0, 0, 0, 0], 'device 3 after the delete bundle');

    // Device 2's edit targets a row deleted meanwhile: the default resolver (server wins) drops it.
    expectEqual((await d2.client.sync()).pushOutcome, 'no_change', 'device 2 push of the conflicting edit');
    expectEqual(counts(d2), [0, 0, 0, 0, 0], 'device 2 converged');
    for (const device of [d1, d2, d3])
      expectEqual(device.db.prepare('PRAGMA foreign_key_check').all(), [], `${device.label} FK integrity`);
  },
};
