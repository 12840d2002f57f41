import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { appConfigFromEnv, type AppConfig } from '../../src/config/app-config.js';
import { createReferenceApp } from '../../src/create-app.js';
import { createTestDatabase, testDatabaseUrl, withAdmin, type TestDatabase } from './test-database.js';

export interface TestApp {
  readonly app: INestApplication;
  /** http://127.0.0.1:<port> of the listening app */
  readonly baseUrl: string;
  readonly db: TestDatabase;
  readonly config: AppConfig;
  /** a bearer token for `user` from POST /dummy-signin */
  signIn(user: string): Promise<string>;
  /** closes the app; `keepDatabase` leaves the database for a restart */
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

export interface TestAppOptions {
  /** reuse a database (restart tests); a fresh one otherwise */
  db?: TestDatabase;
  env?: Record<string, string>;
  /** the HTTP platform; default TEST_HTTP_ADAPTER of the run's environment, else express */
  adapter?: 'express' | 'fastify';
}

const BASE_ENV = { JWT_SECRET: 'test-secret', OVERSYNC_TEST_ENDPOINTS: 'true' };

/** The template of this test file's fresh databases, once looked up (or built). */
let template: Promise<string | undefined> | undefined;

/**
 * The run's template database: empty, then bootstrapped by the reference app exactly as a test app
 * bootstraps a fresh database (TypeORM migrations, sync schema, triggers). Built once per run by the
 * first suite that needs it (an advisory lock orders the workers); global-teardown drops it. A test
 * app's fresh database is a copy (`CREATE DATABASE … TEMPLATE`), so its own start runs the bootstrap
 * on an existing schema — the path of every restart — instead of each suite creating it anew. The
 * bootstrap of an empty database stays covered where it is the subject: the template's own build, and
 * the suites that start from `createTestDatabase()` (test/schema, test/module.e2e-spec.ts, the
 * scale-out instances, the consumer hosts).
 * Undefined outside a jest run of the e2e project (no OVERSYNC_TEST_RUN_ID).
 */
function bootstrappedTemplate(): Promise<string | undefined> {
  template ??= (async () => {
    const run = process.env.OVERSYNC_TEST_RUN_ID;
    if (!run) return undefined;
    const name = `oversync_tpl_${run}`;
    await withAdmin(async (admin) => {
      await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
      try {
        const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (rowCount) return;
        // built under another name and renamed when complete: a crashed build is never copied
        const building = `${name}_build`;
        await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${building}`);
        const app = await createReferenceApp(
          appConfigFromEnv(testDatabaseUrl(building), { ...BASE_ENV, HTTP_ADAPTER: 'express' }),
          ['error', 'warn'],
        );
        try {
          await app.init();
        } finally {
          await app.close();
        }
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      } finally {
        await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
      }
    });
    return name;
  })();
  return template;
}

/** The reference app on a fresh database of the run's PostgreSQL, listening on a loopback port. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  // the template holds the default business schema; another one starts from an empty database
  const defaultSchema = (options.env?.BUSINESS_SCHEMA ?? 'business') === 'business';
  const db =
    options.db ?? (await createTestDatabase({ template: defaultSchema ? await bootstrappedTemplate() : undefined }));
  const adapter = options.adapter ?? process.env.TEST_HTTP_ADAPTER ?? 'express';
  const config = appConfigFromEnv(db.url, {
    ...BASE_ENV,
    HTTP_ADAPTER: adapter,
    ...options.env,
  });
  // the reference app exactly as `npm start` builds it (body parser on, rawBody, CORS, docs)
  const app = await createReferenceApp(config, ['error', 'warn']);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  return {
    app,
    baseUrl,
    db,
    config,
    async signIn(user: string) {
      const res = await request(baseUrl).post('/dummy-signin').send({ user, password: 'x' }).expect(200);
      return (res.body as { token: string }).token;
    },
    async close(closeOptions = {}) {
      await app.close();
      if (!closeOptions.keepDatabase) await db.drop();
    },
  };
}
