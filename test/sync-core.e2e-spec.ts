import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { startTestApp, type TestApp } from './support/test-app.js';
import { SyncHttp } from './support/sync-http.js';

// the core flow on both HTTP platforms the module supports (issue 20)
describe.each(['express', 'fastify'] as const)('sync core: connect, push, pull (%s)', (adapter) => {
  let t: TestApp;
  let a1: SyncHttp;
  let a2: SyncHttp;
  let b1: SyncHttp;

  beforeAll(async () => {
    t = await startTestApp({ adapter });
    const alice = await t.signIn('alice');
    const bob = await t.signIn('bob');
    a1 = new SyncHttp(t.baseUrl, alice, 'alice-device-1');
    a2 = new SyncHttp(t.baseUrl, alice, 'alice-device-2');
    b1 = new SyncHttp(t.baseUrl, bob, 'bob-device-1');
  });
  afterAll(async () => t.close());

  it('initializes an empty scope and commits a push that a second source pulls with a verifiable hash', async () => {
    expect((await a1.connect(false)).body).toEqual({ resolution: 'initialize_empty' });
    expect((await a2.connect(false)).body).toEqual({ resolution: 'remote_authoritative' });
    const userId = randomUUID();
    const postId = randomUUID();
    const commit = await a1.push(1, [
      {
        schema: 'business',
        table: 'posts',
        key: { id: postId },
        op: 'INSERT',
        base_row_version: 0,
        payload: { id: postId, title: 'Hello <b>', content: 'x', author_id: userId },
      },
      {
        schema: 'business',
        table: 'users',
        key: { id: userId },
        op: 'INSERT',
        base_row_version: 0,
        payload: { id: userId, name: 'Ada', email: 'ada@example.com' },
      },
    ]);
    expect(commit.status).toBe(200);
    expect(commit.body).toMatchObject({
      bundle_seq: 1,
      source_id: 'alice-device-1',
      source_bundle_id: 1,
      row_count: 2,
    });
    const pulled = await a2.get('/sync/pull?after_bundle_seq=0').expect(200);
    expect(pulled.text.endsWith('\n')).toBe(true);
    expect(pulled.text).toContain('Hello \\u003cb\\u003e');
    const body = pulled.body as {
      stable_bundle_seq: number;
      has_more: boolean;
      bundles: Array<{ bundle_hash: string; rows: Array<Record<string, unknown>> }>;
    };
    expect(body.stable_bundle_seq).toBe(1);
    expect(body.bundles).toHaveLength(1);
    expect(body.bundles[0]!.rows.map((r) => r.table)).toEqual(['posts', 'users']);
    expect(body.bundles[0]!.bundle_hash).toBe(commit.body.bundle_hash);
    const hashInput = canonical(
      body.bundles[0]!.rows.map((row, i) => ({ ...row, row_ordinal: i, payload: row.payload ?? null })),
    );
    expect(createHash('sha256').update(hashInput).digest('hex')).toBe(commit.body.bundle_hash);
  });

  it('replays an already committed tuple and refuses a gap in source_bundle_id', async () => {
    const replay = await a1.post('/sync/push-sessions', { source_bundle_id: 1, planned_row_count: 1 }).expect(200);
    expect(replay.body).toMatchObject({ status: 'already_committed', bundle_seq: 1 });
    const gap = await a1.post('/sync/push-sessions', { source_bundle_id: 5, planned_row_count: 1 }).expect(409);
    expect(gap.body.error).toBe('source_sequence_out_of_order');
  });

  it('answers a stale update with the structured conflict and changes nothing', async () => {
    const id = randomUUID();
    await a1
      .push(2, [
        {
          schema: 'business',
          table: 'users',
          key: { id },
          op: 'INSERT',
          base_row_version: 0,
          payload: { id, name: 'v1', email: 'e' },
        },
      ])
      .then((r) => expect(r.status).toBe(200));
    const stale = await a2.push(1, [
      {
        schema: 'business',
        table: 'users',
        key: { id },
        op: 'UPDATE',
        base_row_version: 1,
        payload: { id, name: 'v2', email: 'e' },
      },
    ]);
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('push_conflict');
    expect(stale.body.conflict).toMatchObject({
      schema: 'business',
      table: 'users',
      key: { id },
      op: 'UPDATE',
      base_row_version: 1,
      server_row_version: 2,
      server_row_deleted: false,
    });
    expect(stale.body.conflict.server_row.name).toBe('v1');
  });

  it('pages pulls by max_bundles: has_more until the stable sequence, every page bundle with its rows', async () => {
    const carol = new SyncHttp(t.baseUrl, await t.signIn('carol'), 'carol-device-1');
    const reader = new SyncHttp(t.baseUrl, carol.token, 'carol-device-2');
    await carol.connect(false);
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const id = randomUUID();
      ids.push(id);
      expect(
        (
          await carol.push(i, [
            {
              schema: 'business',
              table: 'users',
              key: { id },
              op: 'INSERT',
              base_row_version: 0,
              payload: { id, name: `u${i}`, email: 'e' },
            },
          ])
        ).status,
      ).toBe(200);
    }
    type Page = {
      stable_bundle_seq: number;
      has_more: boolean;
      bundles: Array<{ bundle_seq: number; row_count: number; rows: Array<{ key: { id: string } }> }>;
    };
    const first = (await reader.get('/sync/pull?after_bundle_seq=0&max_bundles=2').expect(200)).body as Page;
    expect(first.stable_bundle_seq).toBe(3);
    expect(first.has_more).toBe(true);
    expect(first.bundles.map((b) => [b.bundle_seq, b.row_count, b.rows.map((r) => r.key.id)])).toEqual([
      [1, 1, [ids[0]]],
      [2, 1, [ids[1]]],
    ]);
    const last = (await reader.get('/sync/pull?after_bundle_seq=2&max_bundles=2').expect(200)).body as Page;
    expect(last.has_more).toBe(false);
    expect(last.bundles.map((b) => [b.bundle_seq, b.rows.map((r) => r.key.id)])).toEqual([[3, [ids[2]]]]);
    const exact = (await reader.get('/sync/pull?after_bundle_seq=1&max_bundles=2').expect(200)).body as Page;
    expect(exact.has_more).toBe(false);
    expect(exact.bundles.map((b) => b.bundle_seq)).toEqual([2, 3]);
  });

  it('isolates users: bob sees nothing of alice', async () => {
    await b1.connect(false);
    const pulled = await b1.get('/sync/pull?after_bundle_seq=0').expect(200);
    expect(pulled.body).toEqual({ stable_bundle_seq: 0, bundles: [], has_more: false });
    await b1.get('/sync/committed-bundles/1/rows').expect(404);
  });

  it('pages committed bundle rows with 0-based ordinals', async () => {
    const first = await a1.get('/sync/committed-bundles/1/rows?max_rows=1').expect(200);
    expect(first.body).toMatchObject({ bundle_seq: 1, next_row_ordinal: 0, has_more: true });
    const second = await a1.get('/sync/committed-bundles/1/rows?after_row_ordinal=0&max_rows=1').expect(200);
    expect(second.body).toMatchObject({ next_row_ordinal: 1, has_more: false });
    const done = await a1.get('/sync/committed-bundles/1/rows?after_row_ordinal=1').expect(200);
    expect(done.body).toMatchObject({ rows: [], next_row_ordinal: 1, has_more: false });
  });
});

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object')
    return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}
