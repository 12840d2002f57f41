import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { computeBundleHash, type BundleHashRow } from '@oversync/protocol';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';
import { liveBusinessRows, liveRowVersions, readWholeSnapshot, snapshotRowMap } from './snapshot-fixture.js';

const user = (id: string, name: string) => ({
  schema: 'business',
  table: 'users',
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, name, email: `${name}@example.com` },
});
const post = (id: string, title: string) => ({
  schema: 'business',
  table: 'posts',
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, title, content: `${title} body` },
});
const category = (id: string, name: string) => ({
  schema: 'business',
  table: 'categories',
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, name },
});

describe('snapshot sessions (spec §3.9–§3.11, §4.10, §4.11)', () => {
  let t: TestApp;
  let db: pg.Client;
  let aliceToken: string;
  let a1: SyncHttp;
  let a2: SyncHttp;
  let bob: SyncHttp;
  const alice = { u1: randomUUID(), u2: randomUUID(), p1: randomUUID() };

  beforeAll(async () => {
    t = await startTestApp();
    aliceToken = await t.signIn('alice');
    a1 = new SyncHttp(t.baseUrl, aliceToken, 'alice-1');
    a2 = new SyncHttp(t.baseUrl, aliceToken, 'alice-2');
    bob = new SyncHttp(t.baseUrl, await t.signIn('bob'), 'bob-1');
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    await db.query(`SET TimeZone TO 'UTC'`);
    await a1.connect(false);
    await bob.connect(false);
    expect((await a1.push(1, [user(alice.u1, 'ada'), user(alice.u2, 'bea'), post(alice.p1, 'hello')])).status).toBe(
      200,
    );
    const update = { ...user(alice.u1, 'ada2'), op: 'UPDATE', base_row_version: 1 };
    const remove = { schema: 'business', table: 'users', key: { id: alice.u2 }, op: 'DELETE', base_row_version: 1 };
    expect((await a1.push(2, [update, remove])).status).toBe(200);
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  /**
   * UTF-8 bytes of the payloads of `user`'s live rows at `seq` as their bundles carry them (committed canonical text).
   */
  async function livePayloadBytes(userId: string, seq: number): Promise<number> {
    const { rows } = await db.query<{ bytes: string }>(
      `SELECT sum(octet_length(br.payload_wire::text)) AS bytes
         FROM sync.row_state rs JOIN sync.user_state us ON us.user_pk = rs.user_pk
         JOIN sync.bundle_rows br ON br.user_pk = rs.user_pk AND br.bundle_seq = rs.bundle_seq
           AND br.table_id = rs.table_id AND br.key_bytes = rs.key_bytes
        WHERE us.user_id = $1 AND NOT rs.deleted AND rs.bundle_seq <= $2`,
      [userId, seq],
    );
    return Number(rows[0]!.bytes);
  }

  it('freezes the live rows with their row_version at the stable sequence and pages them by 1-based ordinals', async () => {
    const created = await a2.post('/sync/snapshot-sessions').expect(200);
    expect(created.text.endsWith('\n')).toBe(true);
    expect(Object.keys(created.body)).toEqual([
      'snapshot_id',
      'snapshot_bundle_seq',
      'row_count',
      'byte_count',
      'expires_at',
    ]);
    expect(created.body).toMatchObject({ snapshot_bundle_seq: 2, row_count: 2 });
    expect(created.body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const id = created.body.snapshot_id as string;
    // a later bundle is not part of the frozen session
    expect((await a1.push(3, [category(randomUUID(), 'later')])).status).toBe(200);

    const first = await a2.get(`/sync/snapshot-sessions/${id}?max_rows=1`).expect(200);
    expect(Object.keys(first.body)).toEqual([
      'snapshot_id',
      'snapshot_bundle_seq',
      'rows',
      'next_row_ordinal',
      'has_more',
    ]);
    expect(first.body).toMatchObject({ snapshot_id: id, snapshot_bundle_seq: 2, next_row_ordinal: 1, has_more: true });
    expect(Object.keys(first.body.rows[0])).toEqual(['schema', 'table', 'key', 'row_version', 'payload']);
    const second = await a2.get(`/sync/snapshot-sessions/${id}?after_row_ordinal=1&max_rows=1`).expect(200);
    expect(second.body).toMatchObject({ next_row_ordinal: 2, has_more: false });
    const done = await a2.get(`/sync/snapshot-sessions/${id}?after_row_ordinal=2`).expect(200);
    expect(done.body).toEqual({
      snapshot_id: id,
      snapshot_bundle_seq: 2,
      rows: [],
      next_row_ordinal: 2,
      has_more: false,
    });

    // table_id order (business.posts before business.users), the deleted row absent
    const rows = [...first.body.rows, ...second.body.rows];
    expect(rows.map((r: { table: string }) => r.table)).toEqual(['posts', 'users']);
    expect(rows[0]).toMatchObject({ key: { id: alice.p1 }, row_version: 1, payload: { id: alice.p1, title: 'hello' } });
    expect(rows[1]).toMatchObject({ key: { id: alice.u1 }, row_version: 2, payload: { id: alice.u1, name: 'ada2' } });
    expect(rows.some((r: { key: { id: string } }) => r.key.id === alice.u2)).toBe(false);
    // the reported byte_count is the UTF-8 length of the canonical payloads (those the bundles carry)
    expect(created.body.byte_count).toBe(await livePayloadBytes('alice', 2));
  });

  it('equals the business tables and sync.row_state, and orders repeated sessions identically', async () => {
    const first = await readWholeSnapshot(a2, 2);
    const again = await readWholeSnapshot(a2, 1);
    expect(first.snapshotBundleSeq).toBe(3);
    expect(again.rows).toEqual(first.rows);
    expect(snapshotRowMap(first.rows)).toEqual(await liveBusinessRows(db, 'alice', ['users', 'posts', 'categories']));
    const versions = await liveRowVersions(db, 'alice');
    expect(new Map(first.rows.map((r) => [`${r.schema}.${r.table}/${r.key.id}`, r.row_version]))).toEqual(versions);
  });

  it('creates an empty snapshot: row_count 0, byte_count omitted, an empty chunk', async () => {
    const created = await bob.post('/sync/snapshot-sessions').expect(200);
    expect(Object.keys(created.body)).toEqual(['snapshot_id', 'snapshot_bundle_seq', 'row_count', 'expires_at']);
    expect(created.body).toMatchObject({ snapshot_bundle_seq: 0, row_count: 0 });
    const chunk = await bob.get(`/sync/snapshot-sessions/${created.body.snapshot_id}`).expect(200);
    expect(chunk.body).toMatchObject({ rows: [], next_row_ordinal: 0, has_more: false });
  });

  it('serves bytea as base64 and canonical payloads with numbers beyond 2^53 exact', async () => {
    const file = randomUUID();
    const typed = randomUUID();
    const rows = [
      {
        schema: 'business',
        table: 'files',
        key: { id: file },
        op: 'INSERT',
        base_row_version: 0,
        payload: { name: 'f', id: file, data: 'AAEC/f7/' },
      },
      {
        schema: 'business',
        table: 'typed_rows',
        key: { id: typed },
        op: 'INSERT',
        base_row_version: 0,
        payload: { id: typed, name: 't', enabled_flag: 1, data: null, count_value: 1 },
      },
    ];
    expect((await a1.push(4, rows)).status).toBe(200);
    const raw =
      `{"start_row_ordinal":0,"rows":[{"schema":"business","table":"typed_rows","key":{"id":"${typed}"},` +
      `"op":"UPDATE","base_row_version":4,"payload":{"id":"${typed}","name":"t","enabled_flag":1,` +
      `"count_value":9007199254740993}}]}`;
    const session = await a1.post('/sync/push-sessions', { source_bundle_id: 5, planned_row_count: 1 }).expect(200);
    await a1.post(`/sync/push-sessions/${session.body.push_id}/chunks`, raw).expect(200);
    await a1.post(`/sync/push-sessions/${session.body.push_id}/commit`).expect(200);

    const created = await a2.post('/sync/snapshot-sessions').expect(200);
    const chunk = await a2.get(`/sync/snapshot-sessions/${created.body.snapshot_id}?max_rows=5000`).expect(200);
    // canonical JSON like bundles (sorted members, §8.11), bytea as base64, numbers beyond 2^53 exact (§8.2)
    expect(chunk.text).toContain(`"payload":{"data":"AAEC/f7/","id":"${file}","name":"f"}`);
    expect(chunk.text).toContain('"count_value":9007199254740993');
    expect(created.body.byte_count).toBe(await livePayloadBytes('alice', created.body.snapshot_bundle_seq));
  });

  it('answers the spec errors for bad ids, cursors, other users and bodies — never 500', async () => {
    const own = (await a2.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    const missing = randomUUID();
    expect((await a2.get(`/sync/snapshot-sessions/${missing}`).expect(404)).body).toEqual({
      error: 'snapshot_session_not_found',
      message: `snapshot session ${missing} was not found`,
    });
    expect((await a2.get('/sync/snapshot-sessions/not-a-uuid').expect(404)).body.error).toBe(
      'snapshot_session_not_found',
    );
    expect((await a2.delete('/sync/snapshot-sessions/not-a-uuid').expect(404)).body.error).toBe(
      'snapshot_session_not_found',
    );
    // other spellings PostgreSQL accepts are not canonical ids: 404 before any SQL (issue 18)
    const upper = own.toUpperCase();
    expect((await a2.get(`/sync/snapshot-sessions/${upper}?max_rows=1`).expect(404)).body.error).toBe(
      'snapshot_session_not_found',
    );
    expect((await bob.get(`/sync/snapshot-sessions/${own}`).expect(403)).body).toEqual({
      error: 'snapshot_session_forbidden',
      message: `snapshot session ${own} does not belong to the authenticated user`,
    });
    expect((await bob.delete(`/sync/snapshot-sessions/${own}`).expect(403)).body.error).toBe(
      'snapshot_session_forbidden',
    );

    const invalid = async (query: string, message: string) => {
      const res = await a2.get(`/sync/snapshot-sessions/${own}?${query}`).expect(400);
      expect(res.body).toEqual({ error: 'snapshot_chunk_invalid', message });
    };
    await invalid('after_row_ordinal=abc', 'after_row_ordinal must be an integer');
    await invalid('after_row_ordinal=%207', 'after_row_ordinal must be an integer');
    await invalid('max_rows=1.5', 'max_rows must be an integer');
    await invalid('after_row_ordinal=-1', 'after_row_ordinal must be >= 0');
    const zero = await a2.get(`/sync/snapshot-sessions/${own}?max_rows=0`).expect(400);
    expect(zero.text).toBe('{"error":"snapshot_chunk_invalid","message":"max_rows must be \\u003e 0"}\n');

    const parse = { error: 'snapshot_session_invalid', message: 'Failed to parse snapshot session request' };
    for (const body of [
      '{"unknown":1}',
      '{"source_replacement":',
      '[]',
      '{"source_replacement":{"previous_source_id":"alice-2","extra":1}}',
      '{"source_replacement":{"reason":7}}',
      '{} {',
    ]) {
      expect((await a2.post('/sync/snapshot-sessions', body).expect(400)).body).toEqual(parse);
    }
    for (const body of ['null', '{}', ' \n', '{"SOURCE_REPLACEMENT":null}'])
      await a2.post('/sync/snapshot-sessions', body).expect(200);
    const carol = new SyncHttp(t.baseUrl, await t.signIn('carol'), 'carol-1');
    expect((await carol.post('/sync/snapshot-sessions').expect(409)).body).toEqual({
      error: 'scope_uninitialized',
      message: 'sync scope for user carol is not initialized',
    });
  });

  it('deletes a session: 204, then the id is unknown; expiry (database clock) answers 410 but delete still works', async () => {
    const id = (await a2.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    const deleted = await a2.delete(`/sync/snapshot-sessions/${id}`).expect(204);
    expect(deleted.text).toBe('');
    await a2.get(`/sync/snapshot-sessions/${id}`).expect(404);
    await a2.delete(`/sync/snapshot-sessions/${id}`).expect(404);

    const expiring = (await a2.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    await db.query(
      `UPDATE sync.snapshot_sessions SET expires_at = now() - interval '1 second' WHERE snapshot_id = $1`,
      [expiring],
    );
    expect((await a2.get(`/sync/snapshot-sessions/${expiring}`).expect(410)).body).toEqual({
      error: 'snapshot_session_expired',
      message: `snapshot session ${expiring} has expired; start a new snapshot session`,
    });
    await a2.delete(`/sync/snapshot-sessions/${expiring}`).expect(204);
    const { rows } = await db.query('SELECT 1 FROM sync.snapshot_row_blocks WHERE snapshot_id = $1', [expiring]);
    expect(rows).toHaveLength(0);
  });

  it('never updates the session on read', async () => {
    const id = (await a2.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    await db.query(
      `CREATE FUNCTION public.refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no updates';
        END $$`,
    );
    await db.query(
      'CREATE TRIGGER refuse_update BEFORE UPDATE ON sync.snapshot_sessions FOR EACH ROW EXECUTE FUNCTION ' +
        'public.refuse_update()',
    );
    try {
      await a2.get(`/sync/snapshot-sessions/${id}?max_rows=1`).expect(200);
      await a2.get(`/sync/snapshot-sessions/${id}?after_row_ordinal=1`).expect(200);
    } finally {
      await db.query('DROP TRIGGER refuse_update ON sync.snapshot_sessions; DROP FUNCTION public.refuse_update()');
    }
  });
});

describe('source rotation through a snapshot (spec §4.11)', () => {
  let t: TestApp;
  let db: pg.Client;
  let token: string;
  const source = (id: string) => new SyncHttp(t.baseUrl, token, id);
  const rotate = (from: string, to: string, reason = 'history_pruned') =>
    source(from).post('/sync/snapshot-sessions', {
      source_replacement: { previous_source_id: from, new_source_id: to, reason },
    });
  const sourceState = async (id: string) =>
    (
      await db.query(
        `SELECT state, max_committed_source_bundle_id::int AS max, replaced_by_source_id AS by, retirement_reason
          AS reason
                       FROM sync.source_state WHERE source_id = $1`,
        [id],
      )
    ).rows[0];

  beforeAll(async () => {
    t = await startTestApp();
    token = await t.signIn('rita');
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    await source('old').connect(false);
    expect((await source('old').push(1, [user(randomUUID(), 'one')])).status).toBe(200);
    expect((await source('old').push(2, [user(randomUUID(), 'two')])).status).toBe(200);
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  it('validates the replacement after the scope check', async () => {
    const bad = async (replacement: object, message: string) => {
      const res = await source('old').post('/sync/snapshot-sessions', { source_replacement: replacement }).expect(400);
      expect(res.body).toEqual({ error: 'snapshot_session_invalid', message });
    };
    await bad(
      { previous_source_id: 'other', new_source_id: 'x', reason: 'history_pruned' },
      'previous_source_id must match authenticated source_id',
    );
    await bad(
      { previous_source_id: ' old ', new_source_id: ' ', reason: 'history_pruned' },
      'new_source_id is required for source replacement',
    );
    await bad(
      { previous_source_id: 'old', new_source_id: 'old', reason: 'history_pruned' },
      'new_source_id must differ from previous_source_id',
    );
    await bad(
      { previous_source_id: 'old', new_source_id: 'new', reason: 'History_Pruned' },
      'source replacement reason is unsupported',
    );
    await bad({}, 'previous_source_id must match authenticated source_id');
  });

  it('retires the previous source, reserves the new one, and a push from the old source gets source_retired', async () => {
    await rotate('old', 'new').expect(200);
    expect(await sourceState('old')).toEqual({ state: 'retired', max: 2, by: 'new', reason: 'history_pruned' });
    expect(await sourceState('new')).toEqual({ state: 'reserved', max: 0, by: '', reason: '' });
    const refused = await source('old')
      .post('/sync/push-sessions', { source_bundle_id: 3, planned_row_count: 1 })
      .expect(409);
    expect(refused.body).toEqual({
      error: 'source_retired',
      message: 'source old for user rita was retired and replaced by new',
      source_id: 'old',
      replaced_by_source_id: 'new',
    });
    // the retired source still learns about a tuple it committed
    expect(
      (await source('old').post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 }).expect(200)).body
        .status,
    ).toBe('already_committed');
  });

  it('is idempotent for an equivalent retry and refuses conflicting targets', async () => {
    await rotate('old', 'new', 'source_retired').expect(200);
    expect(await sourceState('old')).toEqual({ state: 'retired', max: 2, by: 'new', reason: 'history_pruned' });
    const other = await rotate('old', 'other').expect(409);
    expect(other.body).toMatchObject({ error: 'source_retired', source_id: 'old', replaced_by_source_id: 'new' });
    await source('known').connect(false);
    expect((await source('known').push(1, [user(randomUUID(), 'k')])).status).toBe(200);
    const known = await rotate('new', 'known').expect(409);
    expect(known.body).toEqual({
      error: 'source_replacement_invalid',
      message: 'replacement source known is already known for user rita',
    });
  });

  it('activates the reserved source on its first commit; a never-committed source retires with watermark 0', async () => {
    expect((await source('new').push(1, [user(randomUUID(), 'fresh')])).status).toBe(200);
    expect(await sourceState('new')).toEqual({ state: 'active', max: 1, by: '', reason: '' });
    await rotate('never', 'never-2', 'source_sequence_out_of_order').expect(200);
    expect(await sourceState('never')).toEqual({
      state: 'retired',
      max: 0,
      by: 'never-2',
      reason: 'source_sequence_out_of_order',
    });
  });
});

describe('snapshots at scale and rows written outside sync (§8.10, §8.16)', () => {
  let t: TestApp;
  let db: pg.Client;
  let writer: SyncHttp;
  let fresh: SyncHttp;

  beforeAll(async () => {
    t = await startTestApp();
    const token = await t.signIn('zoe');
    writer = new SyncHttp(t.baseUrl, token, 'zoe-writer');
    fresh = new SyncHttp(t.baseUrl, token, 'zoe-fresh');
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    await db.query(`SET TimeZone TO 'UTC'`);
    await writer.connect(false);
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  it('hydrates a fresh source from a 10,000-row snapshot over several tables and chunks, then pulls only newer bundles', async () => {
    const rows = [
      ...Array.from({ length: 4000 }, (_, i) => user(randomUUID(), `user-${i}`)),
      ...Array.from({ length: 4000 }, (_, i) => post(randomUUID(), `post-${i}`)),
      ...Array.from({ length: 2000 }, (_, i) => category(randomUUID(), `category-${i}`)),
    ];
    const created = await writer
      .post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: rows.length })
      .expect(200);
    const pushId = created.body.push_id as string;
    await writer
      .post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 0, rows: rows.slice(0, 5000) })
      .expect(200);
    await writer
      .post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 5000, rows: rows.slice(5000) })
      .expect(200);
    await writer.post(`/sync/push-sessions/${pushId}/commit`).expect(200);

    expect((await fresh.connect(false)).body).toEqual({ resolution: 'remote_authoritative' });
    const snapshot = await readWholeSnapshot(fresh, 1000);
    expect(snapshot).toMatchObject({ snapshotBundleSeq: 1, rowCount: 10_000, chunks: 10 });
    expect(snapshotRowMap(snapshot.rows)).toEqual(await liveBusinessRows(db, 'zoe', ['users', 'posts', 'categories']));
    expect(new Set(snapshot.rows.map((r) => r.row_version))).toEqual(new Set([1]));

    const later = randomUUID();
    expect((await writer.push(2, [category(later, 'after the snapshot')])).status).toBe(200);
    const pulled = await fresh.get(`/sync/pull?after_bundle_seq=${snapshot.snapshotBundleSeq}`).expect(200);
    expect(pulled.body.bundles).toHaveLength(1);
    expect(pulled.body.bundles[0]).toMatchObject({
      bundle_seq: 2,
      source_id: 'zoe-writer',
      rows: [{ key: { id: later }, op: 'INSERT' }],
    });
  }, 120_000);

  it('adopts a business row that has no sync state: the snapshot succeeds and pulling devices get it as a bundle', async () => {
    const orphan = randomUUID();
    await db.query('BEGIN');
    await db.query(`SET LOCAL session_replication_role = replica`);
    await db.query(
      `INSERT INTO business.users (_sync_scope_id, id, name, email) VALUES ('zoe', $1, 'orphan', 'o@example.com')`,
      [orphan],
    );
    await db.query('COMMIT');
    const checkpoint = 2;

    const snapshot = await readWholeSnapshot(fresh, 5000);
    expect(snapshot.snapshotBundleSeq).toBe(3);
    const adopted = snapshot.rows.find((r) => r.key.id === orphan);
    expect(adopted).toMatchObject({ table: 'users', row_version: 3, payload: { id: orphan, name: 'orphan' } });
    expect(snapshotRowMap(snapshot.rows)).toEqual(await liveBusinessRows(db, 'zoe', ['users', 'posts', 'categories']));

    const pulled = await writer.get(`/sync/pull?after_bundle_seq=${checkpoint}`).expect(200);
    const bundle = pulled.body.bundles[0] as {
      bundle_seq: number;
      source_id: string;
      source_bundle_id: number;
      bundle_hash: string;
      rows: BundleHashRow[];
    };
    expect(bundle).toMatchObject({
      bundle_seq: 3,
      source_id: 'oversync-adoption',
      source_bundle_id: 1,
      rows: [{ op: 'INSERT', key: { id: orphan } }],
    });
    expect(computeBundleHash(bundle.rows).bundleHash).toBe(bundle.bundle_hash);
    // now an ordinary synced row: an update based on its version commits
    const update = { ...user(orphan, 'adopted'), op: 'UPDATE', base_row_version: 3 };
    expect((await writer.push(3, [update])).status).toBe(200);
  }, 60_000);
});
