import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from './support/test-app.js';

// The module on Express and on Fastify answers the same bytes: status, Content-Type, Content-Length,
// Allow and body, for answers that do not depend on ids or time (issue 20).
describe('the same answers on Express and Fastify', () => {
  const apps: Record<'express' | 'fastify', { t: TestApp; token: string }> = {} as never;
  const env = { OVERSYNC_MAX_BODY_BYTES: '2048' };

  beforeAll(async () => {
    for (const adapter of ['express', 'fastify'] as const) {
      const t = await startTestApp({ adapter, env });
      apps[adapter] = { t, token: await t.signIn('alice') };
    }
  });
  afterAll(async () => {
    for (const app of Object.values(apps)) await app?.t.close();
  });

  type Call = (base: string, token: string) => request.Test;
  const auth = (r: request.Test, token: string) =>
    r.set('Authorization', `Bearer ${token}`).set('Oversync-Source-ID', 'alice-device-1');
  const calls: Array<[string, Call]> = [
    ['capabilities', (base, token) => auth(request(base).get('/sync/capabilities'), token)],
    [
      'connect',
      (base, token) => auth(request(base).post('/sync/connect'), token).send({ has_local_pending_rows: false }),
    ],
    [
      'connect as text/plain',
      (base, token) =>
        auth(request(base).post('/sync/connect'), token)
          .set('Content-Type', 'text/plain')
          .send('{"has_local_pending_rows":false}'),
    ],
    [
      'connect, no Content-Type',
      (base, token) =>
        auth(request(base).post('/sync/connect'), token).send(Buffer.from('{"has_local_pending_rows":false}')),
    ],
    [
      'connect, bad JSON',
      (base, token) =>
        auth(request(base).post('/sync/connect'), token)
          .set('Content-Type', 'application/json')
          .send('{"has_local_pending_rows":'),
    ],
    [
      'connect, empty JSON body',
      (base, token) =>
        auth(request(base).post('/sync/connect'), token).set('Content-Type', 'application/json').send(''),
    ],
    [
      'connect, body over the limit',
      (base, token) =>
        auth(request(base).post('/sync/connect'), token)
          .set('Content-Type', 'application/json')
          .send(`{"x":"${'a'.repeat(4096)}"}`),
    ],
    [
      'push create, int64 out of range',
      (base, token) =>
        auth(request(base).post('/sync/push-sessions'), token)
          .set('Content-Type', 'application/json')
          .send('{"source_bundle_id":99999999999999999999,"planned_row_count":1}'),
    ],
    [
      'chunk of an unknown session',
      (base, token) =>
        auth(request(base).post('/sync/push-sessions/00000000-0000-4000-8000-000000000000/chunks'), token).send({
          start_row_ordinal: 0,
          rows: [],
        }),
    ],
    [
      'chunk with a malformed id',
      (base, token) =>
        auth(request(base).post('/sync/push-sessions/not-a-uuid/chunks'), token).send({
          start_row_ordinal: 0,
          rows: [],
        }),
    ],
    [
      'delete of an unknown session',
      (base, token) => auth(request(base).delete('/sync/push-sessions/00000000-0000-4000-8000-000000000000'), token),
    ],
    ['pull, bad checkpoint', (base, token) => auth(request(base).get('/sync/pull?after_bundle_seq=x'), token)],
    ['pull, empty', (base, token) => auth(request(base).get('/sync/pull?after_bundle_seq=0'), token)],
    [
      'committed rows of an unknown bundle',
      (base, token) => auth(request(base).get('/sync/committed-bundles/7/rows'), token),
    ],
    ['pull without a token', (base) => request(base).get('/sync/pull')],
    ['unknown path', (base, token) => auth(request(base).get('/sync/nothing/here'), token)],
    ['wrong method', (base, token) => auth(request(base).delete('/sync/connect'), token)],
    [
      'an id that is not percent-encoded UTF-8',
      (base, token) =>
        auth(request(base).post('/sync/push-sessions/%FF/chunks'), token).send({ start_row_ordinal: 0, rows: [] }),
    ],
    ['a trailing slash', (base, token) => auth(request(base).get('/sync/pull/'), token)],
    ['an upper-case path', (base, token) => auth(request(base).get('/SYNC/capabilities'), token)],
    [
      'a body on an upper-case path',
      (base, token) => auth(request(base).post('/Sync/Connect'), token).send({ has_local_pending_rows: true }),
    ],
    ['health', (base) => request(base).get('/syncx/health')],
  ];

  it.each(calls)('%s', async (_name, call) => {
    const answers = [];
    for (const adapter of ['express', 'fastify'] as const) {
      const { t, token } = apps[adapter];
      const res = await call(t.baseUrl, token)
        .buffer(true)
        .parse((r, done) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
        });
      answers.push({
        status: res.status,
        contentType: res.headers['content-type'],
        contentLength: res.headers['content-length'],
        allow: res.headers.allow,
        body: res.body as string,
      });
    }
    expect(answers[1]).toEqual(answers[0]);
    if (answers[0]!.status >= 400)
      expect(JSON.parse(answers[0]!.body)).toEqual({ error: expect.any(String), message: expect.any(String) });
    else expect(answers[0]!.contentType === undefined || answers[0]!.contentType === 'application/json').toBe(true);
  });
});
