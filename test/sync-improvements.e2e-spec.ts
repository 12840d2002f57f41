import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp, userInsertRow } from './support/sync-http.js';

// Where we deliberately beat the reference (spec §8) without a reference client noticing.
describe('improvements over the reference', () => {
  let t: TestApp;
  let a: SyncHttp;
  let reader: SyncHttp;
  let db: pg.Client;
  let next = 1;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_USER_LOCK_TIMEOUT_MS: '300' } });
    const token = await t.signIn('alice');
    a = new SyncHttp(t.baseUrl, token, 'a-1');
    reader = new SyncHttp(t.baseUrl, token, 'a-reader');
    await a.connect(false);
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  async function pushRaw(rowsJson: string, count: number) {
    const created = await a
      .post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: count })
      .expect(200);
    await a
      .post(`/sync/push-sessions/${created.body.push_id}/chunks`, `{"start_row_ordinal":0,"rows":${rowsJson}}`)
      .expect(200);
    const commit = await a.post(`/sync/push-sessions/${created.body.push_id}/commit`).expect(200);
    next++;
    return commit.body as { bundle_seq: number; bundle_hash: string };
  }

  it('§8.2 stores integers beyond 2^53 exactly, serves them exactly, while the bundle hash stays the reference (double) one', async () => {
    const id = randomUUID();
    const commit = await pushRaw(
      `[{"schema":"business","table":"typed_rows","key":{"id":"${id}"},"op":"INSERT","base_row_version":0,` +
        `"payload":{"id":"${id}","name":"big","enabled_flag":1,"count_value":9007199254740993}}]`,
      1,
    );
    const stored = await db.query('SELECT count_value::text AS v FROM business.typed_rows WHERE id = $1', [id]);
    expect(stored.rows[0].v).toBe('9007199254740993');
    const pulled = await reader.get(`/sync/pull?after_bundle_seq=${commit.bundle_seq - 1}`).expect(200);
    // the bundle row carries the exact literal (issue 18); the hash covers the reference's double form
    expect(pulled.text).toContain('"count_value":9007199254740993');
    const row = pulled.body.bundles[0].rows[0];
    const payload =
      `{"count_value":9007199254740992,"created_at":null,"data":null,"enabled_flag":1,"id":"${id}","name":"big",` +
      `"note":null,"rating":null}`;
    const hashInput =
      `[{"key":{"id":"${id}"},"op":"INSERT","payload":${payload},"row_ordinal":0,"row_version":` +
      `${row.row_version},"schema":"business","table":"typed_rows"}]`;
    expect(createHash('sha256').update(hashInput).digest('hex')).toBe(commit.bundle_hash);
  });

  it('§8.12 UPDATE and DELETE effects follow upload order', async () => {
    const ids = Array.from({ length: 6 }, () => randomUUID());
    const inserted = await pushRaw(JSON.stringify(ids.map((id) => userInsertRow(id))), ids.length);
    const version = inserted.bundle_seq;
    const order = [ids[4]!, ids[1]!, ids[5]!, ids[0]!, ids[3]!, ids[2]!];
    const rows = order.map((id, i) =>
      i % 2 === 0
        ? {
            schema: 'business',
            table: 'users',
            key: { id },
            op: 'UPDATE',
            base_row_version: version,
            payload: { id, name: `u${i}` },
          }
        : { schema: 'business', table: 'users', key: { id }, op: 'DELETE', base_row_version: version },
    );
    const commit = await pushRaw(JSON.stringify(rows), rows.length);
    const fetched = await a.get(`/sync/committed-bundles/${commit.bundle_seq}/rows`).expect(200);
    expect(fetched.body.rows.map((r: { key: { id: string } }) => r.key.id)).toEqual(order);
    expect(fetched.body.rows.map((r: { op: string }) => r.op)).toEqual([
      'UPDATE',
      'DELETE',
      'UPDATE',
      'DELETE',
      'UPDATE',
      'DELETE',
    ]);
  });

  it('§8.14 TRUNCATE of a registered table is refused', async () => {
    await expect(db.query('TRUNCATE business.users CASCADE')).rejects.toThrow(/truncate/i);
  });

  it('§8.15 a held user lock answers a retryable 503 instead of waiting forever', async () => {
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', ['alice']);
      const res = await a.post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: 1 });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('service_unavailable');
    } finally {
      await holder.end();
    }
    await a.post('/sync/push-sessions', { source_bundle_id: next, planned_row_count: 1 }).expect(200);
  });

  it('§8.19 trailing data after the JSON body is rejected', async () => {
    const res = await a.post('/sync/push-sessions', `{"source_bundle_id":${next},"planned_row_count":1}{}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: 'Failed to parse push session request' });
  });

  it('§8.24 an oversize source id is refused before the database', async () => {
    const res = await new SyncHttp(t.baseUrl, a.token, 'x'.repeat(600)).get('/sync/pull');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });
});
