import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RegisteredTableConfig } from '../../libs/oversync/src/schema/registered-table.js';
import { bootstrapSyncSchema } from '../../libs/oversync/src/schema/schema-bootstrap.js';
import { UnsupportedSchemaError } from '../../libs/oversync/src/schema/unsupported-schema.error.js';
import { openSchemaTestFixture, rejectionOf, type SchemaTestFixture } from './schema-test-fixture.js';

const items = (keys: string[] = ['id']): RegisteredTableConfig => ({
  schema: 'business',
  table: 'items',
  syncKeyColumns: keys,
});
const ITEMS_OK =
  'CREATE TABLE business.items (_sync_scope_id TEXT NOT NULL, id UUID NOT NULL, PRIMARY KEY (_sync_scope_id, id))';

// Spec §2.9, one fixture per rule; messages are exact.
const RULE_CASES: Array<[rule: string, sql: string, config: RegisteredTableConfig, message: string]> = [
  [
    '1: no key column',
    ITEMS_OK,
    items([]),
    'registered table business.items must resolve to exactly one sync key column for the current server runtime',
  ],
  [
    '1: blank key columns only',
    ITEMS_OK,
    items([' ', '']),
    'registered table business.items must resolve to exactly one sync key column for the current server runtime',
  ],
  [
    '1: two key columns',
    ITEMS_OK,
    items(['id', 'other']),
    'registered table business.items must resolve to exactly one sync key column for the current server runtime',
  ],
  [
    '2: hidden scope column as key',
    ITEMS_OK,
    items([' _SYNC_SCOPE_ID ']),
    'registered table business.items cannot use hidden scope column _sync_scope_id as its visible sync key',
  ],
  [
    '4: scope column varchar',
    'CREATE TABLE business.items (_sync_scope_id VARCHAR(64), id UUID, PRIMARY KEY (_sync_scope_id, id))',
    items(),
    'registered table business.items must define _sync_scope_id TEXT',
  ],
  [
    '4: scope column missing',
    'CREATE TABLE business.items (id UUID PRIMARY KEY)',
    items(),
    'registered table business.items must define _sync_scope_id TEXT',
  ],
  [
    '5: bigint key',
    'CREATE TABLE business.items (_sync_scope_id TEXT, id BIGINT, PRIMARY KEY (_sync_scope_id, id))',
    items(),
    'registered table business.items uses unsupported sync key column type int8 for id; the current server ' +
      'runtime allows only uuid and text',
  ],
  [
    '5: numeric key',
    'CREATE TABLE business.items (_sync_scope_id TEXT, id NUMERIC, PRIMARY KEY (_sync_scope_id, id))',
    items(),
    'registered table business.items uses unsupported sync key column type numeric for id; the current server ' +
      'runtime allows only uuid and text',
  ],
  [
    '5: missing key column',
    ITEMS_OK,
    items(['external_id']),
    'registered table business.items uses unsupported sync key column type  for external_id; the current ' +
      'server runtime allows only uuid and text',
  ],
  [
    '6: no unique index',
    'CREATE TABLE business.items (_sync_scope_id TEXT, id UUID)',
    items(),
    'registered table business.items must provide unique indexes or constraints for scope-aware identity',
  ],
  [
    '7: partial unique index',
    `CREATE TABLE business.items (_sync_scope_id TEXT, id UUID, deleted BOOLEAN);
    CREATE UNIQUE INDEX items_live_key ON business.items (_sync_scope_id, id) WHERE NOT deleted`,
    items(),
    'registered table business.items uses unsupported partial or expression unique index items_live_key',
  ],
  [
    '7: expression unique index',
    `CREATE TABLE business.items (_sync_scope_id TEXT, id UUID, name TEXT, PRIMARY KEY (_sync_scope_id, id));
    CREATE UNIQUE INDEX items_lower_name_key ON business.items (_sync_scope_id, lower(name))`,
    items(),
    'registered table business.items uses unsupported partial or expression unique index items_lower_name_key',
  ],
  [
    '9: ownerless unique constraint',
    `CREATE TABLE business.items (_sync_scope_id TEXT, id UUID, email TEXT,
    PRIMARY KEY (_sync_scope_id, id), CONSTRAINT items_email_key UNIQUE (email))`,
    items(),
    'registered table business.items has unique index items_email_key that does not begin with _sync_scope_id',
  ],
  [
    '9: ownerless primary key',
    'CREATE TABLE business.items (_sync_scope_id TEXT, id UUID PRIMARY KEY)',
    items(),
    'registered table business.items has unique index items_pkey that does not begin with _sync_scope_id',
  ],
  [
    '9: scope column second',
    'CREATE TABLE business.items (_sync_scope_id TEXT, id UUID, PRIMARY KEY (id, _sync_scope_id))',
    items(),
    'registered table business.items has unique index items_pkey that does not begin with _sync_scope_id',
  ],
  [
    '10: key not owner-scoped unique',
    `CREATE TABLE business.items (_sync_scope_id TEXT, pk_id UUID, external_id UUID,
    PRIMARY KEY (_sync_scope_id, pk_id))`,
    items(['external_id']),
    'registered table business.items must provide unique identity (_sync_scope_id, external_id)',
  ],
  [
    '10: INCLUDE columns count',
    `CREATE TABLE business.items (_sync_scope_id TEXT, id UUID, note TEXT,
    CONSTRAINT items_identity UNIQUE (_sync_scope_id, id) INCLUDE (note))`,
    items(),
    'registered table business.items must provide unique identity (_sync_scope_id, id)',
  ],
  [
    '10: wider unique only',
    `CREATE TABLE business.items (_sync_scope_id TEXT, id UUID, version INT,
    PRIMARY KEY (_sync_scope_id, id, version))`,
    items(),
    'registered table business.items must provide unique identity (_sync_scope_id, id)',
  ],
  [
    'indexes checked in name order',
    `CREATE TABLE business.items (_sync_scope_id TEXT, id UUID, a TEXT, b TEXT, PRIMARY KEY (_sync_scope_id, id));
    CREATE UNIQUE INDEX items_b_key ON business.items (b);
    CREATE UNIQUE INDEX items_a_key ON business.items (_sync_scope_id, a) WHERE a IS NOT NULL`,
    items(),
    'registered table business.items uses unsupported partial or expression unique index items_a_key',
  ],
];

describe('bootstrapSyncSchema: registered-table validation (spec §2.9)', () => {
  let fixture: SchemaTestFixture;

  beforeAll(async () => {
    fixture = await openSchemaTestFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });

  it.each(RULE_CASES)('rule %s', async (_rule, sql, config, message) => {
    await fixture.reset(sql);
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, [config]));
    expect(error).toBeInstanceOf(UnsupportedSchemaError);
    expect(error.message).toBe(message);
    // Step 1 runs before any DDL.
    expect((await fixture.pool.query(`SELECT to_regnamespace('sync') AS sync`)).rows).toEqual([{ sync: null }]);
  });

  it.each([
    ['a missing table', ITEMS_OK, { schema: 'business', table: 'missing', syncKeyColumns: ['id'] }, 'business.missing'],
    [
      'a table whose real name has upper case',
      'CREATE TABLE business."Items" (_sync_scope_id TEXT, id UUID, PRIMARY KEY (_sync_scope_id, id))',
      { schema: 'business', table: 'Items', syncKeyColumns: ['id'] },
      'business.items',
    ],
    ['an unnamed schema that defaults to public', ITEMS_OK, { table: 'items', syncKeyColumns: ['id'] }, 'public.items'],
  ])('rule 3: %s is a plain error', async (_case, sql, config, name) => {
    await fixture.reset(sql);
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, [config]));
    expect(error).not.toBeInstanceOf(UnsupportedSchemaError);
    expect(error.message).toBe(`registered table ${name} could not load column metadata for sync key validation`);
  });

  it('reports the first failing table in configuration order', async () => {
    await fixture.reset(`${ITEMS_OK}; CREATE TABLE business.aaa (_sync_scope_id TEXT, id UUID)`);
    const error = await rejectionOf(
      bootstrapSyncSchema(fixture.db, [
        items(['id', 'x']),
        { schema: 'business', table: 'aaa', syncKeyColumns: ['id'] },
      ]),
    );
    expect(error.message).toBe(
      'registered table business.items must resolve to exactly one sync key column for the current server runtime',
    );
  });

  it('normalises names: trims (Go TrimSpace, incl. U+0085), lower-cases, de-duplicates keys', async () => {
    await fixture.reset(ITEMS_OK);
    const [table] = await bootstrapSyncSchema(fixture.db, [
      { schema: '\u0085 Business\t', table: ' ITEMS\n', syncKeyColumns: [' ID ', 'id', '  '] },
    ]);
    expect([table.schema, table.table, table.name, table.keyColumn]).toEqual([
      'business',
      'items',
      'business.items',
      'id',
    ]);
    expect(
      (await fixture.pool.query('SELECT schema_name, table_name, sync_key_column FROM sync.table_catalog')).rows,
    ).toEqual([{ schema_name: 'business', table_name: 'items', sync_key_column: 'id' }]);
  });

  it('accepts a text key, a key that is not the primary key, and an empty schema meaning public', async () => {
    await fixture.reset(`
      CREATE TABLE business.items (_sync_scope_id TEXT, pk_id UUID, external_id TEXT,
        PRIMARY KEY (_sync_scope_id, pk_id), CONSTRAINT items_external_key UNIQUE (_sync_scope_id, external_id));
      DROP TABLE IF EXISTS public.notes;
      CREATE TABLE public.notes (_sync_scope_id TEXT NOT NULL DEFAULT '', id UUID, PRIMARY KEY (_sync_scope_id, id))`);
    const tables = await bootstrapSyncSchema(fixture.db, [
      items(['external_id']),
      { schema: '', table: 'notes', syncKeyColumns: ['id'] },
    ]);
    expect(tables.map((table) => [table.tableId, table.name, table.keyColumn, table.keyKind])).toEqual([
      [1, 'business.items', 'external_id', 2],
      [2, 'public.notes', 'id', 1],
    ]);
    await fixture.pool.query('DROP TABLE public.notes');
  });

  it('refuses the same table registered twice (deviation: the reference reports rule 10)', async () => {
    await fixture.reset(ITEMS_OK);
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, [items(), { ...items(), schema: 'BUSINESS' }]));
    expect(error).toBeInstanceOf(UnsupportedSchemaError);
    expect(error.message).toBe('registered table business.items is registered more than once');
  });
});
