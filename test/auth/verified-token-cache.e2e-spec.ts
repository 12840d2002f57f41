import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import request from 'supertest';
import { VerifiedTokenCache } from '../../src/auth/verified-token-cache.js';
import { forgedTokens, signJwt } from '../fuzz/forged-tokens.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SECRET = 'test-secret';
const HS256 = { alg: 'HS256', typ: 'JWT' };
const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The reference app remembers verified tokens (JWT_CACHE_ENTRIES): the cache never admits what the verifier refuses.
 */
describe('reference app: verified-token cache', () => {
  let t: TestApp;
  let cache: VerifiedTokenCache;
  beforeAll(async () => {
    t = await startTestApp();
    cache = t.app.get(VerifiedTokenCache, { strict: false });
  });
  afterAll(async () => t.close());

  const capabilities = (token: string) =>
    request(t.baseUrl)
      .get('/sync/capabilities')
      .set('Authorization', `Bearer ${token}`)
      .set('Oversync-Source-ID', 'd1');
  const connect = (token: string) =>
    request(t.baseUrl)
      .post('/sync/connect')
      .set('Authorization', `Bearer ${token}`)
      .set('Oversync-Source-ID', 'd1')
      .send({ has_local_pending_rows: false });

  it('refuses forged tokens, a valid signature under other claims included, while the genuine token is cached', async () => {
    const live = { sub: 'alice', iat: nowSeconds(), exp: nowSeconds() + 300 };
    const valid = signJwt(HS256, live, SECRET);
    await capabilities(valid).expect(200);
    await capabilities(valid).expect(200);
    expect(cache.get(valid)?.sub).toBe('alice');
    const [header, , signature] = valid.split('.');
    const claims = (c: object) => Buffer.from(JSON.stringify(c)).toString('base64url');
    const riding: Array<[string, string]> = [
      ['other sub under the cached signature', `${header}.${claims({ ...live, sub: 'mallory' })}.${signature}`],
      ['later exp under the cached signature', `${header}.${claims({ ...live, exp: live.exp + 3600 })}.${signature}`],
      ['the cached signature alone', signature!],
      ['the cached token without its signature', `${header}.${claims(live)}.`],
      ['the cached token with a trailing character', `${valid}x`],
    ];
    for (const [name, token] of [...riding, ...forgedTokens('alice', SECRET)]) {
      const res = await capabilities(token);
      expect([name, res.status, res.body]).toEqual([
        name,
        401,
        { error: 'authentication_failed', message: expect.any(String) },
      ]);
      expect(cache.get(token)).toBeUndefined();
    }
    // nothing was written by a refused token
    const forged = `${header}.${claims({ ...live, sub: 'mallory' })}.${signature}`;
    await connect(forged).expect(401);
    const db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    try {
      expect((await db.query(`SELECT count(*)::int AS n FROM sync.source_state`)).rows[0]).toEqual({ n: 0 });
    } finally {
      await db.end();
    }
  });

  it('refuses a cached token once it expires', async () => {
    const exp = nowSeconds() + 2;
    const token = signJwt(HS256, { sub: 'bob', iat: nowSeconds(), exp }, SECRET);
    await capabilities(token).expect(200);
    expect(cache.get(token)?.sub).toBe('bob');
    while (nowSeconds() < exp) await new Promise((r) => setTimeout(r, 100));
    await capabilities(token).expect(401, { error: 'authentication_failed', message: 'Invalid token' });
    await connect(token).expect(401);
    expect(cache.get(token)).toBeUndefined();
  });
});
