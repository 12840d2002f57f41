import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RegisteredTableConfig } from '../../libs/oversync/src/schema/registered-table.js';
import { bootstrapSyncSchema } from '../../libs/oversync/src/schema/schema-bootstrap.js';
import { UnsupportedSchemaError } from '../../libs/oversync/src/schema/unsupported-schema.error.js';
import { innermostCause, openSchemaTestFixture, rejectionOf, type SchemaTestFixture } from './schema-test-fixture.js';

const PARENT_SQL = `CREATE TABLE business.users (_sync_scope_id TEXT, id UUID, PRIMARY KEY (_sync_scope_id, id))`;
const USERS: RegisteredTableConfig = { schema: 'business', table: 'users', syncKeyColumns: ['id'] };
const POSTS: RegisteredTableConfig = { schema: 'business', table: 'posts', syncKeyColumns: ['id'] };

function postsWith(foreignKey: string): string {
  return `${PARENT_SQL};
    CREATE TABLE business.posts (_sync_scope_id TEXT, id UUID, author_id UUID, PRIMARY KEY (_sync_scope_id, id),
      CONSTRAINT posts_author_fk ${foreignKey})`;
}

const WRAP = 'failed to discover schema relationships: failed to discover schema relationships: ';

describe('bootstrapSyncSchema: foreign-key validation (spec §2.10)', () => {
  let fixture: SchemaTestFixture;

  beforeAll(async () => {
    fixture = await openSchemaTestFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });

  /** Bootstraps and returns the spec text of the fail-closed error, checking the step-3 wrapping. */
  async function schemaError(tables: RegisteredTableConfig[]): Promise<string> {
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, tables));
    expect(error).toBeInstanceOf(UnsupportedSchemaError);
    const cause = innermostCause(error);
    expect(cause).toBeInstanceOf(UnsupportedSchemaError);
    expect(error.message).toBe(WRAP + cause.message);
    return cause.message;
  }

  it('fails when a registered child references an unregistered parent (one entry per FK column)', async () => {
    await fixture.reset(
      postsWith('FOREIGN KEY (_sync_scope_id, author_id) REFERENCES business.users (_sync_scope_id, id) DEFERRABLE'),
    );
    expect(await schemaError([POSTS])).toBe(
      'registered tables are not FK-closed: business.posts -> business.users (posts_author_fk); ' +
        'business.posts -> business.users (posts_author_fk)',
    );
  });

  it('allows self references and cycles between registered tables', async () => {
    await fixture.reset(`${PARENT_SQL};
      CREATE TABLE business.folders (_sync_scope_id TEXT, id UUID, parent_id UUID, owner_id UUID,
        PRIMARY KEY (_sync_scope_id, id),
        FOREIGN KEY (_sync_scope_id, parent_id) REFERENCES business.folders (_sync_scope_id,
          id) DEFERRABLE INITIALLY DEFERRED,
        FOREIGN KEY (_sync_scope_id, owner_id) REFERENCES business.users (_sync_scope_id,
          id) DEFERRABLE INITIALLY DEFERRED);
      ALTER TABLE business.users ADD COLUMN home_id UUID,
        ADD FOREIGN KEY (_sync_scope_id, home_id) REFERENCES business.folders (_sync_scope_id,
          id) DEFERRABLE INITIALLY DEFERRED`);
    await expect(
      bootstrapSyncSchema(fixture.db, [USERS, { schema: 'business', table: 'folders', syncKeyColumns: ['id'] }]),
    ).resolves.toHaveLength(2);
  });

  it('accepts DEFERRABLE INITIALLY IMMEDIATE', async () => {
    await fixture.reset(
      postsWith(
        'FOREIGN KEY (_sync_scope_id, author_id) REFERENCES business.users (_sync_scope_id, id) DEFERRABLE ' +
          'INITIALLY IMMEDIATE',
      ),
    );
    await expect(bootstrapSyncSchema(fixture.db, [USERS, POSTS])).resolves.toHaveLength(2);
  });

  it('accepts every standard ON DELETE / ON UPDATE action', async () => {
    await fixture.reset(
      postsWith(`FOREIGN KEY (_sync_scope_id, author_id) REFERENCES business.users (_sync_scope_id, id)
        ON DELETE SET NULL ON UPDATE RESTRICT DEFERRABLE`),
    );
    await expect(bootstrapSyncSchema(fixture.db, [USERS, POSTS])).resolves.toHaveLength(2);
  });

  it('rejects MATCH FULL', async () => {
    await fixture.reset(
      postsWith(
        'FOREIGN KEY (_sync_scope_id, author_id) REFERENCES business.users (_sync_scope_id, id) MATCH FULL DEFERRABLE',
      ),
    );
    expect(await schemaError([USERS, POSTS])).toBe(
      'registered schema contains unsupported FK MATCH option "FULL" on business.posts (posts_author_fk)',
    );
  });

  it('rejects a child FK that puts the owner column second', async () => {
    await fixture.reset(
      postsWith('FOREIGN KEY (author_id, _sync_scope_id) REFERENCES business.users (id, _sync_scope_id) DEFERRABLE'),
    );
    expect(await schemaError([USERS, POSTS])).toBe(
      'registered schema contains unsupported registered FK constraints; registered child FKs must be ' +
        'scope-inclusive and reference (_sync_scope_id, parent_sync_key): business.posts -> business.users ' +
        '(posts_author_fk)',
    );
  });

  it('rejects single-column FKs to registered parents and lists every offender sorted', async () => {
    await fixture.reset(`
      CREATE TABLE business.users (_sync_scope_id TEXT, id UUID, PRIMARY KEY (_sync_scope_id, id),
        CONSTRAINT users_scope_key UNIQUE (_sync_scope_id));
      CREATE TABLE business.posts (_sync_scope_id TEXT, id UUID, PRIMARY KEY (_sync_scope_id, id),
        CONSTRAINT z_posts_owner_fk FOREIGN KEY (_sync_scope_id) REFERENCES business.users (_sync_scope_id) DEFERRABLE,
        CONSTRAINT a_posts_owner_fk FOREIGN KEY (_sync_scope_id) REFERENCES business.users (_sync_scope_id)
          DEFERRABLE)`);
    expect(await schemaError([USERS, POSTS])).toBe(
      'registered schema contains unsupported registered FK constraints; registered child FKs must be ' +
        'scope-inclusive and reference (_sync_scope_id, parent_sync_key): business.posts -> business.users ' +
        '(a_posts_owner_fk); business.posts -> business.users (z_posts_owner_fk)',
    );
  });

  it('rejects a scope-inclusive FK that references a parent column other than its sync key', async () => {
    await fixture.reset(`
      CREATE TABLE business.users (_sync_scope_id TEXT, id UUID, email TEXT, PRIMARY KEY (_sync_scope_id, id),
        CONSTRAINT users_email_key UNIQUE (_sync_scope_id, email));
      CREATE TABLE business.posts (_sync_scope_id TEXT, id UUID, author_email TEXT, PRIMARY KEY (_sync_scope_id, id),
        CONSTRAINT posts_author_fk FOREIGN KEY (_sync_scope_id, author_email)
          REFERENCES business.users (_sync_scope_id, email) DEFERRABLE)`);
    expect(await schemaError([USERS, POSTS])).toMatch(/: business\.posts -> business\.users \(posts_author_fk\)$/);
  });

  it('rejects non-deferrable FKs, naming schema.constraint', async () => {
    await fixture.reset(
      postsWith('FOREIGN KEY (_sync_scope_id, author_id) REFERENCES business.users (_sync_scope_id, id)'),
    );
    expect(await schemaError([USERS, POSTS])).toBe(
      'registered schema contains non-deferrable FK constraints: business.posts_author_fk; make these ' +
        'constraints DEFERRABLE before bootstrap (INITIALLY DEFERRED recommended)',
    );
  });

  it('checks closure before actions, and shape before deferrability', async () => {
    await fixture.reset(`${PARENT_SQL};
      CREATE TABLE business.tags (_sync_scope_id TEXT, id UUID, PRIMARY KEY (_sync_scope_id, id));
      CREATE TABLE business.posts (_sync_scope_id TEXT, id UUID, author_id UUID, tag_id UUID,
        PRIMARY KEY (_sync_scope_id, id),
        CONSTRAINT posts_author_fk FOREIGN KEY (author_id, _sync_scope_id) REFERENCES business.users (id,
          _sync_scope_id) MATCH FULL,
        CONSTRAINT posts_tag_fk FOREIGN KEY (_sync_scope_id, tag_id) REFERENCES business.tags (_sync_scope_id, id))`);
    expect(await schemaError([USERS, POSTS])).toMatch(
      /^registered tables are not FK-closed: business\.posts -> business\.tags/,
    );
    await fixture.pool.query('ALTER TABLE business.posts DROP CONSTRAINT posts_tag_fk');
    await fixture.pool.query('DROP SCHEMA sync CASCADE');
    expect(await schemaError([USERS, POSTS])).toMatch(/^registered schema contains unsupported FK MATCH option/);
  });
});
