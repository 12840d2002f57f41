import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp, userInsertRow } from '../support/sync-http.js';
import { sendRaw } from './raw-request.js';
import { queryDatabase } from '../watch/watch-fixture.js';

// Regressions of server bugs the fuzz suites found, each named after the run that found it.

describe('found by the fuzz suites', () => {
  let t: TestApp;
  let headers: Array<[string, string]>;

  beforeAll(async () => {
    t = await startTestApp();
    const token = await t.signIn('alice');
    headers = [
      ['Authorization', `Bearer ${token}`],
      ['Oversync-Source-ID', 'a-1'],
    ];
    await new SyncHttp(t.baseUrl, token, 'a-1').connect(false);
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['POST', '/sync/push-sessions/%FF/chunks'],
    ['POST', '/sync/push-sessions/%/commit'],
    ['DELETE', '/sync/push-sessions/%C3%28'],
    ['GET', '/sync/committed-bundles/%/rows?after_row_ordinal=0'],
    ['GET', '/sync/snapshot-sessions/%E0%A4%A'],
    ['DELETE', '/sync/snapshot-sessions/%FF'],
    ['GET', '/sync/%FF'],
  ])('http-input seed 72318 (path %%FF): %s %s is a 400 envelope, not the framework body', async (method, path) => {
    const res = await sendRaw(t.baseUrl, {
      method,
      path,
      headers,
      body: method === 'POST' ? Buffer.from('{}') : undefined,
    });
    expect(res?.status).toBe(400);
    expect(res?.headers['content-type']).toBe('application/json');
    const body = JSON.parse(res!.body.toString('utf8')) as { error: string; message: string };
    expect(body.error).toBe('invalid_request');
    expect(body.message).toMatch(/^Failed to decode param '/);
  });

  it('http-input seed 72318 (path %FF): an unauthenticated caller gets the same 400, nothing more', async () => {
    const res = await sendRaw(t.baseUrl, { method: 'GET', path: '/sync/snapshot-sessions/%FF', headers: [] });
    expect(res?.status).toBe(400);
    expect(JSON.parse(res!.body.toString('utf8'))).toEqual({
      error: 'invalid_request',
      message: "Failed to decode param '%FF'",
    });
  });

  it.each([
    ['NUL', '\u0000'],
    ['an inner NUL', 'a\u0000b'],
    ['a control character', '\u0007'],
    ['513 characters', 'n'.repeat(513)],
  ])(
    'http-input seed 2 (snapshot create): a new_source_id of %s is a 400, not a 500, and rotates nothing',
    async (_label, newSourceId) => {
      const source = `a-rot-${randomUUID()}`;
      const http = new SyncHttp(t.baseUrl, headers[0]![1].slice('Bearer '.length), source);
      const res = await http.post('/sync/snapshot-sessions', {
        source_replacement: { previous_source_id: source, new_source_id: newSourceId, reason: 'history_pruned' },
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'snapshot_session_invalid',
        message: 'new_source_id must be printable text of at most 512 characters',
      });
      // the source was not retired: a rotation to a proper id still works
      const ok = await http.post('/sync/snapshot-sessions', {
        source_replacement: { previous_source_id: source, new_source_id: `${source}-next`, reason: 'history_pruned' },
      });
      expect(ok.status).toBe(200);
      await http.delete(`/sync/snapshot-sessions/${ok.body.snapshot_id}`).expect(204);
    },
  );

  it("http-input seed 484431551 (push create): an initialization_id with a NUL gets Go's answer, not a 500", async () => {
    // alice's scope is initialized: any id at all is refused as "must be absent"
    const initialized = await new SyncHttp(t.baseUrl, headers[0]![1].slice('Bearer '.length), 'a-1').post(
      '/sync/push-sessions',
      { source_bundle_id: 1, planned_row_count: 1, initialization_id: '\u0000' },
    );
    expect(initialized.status).toBe(400);
    expect(initialized.body).toEqual({
      error: 'push_session_invalid',
      message: 'initialization_id must be absent once the scope is initialized',
    });
    // an initializing scope: the id does not match the lease, and the lease stays usable
    const http = new SyncHttp(t.baseUrl, await t.signIn(`nul-init-${randomUUID()}`), 'n-1');
    const lease = await http.connect(true);
    expect(lease.body.resolution).toBe('initialize_local');
    const stale = await http.post('/sync/push-sessions', {
      source_bundle_id: 1,
      planned_row_count: 1,
      initialization_id: `a\u0000${lease.body.initialization_id}`,
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toEqual({
      error: 'initialization_stale',
      message: 'initialization_id does not match the active initialization lease',
    });
    const ok = await http.post('/sync/push-sessions', {
      source_bundle_id: 1,
      planned_row_count: 1,
      initialization_id: lease.body.initialization_id,
    });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('staging');
  });

  it('http-input seed 3 (committed rows): after_row_ordinal = int64 max is an empty last page, not a 500', async () => {
    const http = new SyncHttp(t.baseUrl, headers[0]![1].slice('Bearer '.length), 'a-1');
    const id = randomUUID();
    const commit = await http.push(1, [userInsertRow(id)]);
    expect(commit.status).toBe(200);
    const res = await http.get(
      `/sync/committed-bundles/${commit.body.bundle_seq}/rows?after_row_ordinal=9223372036854775807`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rows: [], has_more: false });
    expect(res.text).toContain('"next_row_ordinal":9223372036854775807,');
  });

  it('http-input seed 1077406142 (chunk): a payload holding U+0000 is a 400 at upload, not a 500 at commit', async () => {
    const http = new SyncHttp(t.baseUrl, headers[0]![1].slice('Bearer '.length), `nul-${randomUUID()}`);
    const id = randomUUID();
    const row = (name: string) => ({
      schema: 'business',
      table: 'users',
      key: { id },
      op: 'INSERT',
      base_row_version: 0,
      payload: { id, name, email: '~' },
    });
    const refused = await http.push(1, [row('\u0000')]);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error: 'push_chunk_invalid',
      message: `payload for business.users row ${id} holds U+0000, which PostgreSQL cannot store`,
    });
    // a backslash before "u0000" is text, not a NUL: the same session then takes the row and commits
    const created = await http.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 });
    expect(created.status).toBe(200);
    const pushId = (created.body as { push_id: string }).push_id;
    const chunk = await http.post(`/sync/push-sessions/${pushId}/chunks`, {
      start_row_ordinal: 0,
      rows: [row('\\u0000')],
    });
    expect(chunk.status).toBe(200);
    const commit = await http.post(`/sync/push-sessions/${pushId}/commit`);
    expect(commit.status).toBe(200);
    const stored = await queryDatabase<{ name: string }>(t.db.url, 'SELECT name FROM business.users WHERE id = $1', [
      id,
    ]);
    expect(stored[0]?.name).toBe('\\u0000');
  });
});
