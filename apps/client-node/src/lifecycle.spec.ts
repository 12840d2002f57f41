import { describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { sqliteFiles } from './sqlite-file.spec-support.js';
import type { SyncTable } from './config.js';
import { AttachRequiredError, DatabaseAlreadyOwnedError, OversqliteConfigError } from './errors.js';
import { OversqliteClient } from './oversqlite-client.js';

// Configuration checks and Open are local: nothing here reaches a server. Lifecycle paths that
// talk to one (Attach, Detach, uninstall, …) are in test/client/client-lifecycle.e2e-spec.ts.

const BUSINESS_DDL = `
CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT, age INTEGER);
CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, title TEXT,
  author_id TEXT REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT, data BLOB);
CREATE TABLE file_reviews (id BLOB PRIMARY KEY NOT NULL, review TEXT,
  file_id BLOB REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE typed_rows (id TEXT PRIMARY KEY NOT NULL, name TEXT, count_value INTEGER, rating REAL, data BLOB,
  created_at TEXT);
`;

const BUSINESS_TABLES: SyncTable[] = ['users', 'posts', 'files', 'file_reviews', 'typed_rows'].map((tableName) => ({
  tableName,
  syncKeyColumnName: 'id',
}));

const databases = sqliteFiles();

function memoryDatabase(): Database.Database {
  const { db } = databases.open();
  db.exec(BUSINESS_DDL);
  return db;
}

function fileDatabase(): { db: Database.Database; reopen(): Database.Database } {
  const { db, path } = databases.open();
  db.exec(BUSINESS_DDL);
  return { db, reopen: () => new Database(path) };
}

/** Nothing listens on port 9 of the loopback: a request would fail the test. */
const OFFLINE = {
  baseUrl: 'http://127.0.0.1:9',
  tokenProvider: () => 't',
  schema: 'business',
  tables: BUSINESS_TABLES,
};

function newClient(db: Database.Database): Promise<OversqliteClient> {
  return OversqliteClient.open(db, OFFLINE);
}

function dirtyRows(db: Database.Database): { key_json: string; op: string; base_row_version: number }[] {
  return db.prepare('SELECT key_json, op, base_row_version FROM _sync_dirty_rows ORDER BY dirty_ordinal').all() as {
    key_json: string;
    op: string;
    base_row_version: number;
  }[];
}

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('configuration', () => {
  const base = OFFLINE;

  it.each([
    [{ schema: '' }, 'options.schema is required (there is no default schema)'],
    [{ schema: '   ' }, 'options.schema is required (there is no default schema)'],
    [
      { tables: [{ tableName: 'main.users', syncKeyColumnName: 'id' }] },
      'table main.users must not include a schema qualifier; oversqlite supports exactly one options.schema ' +
        'per local database',
    ],
    [
      {
        tables: [
          { tableName: 'users', syncKeyColumnName: 'id' },
          { tableName: 'USERS', syncKeyColumnName: 'id' },
        ],
      },
      'duplicate sync table registration for users',
    ],
    [{ tables: [{ tableName: 'users' }] }, 'table users must declare syncKeyColumnName or syncKeyColumns explicitly'],
    [
      { tables: [{ tableName: 'users', syncKeyColumns: [' ', ''] }] },
      'table users must declare at least one non-empty sync key column',
    ],
    [
      { tables: [{ tableName: 'users', syncKeyColumns: ['id', 'name'] }] },
      'table users must declare exactly one sync key column in the current client runtime',
    ],
    [
      { tables: [{ tableName: 'users', syncKeyColumnName: 'uuid' }] },
      'table users does not contain configured primary key column uuid',
    ],
    [
      { tables: [{ tableName: 'users', syncKeyColumnName: 'name' }] },
      'configured primary key column name for table users is not declared as PRIMARY KEY',
    ],
    [
      { tables: [{ tableName: 'counters', syncKeyColumnName: 'id' }] },
      'table counters uses unsupported local sync key column id type "INTEGER"; oversqlite supports only TEXT ' +
        'keys and UUID-backed BLOB keys',
    ],
    [
      { tables: [{ tableName: 'posts', syncKeyColumnName: 'id' }] },
      'managed tables are not FK-closed: posts.author_id -> users.id',
    ],
    [{ downloadLimit: 6000 }, 'downloadLimit 6000 exceeds the server maximum of 5000 bundles per pull'],
    [{ baseUrl: 'localhost:8080' }, 'baseUrl must be an absolute http(s) URL, got "localhost:8080"'],
  ])('rejects %j', async (override, message) => {
    const db = memoryDatabase();
    db.exec('CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)');
    await expect(OversqliteClient.open(db, { ...base, ...override })).rejects.toThrow(
      new OversqliteConfigError(message),
    );
  });

  it('accepts self references, orders tables parents first, and keeps unknown _sync_ tables', async () => {
    const db = memoryDatabase();
    db.exec(
      'CREATE TABLE categories (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES categories(id)); CREATE TABLE ' +
        '_sync_custom (x)',
    );
    await expect(
      OversqliteClient.open(db, {
        ...base,
        tables: [...BUSINESS_TABLES, { tableName: 'categories', syncKeyColumnName: 'id' }],
      }),
    ).resolves.toBeInstanceOf(OversqliteClient);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = '_sync_custom'").get()).toBeDefined();
  });

  it('rejects a second client on the same database until the first is closed', async () => {
    const db = memoryDatabase();
    const first = await OversqliteClient.open(db, base);
    await expect(OversqliteClient.open(db, base)).rejects.toThrow(DatabaseAlreadyOwnedError);
    await first.close();
    await first.close();
    await expect(OversqliteClient.open(db, base)).resolves.toBeInstanceOf(OversqliteClient);
  });

  it('rejects a database whose sync state uses another schema', async () => {
    const db = memoryDatabase();
    const client = await OversqliteClient.open(db, base);
    await client.close();
    await expect(OversqliteClient.open(db, { ...base, schema: 'other' })).rejects.toThrow(
      'oversqlite supports exactly one configured schema per local database; existing sync state uses ' +
        'schema(s) business while options.schema=other',
    );
  });
});

describe('lifecycle', () => {
  it('generates and persists one source id, and captures rows written before sync was installed', async () => {
    const file = fileDatabase();
    file.db.exec("INSERT INTO users(id, name) VALUES ('pre1', 'x'), ('pre2', 'y')");
    const client = await newClient(file.db);
    const source = (await client.sourceInfo()).currentSourceId;
    expect(source).toMatch(uuidV4);
    expect(dirtyRows(file.db).map((r) => [r.key_json, r.op, r.base_row_version])).toEqual([
      ['{"id":"pre1"}', 'INSERT', 0],
      ['{"id":"pre2"}', 'INSERT', 0],
    ]);
    expect(await client.pendingSyncStatus()).toEqual({
      hasPendingSyncData: true,
      pendingRowCount: 2,
      blocksDetach: false,
    });
    await client.close();
    file.db.close();
    const reopened = await newClient(file.reopen());
    expect((await reopened.sourceInfo()).currentSourceId).toBe(source);
    expect(await reopened.pendingSyncStatus()).toMatchObject({ pendingRowCount: 2 });
  });

  it('requires Attach before sync operations', async () => {
    const client = await newClient(memoryDatabase());
    await expect(client.attach('  ')).rejects.toThrow('userId must be provided');
    await expect(client.pushPending()).rejects.toThrow(new AttachRequiredError('pushPending()'));
    await expect(client.pullToStable()).rejects.toThrow(new AttachRequiredError('pullToStable()'));
    await expect(client.syncStatus()).rejects.toThrow(new AttachRequiredError('syncStatus()'));
  });
});
