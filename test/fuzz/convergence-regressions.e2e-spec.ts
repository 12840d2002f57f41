/**
 * Regressions found by the convergence fuzz (test/fuzz/convergence.e2e-spec.ts), one test per bug,
 * named after the seed that found it. Each reproduces the minimal replay directly against the
 * client and the reference app.
 */
import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { FetchLike } from '@oversync/client-node';
import { OVERSYNC_DATABASE } from '../../libs/oversync/src/oversync.constants.js';
import type { SyncDatabase } from '../../libs/oversync/src/database/sync-database.js';
import { attachedDevice, newDevice, serverRows, setRetentionFloor, useTestServer } from '../client/client-devices.js';
import { setBeforePushReplayHook } from '@oversync/client-node/testing';

/** A fetch whose network can be switched off. */
function switchableNetwork(): { fetch: FetchLike; online: boolean } {
  const net = {
    online: true,
    fetch: (async (input, init) => {
      if (!net.online) throw Object.assign(new Error('connect ECONNREFUSED (offline)'), { code: 'ECONNREFUSED' });
      return fetch(input, init);
    }) as FetchLike,
  };
  return net;
}

/** A fetch that loses the answer of the next commit once `dropNext` is set (the server did commit). */
function commitAnswerDropper(): { fetch: FetchLike; dropNext: boolean } {
  const dropper = {
    dropNext: false,
    fetch: (async (input, init) => {
      const response = await fetch(input, init);
      if (dropper.dropNext && input.endsWith('/commit')) {
        dropper.dropNext = false;
        throw new Error('fuzz: commit answer dropped');
      }
      return response;
    }) as FetchLike,
  };
  return dropper;
}

describe('convergence fuzz regressions', () => {
  const server = useTestServer();

  /**
   * A new device seeds the scope from a local row; the seeding push commits but its answer is lost,
   * so the client still holds the initialization id (seeds 10, 208703004, 619817013).
   */
  async function seedWithLostCommitAnswer(user: string) {
    const dropper = commitAnswerDropper();
    const device = await newDevice(server.t, user, { fetch: dropper.fetch });
    const insert = device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)');
    insert.run(randomUUID(), 'offline seed', 's@x.test');
    expect((await device.client.attach(user)).outcome).toBe('seeded_from_local');
    dropper.dropNext = true;
    await expect(device.client.pushPending()).rejects.toThrow(/commit answer dropped/);
    return { device, insert };
  }

  /** Raises the user's retention floor to `floor` and drops the bundles at or below it from the history. */
  async function pruneHistory(user: string, floor: number): Promise<void> {
    await setRetentionFloor(server.t, user, floor);
    await server.pg.query(
      'DELETE FROM sync.bundle_log bl USING sync.user_state us WHERE us.user_pk = bl.user_pk AND us.user_id = ' +
        '$1 AND bl.bundle_seq <= $2',
      [user, floor],
    );
  }

  it('seed 1a: a keep-source rebuild() that fails offline leaves no gate, so later writes still sync', async () => {
    const net = switchableNetwork();
    const user = 'fuzz-seed-1';
    const device = await attachedDevice(server.t, user, { fetch: net.fetch });
    const insert = device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)');
    insert.run(randomUUID(), 'before', 'b@x.test');
    expect((await device.client.sync()).pushOutcome).toBe('committed');

    net.online = false;
    await expect(device.client.rebuild()).rejects.toThrow(/ECONNREFUSED/);
    expect((await device.client.sourceInfo()).rebuildRequired).toBe(false);

    // The app keeps writing; before the fix push refused (RebuildRequiredError) and rebuild()
    // refused the dirty rows (DirtyStateRejectedError): nothing could ever sync again.
    insert.run(randomUUID(), 'after', 'a@x.test');
    net.online = true;
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    expect((await device.client.rebuild()).outcome).toBe('applied_snapshot');
    const local = device.db.prepare('SELECT id, name, email FROM users ORDER BY id').all();
    expect(await serverRows(server.pg, user, 'users', 'id::text AS id, name, email')).toEqual(local);
    expect(local).toHaveLength(2);
    await device.close();
  });

  it('seed 10: a seeding push whose commit answer was lost completes on the next push (already_committed)', async () => {
    const user = 'fuzz-seed-10';
    const { device } = await seedWithLostCommitAnswer(user);
    // The server committed the seed (the scope is initialized now); the client still holds the
    // initialization id. Before the fix every retry got 400 "initialization_id must be absent".
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect((await device.client.syncStatus()).authority).toBe('authoritative_materialized');
    const local = device.db.prepare('SELECT id, name, email FROM users ORDER BY id').all();
    expect(await serverRows(server.pg, user, 'users', 'id::text AS id, name, email')).toEqual(local);
    await device.close();
  });

  it('seed 208703004: a seeding push whose answer was lost and whose bundle was then pruned recovers instead of a 400 forever', async () => {
    const user = 'fuzz-seed-208703004';
    const { device } = await seedWithLostCommitAnswer(user);
    // the committed seed leaves the retained history before the device retries
    await pruneHistory(user, 1);
    // Before the fix every retry of the create, still carrying the initialization id, got 400
    // "initialization_id must be absent once the scope is initialized"; now it is the history_pruned of
    // any pruned tuple, from which the client recovers.
    await device.client.sync();
    await device.client.sync();
    expect((await device.client.syncStatus()).authority).toBe('authoritative_materialized');
    const local = device.db.prepare('SELECT id, name, email FROM users ORDER BY id').all();
    expect(local).toHaveLength(1);
    expect(await serverRows(server.pg, user, 'users', 'id::text AS id, name, email')).toEqual(local);
    await device.close();
  });

  it('seed 619817013: a pruned seeding push with writes queued after it ends the initialization, so those writes sync', async () => {
    const user = 'fuzz-seed-619817013';
    const { device, insert } = await seedWithLostCommitAnswer(user);
    // written after the seeding push committed (answer lost), before its bundle leaves the history
    insert.run(randomUUID(), 'after the seed', 'a@x.test');
    await pruneHistory(user, 1);
    // The create's history_pruned proves the seed committed; before the fix the client settled the outbox
    // but kept the pending initialization id, so the push of the queued write carried it and got 400
    // "initialization_id must be absent once the scope is initialized" on every retry.
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect((await device.client.pendingSyncStatus()).pendingRowCount).toBe(1);
    await device.client.sync();
    await device.client.sync();
    expect((await device.client.pendingSyncStatus()).pendingRowCount).toBe(0);
    expect((await device.client.syncStatus()).authority).toBe('authoritative_materialized');
    const local = device.db.prepare('SELECT id, name, email FROM users ORDER BY id').all();
    expect(local).toHaveLength(2);
    expect(await serverRows(server.pg, user, 'users', 'id::text AS id, name, email')).toEqual(local);
    await device.close();
  });

  it('seed 6: writes made after a committed-but-unreplayed push survive the replay-pruned snapshot fallback', async () => {
    const user = 'fuzz-seed-6';
    const conflicts: string[] = [];
    const device = await attachedDevice(server.t, user, {
      resolver: { resolve: (c) => (conflicts.push(`${c.table}/${JSON.stringify(c.key)}`), { kind: 'accept_server' }) },
    });
    const a = randomUUID();
    const b = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(a, 'a v1', 'a@x.test');
    setBeforePushReplayHook(device.client, () => {
      throw new Error('killed before replay');
    });
    await expect(device.client.pushPending()).rejects.toThrow(/killed before replay/);

    // Written after the push committed; its bundle is then pruned from the server's history.
    device.db.prepare("UPDATE users SET name = 'a v2' WHERE id = ?").run(a);
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(b, 'b', 'b@x.test');
    await pruneHistory(user, 1);

    // Before the fix this was 'committed' with both later writes silently discarded by the snapshot.
    expect((await device.client.pushPending()).outcome).toBe('committed');
    const local = () => device.db.prepare('SELECT id, name, email FROM users ORDER BY id').all();
    expect(local()).toEqual(
      [
        ...[
          { id: a, name: 'a v2', email: 'a@x.test' },
          { id: b, name: 'b', email: 'b@x.test' },
        ],
      ].sort((x, y) => (x.id < y.id ? -1 : 1)),
    );
    expect((await device.client.pendingSyncStatus()).pendingRowCount).toBe(2);
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    expect(conflicts).toEqual([]);
    expect(await serverRows(server.pg, user, 'users', 'id::text AS id, name, email')).toEqual(local());
    await device.close();
  });

  it('seed 20: a server-wins conflict on a row the server deleted with its children does not dead-end on local FKs', async () => {
    const user = 'fuzz-seed-20';
    const owner = await attachedDevice(server.t, user);
    const author = randomUUID();
    const post = randomUUID();
    owner.db.exec('BEGIN');
    owner.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(author, 'author', 'a@x.test');
    owner.db
      .prepare('INSERT INTO posts(id, title, content, author_id) VALUES (?, ?, ?, ?)')
      .run(post, 'post', 'body', author);
    owner.db.exec('COMMIT');
    expect((await owner.client.sync()).pushOutcome).toBe('committed');
    const other = await attachedDevice(server.t, user);
    expect(other.db.prepare('SELECT COUNT(*) AS n FROM posts').get()).toEqual({ n: 1 });

    // The other device renames the author; the owner deletes the post and the author meanwhile.
    other.db.prepare("UPDATE users SET name = 'renamed' WHERE id = ?").run(author);
    owner.db.exec('BEGIN');
    owner.db.prepare('DELETE FROM posts WHERE id = ?').run(post);
    owner.db.prepare('DELETE FROM users WHERE id = ?').run(author);
    owner.db.exec('COMMIT');
    expect((await owner.client.sync()).pushOutcome).toBe('committed');

    // Server wins: the author is gone. Deleting it locally before the post (whose deletion arrives
    // with the pull) failed the resolution with "FOREIGN KEY constraint failed", on every sync.
    const report = await other.client.sync();
    expect(report.remoteOutcome).toBe('applied_incremental');
    expect(
      other.db.prepare('SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM posts) AS posts').get(),
    ).toEqual({ users: 0, posts: 0 });
    expect((await other.client.pendingSyncStatus()).pendingRowCount).toBe(0);
    await owner.close();
    await other.close();
  });

  it('seed 1b: a commit whose answer was lost and whose bundle was then pruned is not pushed again under a new source', async () => {
    const dropper = commitAnswerDropper();
    const user = 'fuzz-seed-1-pruned';
    const device = await attachedDevice(server.t, user, { fetch: dropper.fetch });
    const a = randomUUID();
    const b = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(a, 'a', 'a@x.test');
    dropper.dropNext = true;
    await expect(device.client.pushPending()).rejects.toThrow(/commit answer dropped/);
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(b, 'b', 'b@x.test');
    await pruneHistory(user, 1);

    // Before the fix: source recovery (history_pruned with a prepared outbox), and Rebuild()
    // refused the dirty row forever; without it the rotated rebuild re-pushed the committed tuple.
    expect((await device.client.pushPending()).outcome).toBe('committed');
    expect((await device.client.sourceInfo()).sourceRecoveryRequired).toBe(false);
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    const local = device.db.prepare('SELECT id, name, email FROM users ORDER BY id').all();
    expect(local).toHaveLength(2);
    expect(await serverRows(server.pg, user, 'users', 'id::text AS id, name, email')).toEqual(local);
    const bundles = await server.pg.query(
      'SELECT bl.source_id, bl.source_bundle_id FROM sync.bundle_log bl JOIN sync.user_state us ON us.user_pk ' +
        '= bl.user_pk WHERE us.user_id = $1 ORDER BY bl.bundle_seq',
      [user],
    );
    const sourceId = (await device.client.sourceInfo()).currentSourceId;
    expect(bundles.rows).toEqual([{ source_id: sourceId, source_bundle_id: '2' }]);
    await device.close();
  });

  it('seed 29: a device whose checkpoint equals the retained floor pulls normally instead of re-downloading a snapshot forever', async () => {
    const user = 'fuzz-seed-29';
    const writer = await attachedDevice(server.t, user);
    for (let i = 0; i < 3; i++) {
      writer.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), `u${i}`, 'u@x.test');
      expect((await writer.client.sync()).pushOutcome).toBe('committed');
    }
    // Everything pruned up to the latest bundle (the floor may equal the latest bundle_seq).
    await pruneHistory(user, 3);

    // Before the fix: after_bundle_seq = floor → 409 history_pruned → a snapshot (at the floor), every sync.
    expect(await writer.client.lastBundleSeqSeen()).toBe(3);
    expect((await writer.client.sync()).remoteOutcome).toBe('already_at_target');
    expect((await writer.client.sync()).remoteOutcome).toBe('already_at_target');
    writer.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'u3', 'u@x.test');
    expect(await writer.client.sync()).toMatchObject({ pushOutcome: 'committed', remoteOutcome: 'already_at_target' });
    const reader = await attachedDevice(server.t, user);
    await setRetentionFloor(server.t, user, 4);
    writer.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'u4', 'u@x.test');
    expect((await writer.client.sync()).pushOutcome).toBe('committed');
    expect((await reader.client.sync()).remoteOutcome).toBe('applied_incremental');
    expect(reader.db.prepare('SELECT COUNT(*) AS n FROM users').get()).toEqual({ n: 5 });
    await writer.close();
    await reader.close();
  });

  it('seed 57: queued writes that conflict with the pruned server state do not break the replay-pruned recovery', async () => {
    const user = 'fuzz-seed-57';
    const owner = await attachedDevice(server.t, user);
    const [u1, u2, post] = [randomUUID(), randomUUID(), randomUUID()];
    owner.db.exec('BEGIN');
    owner.db
      .prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?), (?, ?, ?)')
      .run(u1, 'u1', 'e', u2, 'u2', 'e');
    owner.db
      .prepare('INSERT INTO posts(id, title, content, author_id) VALUES (?, ?, ?, ?)')
      .run(post, 'post', 'body', u1);
    owner.db.exec('COMMIT');
    expect((await owner.client.sync()).pushOutcome).toBe('committed');
    const other = await attachedDevice(server.t, user);

    // The other device's push commits but is killed before its replay; then it edits the post.
    other.db.prepare('INSERT INTO typed_rows(id, name, enabled_flag) VALUES (?, ?, 1)').run(randomUUID(), 'typed');
    setBeforePushReplayHook(other.client, () => {
      throw new Error('killed before replay');
    });
    await expect(other.client.pushPending()).rejects.toThrow(/killed before replay/);
    other.db.prepare("UPDATE posts SET title = 'edited elsewhere' WHERE id = ?").run(post);
    // Meanwhile the owner moves the post to u2 and deletes u1; all history is pruned.
    owner.db.exec('BEGIN');
    owner.db.prepare('UPDATE posts SET author_id = ? WHERE id = ?').run(u2, post);
    owner.db.prepare('DELETE FROM users WHERE id = ?').run(u1);
    owner.db.exec('COMMIT');
    expect((await owner.client.sync()).pushOutcome).toBe('committed');
    await pruneHistory(user, 3);

    // Before the fix the snapshot fallback re-applied the edited post (author u1, deleted on the
    // server) on top of the snapshot: "FOREIGN KEY constraint failed", on every push.
    expect((await other.client.pushPending()).outcome).toBe('committed');
    // The queued edit conflicts (the server moved on); server wins, resolved without touching FKs.
    expect((await other.client.pushPending()).outcome).toBe('no_change');
    expect((await other.client.sync()).remoteOutcome).toBe('applied_snapshot');
    const dump = (db: typeof owner.db) =>
      db.prepare('SELECT id, title, author_id FROM posts UNION ALL SELECT id, name, NULL FROM users ORDER BY 1').all();
    await owner.client.sync();
    expect(dump(other.db)).toEqual(dump(owner.db));
    expect(await serverRows(server.pg, user, 'posts', 'id::text AS id, title, author_id::text AS author_id')).toEqual([
      { id: post, title: 'post', author_id: u2 },
    ]);
    await owner.close();
    await other.close();
  });

  it('seed 1c: deleting a row whose insert was committed with a lost answer (then pruned) still deletes it on the server', async () => {
    const dropper = commitAnswerDropper();
    const user = 'fuzz-seed-1c';
    const device = await attachedDevice(server.t, user, {
      fetch: dropper.fetch,
      resolver: { resolve: (c) => ({ kind: c.localOp === 'DELETE' ? 'keep_local' : 'accept_server' }) },
    });
    const a = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(a, 'a', 'a@x.test');
    dropper.dropNext = true;
    await expect(device.client.pushPending()).rejects.toThrow(/commit answer dropped/);
    device.db.prepare('DELETE FROM users WHERE id = ?').run(a);
    await pruneHistory(user, 1);

    expect((await device.client.pushPending()).outcome).toBe('committed');
    // Before the fix the queued DELETE was frozen as a no-op (no row state for the key): the row
    // stayed on the server and came back with the next snapshot.
    await device.client.pushPending();
    await device.client.sync();
    expect(device.db.prepare('SELECT COUNT(*) AS n FROM users').get()).toEqual({ n: 0 });
    expect(await serverRows(server.pg, user, 'users', 'id::text AS id')).toEqual([]);
    await device.close();
  });

  it('seed 1000168: a seed that turns out empty (rows inserted and deleted offline) finishes the initialization', async () => {
    const user = 'fuzz-seed-1000168';
    const device = await newDevice(server.t, user);
    const id = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, 'gone', 'g@x.test');
    device.db.prepare('DELETE FROM users WHERE id = ?').run(id);
    expect((await device.client.attach(user)).outcome).toBe('seeded_from_local');

    // Nothing to push: before the fix the lease stayed open for its whole TTL — pulls answered
    // 409 scope_initializing and every other device of the user got retry_later.
    expect(await device.client.sync()).toMatchObject({ pushOutcome: 'no_change', remoteOutcome: 'already_at_target' });
    expect((await device.client.syncStatus()).authority).not.toBe('pending_local_seed');
    const other = await attachedDevice(server.t, user);
    expect((await other.client.syncStatus()).authority).toBe('authoritative_empty');
    other.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'later', 'l@x.test');
    expect((await other.client.sync()).pushOutcome).toBe('committed');
    expect((await device.client.sync()).remoteOutcome).toBe('applied_incremental');
    await device.close();
    await other.close();
  });

  it('seed 1000016: keep-local on a conflicting frozen row does not overwrite a newer local write of the same row', async () => {
    const user = 'fuzz-seed-1000016';
    const net = switchableNetwork();
    const seen: string[] = [];
    const owner = await attachedDevice(server.t, user, {
      fetch: net.fetch,
      resolver: {
        resolve: (c) => (seen.push(String((c.localPayload as { name?: string } | null)?.name)), { kind: 'keep_local' }),
      },
    });
    const id = randomUUID();
    owner.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, 'v1', 'e');
    expect((await owner.client.sync()).pushOutcome).toBe('committed');
    const other = await attachedDevice(server.t, user);

    owner.db.prepare("UPDATE users SET name = 'frozen' WHERE id = ?").run(id);
    net.online = false;
    await expect(owner.client.pushPending()).rejects.toThrow(/ECONNREFUSED/); // frozen, not sent
    owner.db.prepare("UPDATE users SET name = 'newer' WHERE id = ?").run(id);
    other.db.prepare("UPDATE users SET name = 'other' WHERE id = ?").run(id);
    expect((await other.client.sync()).pushOutcome).toBe('committed');

    net.online = true;
    await owner.client.pushPending();
    // Before the fix the frozen payload was kept and requeued over the newer write: 'frozen' won.
    expect(owner.db.prepare('SELECT name FROM users WHERE id = ?').get(id)).toEqual({ name: 'newer' });
    expect(await serverRows(server.pg, user, 'users', 'name')).toEqual([{ name: 'newer' }]);
    expect(seen).toEqual(['newer']);
    await owner.close();
    await other.close();
  });

  it('seed 1000025: a server-wins tombstone is not applied ahead of earlier bundles that still reference the row', async () => {
    const user = 'fuzz-seed-1000025';
    const owner = await attachedDevice(server.t, user);
    const author = randomUUID();
    owner.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(author, 'author', 'e');
    expect((await owner.client.sync()).pushOutcome).toBe('committed');
    const other = await attachedDevice(server.t, user);
    // bundle 2 references the author; bundle 3 deletes both; the other device has pulled neither
    const post = randomUUID();
    owner.db
      .prepare('INSERT INTO posts(id, title, content, author_id) VALUES (?, ?, ?, ?)')
      .run(post, 'p', 'c', author);
    expect((await owner.client.sync()).pushOutcome).toBe('committed');
    owner.db.exec('BEGIN');
    owner.db.prepare('DELETE FROM posts WHERE id = ?').run(post);
    owner.db.prepare('DELETE FROM users WHERE id = ?').run(author);
    owner.db.exec('COMMIT');
    expect((await owner.client.sync()).pushOutcome).toBe('committed');

    other.db.prepare("UPDATE users SET name = 'renamed' WHERE id = ?").run(author);
    // Server wins. Before the fix the author was deleted at once (version 3), and pulling bundle 2
    // (a post referencing it) then failed "FOREIGN KEY constraint failed" on every sync.
    expect(await other.client.sync()).toMatchObject({ pushOutcome: 'no_change', remoteOutcome: 'applied_incremental' });
    expect(
      other.db.prepare('SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM posts) AS posts').get(),
    ).toEqual({ users: 0, posts: 0 });
    expect(await other.client.lastBundleSeqSeen()).toBe(3);
    await owner.close();
    await other.close();
  });

  it('seed 1000155: resolving one conflict does not requeue the other frozen rows over newer local writes', async () => {
    const user = 'fuzz-seed-1000155';
    const net = switchableNetwork();
    const seen: string[] = [];
    const device = await attachedDevice(server.t, user, {
      fetch: net.fetch,
      resolver: {
        resolve: (c) => (seen.push(String((c.localPayload as { name?: string } | null)?.name)), { kind: 'keep_local' }),
      },
    });
    const [x, y] = [randomUUID(), randomUUID()].sort();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?), (?, ?, ?)').run(x, 'x1', 'e', y, 'y1', 'e');
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    const other = await attachedDevice(server.t, user);

    device.db.prepare("UPDATE users SET name = name || '-frozen'").run();
    net.online = false;
    await expect(device.client.pushPending()).rejects.toThrow(/ECONNREFUSED/); // x and y frozen
    device.db.prepare("UPDATE users SET name = 'y-newer' WHERE id = ?").run(y);
    other.db.prepare("UPDATE users SET name = name || '-other'").run();
    expect((await other.client.sync()).pushOutcome).toBe('committed');

    net.online = true;
    await device.client.pushPending();
    // Before the fix the conflict on x requeued y's frozen intent over 'y-newer'; y's own conflict
    // then showed the resolver 'y1-frozen', and keep-local restored it: 'y-newer' was gone.
    expect(device.db.prepare('SELECT name FROM users ORDER BY id').all()).toEqual([
      { name: 'x1-frozen' },
      { name: 'y-newer' },
    ]);
    expect(await serverRows(server.pg, user, 'users', 'name')).toEqual([{ name: 'x1-frozen' }, { name: 'y-newer' }]);
    expect(seen).toEqual(['x1-frozen', 'y-newer']);
    await device.close();
    await other.close();
  });

  it('seed 184570144: a backend terminated while the sync database holds its connection neither crashes the process nor fails the work', async () => {
    const db = server.t.app.get<SyncDatabase>(OVERSYNC_DATABASE);
    let runs = 0;
    const result = await db.withClient(async (client) => {
      runs++;
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (runs === 1) {
        // killed between two queries: pg emits 'error' on the checked-out client, which pg-pool no
        // longer listens to; before the fix that was an uncaught exception (the process died)
        const ended = new Promise((resolve) => client.once('end', resolve));
        await server.pg.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      }
      return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0];
    });
    expect(result).toEqual({ one: 1 });
    expect(runs).toBe(2);
  });

  it('seed 184570144: raising the retention floor right after every backend was terminated answers 200, not 500', async () => {
    const user = 'fuzz-seed-184570144';
    const device = await attachedDevice(server.t, user);
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'a', 'a@x.test');
    expect((await device.client.sync()).pushOutcome).toBe('committed');
    for (let i = 0; i < 5; i++) {
      await server.pg.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> ' +
          'pg_backend_pid()',
      );
      // before the fix: 500 retention_floor_update_failed "terminating connection due to administrator command"
      await setRetentionFloor(server.t, user, 1);
    }
    expect(await serverRows(server.pg, user, 'users', 'name')).toEqual([{ name: 'a' }]);
    await device.close();
  });
});
