import { randomBytes } from 'node:crypto';
import { deleteRow, inTransaction, insertRow, insertUser, newBlobId, newId, updateRow } from '../app-writes.js';
import { canonicalTables } from '../device-tables.js';
import type { Scenario } from '../scenario.js';
import { expectEqual, expectRejection, expectTrue } from '../scenario-checks.js';
import type { ScenarioContext } from '../scenario-context.js';
import type { SimulatedDevice } from '../simulated-device.js';
import {
  pushTransferDiagnostics,
  resetPushTransferDiagnostics,
  resetSnapshotTransferDiagnostics,
  setBeforePushCommitHook,
  setBeforePushReplayHook,
  snapshotTransferDiagnostics,
} from '../../testing.js';

const BATCH_CONFIG = { uploadLimit: 40, downloadLimit: 50, snapshotChunkRows: 25 };

/** Nanosecond RFC 3339, as the reference app writes (spec/client.md §13.3): finer than the server keeps. */
const nanoTimestamp = () => new Date().toISOString().replace('Z', '789Z');

function outbox(device: SimulatedDevice): { state: string; rows: number; dirty: number } {
  const { state } = device.db.prepare('SELECT state FROM _sync_outbox_bundle').get() as { state: string };
  const count = (table: string) => (device.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  return { state, rows: count('_sync_outbox_rows'), dirty: count('_sync_dirty_rows') };
}

/** 5 users × 20 posts (children inserted before parents) and 6 files with 2 reviews each. */
function seedPhone(phone: SimulatedDevice): { users: string[]; posts: Map<string, string[]>; files: Buffer[] } {
  const users = Array.from({ length: 5 }, () => newId());
  const posts = new Map(users.map((user) => [user, Array.from({ length: 20 }, () => newId())]));
  const files = Array.from({ length: 6 }, () => newBlobId());
  inTransaction(phone.db, () => {
    for (const [user, ids] of posts)
      ids.forEach((id, i) =>
        insertRow(phone.db, 'posts', { id, title: `post ${i}`, content: 'x'.repeat(200), author_id: user }),
      );
    users.forEach((id, i) => insertUser(phone.db, `Author ${i}`, id));
    for (const [i, file] of files.entries()) {
      for (let r = 0; r < 2; r++)
        insertRow(phone.db, 'file_reviews', { id: newBlobId(), review: `review ${i}.${r}`, file_id: file });
      insertRow(phone.db, 'files', { id: file, name: `file-${i}.bin`, data: randomBytes(2048) });
    }
  });
  return { users, posts, files };
}

/** spec/client.md §13.2 `complex-multi-batch`: large bundles in many chunks, crash/restart recovery, pruned history. */
export const complexMultiBatch: Scenario = {
  name: 'complex-multi-batch',
  summary:
    'multi-chunk pushes and snapshots, crashes before commit and before replay, then a pruned-history ' +
    'snapshot; all devices equal',
  async run(ctx) {
    const user = ctx.user('owner');
    const phone = await ctx.signedInDevice('phone', user, { client: BATCH_CONFIG, expectedOutcome: 'started_empty' });
    const seed = seedPhone(phone);
    resetPushTransferDiagnostics(phone.client);
    expectEqual((await phone.client.pushPending()).outcome, 'committed', 'phone seed push');
    expectEqual(
      pushTransferDiagnostics(phone.client),
      { sessionsCreated: 1, chunksUploaded: 4, committedBundleChunksRead: 3 },
      'seed: 123 rows up in chunks of 40, back in pages of 50',
    );

    const laptop = await ctx.signedInDevice('laptop', user, {
      client: BATCH_CONFIG,
      expectedOutcome: 'used_remote_state',
    });
    expectEqual(
      snapshotTransferDiagnostics(laptop.client),
      { sessionsCreated: 1, chunksFetched: 5 },
      'laptop hydrates 123 rows in chunks of 25',
    );
    expectEqual(canonicalTables(laptop.db), canonicalTables(phone.db), 'laptop equals phone after hydration');

    const changed = laptopChanges(laptop, seed);
    await crashAndRecover(ctx, laptop, user, changed);
    const laptopSeq = (await laptop.client.pullToStable()).status.lastBundleSeqSeen;
    expectEqual(laptopSeq, 2, 'laptop checkpoint is the stable bundle seq');

    if (ctx.server.features.testEndpoints) {
      await ctx.surface.setRetentionFloor(user, laptopSeq);
      resetSnapshotTransferDiagnostics(phone.client);
      const pulled = await phone.client.pullToStable();
      expectEqual(
        [pulled.outcome, pulled.restore?.bundleSeq],
        ['applied_snapshot', laptopSeq],
        'phone behind the retained floor rebuilds from a snapshot',
      );
      expectTrue(
        snapshotTransferDiagnostics(phone.client).chunksFetched > 1,
        'the rebuild snapshot spans several chunks',
      );
    } else {
      ctx.log('no /test/retention-floor: the phone pulls incrementally instead of meeting pruned history');
      await phone.client.pullToStable();
    }
    expectEqual(canonicalTables(phone.db), canonicalTables(laptop.db), 'phone equals laptop');
    for (const device of [phone, laptop])
      expectEqual(device.db.prepare('PRAGMA foreign_key_check').all(), [], `${device.label} FK integrity`);
  },
};

/**
 * Mixed CRUD on the laptop: new users with posts, edits, a cascade of deletes, new file bytes. Returns the row count.
 */
function laptopChanges(laptop: SimulatedDevice, seed: ReturnType<typeof seedPhone>): number {
  inTransaction(laptop.db, () => {
    for (let u = 0; u < 2; u++) {
      const author = newId();
      for (let p = 0; p < 10; p++)
        insertRow(laptop.db, 'posts', {
          id: newId(),
          title: `laptop post ${u}.${p}`,
          content: 'y',
          author_id: author,
          created_at: nanoTimestamp(),
        });
      insertRow(laptop.db, 'users', {
        id: author,
        name: `Laptop author ${u}`,
        email: `laptop${u}@example.test`,
        created_at: nanoTimestamp(),
        updated_at: nanoTimestamp(),
      });
    }
    for (const post of seed.posts.get(seed.users[0]!)!.slice(0, 10))
      updateRow(laptop.db, 'posts', post, { title: 'edited on the laptop', updated_at: nanoTimestamp() });
    const removed = seed.users[1]!;
    for (const post of seed.posts.get(removed)!) deleteRow(laptop.db, 'posts', post);
    deleteRow(laptop.db, 'users', removed);
    for (const file of seed.files.slice(0, 2)) updateRow(laptop.db, 'files', file, { data: randomBytes(4096) });
  });
  return 22 + 10 + 21 + 2;
}

/** Crash before commit, restart, re-upload; crash before replay, restart, finish via `already_committed`. */
async function crashAndRecover(
  ctx: ScenarioContext,
  laptop: SimulatedDevice,
  user: string,
  rows: number,
): Promise<void> {
  const crash = (point: string) => () => {
    throw new Error(`simulated crash ${point}`);
  };
  const relaunch = async () => {
    await laptop.restart();
    expectEqual((await ctx.attach(laptop, user)).outcome, 'resumed_attached_state', 'relaunch resumes the attachment');
    resetPushTransferDiagnostics(laptop.client);
  };
  setBeforePushCommitHook(laptop.client, crash('before commit'));
  await expectRejection(laptop.client.pushPending(), Error, 'push crashing before commit');
  expectEqual(outbox(laptop), { state: 'prepared', rows, dirty: 0 }, 'frozen outbox after the crash before commit');

  await relaunch();
  setBeforePushReplayHook(laptop.client, crash('before replay'));
  await expectRejection(laptop.client.pushPending(), Error, 'push crashing before replay');
  expectEqual(pushTransferDiagnostics(laptop.client).sessionsCreated, 1, 're-upload uses one new session');
  expectEqual(
    pushTransferDiagnostics(laptop.client).chunksUploaded,
    Math.ceil(rows / 40),
    're-upload starts again from row 0',
  );
  expectEqual(outbox(laptop), { state: 'committed_remote', rows, dirty: 0 }, 'outbox after the crash before replay');

  await relaunch();
  expectEqual((await laptop.client.pushPending()).outcome, 'committed', 'push after the second relaunch');
  const finish = pushTransferDiagnostics(laptop.client);
  expectEqual(
    [finish.chunksUploaded, finish.committedBundleChunksRead],
    [0, Math.ceil(rows / 50)],
    'finished by already_committed and the committed-row fetch',
  );
  expectEqual(outbox(laptop), { state: 'none', rows: 0, dirty: 0 }, 'outbox after recovery');
}
