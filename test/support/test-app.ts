import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { appConfigFromEnv, type AppConfig } from '../../src/config/app-config.js';
import { createReferenceApp } from '../../src/create-app.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

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

/** The reference app on a fresh database of the run's PostgreSQL, listening on a loopback port. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const adapter = options.adapter ?? process.env.TEST_HTTP_ADAPTER ?? 'express';
  const config = appConfigFromEnv(db.url, {
    JWT_SECRET: 'test-secret',
    OVERSYNC_TEST_ENDPOINTS: 'true',
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
