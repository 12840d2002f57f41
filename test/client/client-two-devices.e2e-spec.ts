import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import {
  attachedDevice,
  type Device,
  dirtyRows,
  serverRows,
  setRetentionFloor,
  useTestServer,
} from './client-devices.js';
import { snapshotTransferDiagnostics } from '@oversync/client-node/testing';

/** Every business table of a device, as comparable text. */
function dump(device: Device): Record<string, unknown[]> {
  const q = (sql: string) => device.db.prepare(sql).all();
  return {
    users: q('SELECT id, name, email FROM users ORDER BY id'),
    posts: q('SELECT id, title, content, author_id FROM posts ORDER BY id'),
    files: q('SELECT hex(id) AS id, name, hex(data) AS data FROM files ORDER BY id'),
    file_reviews: q('SELECT hex(id) AS id, review, hex(file_id) AS file_id FROM file_reviews ORDER BY id'),
    typed_rows: q(
      'SELECT id, name, note, CAST(count_value AS TEXT) AS count_value, typeof(count_value) AS count_type, ' +
        'enabled_flag, rating, hex(data) AS data, typeof(data) AS data_type, created_at FROM typed_rows ORDER BY ' +
        'id',
    ),
  };
}

describe('client ⇄ server: two devices of one user (needs snapshot sessions)', () => {
  const server = useTestServer();

  it('applies a bulk bundle and a bulk snapshot with the triggers suspended, then captures as before', async () => {
    const triggers = (device: Device) =>
      device.db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").all();
    const a = await attachedDevice(server.t, 'bulk');
    const b = await attachedDevice(server.t, 'bulk');
    const before = triggers(b);
    // 1,500 rows in one bundle: at or above SUSPEND_TRIGGERS_MIN_ROWS, so both applies drop and re-create
    const users = Array.from({ length: 1500 }, () => randomUUID());
    a.db.transaction(() => {
      const insert = a.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)');
      for (const [i, id] of users.entries()) insert.run(id, `user ${i}`, `u${i}@x.test`);
    })();
    expect((await a.client.pushPending()).outcome).toBe('committed');
    expect((await b.client.pullToStable()).outcome).toBe('applied_incremental');
    const c = await attachedDevice(server.t, 'bulk', { snapshotChunkRows: 400 });
    for (const device of [b, c]) {
      expect(dump(device).users).toEqual(dump(a).users);
      expect(dirtyRows(device.db)).toHaveLength(0);
      expect(triggers(device)).toEqual(before);
      expect(device.db.prepare('SELECT COUNT(*) AS n FROM _sync_row_state').get()).toEqual({ n: 1500 });
      // capture works as before: an update of a pulled row is an UPDATE based on its version
      device.db.prepare("UPDATE users SET name = 'edited' WHERE id = ?").run(users[7]);
      const version = device.db
        .prepare('SELECT row_version AS v FROM _sync_row_state WHERE key_json = ?')
        .get(JSON.stringify({ id: users[7] })) as { v: number };
      expect(version.v).toBeGreaterThan(0);
      expect(dirtyRows(device.db)).toMatchObject([{ op: 'UPDATE', base_row_version: version.v }]);
    }
  });

  it('hydrates a second device from a paged snapshot, then both converge after interleaved offline writes', async () => {
    const a = await attachedDevice(server.t, 'pair');
    const users = Array.from({ length: 25 }, () => randomUUID()).sort();
    a.db.exec('BEGIN');
    for (const [i, id] of users.entries())
      a.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(id, `user ${i}`, `u${i}@x.test`);
    const fileId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    a.db
      .prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)')
      .run(fileId, 'blob.bin', Buffer.from([0, 255, 1, 254]));
    a.db
      .prepare('INSERT INTO file_reviews(id, review, file_id) VALUES (?, ?, ?)')
      .run(Buffer.from(randomUUID().replace(/-/g, ''), 'hex'), 'nice', fileId);
    const typed = a.db.prepare(
      'INSERT INTO typed_rows(id, name, count_value, enabled_flag, rating, data, created_at) VALUES (?, ?, ?, ' +
        '?, ?, ?, ?)',
    );
    const bigId = randomUUID();
    typed.run(bigId, 'big', 9007199254740993n, 1, 0.1, Buffer.from('cafebabe', 'hex'), '2026-03-24T18:42:11.123456Z');
    typed.run(randomUUID(), 'min', -9223372036854775808n, 0, 2.0, Buffer.alloc(0), null);
    typed.run(randomUUID(), 'ünï <&>', 0, 1, -0.5, null, '2026-03-24T20:42:11+02:00');
    a.db.exec('COMMIT');
    expect((await a.client.pushPending()).outcome).toBe('committed');

    // 25 users, 1 file, 1 review, 3 typed rows: three pages of 10.
    const b = await attachedDevice(server.t, 'pair', { snapshotChunkRows: 10 });
    expect(snapshotTransferDiagnostics(b.client)).toEqual({ sessionsCreated: 1, chunksFetched: 3 });
    expect(dump(b)).toEqual(dump(a));
    expect(dump(b).typed_rows.find((r) => (r as { id: string }).id === bigId)).toMatchObject({
      count_value: '9007199254740993',
      count_type: 'integer',
    });
    expect(dirtyRows(b.db)).toHaveLength(0);

    // Interleaved offline writes on both devices, including an FK parent/child pair created on B.
    a.db.prepare("UPDATE users SET name = 'renamed on A' WHERE id = ?").run(users[0]);
    a.db.prepare('DELETE FROM users WHERE id = ?').run(users[1]);
    const authorId = randomUUID();
    const postId = randomUUID();
    b.db.exec('BEGIN');
    b.db
      .prepare('INSERT INTO posts(id, title, content, author_id) VALUES (?, ?, ?, ?)')
      .run(postId, 'from B', 'body', authorId);
    b.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(authorId, 'author on B', 'b@x.test');
    b.db.exec('COMMIT');
    b.db.prepare("UPDATE users SET email = 'b-edit@x.test' WHERE id = ?").run(users[2]);

    await a.client.sync();
    await b.client.sync();
    await a.client.sync();
    expect(dump(a)).toEqual(dump(b));
    expect(await serverRows(server.pg, 'pair', 'users', 'id::text AS id, name, email')).toEqual(dump(a).users);
    await a.close();
    await b.close();
  });

  it('rebuilds from a snapshot when the pull checkpoint fell behind the retained floor', async () => {
    const a = await attachedDevice(server.t, 'pruned');
    a.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), 'first', 'f@x.test');
    await a.client.pushPending();
    const b = await attachedDevice(server.t, 'pruned');
    for (let i = 0; i < 3; i++) {
      a.db.prepare('INSERT INTO users(id, name, email) VALUES (?, ?, ?)').run(randomUUID(), `more ${i}`, 'm@x.test');
      await a.client.pushPending();
    }
    expect(await b.client.lastBundleSeqSeen()).toBe(1);
    await setRetentionFloor(server.t, 'pruned', 3);
    const report = await b.client.pullToStable();
    expect(report).toMatchObject({ outcome: 'applied_snapshot', restore: { bundleSeq: 4, rowCount: 4 } });
    expect(dump(b)).toEqual(dump(a));
    expect(await b.client.lastBundleSeqSeen()).toBe(4);
    expect((await b.client.sourceInfo()).rebuildRequired).toBe(false);
    await a.close();
    await b.close();
  });
});
