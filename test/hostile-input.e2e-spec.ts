import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { canonicalJson, computeBundleHash, type JsonValue } from '@oversync/protocol';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp, userInsertRow } from './support/sync-http.js';
import { DatabaseFingerprint } from './fuzz/database-fingerprint.js';
import { exchangeRaw, sendRaw, splitResponses } from './fuzz/raw-request.js';

// Issue 18: what an outside conformance checker and hostile-input fuzzer still found. One test per item,
// each named after what it guards.

const typedRow = (id: string, payload: Record<string, unknown>, op = 'INSERT', base = 0) => ({
  schema: 'business',
  table: 'typed_rows',
  key: { id },
  op,
  base_row_version: base,
  payload: { id, name: 't', enabled_flag: 1, ...payload },
});

const rawExchange = async (baseUrl: string, bytes: Buffer | string) =>
  (await exchangeRaw(baseUrl, Buffer.from(bytes), 3000)).toString('latin1');
const responses = (raw: string) => splitResponses(Buffer.from(raw, 'latin1'));

const isEnvelope = (body: string) => {
  const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
  return typeof parsed.error === 'string' && parsed.error !== '' && typeof parsed.message === 'string';
};

describe('hostile input and spec §8 (issue 18)', () => {
  let t: TestApp;
  let alice: SyncHttp;
  let token: string;
  let fingerprint: DatabaseFingerprint;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_MAX_BODY_BYTES: String(8 * 1024 * 1024) } });
    token = await t.signIn('alice');
    alice = new SyncHttp(t.baseUrl, token, 'alice-1');
    await alice.connect(false);
    fingerprint = await DatabaseFingerprint.open(t.db.url);
  });
  afterAll(async () => {
    await fingerprint?.close();
    await t?.close();
  });

  it('a session id in a path is canonical UUID text or a 404 envelope, before any SQL, on every route with an id', async () => {
    const pushId = (await alice.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }).expect(200))
      .body.push_id as string;
    const snapshotId = (await alice.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    // spellings Go's uuid.Parse and PostgreSQL's uuid input accept, and half of one (the braced form without its brace)
    const spellings = (id: string) =>
      [
        `{${id}}`,
        `{${id}`,
        `${id}}`,
        `%7B${id}%7D`,
        `urn:uuid:${id}`,
        `URN:UUID:${id}`,
        id.toUpperCase(),
        id.replace(/-/g, ''),
        `{${id.replace(/-/g, '')}}`,
        `%20${id}`,
        `${id}%20`,
        `%09${id}`,
        `${id.slice(0, 8).toUpperCase()}${id.slice(8)}`,
        id
          .replace(/-/g, '')
          .replace(/(.{4})/g, '$1-')
          .slice(0, -1),
      ].filter((spelling) => spelling !== id); // an id whose first 8 characters are digits upper-cases to itself
    const before = await fingerprint.read();
    const routes: Array<
      [
        string,
        (id: string) => Promise<{ status: number; body: { error?: string }; headers: Record<string, string> }>,
        string,
      ]
    > = [
      [
        'POST chunks',
        (id) =>
          alice.post(`/sync/push-sessions/${id}/chunks`, { start_row_ordinal: 0, rows: [userInsertRow(randomUUID())] }),
        'push_session_not_found',
      ],
      ['POST commit', (id) => alice.post(`/sync/push-sessions/${id}/commit`), 'push_session_not_found'],
      ['DELETE push', (id) => alice.delete(`/sync/push-sessions/${id}`), 'push_session_not_found'],
      ['GET snapshot', (id) => alice.get(`/sync/snapshot-sessions/${id}`), 'snapshot_session_not_found'],
      ['DELETE snapshot', (id) => alice.delete(`/sync/snapshot-sessions/${id}`), 'snapshot_session_not_found'],
    ];
    const answers: string[] = [];
    for (const [name, call, code] of routes) {
      for (const spelling of spellings(name.includes('snapshot') ? snapshotId : pushId)) {
        const res = await call(spelling);
        answers.push(`${name} ${spelling} → ${res.status} ${res.body.error} ${res.headers['content-type']}`);
        expect(`${name} ${spelling} → ${res.status} ${res.body.error} ${res.headers['content-type']}`).toBe(
          `${name} ${spelling} → 404 ${code} application/json`,
        );
      }
    }
    expect(DatabaseFingerprint.changed(before, await fingerprint.read())).toEqual([]);
    // the canonical spelling still reaches the session
    await alice.get(`/sync/snapshot-sessions/${snapshotId}`).expect(200);
    await alice.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });

  describe('answers of the HTTP parser layer carry the envelope with Content-Type application/json', () => {
    const expectEnvelope = (
      answer: { status: number; headers: Record<string, string>; body: string } | undefined,
      status: number,
    ) => {
      expect(answer?.status).toBe(status);
      expect(answer?.headers['content-type']).toBe('application/json');
      expect(isEnvelope(answer!.body)).toBe(true);
    };

    it('headers larger than the parser limit → 431 envelope', async () => {
      const raw = await rawExchange(
        t.baseUrl,
        `GET /sync/pull HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      expectEnvelope(responses(raw)[0], 431);
    });

    it.each([['get'], ['FOO'], ['Get'], ['G\u00c9T']])('method %s → 400 envelope', async (method) => {
      const raw = await rawExchange(
        t.baseUrl,
        Buffer.from(`${method} /sync/pull HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'),
      );
      expectEnvelope(responses(raw)[0], 400);
    });

    it('a malformed request line → 400 envelope', async () => {
      expectEnvelope(responses(await rawExchange(t.baseUrl, 'GET /sync/pull HTTP/9.9x\r\n\r\n'))[0], 400);
    });

    it('a body longer than its Content-Length: the request keeps its own answer, the rest gets a 400 envelope', async () => {
      const body = '{"has_local_pending_rows":false}';
      const raw = await rawExchange(
        t.baseUrl,
        `POST /sync/connect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nOversync-Source-ID: ` +
          `alice-1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}garbage ` +
          `that is no request\r\n\r\n`,
      );
      const [first, second] = responses(raw);
      expect(first?.status).toBe(200);
      expect(JSON.parse(first!.body)).toEqual({ resolution: 'remote_authoritative' });
      expectEnvelope(second, 400);
    });
  });

  it('a 20,000-deep array in a request body is a clean 400 envelope on every JSON route, not a stack overflow', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const pushId = (await alice.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }).expect(200))
      .body.push_id as string;
    for (const [path, body] of [
      ['/sync/connect', deep],
      ['/sync/connect', `{"has_local_pending_rows":${deep}}`],
      ['/sync/push-sessions', deep],
      [
        `/sync/push-sessions/${pushId}/chunks`,
        `{"start_row_ordinal":0,"rows":[{"schema":"business","table":"users","key":{"id":"${randomUUID()}"},` +
          `"op":"INSERT","base_row_version":0,"payload":{"name":${deep}}}]}`,
      ],
      ['/sync/snapshot-sessions', `{"source_replacement":${deep}}`],
    ] as const) {
      const res = await alice.post(path, body);
      expect({
        path,
        status: res.status,
        type: res.headers['content-type'],
        envelope: typeof res.body.error === 'string' && typeof res.body.message === 'string',
      }).toEqual({ path, status: 400, type: 'application/json', envelope: true });
    }
    await alice.delete(`/sync/push-sessions/${pushId}`).expect(204);
  });

  it('POST /dummy-signin with a body that is not JSON answers 400 invalid_request "invalid JSON"', async () => {
    for (const [type, body] of [
      ['application/json', 'not json'],
      ['application/json', '{"user":'],
      ['text/plain', 'user=alice'],
    ]) {
      const res = await request(t.baseUrl).post('/dummy-signin').set('Content-Type', type!).send(body);
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 400,
        body: { error: 'invalid_request', message: 'invalid JSON' },
      });
      expect(res.headers['content-type']).toBe('application/json');
    }
  });

  it.each([
    ['a multi-megabyte unknown member', 5, false, 400, 'snapshot_session_invalid'],
    ['a multi-megabyte unknown member, chunked', 5, true, 400, 'snapshot_session_invalid'],
    ['an unknown member beyond the body limit', 9, false, 413, 'request_too_large'],
    ['an unknown member beyond the body limit, chunked', 9, true, 413, 'request_too_large'],
  ])(
    'a rejected snapshot create (valid body plus %s) creates no session',
    async (_, megabytes, chunked, status, error) => {
      const before = await fingerprint.read();
      const body = `{"source_replacement":null,"padding":"${'x'.repeat(megabytes * 1024 * 1024)}"}`;
      const headers: Array<[string, string]> = [
        ['Authorization', `Bearer ${token}`],
        ['Oversync-Source-ID', 'alice-1'],
        ['Content-Type', 'application/json'],
      ];
      const res = await sendRaw(t.baseUrl, {
        method: 'POST',
        path: '/sync/snapshot-sessions',
        headers,
        body: Buffer.from(body),
        framing: chunked ? 'chunked' : 'exact',
      });
      expect({
        status: res?.status,
        error: res && (JSON.parse(res.body.toString('utf8')) as { error?: string }).error,
      }).toEqual({ status, error });
      expect(DatabaseFingerprint.changed(before, await fingerprint.read())).toEqual([]);
    },
  );

  it('§8.3: a payload member in another case than its column is a 400 at chunk upload naming the row and member', async () => {
    const id = randomUUID();
    const created = await alice.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }).expect(200);
    const res = await alice.post(`/sync/push-sessions/${created.body.push_id}/chunks`, {
      start_row_ordinal: 0,
      rows: [typedRow(id, { Created_at: '2024-01-02T03:04:05Z' })],
    });
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error: 'push_chunk_invalid' });
    expect(res.body.message).toContain(id);
    expect(res.body.message).toContain('"Created_at"');
    await alice.delete(`/sync/push-sessions/${created.body.push_id}`).expect(204);
  });

  it('§8.7: connect from a source retired by a rotated rebuild → 409 source_retired with the replacement id', async () => {
    const dora = await t.signIn('dora');
    const old = new SyncHttp(t.baseUrl, dora, 'dora-old');
    await old.connect(false);
    expect((await old.push(1, [userInsertRow(randomUUID())])).status).toBe(200);
    await old
      .post('/sync/snapshot-sessions', {
        source_replacement: { previous_source_id: 'dora-old', new_source_id: 'dora-new', reason: 'history_pruned' },
      })
      .expect(200);
    const res = await old.post('/sync/connect', { has_local_pending_rows: false });
    expect({ status: res.status, body: res.body as unknown }).toEqual({
      status: 409,
      body: {
        error: 'source_retired',
        message: expect.any(String),
        source_id: 'dora-old',
        replaced_by_source_id: 'dora-new',
      },
    });
    await new SyncHttp(t.baseUrl, dora, 'dora-new').connect(false);
  });

  it('§8.18: /syncx/status is behind the sync guards; /syncx/health is open and says only healthy/unhealthy', async () => {
    const anonymous = await request(t.baseUrl).get('/syncx/status');
    expect({ status: anonymous.status, error: anonymous.body.error }).toEqual({
      status: 401,
      error: 'authentication_failed',
    });
    const status = await alice.get('/syncx/status').expect(200);
    expect(status.body).toMatchObject({ status: 'healthy', registered_tables: expect.any(Array) });
    const health = await request(t.baseUrl).get('/syncx/health').expect(200);
    expect(health.body).toEqual({ status: 'healthy', version: 'v1' });
  });

  it('§8.11: snapshot chunk payloads and conflict server_row are canonical JSON like bundle payloads', async () => {
    const erin = new SyncHttp(t.baseUrl, await t.signIn('erin'), 'erin-1');
    await erin.connect(false);
    const id = randomUUID();
    const nested = randomUUID();
    const payload = {
      rating: 1.5,
      count_value: 120,
      note: 'a<b>&\u2028"q"\n',
      created_at: '2024-01-02T03:04:05.120Z',
      data: 'AAEC',
    };
    // values on both sides of every rule of the SQL canonicaliser (and its fallback to the server's)
    const ratings = [
      0.1, 1e-7, 0.000001, 1e21, 9.999999999999999e20, 1.7976931348623157e308, 5e-324, 123456.789, -0, 100,
      1234567890.12345, 0.30000000000000004, -2.5e-300,
    ];
    const notes = ['\u0001\u001f\u007f', '\u2028\u2029<>&', '😀é\u00a0', '"\\/', ''];
    const more = ratings.map((rating, i) =>
      typedRow(randomUUID(), {
        rating,
        count_value: i % 2 ? -9007199254740991 : 2 ** 53,
        note: notes[i % notes.length],
        created_at: i % 3 ? null : '2024-02-29T23:59:59.999999+05:30',
      }),
    );
    expect(
      (
        await erin.push(1, [
          userInsertRow(randomUUID(), { name: 'Zed', email: 'z@e' }),
          typedRow(id, payload),
          typedRow(nested, { rating: 0.1, count_value: 1e15 }),
          ...more,
        ])
      ).status,
    ).toBe(200);
    const pulled = await erin.get('/sync/pull?after_bundle_seq=0').expect(200);
    const bundleTexts = new Map<string, string>();
    for (const row of pulled.body.bundles[0].rows as Array<{ key: { id: string }; payload: JsonValue }>)
      bundleTexts.set(row.key.id, canonicalJson(row.payload));
    const snapshotId = (await erin.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id as string;
    const chunk = await erin.get(`/sync/snapshot-sessions/${snapshotId}`).expect(200);
    // the payload text as sent: members sorted, Go's number and string rules, the same text the bundle carried
    const texts = [
      ...chunk.text.matchAll(
        /"key":\{"id":"([0-9a-f-]{36})"\},"row_version":\d+,"payload":(\{.*?\})\}(?=,\{"schema"|\])/g,
      ),
    ].map((m) => [m[1]!, m[2]!] as const);
    expect(texts).toHaveLength(3 + ratings.length);
    for (const [key, text] of texts) expect(text).toBe(bundleTexts.get(key));
    // conflict server_row: same canonical text
    const conflict = await erin.push(2, [typedRow(id, { rating: 2 }, 'UPDATE', 0)]);
    expect(conflict.status).toBe(409);
    const serverRow = /"server_row":(\{.*?\})[,}]/.exec(conflict.text)?.[1];
    expect(serverRow).toBe(bundleTexts.get(id));
  });

  it('§8.5: a committed-rows fetch answered history_pruned increments history_pruned_error_count', async () => {
    const fay = new SyncHttp(t.baseUrl, await t.signIn('fay'), 'fay-1');
    await fay.connect(false);
    expect((await fay.push(1, [userInsertRow(randomUUID())])).status).toBe(200);
    expect((await fay.push(2, [userInsertRow(randomUUID())])).status).toBe(200);
    await request(t.baseUrl)
      .post('/test/retention-floor')
      .send({ user_id: 'fay', retained_bundle_floor: 1 })
      .expect(200);
    const count = async () => Number((await fay.get('/syncx/status').expect(200)).body.history_pruned_error_count);
    const before = await count();
    const res = await fay.get('/sync/committed-bundles/1/rows');
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 409, error: 'history_pruned' });
    expect(await count()).toBe(before + 1);
  });

  it("§8.2: an integer beyond 2^53 reaches devices exact in committed-rows fetch and pull; the bundle hash stays the reference's", async () => {
    const gus = new SyncHttp(t.baseUrl, await t.signIn('gus'), 'gus-1');
    await gus.connect(false);
    const id = randomUUID();
    const pushId = (await gus.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }).expect(200))
      .body.push_id as string;
    // the exact literal goes as text (a JS object would round it before it leaves)
    const chunk = JSON.stringify({ start_row_ordinal: 0, rows: [typedRow(id, { count_value: '__BIG__' })] }).replace(
      '"__BIG__"',
      '9007199254740993',
    );
    await gus.post(`/sync/push-sessions/${pushId}/chunks`, chunk).expect(200);
    const committed = await gus.post(`/sync/push-sessions/${pushId}/commit`).expect(200);
    const pulled = await gus.get('/sync/pull?after_bundle_seq=0').expect(200);
    const rows = await gus.get(`/sync/committed-bundles/${committed.body.bundle_seq}/rows`).expect(200);
    expect(pulled.text).toContain('"count_value":9007199254740993');
    expect(rows.text).toContain('"count_value":9007199254740993');
    // the reference's hash: every number through a double (what a Go client verifies)
    const bundle = pulled.body.bundles[0] as {
      bundle_hash: string;
      rows: Array<{
        schema: string;
        table: string;
        key: Record<string, string>;
        op: 'INSERT';
        row_version: number;
        payload: JsonValue;
      }>;
    };
    expect(computeBundleHash(bundle.rows).bundleHash).toBe(bundle.bundle_hash);
  });
});
