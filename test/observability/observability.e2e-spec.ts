import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  Injectable,
  Module,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type LoggerService,
  type LogLevel,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { register } from 'prom-client';
import pg from 'pg';
import request from 'supertest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  BundleChangeListener,
  OversyncModule,
  OversyncSessionSweeper,
  OversyncTelemetry,
  type OversyncModuleOptions,
} from '@oversync/nestjs';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { SyncHttp } from '../support/sync-http.js';
import { SseStream } from '../support/sse.js';

/** `name{labels} value` lines of a Prometheus text exposition, keyed by `name{labels}` as printed. */
async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const res = await request(baseUrl).get('/metrics').expect(200);
  expect(res.headers['content-type']).toContain('text/plain');
  const samples = new Map<string, number>();
  for (const line of res.text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** The sample of `name` whose labels include every one of `labels` (0 when absent). */
function sample(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    const present = brace < 0 ? [] : key.slice(brace + 1, -1).split(',');
    if (wanted.every((w) => present.includes(w))) return value;
  }
  return 0;
}

const post = (id: string, title: string, base = 0) => ({
  schema: 'business',
  table: 'posts',
  key: { id },
  op: base === 0 ? 'INSERT' : 'UPDATE',
  base_row_version: base,
  payload: { id, title, content: 'c', author_id: null },
});

describe('observability: metrics, spans, health', () => {
  const exporter = new InMemorySpanExporter();
  const contextManager = new AsyncLocalStorageContextManager().enable();
  let t: TestApp;
  let admin: pg.Client;
  let a1: SyncHttp;
  let a2: SyncHttp;

  beforeAll(async () => {
    // what a host's OpenTelemetry SDK does at start: a context manager and a tracer provider
    context.setGlobalContextManager(contextManager);
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    t = await startTestApp({ env: { OVERSYNC_RETAINED_BUNDLES_PER_USER: '1', OVERSYNC_USER_LOCK_TIMEOUT_MS: '300' } });
    admin = new pg.Client({ connectionString: t.db.url });
    await admin.connect();
    const alice = await t.signIn('alice');
    a1 = new SyncHttp(t.baseUrl, alice, 'alice-device-1');
    a2 = new SyncHttp(t.baseUrl, alice, 'alice-device-2');
  });

  afterAll(async () => {
    await admin.end();
    await t.close();
    trace.disable();
    context.disable();
  });

  it('counts a scripted push, pull, snapshot, conflict, pruned pull, lock waits, sweep and watch event', async () => {
    const before = await scrape(t.baseUrl);
    const delta = async (name: string, labels: Record<string, string> = {}) =>
      sample(await scrape(t.baseUrl), name, labels) - sample(before, name, labels);

    await a1.connect(false);
    const watch = await SseStream.open(`${t.baseUrl}/sync/watch?after_bundle_seq=0`, {
      Authorization: `Bearer ${a1.token}`,
      'Oversync-Source-ID': 'alice-device-1',
    });
    expect(watch.status).toBe(200);
    expect(sample(await scrape(t.baseUrl), 'oversync_watch_subscribers')).toBe(1);
    const p1 = randomUUID();
    const p2 = randomUUID();
    expect((await a1.push(1, [post(p1, 'one'), post(p2, 'two')])).status).toBe(200);
    await watch.nextBundle();
    expect((await a2.connect(false)).body).toEqual({ resolution: 'remote_authoritative' });
    await a2.get('/sync/pull?after_bundle_seq=0').expect(200);
    await a2.post('/sync/snapshot-sessions').expect(200);
    // the same row inserted again by the other device: push_conflict on business.posts
    const conflict = await a2.push(1, [post(p1, 'again')]);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('push_conflict');
    // a second bundle moves the retained floor (1 bundle kept): a pull from 0 is history_pruned
    expect((await a1.push(2, [post(p1, 'one v2', 1)])).status).toBe(200);
    expect((await a2.get('/sync/pull?after_bundle_seq=0')).body.error).toBe('history_pruned');
    // the user lock held elsewhere: one wait that gets it, one that times out (300 ms)
    await admin.query(`SELECT pg_advisory_lock(hashtextextended('alice', 0))`);
    const waited = a1.post('/sync/push-sessions', { source_bundle_id: 3, planned_row_count: 1 }).then((r) => r.status);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await admin.query(`SELECT pg_advisory_unlock(hashtextextended('alice', 0))`);
    expect(await waited).toBe(200);
    await admin.query(`SELECT pg_advisory_lock(hashtextextended('alice', 0))`);
    expect((await a1.post('/sync/push-sessions', { source_bundle_id: 3, planned_row_count: 1 })).status).toBe(503);
    await admin.query(`SELECT pg_advisory_unlock(hashtextextended('alice', 0))`);
    await t.app.get(OversyncSessionSweeper).sweep();
    await watch.close();

    const commit = { route: '/sync/push-sessions/:id/commit' };
    expect(await delta('oversync_requests_total', { ...commit, status: '200', error_code: '' })).toBe(2);
    expect(await delta('oversync_requests_total', { ...commit, status: '409', error_code: 'push_conflict' })).toBe(1);
    expect(
      await delta('oversync_requests_total', { route: '/sync/pull', status: '409', error_code: 'history_pruned' }),
    ).toBe(1);
    expect(await delta('oversync_request_duration_seconds_count', { route: '/sync/pull', status: '200' })).toBe(1);
    expect(
      await delta('oversync_request_duration_seconds_count', {
        route: '/sync/push-sessions',
        status: '503',
        error_code: 'service_unavailable',
      }),
    ).toBe(1);
    expect(await delta('oversync_push_chunks_total')).toBe(3);
    expect(await delta('oversync_push_rows_total')).toBe(4);
    expect(await delta('oversync_push_bytes_total')).toBeGreaterThan(200);
    expect(await delta('oversync_bundles_committed_total')).toBe(2);
    expect(await delta('oversync_bundle_rows_committed_total')).toBe(3);
    expect(await delta('oversync_push_commit_duration_seconds_count')).toBe(2);
    expect(await delta('oversync_push_conflicts_total', { table: 'business.posts' })).toBe(1);
    expect(await delta('oversync_pull_bundles_total')).toBe(1);
    expect(await delta('oversync_pull_rows_total')).toBe(2);
    expect(await delta('oversync_history_pruned_total')).toBe(1);
    expect(await delta('oversync_snapshot_sessions_total')).toBe(1);
    expect(await delta('oversync_snapshot_rows_total')).toBe(2);
    expect(await delta('oversync_snapshot_duration_seconds_count')).toBe(1);
    expect(await delta('oversync_watch_events_sent_total')).toBeGreaterThanOrEqual(1);
    expect(await delta('oversync_user_lock_waits_total')).toBe(2);
    expect(await delta('oversync_user_lock_timeouts_total')).toBe(1);
    expect(await delta('oversync_sweeper_runs_total', { outcome: 'swept' })).toBe(1);
    const now = await scrape(t.baseUrl);
    expect(sample(now, 'oversync_db_pool_connections', { state: 'total' })).toBeGreaterThan(0);
    expect(sample(now, 'oversync_watch_subscribers')).toBe(0);
    // no user or source id in any label
    expect([...now.keys()].some((key) => key.includes('alice'))).toBe(false);
  });

  it('the Grafana dashboard queries only metrics the module exposes', async () => {
    const res = await request(t.baseUrl).get('/metrics').expect(200);
    const exposed = new Set([...res.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]!));
    const dashboard = readFileSync(new URL('../../libs/oversync/docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const used = new Set(
      [...dashboard.matchAll(/oversync_[a-z_]+/g)]
        .map((m) => m[0].replace(/_bucket$/, ''))
        .filter((name) => name !== 'oversync_'),
    );
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('records the span of one push commit with its stages as children', async () => {
    exporter.reset();
    const id = randomUUID();
    const res = await a1.push(3, [post(id, 'traced')]);
    expect(res.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    const commit = spans.find((s) => s.name === 'oversync.push_session_commit');
    expect(commit).toBeDefined();
    expect(commit!.attributes['oversync.rows']).toBe(1);
    expect(commit!.attributes['http.route']).toBe('/sync/push-sessions/:id/commit');
    const traceId = commit!.spanContext().traceId;
    const children = spans.filter((s: ReadableSpan) => s.parentSpanContext?.spanId === commit!.spanContext().spanId);
    expect(children.every((s) => s.spanContext().traceId === traceId)).toBe(true);
    expect(children.map((s) => s.name)).toEqual([
      'oversync.lock',
      'oversync.stage',
      'oversync.conflicts',
      'oversync.apply',
      'oversync.capture',
      'oversync.canonicalize',
      'oversync.hash',
      'oversync.finalize',
      'oversync.retention',
      'oversync.notify',
    ]);
    expect(children.find((s) => s.name === 'oversync.capture')!.attributes['oversync.rows']).toBe(1);
    const chunk = spans.find((s) => s.name === 'oversync.push_chunk');
    expect(chunk!.attributes['oversync.rows']).toBe(1);
    expect(spans.filter((s) => s.parentSpanContext?.spanId === chunk!.spanContext().spanId).map((s) => s.name)).toEqual(
      ['oversync.parse', 'oversync.lock', 'oversync.session', 'oversync.stage'],
    );
    expect(spans.some((s) => s.name === 'oversync.push_session_create')).toBe(true);
    // a refusal carries its protocol code
    exporter.reset();
    await a1.get('/sync/pull?after_bundle_seq=0').expect(409);
    const pruned = exporter.getFinishedSpans().find((s) => s.name === 'oversync.pull');
    expect(pruned!.attributes['oversync.error_code']).toBe('history_pruned');
  });

  it('the terminus indicator goes down when the LISTEN connection is killed and up after it reconnects', async () => {
    const ready = await request(t.baseUrl).get('/health/ready').expect(200);
    expect(ready.body.info.oversync).toMatchObject({
      status: 'up',
      database: 'up',
      bootstrapped: true,
      watch_listener: 'up',
    });
    await request(t.baseUrl).get('/health/live').expect(200);
    const listener = t.app.get(BundleChangeListener);
    const pid = listener.backendPid;
    expect(pid).toBeDefined();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    let down: request.Response | undefined;
    for (const deadline = Date.now() + 5000; Date.now() < deadline && !down;) {
      const res = await request(t.baseUrl).get('/health/ready');
      if (res.status === 503) down = res;
    }
    expect(down?.body.error.oversync).toMatchObject({ status: 'down', database: 'up', watch_listener: 'down' });
    let up = false;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && !up;) {
      up = (await request(t.baseUrl).get('/health/ready')).status === 200;
      if (!up) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(up).toBe(true);
    expect(listener.backendPid).not.toBe(pid);
  });

  it('/syncx/health answers from process state: no scan of sync.bundle_log or sync.user_state', async () => {
    // Table access statistics of the app's backends are flushed when those backends exit.
    const flushAndRead = async () => {
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> ' +
          'pg_backend_pid()',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await admin.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await admin.query<{ relname: string; scans: string }>(
        `SELECT relname, (COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0))::text AS scans FROM pg_stat_user_tables
          WHERE schemaname = 'sync' AND relname IN ('bundle_log', 'user_state') ORDER BY relname`,
      );
      return Object.fromEntries(rows.map((r) => [r.relname, Number(r.scans)]));
    };
    const base = await flushAndRead();
    for (let i = 0; i < 20; i++) {
      const res = await request(t.baseUrl).get('/syncx/health').expect(200);
      expect(res.body).toEqual({ status: 'healthy', version: 'v1' });
    }
    expect(await flushAndRead()).toEqual(base);
    // the measurement can fail: /syncx/status does read those tables
    await a1.get('/syncx/status').expect(200);
    const after = await flushAndRead();
    expect(after.bundle_log).toBeGreaterThan(base.bundle_log!);
  });
});

@Injectable()
class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: { sub: string } }>();
    req.user = { sub: req.headers['x-user'] ?? '' };
    return req.user.sub !== '';
  }
}

describe('observability options in a host that is not the reference app', () => {
  let db: TestDatabase;
  const apps: INestApplication[] = [];

  async function hostApp(
    options: Partial<OversyncModuleOptions>,
    logger: LoggerService | LogLevel[] = ['error'],
  ): Promise<INestApplication> {
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: db.url }),
        OversyncModule.forRoot({
          tables: [{ table: 'notes', syncKeyColumns: ['id'] }],
          guards: [HeaderUserGuard],
          ...options,
        }),
      ],
    })
    class HostModule {}
    const app = await NestFactory.create(HostModule, { logger });
    await app.listen(0, '127.0.0.1');
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      `CREATE TABLE public.notes (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT,
        PRIMARY KEY (_sync_scope_id, id))`,
    );
    await client.end();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await db.drop();
  });

  it('by default registers no metric, and the health body is status and version only', async () => {
    const app = await hostApp({});
    expect(app.get(OversyncTelemetry).registry).toBeUndefined();
    // the reference app of the suite above closed: its metrics left prom-client's global registry with it
    expect((await register.getMetricsAsJSON()).filter((m) => m.name.startsWith('oversync_'))).toEqual([]);
    const res = await request(app.getHttpServer()).get('/syncx/health').expect(200);
    expect(res.body).toEqual({ status: 'healthy', version: 'v1' });
  });

  it('metrics without a registry go to a registry of the module; health details on request', async () => {
    const app = await hostApp({ metrics: { enabled: true, prefix: 'notes_sync_' }, exposeHealthDetails: true });
    const server = app.getHttpServer();
    await request(server).get('/sync/capabilities').set({ 'x-user': 'u1', 'oversync-source-id': 's1' }).expect(200);
    await request(server).get('/sync/capabilities').set({ 'oversync-source-id': 's1' }).expect(401);
    const registry = app.get(OversyncTelemetry).registry!;
    expect(registry).not.toBe(register);
    const text = await registry.metrics();
    expect(text).toContain(
      'notes_sync_requests_total{method="GET",route="/sync/capabilities",status="200",error_code=""} 1',
    );
    expect(text).toMatch(
      new RegExp(
        'notes_sync_requests_total\\{method="GET",route="/sync/capabilities",status="401",' +
          'error_code="authentication_failed"\\} 1',
      ),
    );
    expect(await register.getSingleMetricAsString('notes_sync_requests_total').catch(() => 'absent')).toBe('absent');
    const health = await request(server).get('/syncx/health').expect(200);
    expect(health.body).toEqual({
      status: 'healthy',
      version: 'v1',
      lifecycle: 'running',
      accepting_operations: true,
      bootstrapped: true,
      watch_listener: 'disabled',
      inflight_operations: 0,
    });
  });

  it('logs one structured line per request and stage timings, never tokens or payloads', async () => {
    const lines: Array<{ message: unknown; context: unknown }> = [];
    const capture = (message: unknown, ...rest: unknown[]) => lines.push({ message, context: rest[rest.length - 1] });
    const logger: LoggerService = { log: capture, warn: capture, error: capture, debug: capture, verbose: capture };
    const app = await hostApp({ logging: { requests: true, stageTimings: true } }, logger);
    const server = app.getHttpServer();
    const as = {
      'x-user': 'u7',
      'oversync-source-id': 's7',
      authorization: 'Bearer top-secret-token',
      'x-request-id': 'req-42',
    };
    await request(server).post('/sync/connect').set(as).send({ has_local_pending_rows: false }).expect(200);
    const created = await request(server)
      .post('/sync/push-sessions')
      .set(as)
      .send({ source_bundle_id: 1, planned_row_count: 1 })
      .expect(200);
    await request(server)
      .post(`/sync/push-sessions/${created.body.push_id}/chunks`)
      .set(as)
      .send({
        start_row_ordinal: 0,
        rows: [
          {
            schema: 'public',
            table: 'notes',
            key: { id: 'n-1' },
            op: 'INSERT',
            base_row_version: 0,
            payload: { body: 'secret-payload-text' },
          },
        ],
      })
      .expect(200);
    await request(server).post(`/sync/push-sessions/${created.body.push_id}/commit`).set(as).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const requests = lines
      .filter((l) => (l.message as { msg?: string }).msg === 'sync request')
      .map((l) => l.message as Record<string, unknown>);
    expect(requests).toContainEqual({
      msg: 'sync request',
      request_id: 'req-42',
      user_id: 'u7',
      source_id: 's7',
      method: 'POST',
      route: '/sync/push-sessions/:id/commit',
      status: 200,
      error_code: undefined,
      duration_ms: expect.any(Number),
    });
    expect(requests).toHaveLength(4);
    const stages = lines
      .filter((l) => (l.message as { msg?: string }).msg === 'stage timings')
      .map((l) => l.message as Record<string, unknown>);
    expect(stages.find((s) => s.operation === 'push_commit')).toMatchObject({
      lock_ms: expect.any(Number),
      apply_ms: expect.any(Number),
      finalize_ms: expect.any(Number),
      notify_ms: expect.any(Number),
    });
    expect(stages.find((s) => s.operation === 'push_chunk')).toMatchObject({
      parse_ms: expect.any(Number),
      stage_ms: expect.any(Number),
    });
    const all = JSON.stringify(lines);
    expect(all).not.toContain('top-secret-token');
    expect(all).not.toContain('secret-payload-text');
  });
});
