import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { OversyncScopeService } from '@oversync/nestjs';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp } from './support/sync-http.js';

const user = (id: string, extra: Record<string, unknown> = {}) => ({
  schema: 'business',
  table: 'users',
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, name: 'n', email: 'e', ...extra },
});

describe('sync error paths: every client mistake is a 4xx envelope and changes nothing', () => {
  let t: TestApp;
  let a: SyncHttp;
  let a2: SyncHttp;
  let b: SyncHttp;
  let db: pg.Client;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_MAX_BODY_BYTES: '200000' } });
    const alice = await t.signIn('alice');
    a = new SyncHttp(t.baseUrl, alice, 'a-1');
    a2 = new SyncHttp(t.baseUrl, alice, 'a-2');
    b = new SyncHttp(t.baseUrl, await t.signIn('bob'), 'b-1');
    await a.connect(false);
    await b.connect(false);
    db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const expectError = (
    res: { status: number; body: { error?: string; message?: string }; headers: Record<string, string> },
    status: number,
    error: string,
    message?: string,
  ) => {
    expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
    expect(res.headers['content-type']).toBe('application/json');
    if (message !== undefined) expect(res.body.message).toBe(message);
  };

  describe('connect', () => {
    it.each([
      ['', 'empty'],
      ['{', 'truncated'],
      ['{"has_local_pending_rows":"yes"}', 'wrong type'],
      ['{} {}', 'trailing data'],
      ['[]', 'array'],
    ])('%s (%s) → 400', async (body) => {
      expectError(await a.post('/sync/connect', body), 400, 'invalid_request', 'Failed to parse connect request');
    });
    it('accepts member names case-insensitively like Go', async () => {
      const res = await a.post('/sync/connect', '{"HAS_LOCAL_PENDING_ROWS":false}').expect(200);
      expect(res.body).toEqual({ resolution: 'remote_authoritative' });
    });
  });

  describe('push session create', () => {
    it.each([
      ['{"source_bundle_id":"1","planned_row_count":1}'],
      ['{"source_bundle_id":1.0,"planned_row_count":1}'],
      ['{"source_bundle_id":1e0,"planned_row_count":1}'],
      ['{"source_bundle_id":99999999999999999999,"planned_row_count":1}'],
      ['not json'],
    ])('%s → 400 parse error', async (body) => {
      expectError(
        await a.post('/sync/push-sessions', body),
        400,
        'invalid_request',
        'Failed to parse push session request',
      );
    });
    it('validates ids and the scope', async () => {
      expectError(
        await a.post('/sync/push-sessions', { source_bundle_id: 0, planned_row_count: 1 }),
        400,
        'push_session_invalid',
        'source_bundle_id must be > 0',
      );
      expectError(
        await a.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 0 }),
        400,
        'push_session_invalid',
        'planned_row_count must be > 0',
      );
      expectError(
        await a.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1e12 }),
        400,
        'push_session_invalid',
      );
      expectError(
        await a.post('/sync/push-sessions', {
          source_bundle_id: 1,
          planned_row_count: 1,
          initialization_id: randomUUID(),
        }),
        400,
        'push_session_invalid',
        'initialization_id must be absent once the scope is initialized',
      );
      const carol = new SyncHttp(t.baseUrl, await t.signIn('carol'), 'c-1');
      expectError(
        await carol.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }),
        409,
        'scope_uninitialized',
        'sync scope for user carol is not initialized',
      );
      expectError(await carol.get('/sync/pull'), 409, 'scope_uninitialized');
    });
  });

  describe('initialization leases', () => {
    it('walks initialize_local → seed push with lease checks → initialized', async () => {
      const dave1 = new SyncHttp(t.baseUrl, await t.signIn('dave'), 'd-1');
      const dave2 = new SyncHttp(t.baseUrl, dave1.token, 'd-2');
      const connect = (await dave1.connect(true)).body as {
        resolution: string;
        initialization_id: string;
        lease_expires_at: string;
      };
      expect(connect.resolution).toBe('initialize_local');
      expect(connect.lease_expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      const other = (await dave2.connect(true)).body as { resolution: string; retry_after_seconds: number };
      expect(other.resolution).toBe('retry_later');
      expect(other.retry_after_seconds).toBeGreaterThanOrEqual(1);
      expectError(await dave2.get('/sync/pull'), 409, 'scope_initializing');
      expectError(
        await dave1.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }),
        400,
        'push_session_invalid',
        'initialization_id is required while the scope is initializing',
      );
      expectError(
        await dave1.post('/sync/push-sessions', {
          source_bundle_id: 1,
          planned_row_count: 1,
          initialization_id: randomUUID(),
        }),
        409,
        'initialization_stale',
        'initialization_id does not match the active initialization lease',
      );
      expectError(
        await dave2.post('/sync/push-sessions', {
          source_bundle_id: 1,
          planned_row_count: 1,
          initialization_id: connect.initialization_id,
        }),
        409,
        'initialization_stale',
        'source does not own the active initialization lease',
      );
      const seed = await dave1.push(1, [user(randomUUID())], connect.initialization_id);
      expect(seed.status).toBe(200);
      expect((await dave2.connect(true)).body).toEqual({ resolution: 'remote_authoritative' });
    });
  });

  describe('chunk upload', () => {
    let pushId: string;
    beforeAll(async () => {
      pushId = (await a.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 3 }).expect(200)).body
        .push_id;
    });
    const chunk = (rows: unknown[], start = 0) =>
      a.post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: start, rows });
    const id = randomUUID();
    it.each<[string, unknown, string]>([
      ['bad schema', { ...user(id), schema: 'Bad-Schema' }, 'invalid schema name "Bad-Schema"'],
      ['bad table', { ...user(id), table: 'us ers' }, 'invalid table name "us ers"'],
      ['unregistered', { ...user(id), table: 'secrets' }, 'table business.secrets is not registered'],
      ['bad op', { ...user(id), op: 'UPSERT' }, 'invalid op "UPSERT"'],
      ['missing key', { ...user(id), key: { uuid: id } }, 'row key for business.users must include "id"'],
      ['key not string', { ...user(id), key: { id: 7 } }, 'row key business.users.id must be a string'],
      [
        'upper-case uuid',
        { ...user(id), key: { id: id.toUpperCase() } },
        'row key business.users.id must use canonical dashed lowercase UUID text',
      ],
      [
        'delete with payload',
        { ...user(id), op: 'DELETE', payload: null },
        'DELETE for business.users must not include payload',
      ],
      [
        'insert without payload',
        { schema: 'business', table: 'users', key: { id }, op: 'INSERT', base_row_version: 0 },
        'INSERT for business.users requires payload',
      ],
      ['payload array', { ...user(id), payload: [1] }, 'payload for business.users must be a JSON object'],
      [
        'hidden column',
        { ...user(id), payload: { id, _sync_scope_id: 'bob' } },
        'payload for business.users must not include hidden scope column "_sync_scope_id"',
      ],
      [
        'hidden column any case',
        { ...user(id), payload: { id, _SYNC_SCOPE_ID: 'bob' } },
        'payload for business.users must not include hidden scope column "_sync_scope_id"',
      ],
      [
        'key mismatch',
        { ...user(id), payload: { id: randomUUID(), name: 'n' } },
        'payload key business.users.id must match request key',
      ],
      [
        'invalid column',
        { ...user(id), payload: { id, 'na-me': 'x' } },
        'payload for business.users contains invalid column "na-me"',
      ],
      [
        'unknown column',
        { ...user(id), payload: { id, nickname: 'x' } },
        'payload for business.users contains unknown column "nickname"',
      ],
      [
        'bytea not string',
        {
          schema: 'business',
          table: 'files',
          key: { id },
          op: 'INSERT',
          base_row_version: 0,
          payload: { id, name: 'f', data: 5 },
        },
        'payload binary field business.files.data must be a base64 string',
      ],
      [
        'bytea bad base64',
        {
          schema: 'business',
          table: 'files',
          key: { id },
          op: 'INSERT',
          base_row_version: 0,
          payload: { id, name: 'f', data: 'abc' },
        },
        'payload binary field business.files.data must be valid base64',
      ],
    ])('%s → 400 push_chunk_invalid', async (_name, row, message) => {
      expectError(await chunk([row]), 400, 'push_chunk_invalid', message);
    });
    it('rejects a payload number outside double range (raw body)', async () => {
      const body =
        `{"start_row_ordinal":0,"rows":[{"schema":"business","table":"users","key":{"id":"${id}"},"op":"INSERT",` +
        `"base_row_version":0,"payload":{"id":"${id}","name":1e400}}]}`;
      expectError(
        await a.post(`/sync/push-sessions/${pushId}/chunks`, body),
        400,
        'push_chunk_invalid',
        'payload for business.users must be a JSON object',
      );
    });
    it('rejects duplicates, empty and oversize chunks, and bad ordinals', async () => {
      const same = randomUUID();
      expectError(
        await chunk([user(same), user(same)]),
        400,
        'push_chunk_invalid',
        `duplicate target row in push request: business.users ${same}`,
      );
      expectError(await chunk([]), 400, 'push_chunk_invalid', 'rows must not be empty');
      expectError(await chunk([user(randomUUID())], -1), 400, 'push_chunk_invalid', 'start_row_ordinal must be >= 0');
      expectError(
        await chunk([user(randomUUID())], 2),
        409,
        'push_chunk_out_of_order',
        `push session ${pushId} expected start_row_ordinal 0, got 2`,
      );
      expectError(
        await chunk([user(randomUUID()), user(randomUUID()), user(randomUUID()), user(randomUUID())]),
        400,
        'push_chunk_invalid',
        'chunk exceeds planned_row_count',
      );
      const big = Array.from({ length: 5001 }, () => user(randomUUID()));
      const tooMany = await chunk(big);
      expect(tooMany.status).toBe(413);
      expect(tooMany.body.error).toBe('request_too_large');
    });
    it('hides unknown and foreign sessions and refuses another source', async () => {
      expectError(
        await a.post(`/sync/push-sessions/${randomUUID()}/chunks`, {
          start_row_ordinal: 0,
          rows: [user(randomUUID())],
        }),
        404,
        'push_session_not_found',
      );
      expectError(
        await a.post('/sync/push-sessions/not-a-uuid/chunks', { start_row_ordinal: 0, rows: [user(randomUUID())] }),
        404,
        'push_session_not_found',
        'push session not-a-uuid was not found',
      );
      expectError(await a.post(`/sync/push-sessions/urn:uuid:${pushId}/commit`), 404, 'push_session_not_found');
      expectError(
        await b.post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 0, rows: [user(randomUUID())] }),
        403,
        'push_session_forbidden',
      );
      expectError(await a2.post(`/sync/push-sessions/${pushId}/commit`), 403, 'push_session_forbidden');
      expectError(
        await a.post(`/sync/push-sessions/${pushId}/commit`),
        400,
        'push_commit_invalid',
        'staged row count 0 does not match planned_row_count 3',
      );
    });
    it('left nothing staged after rejected chunks', async () => {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM sync.push_session_rows');
      expect(rows[0].n).toBe(0);
    });
  });

  describe('commit: business-table errors are 4xx naming the row (§8.1)', () => {
    it('NOT NULL violation', async () => {
      const id = randomUUID();
      const res = await a.push(1, [{ ...user(id), payload: { id, name: null, email: 'e' } }]);
      expectError(res, 400, 'push_commit_invalid');
      expect(res.body.message).toContain('business.users');
      expect(res.body.message).toContain('name');
    });
    it('deferred FK violation at COMMIT', async () => {
      const id = randomUUID();
      const res = await a.push(1, [
        {
          schema: 'business',
          table: 'posts',
          key: { id },
          op: 'INSERT',
          base_row_version: 0,
          payload: { id, title: 't', content: 'c', author_id: randomUUID() },
        },
      ]);
      expectError(res, 400, 'push_commit_invalid');
      expect(res.body.message).toContain('posts_author_id_fkey');
    });
    it('type error', async () => {
      const id = randomUUID();
      const res = await a.push(1, [
        {
          schema: 'business',
          table: 'typed_rows',
          key: { id },
          op: 'INSERT',
          base_row_version: 0,
          payload: { id, name: 'x', enabled_flag: 1.5 },
        },
      ]);
      expectError(res, 400, 'push_commit_invalid');
    });
    it('no state changed: nothing committed for alice so far', async () => {
      const { rows } = await db.query(
        'SELECT count(*)::int AS n FROM sync.bundle_log bl JOIN sync.user_state us USING (user_pk) WHERE ' +
          "us.user_id = 'alice'",
      );
      expect(rows[0].n).toBe(0);
      const business = await db.query("SELECT count(*)::int AS n FROM business.users WHERE _sync_scope_id = 'alice'");
      expect(business.rows[0].n).toBe(0);
    });
    it('commit of a committed push id is 404; delete is 204 then 404', async () => {
      const ok = await a.push(1, [user(randomUUID())]);
      expect(ok.status).toBe(200);
      const created = await a.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 }).expect(200);
      await a.delete(`/sync/push-sessions/${created.body.push_id}`).expect(204);
      expectError(await a.delete(`/sync/push-sessions/${created.body.push_id}`), 404, 'push_session_not_found');
    });
  });

  describe('source sequencing', () => {
    it('a watermark moved between create and commit → 409 source_sequence_changed', async () => {
      const erin = new SyncHttp(t.baseUrl, await t.signIn('erin'), 'e-1');
      await erin.connect(false);
      const id = randomUUID();
      const created = await erin.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }).expect(200);
      await erin
        .post(`/sync/push-sessions/${created.body.push_id}/chunks`, { start_row_ordinal: 0, rows: [user(id)] })
        .expect(200);
      // the same source id commits bundle 1 through a server-originated write in between
      const scopes = t.app.get(OversyncScopeService);
      await scopes.withinSyncBundle({ userId: 'erin' }, { sourceId: 'e-1', sourceBundleId: 1 }, async (manager) => {
        await manager.query(`INSERT INTO business.users (id, name, email) VALUES ($1, 'srv', 'e')`, [randomUUID()]);
      });
      expectError(
        await erin.post(`/sync/push-sessions/${created.body.push_id}/commit`),
        409,
        'source_sequence_changed',
        'source e-1 for user erin changed expected next source_bundle_id from staged 1 to 2 before commit',
      );
    });

    it('a committed tuple below the retained floor → 409 history_pruned on create', async () => {
      const fay = new SyncHttp(t.baseUrl, await t.signIn('fay'), 'f-1');
      await fay.connect(false);
      for (let i = 1; i <= 2; i++) expect((await fay.push(i, [user(randomUUID())])).status).toBe(200);
      await request(t.baseUrl)
        .post('/test/retention-floor')
        .send({ user_id: 'fay', retained_bundle_floor: 1 })
        .expect(200);
      expectError(
        await fay.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }),
        409,
        'history_pruned',
        'source tuple (f-1, 1) for user fay is older than retained duplicate history; max committed ' +
          'source_bundle_id is 2',
      );
      expect(
        (await fay.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 }).expect(200)).body.status,
      ).toBe('already_committed');
    });
  });

  describe('router-level errors use the envelope (§8.25)', () => {
    it('wrong method on a known path → 405 with Allow', async () => {
      const res = await a.get('/sync/connect');
      expectError(res, 405, 'method_not_allowed', 'Only POST method is allowed');
      expect(res.headers.allow).toBe('POST');
    });
    it('unknown path → 404', async () => {
      expectError(await a.get('/sync/nothing-here'), 404, 'not_found');
      expectError(await a.post('/syncx/health'), 405, 'method_not_allowed');
    });
  });

  describe('committed rows and pull query validation', () => {
    it.each([
      ['/sync/committed-bundles/x/rows', 'bundle_seq must be an integer'],
      ['/sync/committed-bundles/1/rows?after_row_ordinal=%207', 'after_row_ordinal must be an integer'],
      ['/sync/committed-bundles/1/rows?max_rows=1.5', 'max_rows must be an integer'],
      ['/sync/committed-bundles/0/rows', 'bundle_seq must be > 0'],
      ['/sync/committed-bundles/1/rows?after_row_ordinal=-1', 'after_row_ordinal must be >= 0'],
      ['/sync/committed-bundles/1/rows?max_rows=0', 'max_rows must be > 0'],
    ])('%s → 400', async (path, message) => {
      expectError(await a.get(path), 400, 'committed_bundle_chunk_invalid', message);
    });
    it('escapes > in messages like Go', async () => {
      const res = await a.get('/sync/committed-bundles/1/rows?max_rows=0');
      expect(res.text).toBe('{"error":"committed_bundle_chunk_invalid","message":"max_rows must be \\u003e 0"}\n');
    });
    it('unknown bundle → 404', async () => {
      expectError(
        await a.get('/sync/committed-bundles/999/rows'),
        404,
        'committed_bundle_not_found',
        'committed bundle 999 was not found',
      );
    });
    it.each([
      ['after_bundle_seq=x', 'after_bundle_seq must be an integer'],
      ['after_bundle_seq=-1', 'after_bundle_seq must be >= 0'],
      ['max_bundles=x', 'max_bundles must be an integer'],
      ['max_bundles=0', 'max_bundles must be between 1 and 5000'],
      ['max_bundles=5001', 'max_bundles must be between 1 and 5000'],
      ['target_bundle_seq=+', 'target_bundle_seq must be an integer'],
      ['target_bundle_seq=-3', 'target_bundle_seq must be >= 0'],
    ])('pull?%s → 400', async (query, message) => {
      expectError(await a.get(`/sync/pull?${query}`), 400, 'invalid_request', message);
    });
  });
});
