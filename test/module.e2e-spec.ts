import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import pg from 'pg';
import request from 'supertest';
import { OversyncModule, OversyncOptionsError, resolveOversyncConfig } from '@oversync/nestjs';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { startTestApp } from './support/test-app.js';
import { SyncHttp } from './support/sync-http.js';

/** A host guard unlike passport: the user comes from a header. */
@Injectable()
class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: { sub: string } }>();
    if (!req.headers['x-user']) return false;
    req.user = { sub: req.headers['x-user'] };
    return true;
  }
}

describe('OversyncModule in a host app that is not the reference app', () => {
  let db: TestDatabase;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      `CREATE TABLE public.notes (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT,
        PRIMARY KEY (_sync_scope_id, id))`,
    );
    await client.end();

    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: db.url, name: 'notesdb' }),
        OversyncModule.forRootAsync({
          useFactory: () => ({
            tables: [{ table: 'notes', syncKeyColumns: ['id'] }],
            dataSourceName: 'notesdb',
            guards: [HeaderUserGuard],
            appName: 'notes',
          }),
        }),
      ],
    })
    class NotesAppModule {}

    // default body parser on: the module must still work
    app = await NestFactory.create(NotesAppModule, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  /** A one-row push (create + chunk + commit) of `notes` as `user` from source s1; answers the commit. */
  async function pushNote(user: string, schema: string, id: string, body: string) {
    const server = app.getHttpServer();
    const as = { 'x-user': user, 'oversync-source-id': 's1' };
    await request(server).post('/sync/connect').set(as).send({ has_local_pending_rows: false }).expect(200);
    const created = await request(server)
      .post('/sync/push-sessions')
      .set(as)
      .send({ source_bundle_id: 1, planned_row_count: 1 })
      .expect(200);
    const row = { schema, table: 'notes', key: { id }, op: 'INSERT', base_row_version: 0, payload: { body } };
    await request(server)
      .post(`/sync/push-sessions/${created.body.push_id}/chunks`)
      .set(as)
      .send({ start_row_ordinal: 0, rows: [row] })
      .expect(200);
    return request(server).post(`/sync/push-sessions/${created.body.push_id}/commit`).set(as).expect(200);
  }

  it('syncs a text-keyed table through forRootAsync, a named DataSource and a custom guard', async () => {
    const server = app.getHttpServer();
    const as = (source: string) => ({ 'x-user': 'u1', 'oversync-source-id': source });
    await request(server).get('/sync/capabilities').set('oversync-source-id', 's1').expect(401);
    const commit = await pushNote('u1', '', 'n-1', 'hello');
    expect(commit.body).toMatchObject({ bundle_seq: 1, row_count: 1 });
    const pulled = await request(server).get('/sync/pull').set(as('s2')).expect(200);
    expect(pulled.body.bundles[0].rows[0]).toEqual({
      schema: 'public',
      table: 'notes',
      key: { id: 'n-1' },
      op: 'INSERT',
      row_version: 1,
      payload: { body: 'hello', id: 'n-1' },
    });
  });

  it('syncs a row whose text key is the empty string (spec §4.2.2: text keys accept any string)', async () => {
    const server = app.getHttpServer();
    const as = (source: string) => ({ 'x-user': 'u2', 'oversync-source-id': source });
    await pushNote('u2', 'public', '', 'empty key');
    const pulled = await request(server).get('/sync/pull').set(as('s2')).expect(200);
    expect(pulled.body.bundles[0].rows[0].key).toEqual({ id: '' });
  });

  it('commits a 1,000-row push of a text-keyed table in upload order, whatever order its keys sort in', async () => {
    // the bulk commit inserts business rows in key order; the bundle, its row_state and its rows keep upload order
    const server = app.getHttpServer();
    const as = { 'x-user': 'u3', 'oversync-source-id': 's1' };
    await request(server).post('/sync/connect').set(as).send({ has_local_pending_rows: false }).expect(200);
    const ids = Array.from({ length: 1000 }, (_, i) => `note ${(i * 7919) % 1000} ${i % 2 ? 'é' : 'Z'}`);
    const created = await request(server)
      .post('/sync/push-sessions')
      .set(as)
      .send({ source_bundle_id: 1, planned_row_count: ids.length })
      .expect(200);
    const rows = ids.map((id, i) => ({
      schema: 'public',
      table: 'notes',
      key: { id },
      op: 'INSERT',
      base_row_version: 0,
      payload: { id, body: `body ${i}` },
    }));
    await request(server)
      .post(`/sync/push-sessions/${created.body.push_id}/chunks`)
      .set(as)
      .send({ start_row_ordinal: 0, rows })
      .expect(200);
    const commit = await request(server).post(`/sync/push-sessions/${created.body.push_id}/commit`).set(as).expect(200);
    expect(commit.body).toMatchObject({ row_count: 1000 });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows: stored } = await client.query<{ id: string; body: string; live: string; state: number }>(
        `SELECT convert_from(br.key_bytes, 'UTF8') AS id, br.payload_wire ->> 'body' AS body, n.body AS live,
                (SELECT count(*)::int FROM sync.row_state rs
                  WHERE (rs.user_pk, rs.table_id, rs.key_bytes, rs.bundle_seq)
                      = (br.user_pk, br.table_id, br.key_bytes, br.bundle_seq)) AS state
           FROM sync.bundle_rows br JOIN sync.user_state us USING (user_pk)
           JOIN public.notes n ON n._sync_scope_id = us.user_id AND n.id = convert_from(br.key_bytes, 'UTF8')
          WHERE us.user_id = 'u3' ORDER BY br.row_ordinal`,
      );
      expect(stored).toEqual(ids.map((id, i) => ({ id, body: `body ${i}`, live: `body ${i}`, state: 1 })));
    } finally {
      await client.end();
    }
  });

  it('leaves unknown /sync paths to the host without routeFallback (no catch-all, no error handler)', async () => {
    const server = app.getHttpServer();
    const unknown = await request(server)
      .get('/sync/nope')
      .set({ 'x-user': 'u1', 'oversync-source-id': 's1' })
      .expect(404);
    expect(unknown.body).toMatchObject({ statusCode: 404 }); // Nest's own answer, not the protocol envelope
    expect(unknown.body.error).not.toBe('not_found');
    const wrongMethod = await request(server)
      .put('/sync/pull')
      .set({ 'x-user': 'u1', 'oversync-source-id': 's1' })
      .expect(404);
    expect(wrongMethod.headers.allow).toBeUndefined();
    const undecodable = await request(server)
      .post('/sync/push-sessions/%FF/chunks')
      .set({ 'x-user': 'u1', 'oversync-source-id': 's1' })
      .expect(400);
    expect(undecodable.body).not.toHaveProperty('error', 'invalid_request'); // Express' own answer
  });
});

describe('module options fail fast with the offending field', () => {
  it.each([
    [{}, 'tables must be an array'],
    [{ tables: [{ table: '', syncKeyColumns: ['id'] }] }, 'tables[0].table must be a non-empty string'],
    [{ tables: [{ table: 't', syncKeyColumns: 'id' }] }, 'tables[0].syncKeyColumns (t) must be an array'],
    [
      {
        tables: [
          { table: 't', syncKeyColumns: ['id'] },
          { schema: 'public', table: 'T', syncKeyColumns: ['id'] },
        ],
      },
      'registered twice',
    ],
    [{ tables: [], watch: { notifyChannel: 'x'.repeat(64) } }, 'watch.notifyChannel'],
  ])('%j', (options, message) => {
    expect(() => resolveOversyncConfig(options as never)).toThrow(OversyncOptionsError);
    expect(() => resolveOversyncConfig(options as never)).toThrow(message);
  });
});

describe('restart and concurrent start on one database', () => {
  it('keeps committed bundles and sequences across a restart, and two instances start together', async () => {
    const first = await startTestApp();
    const device = new SyncHttp(first.baseUrl, await first.signIn('alice'), 'd1');
    await device.connect(false);
    const id = '11111111-1111-4111-8111-111111111111';
    const commit = await device.push(1, [
      {
        schema: 'business',
        table: 'users',
        key: { id },
        op: 'INSERT',
        base_row_version: 0,
        payload: { id, name: 'a', email: 'e' },
      },
    ]);
    expect(commit.status).toBe(200);
    await first.close({ keepDatabase: true });

    const [x, y] = await Promise.all([startTestApp({ db: first.db }), startTestApp({ db: first.db })]);
    try {
      for (const instance of [x, y]) {
        const reader = new SyncHttp(instance.baseUrl, await instance.signIn('alice'), 'd2');
        const pulled = await reader.get('/sync/pull').expect(200);
        expect(pulled.body.stable_bundle_seq).toBe(1);
        expect(pulled.body.bundles[0].bundle_hash).toBe(commit.body.bundle_hash);
      }
      const again = new SyncHttp(x.baseUrl, await x.signIn('alice'), 'd1');
      const next = await again.push(2, [
        {
          schema: 'business',
          table: 'users',
          key: { id },
          op: 'UPDATE',
          base_row_version: 1,
          payload: { id, name: 'b' },
        },
      ]);
      expect(next.body).toMatchObject({ bundle_seq: 2, source_bundle_id: 2 });
    } finally {
      await x.close({ keepDatabase: true });
      await y.close();
    }
  });
});
