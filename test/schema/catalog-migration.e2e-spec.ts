import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { bootstrapSyncSchema } from '../../libs/oversync/src/schema/schema-bootstrap.js';
import { BUSINESS_TABLES, openSchemaTestFixture, type SchemaTestFixture } from './schema-test-fixture.js';

// §8.13: the reference can only add a registered table by dropping the sync schema (all history
// lost). Here an added table is appended to the catalog and every stored table keeps its id.
describe('catalog migration: adding a registered table keeps history', () => {
  let fixture: SchemaTestFixture;
  beforeAll(async () => {
    fixture = await openSchemaTestFixture();
  });
  afterAll(async () => fixture.close());
  beforeEach(async () => fixture.reset());

  it('appends new tables after the stored ids, keeps history rows, installs their triggers, and is idempotent', async () => {
    const first = await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES.slice(0, 2)); // posts 1, users 2
    expect(first.map((t) => [t.name, t.tableId])).toEqual([
      ['business.posts', 1],
      ['business.users', 2],
    ]);
    await fixture.pool.query(`INSERT INTO sync.user_state (user_id) VALUES ('alice')`);
    await fixture.pool.query(
      `INSERT INTO sync.row_state (user_pk, table_id, key_bytes, bundle_seq) VALUES (1, 2, '\\x01', 1)`,
    );
    await fixture.pool.query(
      `CREATE TABLE business.notes (_sync_scope_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (_sync_scope_id, id))`,
    );

    const tables = [...BUSINESS_TABLES, { schema: 'business', table: 'notes', syncKeyColumns: ['id'] }];
    const migrated = await bootstrapSyncSchema(fixture.db, tables);
    expect(migrated.map((t) => [t.name, t.tableId])).toEqual([
      ['business.posts', 1],
      ['business.users', 2],
      ['business.files', 3],
      ['business.notes', 4],
    ]);
    const { rows: catalog } = await fixture.pool.query(
      'SELECT table_id, table_name FROM sync.table_catalog ORDER BY table_id',
    );
    expect(catalog).toEqual([
      { table_id: 1, table_name: 'posts' },
      { table_id: 2, table_name: 'users' },
      { table_id: 3, table_name: 'files' },
      { table_id: 4, table_name: 'notes' },
    ]);
    const { rows: history } = await fixture.pool.query('SELECT table_id, bundle_seq FROM sync.row_state');
    expect(history).toEqual([{ table_id: 2, bundle_seq: '1' }]);
    const { rows: triggers } = await fixture.pool.query(
      `SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = 'business.notes'::regclass
        AND tgname = 'oversync_bundle_capture_row'`,
    );
    expect(triggers[0].def).toContain(`capture_registered_row_change('id', '2', '4')`);

    const again = await bootstrapSyncSchema(fixture.db, tables);
    expect(again.map((t) => t.tableId)).toEqual([1, 2, 3, 4]);
  });

  it('still fails closed when a stored table is removed or rekeyed', async () => {
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES.slice(0, 2));
    await expect(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES.slice(0, 1))).rejects.toThrow(
      'sync.table_catalog row count = 2, expected 1',
    );
  });
});
