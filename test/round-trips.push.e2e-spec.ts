import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp, userInsertRow } from './support/sync-http.js';
import { countRoundTrips } from './support/round-trips.js';

// Issue 21: push create, chunk upload and commit of a small bundle are one database round trip each
// (the request function's call is the transaction). Nothing else runs meanwhile: watch is off, and
// every request is awaited before the next.
describe('push round trips', () => {
  let t: TestApp;
  let a: SyncHttp;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH: 'false' } });
    a = new SyncHttp(t.baseUrl, await t.signIn('alice'), 'a-1');
    await a.connect(false);
    // warm the pool and the named statements of this connection kind
    const id = randomUUID();
    expect((await a.push(1, [userInsertRow(id)])).status).toBe(200);
  });
  afterAll(async () => {
    await t.close();
  });

  it('create, chunk and commit of a one-row bundle are one round trip each, and so is the replay', async () => {
    const id = randomUUID();
    const create = await countRoundTrips(() =>
      a.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 }),
    );
    expect(create.result.status).toBe(200);
    expect(create.statements).toHaveLength(1);
    const pushId = create.result.body.push_id as string;

    const chunk = await countRoundTrips(() =>
      a.post(`/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 0, rows: [userInsertRow(id)] }),
    );
    expect(chunk.result.status).toBe(200);
    expect(chunk.statements).toHaveLength(1);

    const commit = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/commit`));
    expect(commit.result.status).toBe(200);
    expect(commit.result.body).toMatchObject({ source_bundle_id: 2, row_count: 1 });
    expect(commit.statements).toHaveLength(1);

    const replay = await countRoundTrips(() =>
      a.post('/sync/push-sessions', { source_bundle_id: 2, planned_row_count: 1 }),
    );
    expect(replay.result.body).toEqual({ ...commit.result.body, status: 'already_committed' });
    expect(replay.statements).toHaveLength(1);
  });

  it('a small bundle of several tables and operations commits in one round trip', async () => {
    const [u1, u2] = [randomUUID(), randomUUID()];
    const first = await a.push(3, [userInsertRow(u1), userInsertRow(u2)]);
    expect(first.status).toBe(200);
    const v = first.body.bundle_seq as number;
    const created = await a.post('/sync/push-sessions', { source_bundle_id: 4, planned_row_count: 3 }).expect(200);
    const pushId = created.body.push_id as string;
    await a
      .post(`/sync/push-sessions/${pushId}/chunks`, {
        start_row_ordinal: 0,
        rows: [
          {
            schema: 'business',
            table: 'users',
            key: { id: u1 },
            op: 'UPDATE',
            base_row_version: v,
            payload: { id: u1, name: 'renamed', email: 'e' },
          },
          { schema: 'business', table: 'users', key: { id: u2 }, op: 'DELETE', base_row_version: v },
          userInsertRow(randomUUID()),
        ],
      })
      .expect(200);
    const commit = await countRoundTrips(() => a.post(`/sync/push-sessions/${pushId}/commit`));
    expect(commit.result.status).toBe(200);
    expect(commit.result.body.row_count).toBe(3);
    expect(commit.statements).toHaveLength(1);
  });
});
