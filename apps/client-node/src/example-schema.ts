/**
 * The device side of the reference app's business tables (spec/server.md §3.14): UUID keys as
 * canonical TEXT, except `files`/`file_reviews` which keep UUIDs as 16-byte BLOBs. Used by the
 * CLI (`--example-schema`) and the client ⇄ server e2e suites.
 */
import type { SyncTable } from './config.js';

export const EXAMPLE_SCHEMA_NAME = 'business';

export const EXAMPLE_DEVICE_DDL = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS posts (
  id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL,
  author_id TEXT REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS categories (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  parent_id TEXT REFERENCES categories(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS teams (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  captain_member_id TEXT REFERENCES team_members(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS team_members (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS files (id BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS file_reviews (
  id BLOB PRIMARY KEY NOT NULL, review TEXT NOT NULL,
  file_id BLOB NOT NULL REFERENCES files(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS typed_rows (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, note TEXT, count_value INTEGER, enabled_flag INTEGER NOT NULL,
  rating REAL, data BLOB, created_at TEXT);
`;

/** The reference app's registration order. */
export const EXAMPLE_TABLES: readonly SyncTable[] = [
  'users',
  'posts',
  'categories',
  'teams',
  'team_members',
  'files',
  'file_reviews',
  'typed_rows',
].map((tableName) => ({ tableName, syncKeyColumnName: 'id' }));
