import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp, userInsertRow } from './support/sync-http.js';

describe('reference app test surface (OVERSYNC_TEST_ENDPOINTS=true)', () => {
  let t: TestApp;
  let a: SyncHttp;
  beforeAll(async () => {
    t = await startTestApp();
    a = new SyncHttp(t.baseUrl, await t.signIn('alice'), 'a-1');
    await a.connect(false);
  });
  afterAll(async () => t.close());

  it('injects N failures per endpoint, then serves normally', async () => {
    await request(t.baseUrl).post('/test/failures').send({ endpoint: 'pull', count: 2 }).expect(200);
    expect((await request(t.baseUrl).get('/test/failures').expect(200)).body).toEqual({
      pending: { pull: 2 },
      status: 'ok',
    });
    for (let i = 0; i < 2; i++) {
      const res = await a.get('/sync/pull');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'injected_failure', message: 'injected pull failure' });
    }
    await a.get('/sync/pull').expect(200);
    expect((await request(t.baseUrl).get('/test/failures').expect(200)).body).toEqual({ pending: {}, status: 'ok' });
    await request(t.baseUrl).post('/test/failures').send({ endpoint: 'nope' }).expect(400);
  });

  it('sets the retention floor and pull then answers history_pruned', async () => {
    for (let i = 1; i <= 3; i++) {
      const id = randomUUID();
      expect((await a.push(i, [userInsertRow(id)])).status).toBe(200);
    }
    const res = await request(t.baseUrl)
      .post('/test/retention-floor')
      .send({ user_id: 'alice', retained_bundle_floor: 2 })
      .expect(200);
    expect(res.text).toBe('{"retained_bundle_floor":2,"status":"ok","user_id":"alice"}');
    const pruned = await a.get('/sync/pull?after_bundle_seq=1');
    expect(pruned.status).toBe(409);
    expect(pruned.body.error).toBe('history_pruned');
    // a checkpoint equal to the floor is served (the reference: 409)
    expect((await a.get('/sync/pull?after_bundle_seq=2')).status).toBe(200);
    await a.get('/sync/pull?after_bundle_seq=3').expect(200);
    await request(t.baseUrl)
      .post('/test/retention-floor')
      .send({ user_id: 'nobody', retained_bundle_floor: 0 })
      .expect(404);
    await request(t.baseUrl)
      .post('/test/retention-floor')
      .send({ user_id: 'alice', retained_bundle_floor: -1 })
      .expect(400);
    await request(t.baseUrl)
      .post('/test/retention-floor')
      .send({ user_id: 'alice', retained_bundle_floor: 99 })
      .expect(500);
  });

  it('resets the sync and business schemas', async () => {
    const res = await request(t.baseUrl).post('/test/reset').expect(200);
    expect(res.body).toEqual({ schema: 'business', status: 'ok' });
    await a.get('/sync/pull').expect(409);
    await a.connect(false);
    expect((await a.get('/sync/pull').expect(200)).body.stable_bundle_seq).toBe(0);
  });

  it('is absent unless enabled', async () => {
    const off = await startTestApp({ env: { OVERSYNC_TEST_ENDPOINTS: 'false' } });
    try {
      await request(off.baseUrl).post('/test/reset').expect(404);
    } finally {
      await off.close();
    }
  });
});
