import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { OversyncModule } from '@oversync/nestjs';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { SseStream } from '../support/sse.js';
import { WatchDevice, sleep, waitUntil } from './watch-fixture.js';

const HEARTBEAT_MS = 400;

describe('GET /sync/watch: events, heartbeats, clean-up', () => {
  let t: TestApp;
  let alice1: WatchDevice;
  let alice2: WatchDevice;
  let bob1: WatchDevice;

  const subscribers = async (user: string) =>
    (await request(t.baseUrl).get(`/test/watch-subscribers?user_id=${user}`).expect(200)).body as {
      subscriber_count: number;
    };

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
    alice1 = await WatchDevice.signIn(t, 'alice', 'alice-device-1');
    alice2 = await WatchDevice.signIn(t, 'alice', 'alice-device-2');
    bob1 = await WatchDevice.signIn(t, 'bob', 'bob-device-1');
    await alice1.http.connect(false);
    await alice2.http.connect(false);
    await bob1.http.connect(false);
    await alice1.commit();
  });
  afterAll(async () => t.close());

  it('answers with the SSE headers, a retry hint and a catch-up event for a client behind', async () => {
    const stream = await alice2.watch('?after_bundle_seq=0');
    try {
      expect(stream.status).toBe(200);
      expect(stream.response.headers['content-type']).toBe('text/event-stream');
      expect(stream.response.headers['cache-control']).toBe('no-cache');
      expect(stream.response.headers['x-accel-buffering']).toBe('no');
      expect((await stream.next()).raw).toBe('retry: 2000');
      // catch-up carries only bundle_seq; the spec's first two lines are byte-identical, id: comes last
      expect((await stream.next()).raw).toBe('event: bundle\ndata: {"bundle_seq":1}\nid: 1');
    } finally {
      await stream.close();
    }
  });

  it("wakes a second source with the committing source's payload and ignores other users' commits", async () => {
    const stream = await alice2.watch('?after_bundle_seq=1');
    try {
      await stream.next((f) => f.retry !== undefined);
      await bob1.commit();
      const commit = await alice1.commit();
      const { frame, data } = await stream.nextBundle();
      expect(data).toEqual({
        bundle_seq: commit.bundle_seq,
        source_id: 'alice-device-1',
        source_bundle_id: commit.source_bundle_id,
      });
      expect(frame.raw).toBe(
        `event: bundle\ndata: {"bundle_seq":2,"source_id":"alice-device-1","source_bundle_id":2}\nid: 2`,
      );
      await sleep(300);
      expect(stream.pending().filter((f) => f.event !== undefined)).toEqual([]);
    } finally {
      await stream.close();
    }
  });

  it('announces nothing for a push that does not commit', async () => {
    const stream = await alice2.watch('?after_bundle_seq=2');
    try {
      // a stale update reaches commit and rolls back with a conflict
      const id = randomUUID();
      const rejected = await alice2.http.push(1, [
        {
          schema: 'business',
          table: 'users',
          key: { id },
          op: 'UPDATE',
          base_row_version: 1,
          payload: { id, name: 'x', email: 'e' },
        },
      ]);
      expect([rejected.status, rejected.body.error]).toEqual([409, 'push_conflict']);
      await sleep(300);
      expect(stream.pending().filter((f) => f.event !== undefined)).toEqual([]);
      const commit = await alice1.commit();
      expect((await stream.nextBundle()).data.bundle_seq).toBe(commit.bundle_seq);
    } finally {
      await stream.close();
    }
  });

  it('sends heartbeats at the configured interval, postponed by events', async () => {
    const stream = await alice2.watch('?after_bundle_seq=3');
    try {
      const first = await stream.next((f) => f.comment === 'heartbeat', HEARTBEAT_MS * 3);
      const second = await stream.next((f) => f.comment === 'heartbeat', HEARTBEAT_MS * 3);
      expect(first.raw).toBe(': heartbeat');
      const gap = second.receivedAt - first.receivedAt;
      expect(gap).toBeGreaterThan(HEARTBEAT_MS * 0.75);
      expect(gap).toBeLessThan(HEARTBEAT_MS * 1.75);
      await sleep(HEARTBEAT_MS / 2);
      await alice1.commit();
      const event = await stream.nextBundle();
      const after = await stream.next((f) => f.comment === 'heartbeat', HEARTBEAT_MS * 3);
      expect(after.receivedAt - event.frame.receivedAt).toBeGreaterThan(HEARTBEAT_MS * 0.75);
    } finally {
      await stream.close();
    }
  });

  it('takes the larger of after_bundle_seq and Last-Event-ID as the checkpoint', async () => {
    const latest = (await alice1.commit()).bundle_seq;
    const current = await alice2.watch('?after_bundle_seq=0', { 'Last-Event-ID': String(latest) });
    const behind = await alice2.watch('', { 'Last-Event-ID': String(latest - 1) });
    try {
      expect((await behind.nextBundle()).data).toEqual({ bundle_seq: latest });
      await sleep(200);
      expect(current.pending().filter((f) => f.event !== undefined)).toEqual([]);
    } finally {
      await current.close();
      await behind.close();
    }
  });

  it('counts subscribers per user and unregisters on disconnect', async () => {
    expect((await subscribers('alice')).subscriber_count).toBe(0);
    const a = await alice1.watch();
    const b = await alice2.watch();
    const c = await bob1.watch();
    expect((await subscribers('alice')).subscriber_count).toBe(2);
    expect((await subscribers('bob')).subscriber_count).toBe(1);
    await a.close();
    await b.close();
    await c.close();
    await waitUntil(
      async () =>
        (await subscribers('alice')).subscriber_count === 0 && (await subscribers('bob')).subscriber_count === 0,
    );
  });

  it('rejects bad requests with the envelope, parameters before the scope check', async () => {
    const carol = await WatchDevice.signIn(t, 'carol', 'carol-device-1');
    const noAuth = await SseStream.open(`${t.baseUrl}/sync/watch`, { 'Oversync-Source-ID': 's' });
    expect([noAuth.status, JSON.parse(noAuth.body).error]).toEqual([401, 'authentication_failed']);
    const noSource = await SseStream.open(`${t.baseUrl}/sync/watch`, { Authorization: `Bearer ${carol.token}` });
    expect([noSource.status, JSON.parse(noSource.body)]).toEqual([
      400,
      { error: 'invalid_request', message: 'Oversync-Source-ID header is required' },
    ]);
    for (const [query, message] of [
      ['?after_bundle_seq=abc', 'after_bundle_seq must be an integer'],
      ['?after_bundle_seq=%207', 'after_bundle_seq must be an integer'],
      ['?after_bundle_seq=99999999999999999999', 'after_bundle_seq must be an integer'],
      ['?after_bundle_seq=-1', 'after_bundle_seq must be >= 0'],
    ] as const) {
      const bad = await carol.watch(query);
      expect([bad.status, bad.response.headers['content-type'], bad.body]).toEqual([
        400,
        'application/json',
        `{"error":"invalid_request","message":"${message.replace('>', '\\u003e')}"}\n`,
      ]);
    }
    const badHeader = await alice1.watch('', { 'Last-Event-ID': 'x' });
    expect([badHeader.status, JSON.parse(badHeader.body).message]).toEqual([400, 'Last-Event-ID must be an integer']);
    const uninitialized = await carol.watch();
    expect([uninitialized.status, JSON.parse(uninitialized.body)]).toEqual([
      409,
      { error: 'scope_uninitialized', message: 'sync scope for user carol is not initialized' },
    ]);
    await request(t.baseUrl)
      .post('/sync/watch')
      .set('Authorization', `Bearer ${carol.token}`)
      .set('Oversync-Source-ID', 'c')
      .expect(405);
  });
});

describe('GET /sync/watch: subscriber caps', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH_MAX_PER_USER: '2', OVERSYNC_WATCH_MAX_PER_PROCESS: '3' } });
  });
  afterAll(async () => t.close());

  it('answers 429 past the per-user cap, replaces the same source, and 503 past the process cap', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((s) => WatchDevice.signIn(t, 'alice', `alice-${s}`)));
    const [bob, carol] = await Promise.all([
      WatchDevice.signIn(t, 'bob', 'bob-a'),
      WatchDevice.signIn(t, 'carol', 'carol-a'),
    ]);
    for (const device of [a!, bob, carol]) await device.http.connect(false);
    const streams = [await a!.watch(), await b!.watch()];
    try {
      const third = await c!.watch();
      expect([third.status, JSON.parse(third.body).error]).toEqual([429, 'bundle_change_watch_user_limit']);
      // the same source reconnecting replaces its older stream (which the server ends)
      const again = await a!.watch();
      streams.push(again);
      expect(again.status).toBe(200);
      await streams[0]!.waitForEnd();
      streams.push(await bob.watch());
      const full = await carol.watch();
      expect([full.status, JSON.parse(full.body)]).toEqual([
        503,
        {
          error: 'bundle_change_watch_capacity',
          message: "Bundle change watch is at this server's limit of 3 streams; retry later",
        },
      ]);
    } finally {
      for (const stream of streams) await stream.close();
    }
  });
});

describe('GET /sync/watch: shutdown', () => {
  it('ends open streams so that closing the app does not wait for them', async () => {
    const t = await startTestApp();
    const device = await WatchDevice.signIn(t, 'alice', 'alice-1');
    await device.http.connect(false);
    const stream = await device.watch();
    expect(stream.status).toBe(200);
    const started = Date.now();
    await t.close();
    await stream.waitForEnd();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('GET /sync/watch: disabled', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { OVERSYNC_WATCH: 'false' } });
  });
  afterAll(async () => t.close());

  it('answers 503 bundle_change_watch_disabled after validating the parameters, and advertises no watch', async () => {
    const device = await WatchDevice.signIn(t, 'alice', 'alice-1');
    const disabled = await device.watch();
    expect([disabled.status, disabled.body]).toEqual([
      503,
      '{"error":"bundle_change_watch_disabled","message":"Bundle change watch is disabled"}\n',
    ]);
    expect((await device.watch('?after_bundle_seq=x')).status).toBe(400);
    const caps = await device.http.get('/sync/capabilities').expect(200);
    expect(caps.body.features.bundle_change_watch).toBe(false);
  });
});

/** A host guard that takes the user from a header. */
@Injectable()
class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: { sub: string } }>();
    req.user = { sub: req.headers['x-user'] ?? '' };
    return true;
  }
}

describe('GET /sync/watch: host policy', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let baseUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      'CREATE TABLE public.notes (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (_sync_scope_id, id))',
    );
    await client.end();
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: db.url }),
        OversyncModule.forRoot({
          tables: [{ table: 'notes', syncKeyColumns: ['id'] }],
          guards: [HeaderUserGuard],
          watch: { enabled: true, allowed: (actor) => actor.sourceId !== 'blocked' },
        }),
      ],
    })
    class PolicyHostModule {}
    app = await NestFactory.create(PolicyHostModule, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  it('answers 403 bundle_change_watch_forbidden, but only for valid parameters', async () => {
    const as = (source: string) => ({ 'x-user': 'u1', 'Oversync-Source-ID': source });
    await request(baseUrl).post('/sync/connect').set(as('allowed')).send({ has_local_pending_rows: false }).expect(200);
    const blocked = await SseStream.open(`${baseUrl}/sync/watch`, as('blocked'));
    expect([blocked.status, JSON.parse(blocked.body)]).toEqual([
      403,
      { error: 'bundle_change_watch_forbidden', message: 'Bundle change watch is not enabled for this client' },
    ]);
    const badParameter = await SseStream.open(`${baseUrl}/sync/watch?after_bundle_seq=-1`, as('blocked'));
    expect(badParameter.status).toBe(400);
    const allowed = await SseStream.open(`${baseUrl}/sync/watch`, as('allowed'));
    expect(allowed.status).toBe(200);
    await allowed.close();
    // each actor gets its own answer, whichever was asked (and remembered) first
    const watchAdvertised = async (source: string) =>
      (await request(baseUrl).get('/sync/capabilities').set(as(source)).expect(200)).body.features
        .bundle_change_watch as boolean;
    expect(await watchAdvertised('blocked')).toBe(false);
    expect(await watchAdvertised('allowed')).toBe(true);
    expect(await watchAdvertised('blocked')).toBe(false);
  });
});
