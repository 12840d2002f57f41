// Jest loads global setup outside its module mapper, so this uses the build that `npm test` makes first (tsc -b).
import { randomBytes } from 'node:crypto';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../dist/src/database/embedded-postgres.js';

declare global {
  // Read only by global-teardown (same process).
  var __OVERSYNC_EMBEDDED__: EmbeddedDatabase | undefined;
}

/** One PostgreSQL per test run: DATABASE_URL when set, else an embedded server on a free port. */
export default async function globalSetup(): Promise<void> {
  // names the run's template database (test-app.ts), which global-teardown drops
  process.env.OVERSYNC_TEST_RUN_ID = randomBytes(6).toString('hex');
  if (process.env.DATABASE_URL) {
    process.env.OVERSYNC_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }
  const db = await startEmbeddedPostgres({
    dataDir: `.data/test-${process.pid}-${Date.now()}`,
    ephemeral: true,
  });
  globalThis.__OVERSYNC_EMBEDDED__ = db;
  process.env.OVERSYNC_TEST_ADMIN_URL = db.url;
}
