import { randomBytes } from 'node:crypto';
import { deleteRow, inTransaction, insertRow, newBlobId, rowCount, updateRow } from '../app-writes.js';
import type { Scenario } from '../scenario.js';
import { expectEqual } from '../scenario-checks.js';

/** spec/client.md §13.2 `files-sync`: BLOB keys and binary payloads, and a cascade delete of a file's reviews. */
export const filesSync: Scenario = {
  name: 'files-sync',
  summary:
    'files with UUID BLOB keys and binary data sync byte for byte; deleting a file cascades to its reviews everywhere',
  async run(ctx) {
    const user = ctx.user('owner');
    const phone = await ctx.signedInDevice('phone', user);
    const files = Array.from({ length: 4 }, () => newBlobId());
    inTransaction(phone.db, () => {
      files.forEach((id, i) =>
        insertRow(phone.db, 'files', {
          id,
          name: `photo-${i}.jpg`,
          data: Buffer.concat([Buffer.from([0, 255, 0x80, i]), randomBytes(1000 + i)]),
        }),
      );
      for (let r = 0; r < 6; r++)
        insertRow(phone.db, 'file_reviews', {
          id: newBlobId(),
          review: `review ${r}`,
          file_id: files[r % files.length]!,
        });
    });
    await phone.client.pushPending();
    deleteRow(phone.db, 'files', files[0]!);
    expectEqual(
      [rowCount(phone.db, 'files'), rowCount(phone.db, 'file_reviews')],
      [3, 4],
      'local cascade removed the 2 reviews of file 0',
    );
    expectEqual((await phone.client.pushPending()).outcome, 'committed', 'push of the cascaded delete');

    const tablet = await ctx.signedInDevice('tablet', user, { expectedOutcome: 'used_remote_state' });
    expectEqual(
      [rowCount(tablet.db, 'files'), rowCount(tablet.db, 'file_reviews')],
      [3, 4],
      'tablet hydrated 3 files and 4 reviews',
    );
    const fileBytes = (device: typeof phone, id: Buffer) =>
      (device.db.prepare('SELECT data FROM files WHERE id = ?').get(id) as { data: Buffer }).data;
    expectEqual(fileBytes(tablet, files[1]!), fileBytes(phone, files[1]!), 'binary data byte for byte');

    const edited = randomBytes(4096);
    updateRow(tablet.db, 'files', files[2]!, { data: edited, name: 'edited on the tablet' });
    await tablet.client.sync();
    await phone.client.pullToStable();
    expectEqual(fileBytes(phone, files[2]!), edited, 'an edit of the bytes reaches the phone');
    for (const device of [phone, tablet]) {
      const orphans = device.db
        .prepare('SELECT COUNT(*) AS n FROM file_reviews WHERE file_id NOT IN (SELECT id FROM files)')
        .get() as { n: number };
      expectEqual(orphans.n, 0, `${device.label} has no orphaned reviews`);
    }
  },
};
