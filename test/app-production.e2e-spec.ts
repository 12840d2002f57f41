import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { appConfigFromEnv, ConfigError, validateEnvironment } from '../src/config/app-config.js';
import { EmbeddedPostgresAccessError, startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { startTestApp, type TestApp } from './support/test-app.js';

// The reference app as deployed: `npm start` (dist/src/main.js) refuses unsafe settings before it
// starts anything; with NODE_ENV=production the development surfaces are off.

/** Runs the built server like `npm start` with exactly `env` (plus PATH), expecting it to stop at once. */
function start(env: Record<string, string>): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, ['dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('npm start refuses unsafe or malformed settings', () => {
  it('NODE_ENV=production without JWT_SECRET exits with a message naming it', () => {
    const { status, output } = start({ NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/never-used' });
    expect(status).toBe(1);
    expect(output).toContain('JWT_SECRET must be set to a secret of your own when NODE_ENV=production');
    expect(output).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('NODE_ENV=production with the development default secret is refused too', () => {
    expect(() =>
      validateEnvironment({ NODE_ENV: 'production', JWT_SECRET: 'your-secret-key-change-in-production' }),
    ).toThrow(ConfigError);
  });

  it('a bad number is a start-up error naming the variable', () => {
    const { status, output } = start({ PORT: '80a', DATABASE_URL: 'postgres://127.0.0.1:1/never-used' });
    expect(status).toBe(1);
    expect(output).toContain('PORT must be an integer from 0 to 65535 (got "80a")');
    expect(() => validateEnvironment({ OVERSYNC_WATCH_HEARTBEAT_MS: '-5' })).toThrow(
      'OVERSYNC_WATCH_HEARTBEAT_MS must be an integer',
    );
    expect(() => validateEnvironment({ OVERSYNC_DB_POOL_MAX_CONNS: '1e3' })).toThrow(
      'OVERSYNC_DB_POOL_MAX_CONNS must be an integer',
    );
    expect(() => validateEnvironment({ OVERSYNC_WATCH: 'maybe' })).toThrow(
      'OVERSYNC_WATCH must be true or false (got "maybe")',
    );
  });

  describe('a busy port', () => {
    let blocker: Server;
    let port: number;
    beforeAll(async () => {
      blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      port = (blocker.address() as { port: number }).port;
    });
    afterAll(async () => new Promise<void>((resolve) => blocker.close(() => resolve())));

    it('says that the port is in use (before starting a database)', () => {
      const { status, output } = start({ PORT: String(port), DATABASE_URL: 'postgres://127.0.0.1:1/never-used' });
      expect(status).toBe(1);
      expect(output).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(output).not.toContain('undefined');
    });
  });

  it('production defaults: docs, dummy sign-in and CORS off; explicit settings win', () => {
    const production = appConfigFromEnv('postgres://x', { NODE_ENV: 'production', JWT_SECRET: 's3cret-of-my-own' });
    expect(production).toMatchObject({
      production: true,
      docs: false,
      dummySignin: false,
      corsOrigins: [],
      testEndpoints: false,
    });
    const development = appConfigFromEnv('postgres://x', {});
    expect(development).toMatchObject({ production: false, docs: true, dummySignin: true, corsOrigins: ['*'] });
    const chosen = appConfigFromEnv('postgres://x', {
      NODE_ENV: 'production',
      JWT_SECRET: 'k',
      OVERSYNC_DOCS: 'true',
      CORS_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(chosen).toMatchObject({ docs: true, corsOrigins: ['https://a.example', 'https://b.example'] });
  });
});

describe('the reference app with NODE_ENV=production', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        NODE_ENV: 'production',
        JWT_SECRET: 'production-secret',
        OVERSYNC_TEST_ENDPOINTS: 'false',
        CORS_ORIGINS: 'https://app.example',
      },
    });
  });
  afterAll(async () => t.close());

  it('serves no /docs and no /dummy-signin, no X-Powered-By, CORS only for the configured origin', async () => {
    await request(t.baseUrl).get('/docs').expect(404);
    await request(t.baseUrl).get('/docs-json').expect(404);
    await request(t.baseUrl).post('/dummy-signin').send({ user: 'alice' }).expect(404);
    const health = await request(t.baseUrl).get('/syncx/health').set('Origin', 'https://evil.example').expect(200);
    expect(health.headers['x-powered-by']).toBeUndefined();
    expect(health.headers['access-control-allow-origin']).toBeUndefined();
    const allowed = await request(t.baseUrl).get('/syncx/health').set('Origin', 'https://app.example').expect(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
  });
});

describe('embedded PostgreSQL started as root from a folder its postgres user cannot enter', () => {
  const root = process.getuid?.() === 0;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'oversync-private-'));
    mkdirSync(join(dir, 'clone'));
    chmodSync(dir, 0o700);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  (root ? it : it.skip)('stops with a message that says why and what to do, never an unhandled EACCES', async () => {
    const error = await startEmbeddedPostgres({ dataDir: join(dir, 'clone', '.data', 'postgres') }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EmbeddedPostgresAccessError);
    expect((error as Error).message).toContain(`cannot enter ${dir}`);
    expect((error as Error).message).toContain('DATABASE_URL');
  });
});
