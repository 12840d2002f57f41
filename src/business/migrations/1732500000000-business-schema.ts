import type { MigrationInterface, QueryRunner } from 'typeorm';
import { businessSchemaName } from '../business-tables.js';

/**
 * The reference example's business tables (spec/server.md §3.14): every row owned by
 * `_sync_scope_id`, keys and FKs scope-inclusive and DEFERRABLE so pushes may arrive in any order.
 */
export class BusinessSchema1732500000000 implements MigrationInterface {
  name = 'BusinessSchema1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of businessSchemaDdl(businessSchemaName())) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP SCHEMA IF EXISTS "${businessSchemaName()}" CASCADE`);
  }
}

export function businessSchemaDdl(schema: string): string[] {
  const t = (name: string) => `"${schema}"."${name}"`;
  const fk = (name: string, column: string, parent: string, onDelete = '') =>
    `CONSTRAINT ${name} FOREIGN KEY (_sync_scope_id, ${column}) REFERENCES ${t(parent)} (_sync_scope_id, id)` +
    `${onDelete} DEFERRABLE INITIALLY DEFERRED`;
  const cascade = ' ON DELETE CASCADE';
  return [
    `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
    `CREATE TABLE IF NOT EXISTS ${t('users')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
       created_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now(),
       PRIMARY KEY (_sync_scope_id, id))`,
    `CREATE TABLE IF NOT EXISTS ${t('posts')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL, author_id UUID,
       created_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now(),
       PRIMARY KEY (_sync_scope_id, id), ${fk('posts_author_id_fkey', 'author_id', 'users')})`,
    `CREATE TABLE IF NOT EXISTS ${t('categories')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT NOT NULL, parent_id UUID,
       PRIMARY KEY (_sync_scope_id, id), ${fk('categories_parent_id_fkey', 'parent_id', 'categories', cascade)})`,
    `CREATE TABLE IF NOT EXISTS ${t('teams')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT NOT NULL, captain_member_id UUID,
       PRIMARY KEY (_sync_scope_id, id))`,
    `CREATE TABLE IF NOT EXISTS ${t('team_members')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT NOT NULL, team_id UUID NOT NULL,
       PRIMARY KEY (_sync_scope_id, id), ${fk('team_members_team_id_fkey', 'team_id', 'teams', cascade)})`,
    `ALTER TABLE ${t('teams')} ADD ${fk('teams_captain_member_id_fkey', 'captain_member_id', 'team_members')}`,
    `CREATE TABLE IF NOT EXISTS ${t('files')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT NOT NULL, data BYTEA NOT NULL,
       PRIMARY KEY (_sync_scope_id, id))`,
    `CREATE TABLE IF NOT EXISTS ${t('file_reviews')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, review TEXT NOT NULL, file_id UUID NOT NULL,
       PRIMARY KEY (_sync_scope_id, id), ${fk('file_reviews_file_id_fkey', 'file_id', 'files', cascade)})`,
    `CREATE TABLE IF NOT EXISTS ${t('typed_rows')} (
       _sync_scope_id TEXT NOT NULL, id UUID NOT NULL, name TEXT NOT NULL, note TEXT NULL, count_value BIGINT NULL,
       enabled_flag BIGINT NOT NULL, rating DOUBLE PRECISION NULL, data BYTEA NULL, created_at TIMESTAMPTZ NULL,
       PRIMARY KEY (_sync_scope_id, id))`,
  ];
}
