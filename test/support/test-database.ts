import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** copy this database (`CREATE DATABASE … TEMPLATE`) instead of starting empty */
  template?: string;
}

function adminUrl(): string {
  const url = process.env.OVERSYNC_TEST_ADMIN_URL;
  if (!url) throw new Error('OVERSYNC_TEST_ADMIN_URL is not set: run through jest (test/support/global-setup.ts)');
  return url;
}

/** postgres:// URL of database `name` on the run's server. */
export function testDatabaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `fn` on a connection to the run's admin database. */
export async function withAdmin<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Settings of every test database. The suites never crash PostgreSQL itself (they terminate backends,
 * kill app processes), so a commit need not wait for its WAL flush: `synchronous_commit = off` keeps
 * every guarantee the suites can observe and spares a WAL fsync per commit on a shared disk. Stored per
 * database (a template's settings are not copied).
 */
const DATABASE_SETTINGS = 'SET synchronous_commit = off';

/**
 * A fresh database on the run's server (empty, or a copy of `template`), so suites can run in parallel and leave
 * nothing behind.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `oversync_t_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (admin) => {
    await admin.query(`CREATE DATABASE ${name}${options.template ? ` TEMPLATE ${options.template}` : ''}`);
    await admin.query(`ALTER DATABASE ${name} ${DATABASE_SETTINGS}`);
  });
  return {
    url: testDatabaseUrl(name),
    name,
    async drop() {
      await withAdmin(async (admin) => {
        // A pg Pool's end() resolves before its backends have exited; FORCE would then terminate a
        // backend whose client already let go of it, and that client reports the termination as an
        // unhandled 'error'. So the backends get up to a second to leave; FORCE ends any left after it.
        for (let waited = 0; waited < 1000; waited += 20) {
          const { rows } = await admin.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [name],
          );
          if (rows[0]!.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
}
