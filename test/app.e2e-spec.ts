import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('reference app: sign-in, auth, OpenAPI', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('signs in via /dummy-signin and rejects bad sign-in bodies', async () => {
    const res = await request(t.baseUrl).post('/dummy-signin').send({ user: 'alice', password: 'x' }).expect(200);
    expect(res.body).toMatchObject({ user: 'alice', expires_in: 300 });
    expect(typeof res.body.token).toBe('string');
    await request(t.baseUrl)
      .post('/dummy-signin')
      .send({ user: '  ' })
      .expect(400, { error: 'invalid_request', message: 'user required' });
  });

  it('protects /sync routes: 401 with a JSON envelope without a token, 200 with one', async () => {
    const anonymous = await request(t.baseUrl).get('/sync/capabilities').set('Oversync-Source-ID', 'd1').expect(401);
    expect(anonymous.headers['content-type']).toBe('application/json');
    expect(anonymous.body.error).toBe('authentication_failed');
    const bad = await request(t.baseUrl)
      .get('/sync/capabilities')
      .set('Authorization', 'Bearer nope')
      .set('Oversync-Source-ID', 'd1')
      .expect(401);
    expect(bad.body).toEqual({ error: 'authentication_failed', message: 'Invalid token' });
    const token = await t.signIn('alice');
    const ok = await request(t.baseUrl)
      .get('/sync/capabilities')
      .set('Authorization', `Bearer ${token}`)
      .set('Oversync-Source-ID', 'd1')
      .expect(200);
    expect(ok.body.protocol_version).toBe('v1');
    const noSource = await request(t.baseUrl)
      .get('/sync/capabilities')
      .set('Authorization', `Bearer ${token}`)
      .expect(400);
    expect(noSource.body).toEqual({ error: 'invalid_request', message: 'Oversync-Source-ID header is required' });
  });

  it('serves the OpenAPI document with bearer auth and the sync paths', async () => {
    const res = await request(t.baseUrl).get('/docs-json').expect(200);
    expect(res.body.components.securitySchemes.bearer).toBeDefined();
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/sync/connect', '/sync/push-sessions', '/sync/pull', '/syncx/health']),
    );
    await request(t.baseUrl).get('/docs').expect(200);
  });

  it('answers /syncx/health without auth, with no details by default', async () => {
    const res = await request(t.baseUrl).get('/syncx/health').expect(200);
    expect(res.body).toEqual({ status: 'healthy', version: 'v1' });
  });
});
