import pg from 'pg';
import { SyncDatabase } from '../../libs/oversync/src/database/sync-database.js';
import type { RegisteredTableConfig } from '../../libs/oversync/src/schema/registered-table.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/** users ← posts (scope-inclusive, deferrable FK) and files with a text key: table ids files 1, posts 2, users 3. */
export const BUSINESS_SCHEMA_SQL = `
  CREATE TABLE business.users (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    name TEXT,
    PRIMARY KEY (_sync_scope_id, id)
  );
  CREATE TABLE business.posts (
    _sync_scope_id TEXT NOT NULL,
    id UUID NOT NULL,
    author_id UUID,
    title TEXT,
    PRIMARY KEY (_sync_scope_id, id),
    CONSTRAINT posts_author_fk FOREIGN KEY (_sync_scope_id, author_id)
      REFERENCES business.users (_sync_scope_id, id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
  );
  CREATE TABLE business.files (
    _sync_scope_id TEXT NOT NULL,
    id TEXT NOT NULL,
    data BYTEA,
    PRIMARY KEY (_sync_scope_id, id)
  );`;

export const BUSINESS_TABLES: RegisteredTableConfig[] = [
  { schema: 'business', table: 'users', syncKeyColumns: ['id'] },
  { schema: 'business', table: 'posts', syncKeyColumns: ['id'] },
  { schema: 'business', table: 'files', syncKeyColumns: ['id'] },
];

export interface SchemaTestFixture {
  readonly url: string;
  readonly pool: pg.Pool;
  readonly db: SyncDatabase;
  /** Drops `sync` and `business`, then recreates `business` with `businessSql`. */
  reset(businessSql?: string): Promise<void>;
  close(): Promise<void>;
}

/** One fresh database per suite; tests reset the two schemas they use. */
export async function openSchemaTestFixture(): Promise<SchemaTestFixture> {
  const database: TestDatabase = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: database.url, max: 8 });
  return {
    url: database.url,
    pool,
    db: SyncDatabase.fromPool(pool),
    async reset(businessSql = BUSINESS_SCHEMA_SQL) {
      await pool.query(
        'DROP SCHEMA IF EXISTS sync CASCADE; DROP SCHEMA IF EXISTS business CASCADE; CREATE SCHEMA business',
      );
      await pool.query(businessSql);
    },
    async close() {
      await pool.end();
      await database.drop();
    },
  };
}

/** The rejection of `promise` (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

/** The innermost error of a `cause` chain: the one carrying the specification's exact text. */
export function innermostCause(error: Error): Error {
  let current = error;
  while (current.cause instanceof Error) current = current.cause;
  return current;
}
