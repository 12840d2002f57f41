import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DirtyStateRejectedError } from '@oversync/client-node';
import type { LoopbackProxy } from '../support/loopback-proxy.js';
import { SyncHttp } from '../support/sync-http.js';
import {
  attachedDevice,
  bundleCount,
  dirtyRows,
  formatUuid,
  newDevice,
  outboxState,
  serverRows,
  useProxy,
  useTestServer,
} from './client-devices.js';
import { pushTransferDiagnostics, setBeforePushCommitHook } from '@oversync/client-node/testing';

interface UploadedRow {
  table: string;
  op: string;
  base_row_version: number;
  key: { id: string };
}

/** The rows of every push chunk the client sent through the proxy since request `since`. */
function uploadedRows(proxy: LoopbackProxy, since: number): UploadedRow[] {
  return proxy.requests
    .slice(since)
    .filter((r) => r.method === 'POST' && r.path.endsWith('/chunks'))
    .flatMap((r) => (JSON.parse(r.body) as { rows: UploadedRow[] }).rows);
}

describe('client ⇄ server: seed, push, pull, typed values', () => {
  const server = useTestServer();
  // Records what the client puts on the wire; it changes nothing in this suite.
  const recording = useProxy(server);

  it('seeds a fresh install from offline rows; FK parent and child created offline arrive in one bundle', async () => {
    const device = await newDevice(server.t, 'seed-user');
    const userId = randomUUID();
    const postId = randomUUID();
    // Child first, parent second, in one local transaction (deferred FK).
    device.db.exec('BEGIN');
    device.db
      .prepare('INSERT INTO posts(id, title, content, author_id) VALUES (?, ?, ?, ?)')
      .run(postId, 'Hello <b>', 'body', userId);
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(userId, 'Ada', 'ada@example.com');
    device.db.exec('COMMIT');
    const attached = await device.client.attach('seed-user');
    expect(attached).toMatchObject({ status: 'connected', outcome: 'seeded_from_local' });
    const push = await device.client.pushPending();
    expect(push.outcome).toBe('committed');
    expect(push.status).toMatchObject({
      authority: 'authoritative_materialized',
      lastBundleSeqSeen: 1,
      pending: { pendingRowCount: 0 },
    });
    expect(await bundleCount(server.pg, 'seed-user')).toBe(1);
    expect(await serverRows(server.pg, 'seed-user', 'posts', 'id::text, title, author_id::text')).toEqual([
      { id: postId, title: 'Hello <b>', author_id: userId },
    ]);
    expect(device.db.prepare('SELECT name, email FROM users').get()).toEqual({ name: 'Ada', email: 'ada@example.com' });
    expect(device.db.prepare('SELECT COUNT(*) AS n FROM _sync_dirty_rows').get()).toEqual({ n: 0 });
    expect((await device.client.sync()).remoteOutcome).toBe('already_at_target');
    await device.close();
  });

  it('commits, replays the committed bundle and advances the source and checkpoint', async () => {
    const device = await attachedDevice(server.t, 'push-commit');
    const id = randomUUID();
    device.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, 'Ada', 'ada@example.com');
    const report = await device.client.pushPending();
    expect(report.outcome).toBe('committed');
    expect(report.status).toMatchObject({
      authority: 'authoritative_materialized',
      lastBundleSeqSeen: 1,
      pending: { pendingRowCount: 0 },
    });
    expect(await serverRows(server.pg, 'push-commit', 'users', 'id::text, name, email')).toEqual([
      { id, name: 'Ada', email: 'ada@example.com' },
    ]);
    expect(device.db.prepare('SELECT row_version, deleted FROM _sync_row_state').all()).toEqual([
      { row_version: 1, deleted: 0 },
    ]);
    expect(dirtyRows(device.db)).toHaveLength(0);
    expect(outboxState(device.db)).toEqual({ state: 'none', rows: 0 });
    expect(device.db.prepare('SELECT next_source_bundle_id FROM _sync_source_state').get()).toEqual({
      next_source_bundle_id: 2,
    });
    expect((await device.client.pushPending()).outcome).toBe('no_change');
    expect(await bundleCount(server.pg, 'push-commit')).toBe(1);
    await device.close();
  });

  it('pushes the ops of the coalescing table (§3.3)', async () => {
    const device = await attachedDevice(server.t, 'coalesce', { baseUrl: recording.proxy.baseUrl });
    const [live1, live2, live3, new1, gone] = Array.from({ length: 5 }, () => randomUUID());
    const insert = device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, ?, 'x@x.test')");
    const rename = device.db.prepare('UPDATE users SET name = ? WHERE id = ?');
    const remove = device.db.prepare('DELETE FROM users WHERE id = ?');
    insert.run(live1, 'a');
    insert.run(live2, 'b');
    insert.run(live3, 'c');
    await device.client.pushPending();
    const since = recording.proxy.requests.length;
    device.db.transaction(() => {
      rename.run('a2', live1);
      rename.run('b2', live2);
      remove.run(live2);
      remove.run(live3);
      insert.run(live3, 'c2');
      insert.run(new1, 'n');
      rename.run('n2', new1);
      insert.run(gone, 'g');
      remove.run(gone);
    })();
    expect((await device.client.pushPending()).outcome).toBe('committed');
    const byKey = Object.fromEntries(
      uploadedRows(recording.proxy, since).map((r) => [r.key.id, [r.op, r.base_row_version]]),
    );
    expect(byKey).toEqual({
      [live1]: ['UPDATE', 1],
      [live2]: ['DELETE', 1],
      [live3]: ['UPDATE', 1],
      [new1]: ['INSERT', 0],
    });
    expect((await serverRows(server.pg, 'coalesce', 'users', 'name')).map((r) => r.name).sort()).toEqual([
      'a2',
      'c2',
      'n2',
    ]);
    await device.close();
  });

  it('drops a never-synced insert+delete and commits that drop although nothing is pushed (§15 item 22)', async () => {
    const device = await attachedDevice(server.t, 'drop-unsynced', { baseUrl: recording.proxy.baseUrl });
    const id = randomUUID();
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'x', 'x@x.test')").run(id);
    device.db.prepare('DELETE FROM users WHERE id = ?').run(id);
    expect(dirtyRows(device.db)).toHaveLength(1);
    const since = recording.proxy.requests.length;
    expect((await device.client.pushPending()).outcome).toBe('no_change');
    expect(recording.proxy.requests.slice(since).filter((r) => r.path.startsWith('/sync/push-sessions'))).toEqual([]);
    expect(dirtyRows(device.db)).toHaveLength(0);
    expect((await device.client.pullToStable()).outcome).toBe('already_at_target');
    expect(await bundleCount(server.pg, 'drop-unsynced')).toBe(0);
    await device.close();
  });

  it('orders upserts parents first and deletes children first, in chunks', async () => {
    const device = await attachedDevice(server.t, 'fk-order', { baseUrl: recording.proxy.baseUrl, uploadLimit: 2 });
    const [author, p1, p2] = Array.from({ length: 3 }, () => randomUUID());
    let since = recording.proxy.requests.length;
    device.db.transaction(() => {
      device.db.prepare("INSERT INTO posts(id, title, content, author_id) VALUES (?, 't', 'c', ?)").run(p1, author);
      device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(author);
      device.db.prepare("INSERT INTO posts(id, title, content, author_id) VALUES (?, 't', 'c', ?)").run(p2, author);
    })();
    await device.client.pushPending();
    expect(uploadedRows(recording.proxy, since).map((r) => `${r.table}:${r.op}`)).toEqual([
      'users:INSERT',
      'posts:INSERT',
      'posts:INSERT',
    ]);
    expect(pushTransferDiagnostics(device.client)).toEqual({
      sessionsCreated: 1,
      chunksUploaded: 2,
      committedBundleChunksRead: 1,
    });
    since = recording.proxy.requests.length;
    device.db.transaction(() => {
      device.db.prepare('DELETE FROM users WHERE id = ?').run(author);
      device.db.prepare('DELETE FROM posts').run();
    })();
    await device.client.pushPending();
    expect(uploadedRows(recording.proxy, since).map((r) => `${r.table}:${r.op}`)).toEqual([
      'posts:DELETE',
      'posts:DELETE',
      'users:DELETE',
    ]);
    expect(await serverRows(server.pg, 'fk-order', 'posts', 'id')).toEqual([]);
    expect(await serverRows(server.pg, 'fk-order', 'users', 'id')).toEqual([]);
    await device.close();
  });

  it('keeps writes made during the upload as dirty rows rebased on the committed version', async () => {
    const device = await attachedDevice(server.t, 'write-during-upload');
    const id = randomUUID();
    device.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(id);
    setBeforePushCommitHook(device.client, () => {
      device.db.prepare("UPDATE users SET name = 'Ada King' WHERE id = ?").run(id);
    });
    expect((await device.client.pushPending()).outcome).toBe('committed');
    const dirty = dirtyRows(device.db);
    expect(dirty).toMatchObject([{ op: 'UPDATE', base_row_version: 1 }]);
    expect(JSON.parse(dirty[0]!.payload!)).toMatchObject({ id, name: 'Ada King', email: 'ada@x.test' });
    expect(device.client.getTableRows('users')).toMatchObject([{ id, name: 'Ada King', email: 'ada@x.test' }]);
    expect(await serverRows(server.pg, 'write-during-upload', 'users', 'name')).toEqual([{ name: 'Ada' }]);
    await device.client.pushPending();
    expect(dirtyRows(device.db)).toHaveLength(0);
    expect(await serverRows(server.pg, 'write-during-upload', 'users', 'name')).toEqual([{ name: 'Ada King' }]);
    await device.close();
  });

  it('applies peer bundles to the stable sequence and refuses to pull over dirty rows', async () => {
    const a = await attachedDevice(server.t, 'pull-peer');
    const b = await attachedDevice(server.t, 'pull-peer');
    const [u1, u2] = [randomUUID(), randomUUID()];
    a.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Ada', 'ada@x.test')").run(u1);
    a.db.prepare("INSERT INTO users(id, name, email) VALUES (?, 'Bob', 'bob@x.test')").run(u2);
    await a.client.pushPending();
    a.db.prepare('DELETE FROM users WHERE id = ?').run(u2);
    await a.client.pushPending();
    const report = await b.client.pullToStable();
    expect(report.outcome).toBe('applied_incremental');
    expect(report.status.lastBundleSeqSeen).toBe(2);
    expect(b.client.getTableRows('users')).toMatchObject([{ id: u1, name: 'Ada', email: 'ada@x.test' }]);
    expect(b.client.getTableRowCount('users')).toBe(1);
    expect(dirtyRows(b.db)).toHaveLength(0);
    expect((await b.client.pullToStable()).outcome).toBe('already_at_target');
    b.db.prepare("UPDATE users SET name = 'x' WHERE id = ?").run(u1);
    await expect(b.client.pullToStable()).rejects.toThrow(DirtyStateRejectedError);
    expect((await a.client.pullToStable()).outcome).toBe('already_at_target');
    await a.close();
    await b.close();
  });

  it('round-trips typed values and UUID BLOB keys byte-exactly, both ways', async () => {
    const device = await attachedDevice(server.t, 'typed-user');
    const typedId = randomUUID();
    const fileId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    const reviewId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    device.db
      .prepare(
        'INSERT INTO typed_rows(id, name, note, count_value, enabled_flag, rating, data, created_at) VALUES ' +
          '(?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        typedId,
        'big',
        null,
        9007199254740993n,
        1,
        6.57111473696007,
        Buffer.from([0, 1, 2, 253, 254, 255]),
        '2026-03-24T18:42:11.123456Z',
      );
    device.db
      .prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)')
      .run(fileId, 'a.jpg', Buffer.from('ffd8ffe0', 'hex'));
    device.db.prepare('INSERT INTO file_reviews(id, review, file_id) VALUES (?, ?, ?)').run(reviewId, 'sharp', fileId);
    expect((await device.client.pushPending()).outcome).toBe('committed');

    expect(
      await serverRows(
        server.pg,
        'typed-user',
        'typed_rows',
        "count_value::text, rating::text, encode(data, 'hex') AS data, note, created_at = " +
          "'2026-03-24T18:42:11.123456Z'::timestamptz AS same_instant",
      ),
    ).toEqual([
      {
        count_value: '9007199254740993',
        rating: '6.57111473696007',
        data: '000102fdfeff',
        note: null,
        same_instant: true,
      },
    ]);
    expect(await serverRows(server.pg, 'typed-user', 'file_reviews', 'id::text, file_id::text, review')).toEqual([
      { id: formatUuid(reviewId), file_id: formatUuid(fileId), review: 'sharp' },
    ]);
    expect(await serverRows(server.pg, 'typed-user', 'files', "encode(data, 'base64') AS data")).toEqual([
      { data: '/9j/4A==' },
    ]);
    const localTyped = () =>
      device.db
        .prepare(
          'SELECT CAST(count_value AS TEXT) AS c, typeof(count_value) AS t, rating, hex(data) AS data, note, ' +
            'created_at FROM typed_rows',
        )
        .get() as Record<string, unknown>;
    // The replay keeps the uploaded exact integer where the bundle's double is its rounding.
    expect(localTyped()).toMatchObject({
      c: '9007199254740993',
      t: 'integer',
      rating: 6.57111473696007,
      data: '000102FDFEFF',
      note: null,
    });

    // A peer device changes the row through the protocol; the client pulls it.
    const peer = new SyncHttp(server.t.baseUrl, await server.t.signIn('typed-user'), 'typed-peer');
    const version = (
      device.db.prepare('SELECT row_version FROM _sync_row_state WHERE table_name = ?').get('typed_rows') as {
        row_version: number;
      }
    ).row_version;
    const peerPush = await peer.push(1, [
      {
        schema: 'business',
        table: 'typed_rows',
        key: { id: typedId },
        op: 'UPDATE',
        base_row_version: version,
        payload: {
          id: typedId,
          name: 'big',
          note: 'ünï <&>',
          count_value: -9007199254740992,
          enabled_flag: 0,
          rating: -0.5,
          data: '',
          created_at: null,
        },
      },
    ]);
    expect(peerPush.status).toBe(200);
    expect((await device.client.pullToStable()).outcome).toBe('applied_incremental');
    // Bundles carry doubles (hash compatibility), so a pulled big integer is what the double holds.
    expect(localTyped()).toMatchObject({
      c: '-9007199254740992',
      t: 'integer',
      rating: -0.5,
      data: '',
      note: 'ünï <&>',
      created_at: null,
    });
    await device.close();
  });
});
