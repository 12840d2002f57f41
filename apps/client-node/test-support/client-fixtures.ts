/** Databases, schemas and clients for the client's unit specs (real SQLite, fake server). */
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncTable } from '../src/config.js';
import { OversqliteClient, type OversqliteClientOptions } from '../src/oversqlite-client.js';
import { FakeSyncServer } from './fake-sync-server.js';

/** The reference example's business tables, as a device declares them (server.md §3.14). */
export const BUSINESS_DDL = `
CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT, age INTEGER);
CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, title TEXT, author_id TEXT REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE files (id BLOB PRIMARY KEY NOT NULL, name TEXT, data BLOB);
CREATE TABLE file_reviews (id BLOB PRIMARY KEY NOT NULL, review TEXT,
  file_id BLOB REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE typed_rows (id TEXT PRIMARY KEY NOT NULL, name TEXT, count_value INTEGER, rating REAL, data BLOB, created_at TEXT);
`;

export const BUSINESS_TABLES: SyncTable[] = [
  { tableName: 'users', syncKeyColumnName: 'id' },
  { tableName: 'posts', syncKeyColumnName: 'id' },
  { tableName: 'files', syncKeyColumnName: 'id' },
  { tableName: 'file_reviews', syncKeyColumnName: 'id' },
  { tableName: 'typed_rows', syncKeyColumnName: 'id' },
];

export const SERVER_TABLES = { users: 'id', posts: 'id', files: 'id', file_reviews: 'id', typed_rows: 'id' };

export function memoryDatabase(ddl = BUSINESS_DDL): Database.Database {
  const db = new Database(':memory:');
  db.exec(ddl);
  return db;
}

export function fileDatabase(ddl = BUSINESS_DDL): { db: Database.Database; path: string; reopen(): Database.Database } {
  const path = join(mkdtempSync(join(tmpdir(), 'oversqlite-')), 'device.sqlite');
  const db = new Database(path);
  db.exec(ddl);
  return { db, path, reopen: () => new Database(path) };
}

export function fakeServer(): FakeSyncServer {
  return new FakeSyncServer('business', SERVER_TABLES);
}

export function newClient(
  db: Database.Database,
  server: FakeSyncServer,
  user: string,
  options: Partial<OversqliteClientOptions> = {},
): OversqliteClient {
  return new OversqliteClient(db, {
    baseUrl: server.baseUrl,
    tokenProvider: () => server.token(user),
    fetch: server.fetch,
    schema: 'business',
    tables: BUSINESS_TABLES,
    retryPolicy: { enabled: true, maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 },
    ...options,
  });
}

/** A client that has opened and attached `user`. */
export async function attachedClient(
  db: Database.Database,
  server: FakeSyncServer,
  user: string,
  options: Partial<OversqliteClientOptions> = {},
): Promise<OversqliteClient> {
  const client = newClient(db, server, user, options);
  await client.open();
  await client.attach(user);
  return client;
}

export interface DirtyRowView {
  table_name: string;
  key_json: string;
  op: string;
  base_row_version: number;
  payload: string | null;
  dirty_ordinal: number;
}

export function dirtyRows(db: Database.Database): DirtyRowView[] {
  return db.prepare('SELECT table_name, key_json, op, base_row_version, payload, dirty_ordinal FROM _sync_dirty_rows ORDER BY dirty_ordinal').all() as DirtyRowView[];
}

export const uuidHex = (n: number): string => n.toString(16).padStart(32, '0');
export const uuidText = (n: number): string => {
  const h = uuidHex(n);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
