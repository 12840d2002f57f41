import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Injectable, Module, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  createOversyncSchemaMigration,
  oversyncSchemaSql,
  OversyncModule,
  type OversyncDdlTable,
} from '@oversync/nestjs';
import { bootstrapSyncSchema } from '../../libs/oversync/src/schema/schema-bootstrap.js';
import { BUSINESS_TABLES, openSchemaTestFixture, rejectionOf, type SchemaTestFixture } from './schema-test-fixture.js';

// A host that owns its DDL: the module's schema as SQL or a TypeORM migration, and the module
// started with bootstrap off (it then only verifies, read-only).

const DDL_TABLES: OversyncDdlTable[] = [
  { schema: 'business', table: 'users', syncKeyColumns: ['id'], keyType: 'uuid' },
  { schema: 'business', table: 'posts', syncKeyColumns: ['id'], keyType: 'uuid' },
  { schema: 'business', table: 'files', syncKeyColumns: ['id'], keyType: 'text' },
];

@Injectable()
class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: { sub: string } }>();
    req.user = { sub: req.headers['x-user'] ?? '' };
    return true;
  }
}

async function startHost(url: string): Promise<INestApplication> {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'postgres', url, extra: { max: 4 } }),
      OversyncModule.forRoot({ tables: BUSINESS_TABLES, guards: [HeaderUserGuard], bootstrap: false }),
    ],
  })
  class OwnDdlHostModule {}
  const app = await NestFactory.create(OwnDdlHostModule, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

describe('schema ownership: the DDL as SQL or a TypeORM migration, bootstrap off', () => {
  let fixture: SchemaTestFixture;
  const snapshot = async () => ({
    catalog: (await fixture.pool.query('SELECT * FROM sync.table_catalog ORDER BY table_id')).rows,
    meta: (await fixture.pool.query('SELECT * FROM sync.meta')).rows,
    relations: (
      await fixture.pool.query(
        `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'sync' ORDER BY 1`,
      )
    ).rows,
    functions: (
      await fixture.pool.query(
        `SELECT p.proname, md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'sync' ORDER BY 1`,
      )
    ).rows,
    triggers: (
      await fixture.pool.query(
        `SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          WHERE NOT t.tgisinternal ORDER BY 1, 2`,
      )
    ).rows,
  });

  beforeAll(async () => {
    fixture = await openSchemaTestFixture();
  });
  beforeEach(async () => fixture.reset());
  afterAll(async () => fixture.close());

  it('the SQL script creates what bootstrap creates, and can be applied twice', async () => {
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    const bootstrapped = await snapshot();
    await fixture.reset();
    const sql = oversyncSchemaSql(DDL_TABLES);
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS sync;');
    await fixture.pool.query(sql);
    await fixture.pool.query(sql);
    expect(await snapshot()).toEqual(bootstrapped);
  });

  it('with bootstrap off and no DDL applied, start-up fails naming what to do and changes nothing', async () => {
    const error = await rejectionOf(startHost(fixture.url));
    expect(error.message).toContain('bootstrap is off and the sync schema is not installed');
    expect(error.message).toContain('createOversyncSchemaMigration');
    const { rows } = await fixture.pool.query(`SELECT to_regnamespace('sync') IS NULL AS absent`);
    expect(rows).toEqual([{ absent: true }]);
  });

  it('a TypeORM migration applies it; the module then starts with bootstrap off and syncs', async () => {
    const OversyncSchema = createOversyncSchemaMigration(DDL_TABLES, 1733443200000);
    const dataSource = new DataSource({
      type: 'postgres',
      url: fixture.url,
      migrations: [OversyncSchema],
      migrationsTableName: 'host_migrations',
    });
    await dataSource.initialize();
    try {
      await dataSource.runMigrations();
      expect((await fixture.pool.query('SELECT name FROM host_migrations')).rows).toEqual([
        { name: 'OversyncSchema1733443200000' },
      ]);
    } finally {
      await dataSource.destroy();
    }
    const app = await startHost(fixture.url);
    try {
      const server = app.getHttpServer();
      const as = { 'x-user': 'u1', 'oversync-source-id': 'device-1' };
      await request(server).post('/sync/connect').set(as).send({ has_local_pending_rows: false }).expect(200);
      const created = await request(server)
        .post('/sync/push-sessions')
        .set(as)
        .send({ source_bundle_id: 1, planned_row_count: 1 })
        .expect(200);
      const id = '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d';
      await request(server)
        .post(`/sync/push-sessions/${created.body.push_id}/chunks`)
        .set(as)
        .send({
          start_row_ordinal: 0,
          rows: [
            {
              schema: 'business',
              table: 'users',
              key: { id },
              op: 'INSERT',
              base_row_version: 0,
              payload: { name: 'Ada' },
            },
          ],
        })
        .expect(200);
      await request(server).post(`/sync/push-sessions/${created.body.push_id}/commit`).set(as).expect(200);
      const pulled = await request(server)
        .get('/sync/pull')
        .set({ ...as, 'oversync-source-id': 'device-2' })
        .expect(200);
      expect(pulled.body.bundles[0].rows[0]).toMatchObject({ table: 'users', key: { id }, payload: { name: 'Ada' } });
    } finally {
      await app.close();
    }
  });

  it('bootstrap off refuses a registered table that the migration did not cover', async () => {
    await fixture.pool.query(oversyncSchemaSql(DDL_TABLES.slice(0, 2)));
    const error = await rejectionOf(startHost(fixture.url));
    expect(error.message).toContain('registered table business.files is not in sync.table_catalog');
  });
});
