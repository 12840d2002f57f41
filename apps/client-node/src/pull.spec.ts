import { describe, expect, it } from '@jest/globals';
import { attachedClient, fakeServer, memoryDatabase, uuidHex, uuidText } from '../test-support/client-fixtures.js';
import { BundleHashMismatchError, DirtyStateRejectedError, SyncProtocolError } from './errors.js';

function checkpoint(db: ReturnType<typeof memoryDatabase>): number {
  return (db.prepare('SELECT last_bundle_seq_seen AS n FROM _sync_attachment_state').get() as { n: number }).n;
}

/** Two attached devices of one user on one fake server. */
async function twoDevices() {
  const server = fakeServer();
  const dbA = memoryDatabase();
  const dbB = memoryDatabase();
  return { server, dbA, dbB, a: await attachedClient(dbA, server, 'alice'), b: await attachedClient(dbB, server, 'alice') };
}

describe('pull', () => {
  it('applies peer bundles to the stable sequence and refuses to pull over dirty rows', async () => {
    const { dbA, dbB, a, b } = await twoDevices();
    dbA.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada'); INSERT INTO users(id, name) VALUES ('u2', 'Bob');");
    await a.pushPending();
    dbA.exec("DELETE FROM users WHERE id = 'u2'");
    await a.pushPending();
    const report = await b.pullToStable();
    expect(report.outcome).toBe('applied_incremental');
    expect(report.status.lastBundleSeqSeen).toBe(2);
    expect(b.getTableRows('users')).toEqual([{ id: 'u1', name: 'Ada', email: null, age: null }]);
    expect(dbB.prepare('SELECT COUNT(*) AS n FROM _sync_dirty_rows').get()).toEqual({ n: 0 });
    expect((await b.pullToStable()).outcome).toBe('already_at_target');
    dbB.exec("UPDATE users SET name = 'x' WHERE id = 'u1'");
    await expect(b.pullToStable()).rejects.toThrow(DirtyStateRejectedError);
    expect((await a.pullToStable()).outcome).toBe('already_at_target');
  });

  it('rejects a tampered bundle by hash and applies nothing of it', async () => {
    const { server, dbA, dbB, a, b } = await twoDevices();
    dbA.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    await a.pushPending();
    server.tamper = (path, body) => (path === '/sync/pull' ? body.replace('"Ada"', '"Mallory"') : body);
    const error = await b.pullToStable().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleHashMismatchError);
    expect(b.getTableRowCount('users')).toBe(0);
    expect(checkpoint(dbB)).toBe(0);
    server.tamper = null;
    await b.pullToStable();
    expect(b.getTableRows('users')[0]!.name).toBe('Ada');
  });

  it('rejects a pull response that breaks the protocol', async () => {
    const server = fakeServer();
    const db = memoryDatabase();
    const client = await attachedClient(db, server, 'alice');
    server.failNext('GET', /^\/sync\/pull$/, 200, { stable_bundle_seq: 3, bundles: [{ bundle_seq: 0, source_id: 's', source_bundle_id: 1, rows: [] }], has_more: false });
    await expect(client.pullToStable()).rejects.toThrow('invalid pull bundle 0: bundle_seq 0 must be positive');
    server.failNext('GET', /^\/sync\/pull$/, 200, 'not json');
    await expect(client.pullToStable()).rejects.toThrow(SyncProtocolError);
  });

  it('rebuilds from a snapshot when history is pruned', async () => {
    const { server, dbA, dbB, a, b } = await twoDevices();
    dbA.exec("INSERT INTO users(id, name) VALUES ('u1', 'Ada')");
    await a.pushPending();
    await b.pullToStable();
    dbA.exec("INSERT INTO users(id, name) VALUES ('u2', 'Bob')");
    await a.pushPending();
    dbA.exec("INSERT INTO users(id, name) VALUES ('u3', 'Cy')");
    await a.pushPending();
    server.setRetentionFloor('alice', 2);
    const report = await b.pullToStable();
    expect(report).toMatchObject({ outcome: 'applied_snapshot', restore: { bundleSeq: 3, rowCount: 3 } });
    expect(b.getTableRows('users').map((r) => r.id)).toEqual(['u1', 'u2', 'u3']);
    expect(checkpoint(dbB)).toBe(3);
    expect((await b.sourceInfo()).rebuildRequired).toBe(false);
  });

  it('hydrates a new device from a paged snapshot and round-trips typed values byte-exactly', async () => {
    const server = fakeServer();
    const dbA = memoryDatabase();
    const a = await attachedClient(dbA, server, 'alice');
    const insert = dbA.prepare('INSERT INTO typed_rows(id, name, count_value, rating, data, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    insert.run('t1', 'big', 9007199254740993n, 6.57111473696007, Buffer.from([0, 1, 2, 253, 254, 255]), '2026-03-24T18:42:11.123456Z');
    insert.run('t2', null, -9223372036854775808n, 2.0, Buffer.alloc(0), null);
    insert.run('t3', 'ünï <&>', 0, -0.5, null, '2026-03-24T20:42:11+02:00');
    dbA.prepare('INSERT INTO files(id, name, data) VALUES (?, ?, ?)').run(Buffer.from(uuidHex(1), 'hex'), 'f', Buffer.from('ffd8ffe0', 'hex'));
    dbA.prepare('INSERT INTO file_reviews(id, review, file_id) VALUES (?, ?, ?)').run(Buffer.from(uuidHex(2), 'hex'), 'nice', Buffer.from(uuidHex(1), 'hex'));
    await a.pushPending();
    expect(server.serverRows('alice', 'file_reviews')).toEqual([{ file_id: uuidText(1), id: uuidText(2), review: 'nice' }]);
    expect(server.serverRows('alice', 'files')[0]!.data).toBe('/9j/4A==');

    const dbB = memoryDatabase();
    const b = await attachedClient(dbB, server, 'alice', { snapshotChunkRows: 2 });
    expect(b.snapshotTransferDiagnostics()).toEqual({ sessionsCreated: 1, chunksFetched: 3 });
    const dump = (db: typeof dbA) =>
      db
        .prepare("SELECT id, name, typeof(count_value) AS t, CAST(count_value AS TEXT) AS count_value, rating, hex(data) AS data, typeof(data) AS dt, created_at FROM typed_rows ORDER BY id")
        .all();
    expect(dump(dbB)).toEqual(dump(dbA));
    expect(dump(dbB)[0]).toMatchObject({ count_value: '9007199254740993', t: 'integer' });
    const blobs = (db: typeof dbA) => db.prepare('SELECT hex(f.id) AS id, hex(f.data) AS data, hex(r.id) AS rid, hex(r.file_id) AS fid FROM files f JOIN file_reviews r ON r.file_id = f.id').all();
    expect(blobs(dbB)).toEqual(blobs(dbA));
    expect(dbB.prepare('SELECT COUNT(*) AS n FROM _sync_dirty_rows').get()).toEqual({ n: 0 });
  });
});
