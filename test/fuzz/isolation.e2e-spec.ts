import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';
import { SseStream, syncHeaders, type SseFrame } from '../support/sse.js';
import { DatabaseFingerprint } from './database-fingerprint.js';
import { forgedTokens } from './forged-tokens.js';

// Isolation suite (issue 11, part 3): user A, with valid tokens of its own or with forged ones, goes after
// everything of user B — push sessions, committed bundles, snapshot sessions, source id, watch stream.
// Every attempt is refused or answered from A's own data, and nothing of B's (user id, source id, row ids,
// payload values, bundle hashes, push and snapshot ids) appears in any body or header A receives, except
// an id A itself put in the request (error messages echo the id asked for, as in the reference).
//
// A refusal of someone else's session is 403 where an unknown id is 404 (spec §3.3, §3.10: the reference
// codes, which the Go client may see). This tells A that an id it already holds exists; session ids are
// random UUIDs handed only to their owner, so it reveals nothing A did not have.

const tag = randomBytes(4).toString('hex');
const B_USER = `bob-${tag}`;
const B_SOURCE = `bsrc-${tag}`;
const MARKER = `B-SECRET-${tag}`;
const A_USER = `alice-${tag}`;
const A_SOURCE = `asrc-${tag}`;
const B_ROWS = { user: randomUUID(), file: randomUUID(), post: randomUUID(), staged: randomUUID(), late: randomUUID() };

const insert = (table: string, id: string, payload: Record<string, unknown>) => ({
  schema: 'business',
  table,
  key: { id },
  op: 'INSERT',
  base_row_version: 0,
  payload: { id, ...payload },
});

interface Answer {
  status: number;
  text: string;
  headers: Record<string, unknown>;
}

describe('isolation: user A against everything of user B', () => {
  let t: TestApp;
  let a: SyncHttp;
  let aWithBSource: SyncHttp;
  let b: SyncHttp;
  let bWatch: SseStream;
  let pushB: string;
  let snapshotB: string;
  let fingerprint: DatabaseFingerprint;
  const secrets: string[] = [
    B_USER,
    B_SOURCE,
    MARKER,
    Buffer.from(MARKER).toString('base64'),
    ...Object.values(B_ROWS),
  ];

  /** Nothing of B's in the answer, unless the request itself carried it. */
  function expectNoLeak(answer: Answer, sent: string): void {
    const received = `${answer.text}\n${JSON.stringify(answer.headers)}`.toLowerCase();
    const asked = sent.toLowerCase();
    for (const secret of secrets) {
      const s = secret.toLowerCase();
      if (asked.includes(s)) continue;
      if (received.includes(s))
        throw new Error(`B's ${JSON.stringify(secret)} leaked to A in: ${answer.status} ${answer.text.slice(0, 500)}`);
    }
  }

  /** A refusal: an expected status, the envelope, no leak. */
  function expectRefused(answer: Answer, statuses: number[], sent: string): void {
    if (!statuses.includes(answer.status))
      throw new Error(
        `expected ${statuses.join('/')} for ${sent.slice(0, 200)}, got ${answer.status} ${answer.text.slice(0, 300)}`,
      );
    expect(answer.headers['content-type']).toBe('application/json');
    const body = JSON.parse(answer.text) as { error?: unknown; message?: unknown };
    expect(typeof body.error).toBe('string');
    expect(typeof body.message).toBe('string');
    expectNoLeak(answer, sent);
  }

  const bSourceState = async () =>
    fingerprint.query(
      `SELECT ss.* FROM sync.source_state ss JOIN sync.user_state us USING (user_pk) WHERE us.user_id = $1
        ORDER BY source_id`,
      [B_USER],
    );

  beforeAll(async () => {
    t = await startTestApp();
    const aToken = await t.signIn(A_USER);
    a = new SyncHttp(t.baseUrl, aToken, A_SOURCE);
    aWithBSource = new SyncHttp(t.baseUrl, aToken, B_SOURCE);
    b = new SyncHttp(t.baseUrl, await t.signIn(B_USER), B_SOURCE);

    await b.connect(false);
    const first = await b.push(1, [
      insert('users', B_ROWS.user, { name: `${MARKER}-name`, email: `${MARKER}@example.com` }),
      insert('files', B_ROWS.file, { name: `${MARKER}.bin`, data: Buffer.from(MARKER).toString('base64') }),
    ]);
    const second = await b.push(2, [
      insert('posts', B_ROWS.post, { title: `${MARKER}-title`, content: MARKER, author_id: B_ROWS.user }),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    secrets.push(first.body.bundle_hash, second.body.bundle_hash);
    pushB = (await b.post('/sync/push-sessions', { source_bundle_id: 3, planned_row_count: 2 }).expect(200)).body
      .push_id;
    await b
      .post(`/sync/push-sessions/${pushB}/chunks`, {
        start_row_ordinal: 0,
        rows: [insert('users', B_ROWS.staged, { name: `${MARKER}-staged`, email: 'x' })],
      })
      .expect(200);
    snapshotB = (await b.post('/sync/snapshot-sessions').expect(200)).body.snapshot_id;
    secrets.push(pushB, snapshotB);
    bWatch = await SseStream.open(`${t.baseUrl}/sync/watch?after_bundle_seq=2`, syncHeaders(b.token, B_SOURCE));
    expect(bWatch.status).toBe(200);

    await a.connect(false);
    expect((await a.push(1, [insert('users', randomUUID(), { name: 'alice', email: 'a@example.com' })])).status).toBe(
      200,
    );
    fingerprint = await DatabaseFingerprint.open(t.db.url);
  });

  afterAll(async () => {
    await bWatch?.close();
    await fingerprint?.close();
    await t?.close();
  });

  it("the leak check would see B's data: B reads its own snapshot and the marker is there", async () => {
    const res = await b.get(`/sync/snapshot-sessions/${snapshotB}`).expect(200);
    expect(() => expectNoLeak(res, '')).toThrow(/leaked/);
  });

  describe("B's push session", () => {
    const spellings = () => [pushB, pushB.toUpperCase(), `{${pushB}}`, pushB.replace(/-/g, '')];
    const row = () => insert('users', randomUUID(), { name: 'a', email: 'a' });

    it.each([
      ['with its own source', () => a],
      ["with B's source id", () => aWithBSource],
    ])('A cannot upload to, commit or delete it (%s)', async (_label, caller) => {
      const before = await fingerprint.read();
      for (const id of spellings()) {
        for (const start of [0, 1]) {
          const chunk = await caller().post(`/sync/push-sessions/${id}/chunks`, {
            start_row_ordinal: start,
            rows: [row()],
          });
          expectRefused(chunk, [403, 404], id);
        }
        expectRefused(await caller().post(`/sync/push-sessions/${id}/commit`), [403, 404], id);
        expectRefused(await caller().delete(`/sync/push-sessions/${id}`), [403, 404], id);
      }
      expect(DatabaseFingerprint.changed(before, await fingerprint.read())).toEqual([]);
    });

    it('B finishes it afterwards, untouched', async () => {
      await b
        .post(`/sync/push-sessions/${pushB}/chunks`, {
          start_row_ordinal: 1,
          rows: [insert('users', B_ROWS.late, { name: `${MARKER}-late`, email: 'x' })],
        })
        .expect(200);
      const commit = await b.post(`/sync/push-sessions/${pushB}/commit`).expect(200);
      expect(commit.body).toMatchObject({ bundle_seq: 3, source_id: B_SOURCE, source_bundle_id: 3, row_count: 2 });
      secrets.push(commit.body.bundle_hash);
    });
  });

  describe("B's committed bundles", () => {
    it.each([
      ['with its own source', () => a],
      ["with B's source id", () => aWithBSource],
    ])("committed-bundle rows answer from A's history only (%s)", async (_label, caller) => {
      for (const seq of [1, 2, 3, 4]) {
        for (const query of ['', '?after_row_ordinal=0&max_rows=5000']) {
          const res = await caller().get(`/sync/committed-bundles/${seq}/rows${query}`);
          if (seq === 1) {
            expect(res.status).toBe(200);
            expect(res.body.source_id).toBe(A_SOURCE);
            expectNoLeak(res, '');
          } else {
            expectRefused(res, [404], '');
          }
        }
      }
    });

    it.each([
      ['with its own source', () => a],
      ["with B's source id", () => aWithBSource],
    ])("pull returns A's bundles only (%s)", async (_label, caller) => {
      // a target above A's latest bundle is echoed as the stable sequence (spec §4.8 step 5): A's own input
      for (const [query, stable] of [
        ['', 1],
        ['?after_bundle_seq=0&max_bundles=5000', 1],
        ['?after_bundle_seq=0&target_bundle_seq=3', 3],
        ['?after_bundle_seq=1', 1],
        ['?target_bundle_seq=99', 99],
      ] as const) {
        const res = await caller().get(`/sync/pull${query}`).expect(200);
        expect((res.body.bundles as Array<{ source_id: string }>).map((bundle) => bundle.source_id)).toEqual(
          query.includes('after_bundle_seq=1') ? [] : [A_SOURCE],
        );
        expect(res.body.stable_bundle_seq).toBe(stable);
        expectNoLeak(res, '');
      }
    });
  });

  describe("B's snapshot session", () => {
    it.each([
      ['with its own source', () => a],
      ["with B's source id", () => aWithBSource],
    ])('A cannot read or delete it (%s)', async (_label, caller) => {
      const before = await fingerprint.read();
      for (const id of [snapshotB, snapshotB.toUpperCase(), `{${snapshotB}}`, snapshotB.replace(/-/g, '')]) {
        expectRefused(await caller().get(`/sync/snapshot-sessions/${id}`), [403, 404], id);
        expectRefused(
          await caller().get(`/sync/snapshot-sessions/${id}?after_row_ordinal=0&max_rows=5000`),
          [403, 404],
          id,
        );
        expectRefused(await caller().delete(`/sync/snapshot-sessions/${id}`), [403, 404], id);
      }
      expect(DatabaseFingerprint.changed(before, await fingerprint.read())).toEqual([]);
      const own = await b.get(`/sync/snapshot-sessions/${snapshotB}`).expect(200);
      expect(own.text).toContain(MARKER);
    });

    it("A's own snapshot holds A's rows only", async () => {
      const created = await a.post('/sync/snapshot-sessions').expect(200);
      expectNoLeak(created, '');
      const chunk = await a.get(`/sync/snapshot-sessions/${created.body.snapshot_id}?max_rows=5000`).expect(200);
      expect(chunk.body.rows).toHaveLength(1);
      expectNoLeak(chunk, '');
      await a.delete(`/sync/snapshot-sessions/${created.body.snapshot_id}`).expect(204);
    });
  });

  describe("B's watch stream", () => {
    const events = (frames: readonly SseFrame[]) =>
      frames
        .filter((f) => f.event === 'bundle')
        .map((f) => JSON.parse(f.data ?? '{}') as { bundle_seq: number; source_id?: string });

    it.each([
      ['with its own source', A_SOURCE],
      ["with B's source id", B_SOURCE],
    ])("A's stream never announces B's commits (%s)", async (_label, source) => {
      const [{ latest }] = (await fingerprint.query<{ latest: number }>(
        'SELECT next_bundle_seq - 1 AS latest FROM sync.user_state WHERE user_id = $1',
        [A_USER],
      )) as [{ latest: number }];
      const stream = await SseStream.open(`${t.baseUrl}/sync/watch?after_bundle_seq=0`, syncHeaders(a.token, source));
      try {
        expect(stream.status).toBe(200);
        const subscribers = await request(t.baseUrl).get(`/test/watch-subscribers?user_id=${B_USER}`).expect(200);
        expect(subscribers.body.subscriber_count).toBe(1);
        const next =
          Number((await bSourceState()).find((state) => state.source_id === B_SOURCE)!.max_committed_source_bundle_id) +
          1;
        const commit = await b.push(next, [insert('users', randomUUID(), { name: MARKER, email: 'x' })]);
        expect(commit.status).toBe(200);
        const announced = await bWatch.next(
          (f) =>
            f.event === 'bundle' &&
            (JSON.parse(f.data ?? '{}') as { bundle_seq: number }).bundle_seq === commit.body.bundle_seq,
        );
        expect(JSON.parse(announced.data ?? '')).toMatchObject({ source_id: B_SOURCE });
        await new Promise((resolve) => setTimeout(resolve, 300));
        const seen = events(stream.pending());
        for (const event of seen) {
          expect(event.bundle_seq).toBeLessThanOrEqual(Number(latest));
          expect(event.source_id).toBeUndefined();
        }
        for (const frame of stream.pending())
          expectNoLeak({ status: 200, text: frame.raw, headers: stream.response.headers }, source);
      } finally {
        await stream.close();
      }
    });
  });

  describe('tokens A does not legitimately hold', () => {
    const routes = (): Array<[method: 'get' | 'post' | 'delete', path: string, body?: unknown]> => [
      ['post', '/sync/connect', { has_local_pending_rows: false }],
      ['post', '/sync/push-sessions', { source_bundle_id: 5, planned_row_count: 1 }],
      [
        'post',
        `/sync/push-sessions/${pushB}/chunks`,
        { start_row_ordinal: 0, rows: [insert('users', randomUUID(), { name: 'x', email: 'x' })] },
      ],
      ['post', `/sync/push-sessions/${pushB}/commit`],
      ['delete', `/sync/push-sessions/${pushB}`],
      ['get', '/sync/committed-bundles/1/rows'],
      ['get', '/sync/pull?after_bundle_seq=0'],
      ['post', '/sync/snapshot-sessions'],
      ['get', `/sync/snapshot-sessions/${snapshotB}`],
      ['delete', `/sync/snapshot-sessions/${snapshotB}`],
      ['get', '/sync/capabilities'],
    ];

    it.each(forgedTokens(B_USER, 'test-secret'))(
      'a token for B that is %s is refused on every route, changing nothing',
      async (_name, token) => {
        const before = await fingerprint.read();
        for (const source of [B_SOURCE, A_SOURCE]) {
          const forged = new SyncHttp(t.baseUrl, token, source);
          for (const [method, path, body] of routes()) {
            const res =
              method === 'post'
                ? await forged.post(path, body)
                : method === 'get'
                  ? await forged.get(path)
                  : await forged.delete(path);
            expectRefused(res, [401], `${path} ${source} ${token}`);
          }
          const watch = await SseStream.open(`${t.baseUrl}/sync/watch?after_bundle_seq=0`, syncHeaders(token, source));
          await watch.close();
          expectRefused({ status: watch.status, text: watch.body, headers: watch.response.headers }, [401], source);
        }
        expect(DatabaseFingerprint.changed(before, await fingerprint.read())).toEqual([]);
      },
    );

    it('a request without a bearer token, or with the token elsewhere, is refused', async () => {
      const bToken = b.token;
      for (const [method, path, body] of routes()) {
        for (const set of [
          {},
          { 'X-Authorization': `Bearer ${bToken}` },
          { Cookie: `token=${bToken}` },
          { Authorization: bToken },
          { Authorization: `Basic ${Buffer.from(`${B_USER}:x`).toString('base64')}` },
        ]) {
          const agent = request(t.baseUrl);
          let req = agent[method](`${path}${path.includes('?') ? '&' : '?'}access_token=${bToken}`).set(
            'Oversync-Source-ID',
            B_SOURCE,
          );
          for (const [name, value] of Object.entries(set)) req = req.set(name, value);
          const res = body === undefined ? await req : await req.send(body as object);
          expectRefused(res, [401], `${path} ${B_SOURCE}`);
        }
      }
    });
  });

  // last: from here on B's source id is also a source of A (A's own data may carry it)
  describe("B's source id in A's hands", () => {
    it("a source rotation of A onto B's source id stays in A's scope", async () => {
      const rotating = new SyncHttp(t.baseUrl, a.token, `${A_SOURCE}-old`);
      const bState = await bSourceState();
      const res = await rotating.post('/sync/snapshot-sessions', {
        source_replacement: {
          previous_source_id: `${A_SOURCE}-old`,
          new_source_id: B_SOURCE,
          reason: 'history_pruned',
        },
      });
      expect(res.status).toBe(200);
      expectNoLeak(res, B_SOURCE);
      expect(await bSourceState()).toEqual(bState);
      const inA = await fingerprint.query(
        `SELECT ss.state FROM sync.source_state ss JOIN sync.user_state us USING (user_pk) WHERE us.user_id = $1
          AND ss.source_id = $2`,
        [A_USER, B_SOURCE],
      );
      expect(inA).toEqual([{ state: 'reserved' }]);
      await rotating.delete(`/sync/snapshot-sessions/${res.body.snapshot_id}`).expect(204);
    });

    it("connect and push-session create never answer with B's committed tuples", async () => {
      expectNoLeak(await aWithBSource.post('/sync/connect', { has_local_pending_rows: true }).expect(200), B_SOURCE);
      // B committed (B_SOURCE, 1..3); for A the same tuple is new, never `already_committed` with B's bundle
      const created = await aWithBSource.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 });
      expect(created.status).toBe(200);
      expect(created.body.status).toBe('staging');
      expectNoLeak(created, B_SOURCE);
      for (const sourceBundleId of [2, 3, 4]) {
        expectRefused(
          await aWithBSource.post('/sync/push-sessions', { source_bundle_id: sourceBundleId, planned_row_count: 1 }),
          [409],
          B_SOURCE,
        );
      }
      await aWithBSource.delete(`/sync/push-sessions/${created.body.push_id}`).expect(204);
    });

    it("A commits from B's source id in its own scope; B's source sequence is untouched", async () => {
      const bState = await bSourceState();
      const commit = await aWithBSource.push(1, [insert('users', randomUUID(), { name: 'a', email: 'a' })]);
      expect(commit.status).toBe(200);
      expect(commit.body).toMatchObject({ bundle_seq: 2, source_id: B_SOURCE, source_bundle_id: 1 });
      expect(await bSourceState()).toEqual(bState);
      // B's stream (opened after B's bundle 2, so every event it carries is above 2) hears nothing of it
      await new Promise((resolve) => setTimeout(resolve, 300));
      const heard = bWatch
        .pending()
        .filter((f) => f.event === 'bundle')
        .map((f) => JSON.parse(f.data ?? '{}') as { bundle_seq: number });
      expect(heard.filter((event) => event.bundle_seq <= 2)).toEqual([]);
      const next = Number(bState.find((state) => state.source_id === B_SOURCE)!.max_committed_source_bundle_id) + 1;
      const own = await b.push(next, [insert('users', randomUUID(), { name: `${MARKER}-next`, email: 'x' })]);
      expect(own.body).toMatchObject({ source_id: B_SOURCE, source_bundle_id: next });
    });
  });

  it("the open health endpoint and A's status endpoint name nothing of B; status refuses anonymous callers", async () => {
    const health = await request(t.baseUrl).get('/syncx/health');
    expect(health.status).toBe(200);
    expectNoLeak(health, '');
    expect((await request(t.baseUrl).get('/syncx/status')).status).toBe(401);
    expectNoLeak(await a.get('/syncx/status').expect(200), '');
    expectNoLeak(await a.get('/sync/capabilities').expect(200), '');
  });
});
