import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.OVERSYNC_TEST_ADMIN_URL;
  if (!url) throw new Error('OVERSYNC_TEST_ADMIN_URL is not set: run through jest (test/support/global-setup.ts)');
  return url;
}

/** A fresh, empty database on the run's server, so suites can run in parallel and leave nothing behind. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `oversync_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
