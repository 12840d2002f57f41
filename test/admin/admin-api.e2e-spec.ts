import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp, userInsertRow } from '../support/sync-http.js';
import { AdminHttp, adminToken, enc } from './admin-fixture.js';

describe('admin console API', () => {
  let t: TestApp;
  let db: pg.Client;
  let admin: AdminHttp;
  let alice1: SyncHttp;
  let alice2: SyncHttp;
  let userToken: string;

  beforeAll(async () => {
    t = await startTestApp();
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    admin = new AdminHttp(t.baseUrl, await adminToken(t));
    userToken = await t.signIn('alice');
    alice1 = new SyncHttp(t.baseUrl, userToken, 'alice-phone');
    alice2 = new SyncHttp(t.baseUrl, userToken, 'alice-laptop');
    await alice1.connect(false);
    for (let i = 1; i <= 3; i++)
      expect((await alice1.push(i, [userInsertRow(randomUUID(), { name: `u${i}` })])).status).toBe(200);
    expect((await alice2.push(1, [userInsertRow(randomUUID(), { name: 'laptop' })])).status).toBe(200);
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  /** Every admin route, with real parameters: the list the guard test walks. */
  const routes = (): Array<[string, string]> => [
    ['GET', 'status'],
    ['GET', 'users'],
    ['GET', 'users/alice'],
    ['GET', 'users/alice/sources'],
    ['GET', 'users/alice/push-sessions'],
    ['GET', 'users/alice/snapshot-sessions'],
    ['GET', 'users/alice/bundles'],
    ['GET', 'users/alice/bundles/1'],
    ['GET', 'users/alice/rejected-writes'],
    ['GET', 'audit'],
    ['POST', 'users/alice/sources/alice-phone/retire'],
    ['POST', `users/alice/push-sessions/${randomUUID()}/expire`],
    ['POST', `users/alice/snapshot-sessions/${randomUUID()}/expire`],
    ['POST', 'users/alice/retained-floor'],
    ['POST', 'sweeps'],
  ];

  it('refuses every admin route without the admin guard: 401 without a token, 403 for a non-admin user, and changes nothing', async () => {
    // the list is complete: every operation of the oversync-admin Swagger tag is in it
    const doc = (await request(t.baseUrl).get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { tags?: string[] }>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.tags?.includes('oversync-admin'))
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    const shape = (path: string) => path.replace(/\/[0-9a-f-]{36}\//, '/{id}/');
    const listed = routes().map(([method, path]) => `${method} /admin/api/${path}`);
    expect(documented.map((entry) => entry.replace(/\{[^}]+\}/g, '*')).sort()).toEqual(
      listed
        .map((entry) =>
          shape(entry)
            .replace(/\/users\/alice/, '/users/*')
            .replace(/\/(alice-phone|1|\{id\})\//, '/*/')
            .replace(/\/bundles\/1$/, '/bundles/*')
            .replace('{id}', '*'),
        )
        .sort(),
    );

    const before = (await db.query(`SELECT state FROM sync.source_state ORDER BY source_id`)).rows;
    const user = new AdminHttp(t.baseUrl, userToken);
    const anonymous = new AdminHttp(t.baseUrl);
    for (const [method, path] of routes()) {
      for (const [caller, status] of [
        [anonymous, 401],
        [user, 403],
      ] as const) {
        const res = method === 'GET' ? await caller.get(path) : await caller.post(path, { retained_floor: '2' });
        expect([method, path, res.status]).toEqual([method, path, status]);
        expect(Object.keys(res.body as object).sort()).toEqual(['error', 'message']);
      }
    }
    expect((await db.query(`SELECT state FROM sync.source_state ORDER BY source_id`)).rows).toEqual(before);
    expect((await db.query('SELECT count(*)::int AS n FROM sync.admin_audit')).rows[0].n).toBe(0);

    // the page: 401/403 (it shows its sign-in form); its static files carry no data and are public
    const page = await request(t.baseUrl).get('/admin').expect(401);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    await request(t.baseUrl).get('/admin').set('Authorization', `Bearer ${userToken}`).expect(403);
    const ok = await request(t.baseUrl).get('/admin').set('Authorization', `Bearer ${admin.token}`).expect(200);
    expect(ok.text).toContain('src="/admin/assets/console.js"');
    const js = await request(t.baseUrl).get('/admin/assets/console.js').expect(200);
    expect(js.headers['content-type']).toContain('text/javascript');
    await request(t.baseUrl).get('/admin/assets/nope.js').expect(404);
    // the dummy sign-in never mints the admin role in production
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await request(t.baseUrl)
        .post('/dummy-signin')
        .send({ user: 'eve', roles: ['admin'] })
        .expect(403);
    } finally {
      process.env.NODE_ENV = env;
    }
    // a forged role claim (other secret) is no admin
    const forged = await request(t.baseUrl)
      .get('/admin/api/users')
      .set('Authorization', `Bearer ${userToken.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
  });

  it('lists users by id prefix with bundle_seq, floor, row counts and last activity', async () => {
    await new SyncHttp(t.baseUrl, await t.signIn('bob'), 'bob-1').connect(false);
    const page = (await admin.get('users?prefix=ali').expect(200)).body as {
      items: Array<Record<string, unknown>>;
      next_cursor?: string;
    };
    expect(page.next_cursor).toBeUndefined();
    expect(page.items).toEqual([
      expect.objectContaining({
        user_id: 'alice',
        bundle_seq: '4',
        retained_floor: '0',
        retained_bundles: '4',
        live_rows: { count: 4, at_least: false },
        sources: { count: 2, at_least: false },
        last_activity: expect.any(String),
      }),
    ]);
    const all = (await admin.get('users?limit=1').expect(200)).body as {
      items: Array<{ user_id: string }>;
      next_cursor: string;
    };
    expect(all.items.map((u) => u.user_id)).toEqual(['alice']);
    const next = (await admin.get(`users?limit=1&cursor=${all.next_cursor}`).expect(200)).body as {
      items: Array<{ user_id: string }>;
    };
    expect(next.items.map((u) => u.user_id)).toEqual(['bob']);
    // LIKE metacharacters in the prefix are literal
    expect(((await admin.get('users?prefix=%25').expect(200)).body as { items: unknown[] }).items).toEqual([]);
  });

  it("shows a user's sources with the last pulled bundle_seq and the lag, recorded by real pulls", async () => {
    const sources = async () =>
      ((await admin.get('users/alice/sources').expect(200)).body as { items: Array<Record<string, string | null>> })
        .items;
    expect(
      (await sources()).map((s) => [
        s.source_id,
        s.state,
        s.next_source_bundle_id,
        s.last_pulled_bundle_seq,
        s.lag,
        s.last_pulled_at,
      ]),
    ).toEqual([
      ['alice-laptop', 'active', '2', '0', '4', null],
      ['alice-phone', 'active', '4', '0', '4', null],
    ]);
    await alice2.get('/sync/pull?after_bundle_seq=0&max_bundles=2').expect(200);
    await alice1.get('/sync/pull?after_bundle_seq=0').expect(200);
    // an older checkpoint never moves it back
    await alice1.get('/sync/pull?after_bundle_seq=0&max_bundles=1').expect(200);
    const after = await sources();
    expect(after.map((s) => [s.source_id, s.last_pulled_bundle_seq, s.lag])).toEqual([
      ['alice-laptop', '2', '2'],
      ['alice-phone', '4', '0'],
    ]);
    expect(after[1]!.last_push_at).toEqual(expect.any(String));
    expect(after[1]!.last_pulled_at).toEqual(expect.any(String));
  });

  it('shows a bundle with its rows and its hash recomputed and verified; a tampered bundle shows a mismatch', async () => {
    const bundle = (await admin.get('users/alice/bundles/2').expect(200)).body as {
      bundle: Record<string, string>;
      verification: { verified: boolean; recomputed_hash: string };
      rows: { items: Array<Record<string, unknown>> };
    };
    expect(bundle.bundle).toMatchObject({
      bundle_seq: '2',
      source_id: 'alice-phone',
      source_bundle_id: '2',
      row_count: '1',
    });
    expect(bundle.verification).toMatchObject({ verified: true, recomputed_hash: bundle.bundle.bundle_hash });
    expect(bundle.rows.items).toEqual([
      expect.objectContaining({ row_ordinal: '0', schema: 'business', table: 'users', op: 'INSERT' }),
    ]);
    const list = (await admin.get('users/alice/bundles?limit=2').expect(200)).body as {
      items: Array<{ bundle_seq: string }>;
      next_cursor: string;
    };
    expect(list.items.map((b) => b.bundle_seq)).toEqual(['4', '3']);
    await db.query(
      `UPDATE sync.bundle_rows SET payload_wire = replace(payload_wire::text, '"u1"', '"evil"')::json
        WHERE bundle_seq = 1`,
    );
    const tampered = (await admin.get('users/alice/bundles/1').expect(200)).body as {
      verification: { verified: boolean };
    };
    expect(tampered.verification.verified).toBe(false);
    await admin.get('users/alice/bundles/99').expect(404);
  });

  it('records a real conflicting push in the rejected-writes log with the rows sent and the answer', async () => {
    const id = randomUUID();
    expect((await alice1.push(4, [userInsertRow(id, { name: 'v1' })])).status).toBe(200);
    const stale = await alice2.push(2, [
      {
        schema: 'business',
        table: 'users',
        key: { id },
        op: 'UPDATE',
        base_row_version: 1,
        payload: { id, name: 'stale', email: 'e' },
      },
    ]);
    expect(stale.status).toBe(409);
    const log = (await admin.get('users/alice/rejected-writes').expect(200)).body as {
      items: Array<Record<string, unknown>>;
    };
    expect(log.items).toHaveLength(1);
    expect(log.items[0]).toMatchObject({
      source_id: 'alice-laptop',
      source_bundle_id: '2',
      http_status: 409,
      error_code: 'push_conflict',
      planned_row_count: '1',
      rows_truncated: false,
      answer: { error: 'push_conflict', conflict: { op: 'UPDATE', base_row_version: 1, server_row_version: 5 } },
      rows_sent: [{ row_ordinal: 0, table: 'business.users', key: id, op: 'UPDATE', base_row_version: 1 }],
    });
    expect(JSON.parse((log.items[0]!.rows_sent as Array<{ payload: string }>)[0]!.payload)).toEqual({
      email: 'e',
      id,
      name: 'stale',
    });
    // another user's session is never recorded under the caller
    const bob = new SyncHttp(t.baseUrl, await t.signIn('bob'), 'bob-1');
    const pushId = (await alice2.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 }).expect(200))
      .body.push_id as string;
    await bob.post(`/sync/push-sessions/${pushId}/commit`).expect(403);
    expect((await db.query('SELECT count(*)::int AS n FROM sync.rejected_writes')).rows[0].n).toBe(1);
    await alice2.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });

  it('expires a push session: listed with staged rows and age, then refused with 410, audited', async () => {
    const created = await alice1.post('/sync/push-sessions', { source_bundle_id: 5, planned_row_count: 2 }).expect(200);
    const pushId = created.body.push_id as string;
    await alice1
      .post(`/sync/push-sessions/${pushId}/chunks`, {
        start_row_ordinal: 0,
        rows: [userInsertRow(randomUUID(), { name: 'a' })],
      })
      .expect(200);
    const sessions = (await admin.get('users/alice/push-sessions').expect(200)).body as {
      items: Array<Record<string, unknown>>;
    };
    expect(sessions.items).toEqual([
      expect.objectContaining({
        push_id: pushId,
        source_id: 'alice-phone',
        staged_rows: '1',
        planned_row_count: '2',
        expired: false,
        age_seconds: expect.any(String),
      }),
    ]);
    await admin.post(`users/alice/push-sessions/${pushId}/expire`).expect(200);
    const refused = await alice1.post(`/sync/push-sessions/${pushId}/chunks`, {
      start_row_ordinal: 1,
      rows: [userInsertRow(randomUUID(), { name: 'b' })],
    });
    expect(refused.status).toBe(410);
    await admin.post(`users/alice/push-sessions/${randomUUID()}/expire`).expect(404);
    await admin.post('users/alice/push-sessions/not-a-uuid/expire').expect(404);
    const sweep = (await admin.post('sweeps').expect(200)).body as { push_sessions: number };
    expect(sweep.push_sessions).toBe(1);
    const audit = (await db.query(`SELECT admin_id, action, user_id, target FROM sync.admin_audit ORDER BY audit_id`))
      .rows;
    expect(audit).toEqual([
      { admin_id: 'ops-admin', action: 'expire_push_session', user_id: 'alice', target: pushId },
      { admin_id: 'ops-admin', action: 'run_sweeper', user_id: '', target: '' },
    ]);
  });

  it('lists and expires a snapshot session', async () => {
    const snap = await alice1.post('/sync/snapshot-sessions', {}).expect(200);
    const snapshotId = snap.body.snapshot_id as string;
    const list = (await admin.get('users/alice/snapshot-sessions').expect(200)).body as {
      items: Array<Record<string, unknown>>;
    };
    expect(list.items).toEqual([expect.objectContaining({ snapshot_id: snapshotId, expired: false })]);
    await admin.post(`users/alice/snapshot-sessions/${snapshotId}/expire`).expect(200);
    await alice1.get(`/sync/snapshot-sessions/${snapshotId}?after_row_ordinal=0&max_rows=10`).expect(410);
  });

  it('retires a source: its next push gets source_retired naming the replacement; audited', async () => {
    const retired = (
      await admin
        .post('users/alice/sources/alice-laptop/retire', { replaced_by_source_id: 'alice-laptop-2' })
        .expect(200)
    ).body;
    expect(retired).toEqual({ source_id: 'alice-laptop', replaced_by_source_id: 'alice-laptop-2' });
    expect(
      (
        await db.query(
          `SELECT state, replaced_by_source_id, retirement_reason FROM sync.source_state
            WHERE source_id = 'alice-laptop'`,
        )
      ).rows,
    ).toEqual([{ state: 'retired', replaced_by_source_id: 'alice-laptop-2', retirement_reason: 'admin_retired' }]);
    const refused = await alice2.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      error: 'source_retired',
      source_id: 'alice-laptop',
      replaced_by_source_id: 'alice-laptop-2',
    });
    expect((await admin.post('users/alice/sources/alice-laptop/retire').expect(409)).body.error).toBe(
      'admin_source_retired',
    );
    await admin.post('users/alice/sources/nobody/retire').expect(404);
    await admin.post('users/nobody/sources/x/retire').expect(404);
    const audit = (await admin.get('audit?limit=1').expect(200)).body as { items: Array<Record<string, unknown>> };
    expect(audit.items[0]).toMatchObject({
      admin_id: 'ops-admin',
      action: 'retire_source',
      user_id: 'alice',
      target: 'alice-laptop',
      detail: { replaced_by_source_id: 'alice-laptop-2' },
    });
  });

  it('raises the retained floor within bounds: older history is pruned, pulls behind it get history_pruned', async () => {
    await admin.post('users/alice/retained-floor', { retained_floor: '0' }).expect(400);
    await admin.post('users/alice/retained-floor', { retained_floor: '999' }).expect(400);
    await admin.post('users/alice/retained-floor', { retained_floor: 'x' }).expect(400);
    const raised = (await admin.post('users/alice/retained-floor', { retained_floor: '2' }).expect(200)).body;
    expect(raised).toEqual({ retained_floor: '2', pruned_bundles: 2 });
    expect((await alice1.get('/sync/pull?after_bundle_seq=1')).body.error).toBe('history_pruned');
    await admin.get('users/alice/bundles/1').expect(404);
  });

  it('answers bad input with a 4xx envelope, never a 500', async () => {
    for (const path of [
      'users?limit=0',
      'users?limit=201',
      'users?limit=abc',
      'users?cursor=nope',
      'users?prefix=a&prefix=b',
      'users/alice/bundles?cursor=WyJ4Il0',
      'users/alice/bundles/abc',
      'users/alice/bundles/99999999999999999999',
      'users/alice/snapshot-sessions?cursor=WyJ4Il0',
    ]) {
      const res = await admin.get(path);
      expect([path, res.status, (res.body as { error?: string }).error]).toEqual([path, 400, expect.any(String)]);
    }
    await admin.get('users/nobody').expect(404);
    await admin.get('users/nobody/sources').expect(404);
    const noType = await request(t.baseUrl)
      .post('/admin/api/sweeps')
      .set('Authorization', `Bearer ${admin.token}`)
      .send('x');
    expect(noType.status).toBe(400);
    const badJson = await request(t.baseUrl)
      .post('/admin/api/sweeps')
      .set('Authorization', `Bearer ${admin.token}`)
      .set('Content-Type', 'application/json')
      .send('{');
    expect([badJson.status, badJson.body.error]).toEqual([400, 'invalid_request']);
  });

  it('keeps the newest 1,000 rejected commits per user', async () => {
    await db.query(`INSERT INTO sync.rejected_writes (user_pk, source_id, source_bundle_id, push_id, http_status,
      error_code, answer, planned_row_count, rows_sent, rows_truncated)
      SELECT us.user_pk, 'old', g, gen_random_uuid(), 409, 'push_conflict', '{}', 1, '[]', false
        FROM sync.user_state us, generate_series(1, 1100) g WHERE us.user_id = 'alice'`);
    const id = randomUUID();
    expect((await alice1.push(5, [userInsertRow(id, { name: 'x' })])).status).toBe(200);
    const tablet = new SyncHttp(t.baseUrl, userToken, 'alice-tablet');
    expect(
      (await tablet.push(1, [{ ...userInsertRow(id, { name: 'y' }), op: 'UPDATE', base_row_version: 1 }])).status,
    ).toBe(409);
    const { rows } = await db.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE source_id = 'alice-tablet')::int AS newest
        FROM sync.rejected_writes`,
    );
    expect(rows[0]).toEqual({ n: 1000, newest: 1 });
    await db.query(`DELETE FROM sync.rejected_writes WHERE source_id IN ('old', 'alice-tablet')`);
  });

  it('serves live counters from the status service', async () => {
    const status = (await admin.get('status').expect(200)).body as {
      status: Record<string, unknown>;
      watch_subscribers: number;
      rejected_commit_count: string;
    };
    expect(status.status).toMatchObject({ committed_bundle_count: expect.any(Number), lifecycle: 'running' });
    expect(status.watch_subscribers).toBe(0);
    expect(Number(status.rejected_commit_count)).toBeGreaterThanOrEqual(2);
  });

  it('adds its schema to an existing deployment at start', async () => {
    await db.query(`DROP TABLE sync.admin_audit, sync.rejected_writes; DROP INDEX sync.user_state_user_id_c_idx;
      ALTER TABLE sync.source_state DROP COLUMN last_pulled_bundle_seq, DROP COLUMN last_pulled_at;
      ALTER TABLE sync.push_sessions DROP COLUMN created_at;
        ALTER TABLE sync.snapshot_sessions DROP COLUMN created_at`);
    await t.app.get((await import('@oversync/nestjs')).OversyncSchemaService).bootstrap();
    const [present] = (
      await db.query(`SELECT to_regclass('sync.admin_audit') IS NOT NULL AS audit, to_regclass('sync.rejected_writes')
        IS NOT NULL AS rejected,
      (SELECT count(*)::int FROM information_schema.columns WHERE table_schema = 'sync' AND column_name
        IN ('last_pulled_bundle_seq', 'last_pulled_at', 'created_at')) AS columns`)
    ).rows;
    expect(present).toEqual({ audit: true, rejected: true, columns: 4 });
    await admin.get(`users/${enc('alice')}/sources`).expect(200);
  });
});
