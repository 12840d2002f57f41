import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { SyncDatabase, sqlState } from '../../libs/oversync/src/database/sync-database.js';
import { bootstrapSyncSchema } from '../../libs/oversync/src/schema/schema-bootstrap.js';
import { UnsupportedSchemaError } from '../../libs/oversync/src/schema/unsupported-schema.error.js';
import { REQUEST_FUNCTIONS } from '../../libs/oversync/src/schema/sync-request-functions.sql.js';
import {
  BUSINESS_TABLES,
  innermostCause,
  openSchemaTestFixture,
  rejectionOf,
  type SchemaTestFixture,
} from './schema-test-fixture.js';

// Spec §2.2: column order and types of every sync table.
const EXPECTED_COLUMNS: Record<string, string[]> = {
  meta: ['singleton_key boolean', 'protocol_label text', 'layout_name text'],
  table_catalog: [
    'table_id integer',
    'schema_name text',
    'table_name text',
    'sync_key_column text',
    'sync_key_kind smallint',
  ],
  user_state: ['user_pk bigint', 'user_id text', 'next_bundle_seq bigint', 'retained_bundle_floor bigint'],
  scope_state: [
    'user_pk bigint',
    'state_code smallint',
    'initializer_source_id text',
    'initialization_id uuid',
    'lease_expires_at timestamp with time zone',
    'initialized_at timestamp with time zone',
    'initialized_by_source_id text',
  ],
  source_state: [
    'user_pk bigint',
    'source_id text',
    'state text',
    'max_committed_source_bundle_id bigint',
    'replaced_by_source_id text',
    'retirement_reason text',
    // this port's additions (admin console, issue 26)
    'last_pulled_bundle_seq bigint',
    'last_pulled_at timestamp with time zone',
  ],
  row_state: ['user_pk bigint', 'table_id integer', 'key_bytes bytea', 'bundle_seq bigint', 'deleted boolean'],
  bundle_capture_stage: [
    'capture_ordinal bigint',
    'txid bigint',
    'user_pk bigint',
    'table_id integer',
    'op_code smallint',
    'key_bytes bytea',
    'payload_db jsonb',
  ],
  bundle_log: [
    'user_pk bigint',
    'bundle_seq bigint',
    'source_id text',
    'source_bundle_id bigint',
    'row_count bigint',
    'byte_count bigint',
    'bundle_hash bytea',
    'committed_at timestamp with time zone',
  ],
  bundle_rows: [
    'user_pk bigint',
    'bundle_seq bigint',
    'row_ordinal bigint',
    'table_id integer',
    'key_bytes bytea',
    'op_code smallint',
    'payload_wire json',
  ],
  // ours, not the reference's: stored wire rows read by pull
  bundle_row_blocks: ['user_pk bigint', 'bundle_seq bigint', 'block_no integer', 'rows_text text'],
  // ours: a snapshot session's rows as stored wire texts, read by chunk
  snapshot_row_blocks: [
    'user_pk bigint',
    'snapshot_id uuid',
    'first_ordinal bigint',
    'row_lengths integer[]',
    'payload_bytes bigint',
    'rows_text text',
    'fallback_rows integer[]',
  ],
  push_sessions: [
    'push_id uuid',
    'user_pk bigint',
    'source_id text',
    'source_bundle_id bigint',
    'planned_row_count bigint',
    'next_expected_row_ordinal bigint',
    'initialization_id uuid',
    'expires_at timestamp with time zone',
    'created_at timestamp with time zone',
    'staged_insert_shape text',
  ],
  push_session_rows: [
    'push_id uuid',
    'row_ordinal bigint',
    'table_id integer',
    'key_bytes bytea',
    'op_code smallint',
    'base_bundle_seq bigint',
    'payload_apply json',
  ],
  snapshot_sessions: [
    'snapshot_id uuid',
    'user_pk bigint',
    'snapshot_bundle_seq bigint',
    'row_count bigint',
    'byte_count bigint',
    'expires_at timestamp with time zone',
    'created_at timestamp with time zone',
  ],
  snapshot_session_rows: [
    'snapshot_id uuid',
    'row_ordinal bigint',
    'table_id integer',
    'key_bytes bytea',
    'bundle_seq bigint',
    'payload_wire json',
  ],
  // this port's additions (admin console, issue 26)
  rejected_writes: [
    'user_pk bigint',
    'rejection_id bigint',
    'recorded_at timestamp with time zone',
    'source_id text',
    'source_bundle_id bigint',
    'push_id uuid',
    'http_status smallint',
    'error_code text',
    'answer json',
    'planned_row_count bigint',
    'rows_sent json',
    'rows_truncated boolean',
  ],
  admin_audit: [
    'user_pk bigint',
    'audit_id bigint',
    'performed_at timestamp with time zone',
    'admin_id text',
    'action text',
    'user_id text',
    'target text',
    'detail json',
  ],
  // the server processes that LISTEN (a commit NOTIFYs only while another one does)
  watch_listeners: ['listener_id uuid', 'backend_pid integer', 'since timestamp with time zone'],
};

// Spec §2.2: every primary key, unique, check and foreign key constraint by name (type letter as pg_constraint).
const EXPECTED_CONSTRAINTS = [
  'meta meta_pkey p',
  'meta meta_singleton_key_check c',
  'table_catalog table_catalog_pkey p',
  'table_catalog table_catalog_schema_table_key u',
  'table_catalog table_catalog_sync_key_kind_chk c',
  'user_state user_state_pkey p',
  'user_state user_state_user_id_key u',
  'user_state user_state_bundle_seq_chk c',
  'user_state user_state_retained_floor_chk c',
  'scope_state scope_state_pkey p',
  'scope_state scope_state_user_pk_fkey f',
  'scope_state scope_state_fields_chk c',
  'scope_state scope_state_code_chk c',
  'source_state source_state_pkey p',
  'source_state source_state_user_pk_fkey f',
  'source_state source_state_state_chk c',
  'source_state source_state_max_committed_chk c',
  'source_state source_state_active_chk c',
  'source_state source_state_reserved_chk c',
  'source_state source_state_retired_chk c',
  'row_state row_state_pkey p',
  'row_state row_state_user_pk_fkey f',
  'row_state row_state_table_id_fkey f',
  'bundle_capture_stage bundle_capture_stage_pkey p',
  'bundle_capture_stage bundle_capture_stage_user_pk_fkey f',
  'bundle_capture_stage bundle_capture_stage_table_id_fkey f',
  'bundle_capture_stage bundle_capture_stage_op_code_chk c',
  'bundle_capture_stage bundle_capture_stage_payload_by_op_chk c',
  'bundle_log bundle_log_pkey p',
  'bundle_log bundle_log_user_pk_fkey f',
  'bundle_log bundle_log_source_tuple_key u',
  'bundle_rows bundle_rows_pkey p',
  'bundle_rows bundle_rows_user_pk_fkey f',
  'bundle_rows bundle_rows_table_id_fkey f',
  'bundle_rows bundle_rows_bundle_fk f',
  'bundle_rows bundle_rows_op_code_chk c',
  'bundle_rows bundle_rows_payload_by_op_chk c',
  'bundle_row_blocks bundle_row_blocks_pkey p',
  'bundle_row_blocks bundle_row_blocks_bundle_fk f',
  'snapshot_row_blocks snapshot_row_blocks_pkey p',
  'snapshot_row_blocks snapshot_row_blocks_snapshot_id_fkey f',
  'push_sessions push_sessions_pkey p',
  'push_sessions push_sessions_user_pk_fkey f',
  'push_sessions push_sessions_source_tuple_key u',
  'push_sessions push_sessions_row_count_chk c',
  'push_session_rows push_session_rows_pkey p',
  'push_session_rows push_session_rows_push_id_fkey f',
  'push_session_rows push_session_rows_table_id_fkey f',
  'push_session_rows push_session_rows_op_code_chk c',
  'push_session_rows push_session_rows_payload_by_op_chk c',
  'snapshot_sessions snapshot_sessions_pkey p',
  'snapshot_sessions snapshot_sessions_user_pk_fkey f',
  'snapshot_session_rows snapshot_session_rows_pkey p',
  'snapshot_session_rows snapshot_session_rows_snapshot_id_fkey f',
  'snapshot_session_rows snapshot_session_rows_table_id_fkey f',
  'snapshot_session_rows snapshot_session_rows_logical_row_key u',
  // this port's additions (admin console, issue 26)
  'rejected_writes rejected_writes_pkey p',
  'rejected_writes rejected_writes_user_pk_fkey f',
  'admin_audit admin_audit_pkey p',
  'watch_listeners watch_listeners_pkey p',
].sort();

const BOOTSTRAP_INDEXES = [
  'bcs_tx_user_ordinal_idx',
  'rs_user_live_snapshot_idx',
  'ps_expires_at_idx',
  'ss_expires_at_idx',
  'ssr_snapshot_table_key_idx',
  // this port's additions (admin console, issue 26)
  'admin_audit_id_idx',
  'user_state_user_id_c_idx',
  'ss_user_snapshot_idx',
];

const EXPECTED_CATALOG = [
  { table_id: 1, schema_name: 'business', table_name: 'files', sync_key_column: 'id', sync_key_kind: 2 },
  { table_id: 2, schema_name: 'business', table_name: 'posts', sync_key_column: 'id', sync_key_kind: 1 },
  { table_id: 3, schema_name: 'business', table_name: 'users', sync_key_column: 'id', sync_key_kind: 1 },
];

describe('bootstrapSyncSchema: sync layout', () => {
  let fixture: SchemaTestFixture;

  beforeAll(async () => {
    fixture = await openSchemaTestFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });
  beforeEach(async () => {
    await fixture.reset();
  });

  async function rows<R>(sql: string, values: unknown[] = []): Promise<R[]> {
    return (await fixture.pool.query(sql, values)).rows as R[];
  }

  /** Everything bootstrap owns in the catalog, as comparable text. */
  async function catalogSnapshot(): Promise<unknown> {
    return {
      relations: await rows(`SELECT c.relname, c.relkind, c.oid FROM pg_class c
        WHERE c.relnamespace = 'sync'::regnamespace ORDER BY c.relname`),
      constraints: await rows(
        `SELECT conname, oid FROM pg_constraint WHERE connamespace = 'sync'::regnamespace ORDER BY conname`,
      ),
      functions: await rows(
        `SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'sync'::regnamespace ORDER BY proname`,
      ),
      meta: await rows('SELECT * FROM sync.meta'),
      catalog: await rows('SELECT * FROM sync.table_catalog ORDER BY table_id'),
      triggers: await rows(`SELECT tgrelid::regclass::text AS relation, tgname, pg_get_triggerdef(oid) AS definition
        FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`),
    };
  }

  it('creates exactly the tables, columns, constraints, indexes, sequences and functions of the spec', async () => {
    const tables = await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    expect(tables.map((table) => [table.tableId, table.name, table.keyColumn, table.keyKind])).toEqual([
      [1, 'business.files', 'id', 2],
      [2, 'business.posts', 'id', 1],
      [3, 'business.users', 'id', 1],
    ]);
    expect(tables[2].columnTypes).toEqual(
      new Map([
        ['_sync_scope_id', 'text'],
        ['id', 'uuid'],
        ['name', 'text'],
      ]),
    );

    const columns = await rows<{ table_name: string; column: string }>(`
      SELECT c.relname AS table_name, a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS column
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = 'sync'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`);
    const columnsByTable: Record<string, string[]> = {};
    for (const row of columns) (columnsByTable[row.table_name] ??= []).push(row.column);
    expect(columnsByTable).toEqual(EXPECTED_COLUMNS);

    const constraints = await rows<{ entry: string }>(`
      SELECT replace(conrelid::regclass::text, 'sync.', '') || ' ' || conname || ' ' || contype::text AS entry
      FROM pg_constraint WHERE connamespace = 'sync'::regnamespace AND contype IN ('p', 'u', 'c', 'f')`);
    expect(constraints.map((row) => row.entry).sort()).toEqual(EXPECTED_CONSTRAINTS);

    const foreignKeys = await rows<{
      conname: string;
      deferrable: boolean;
      match: string;
      on_update: string;
      on_delete: string;
    }>(`
      SELECT conname, condeferrable AS deferrable, confmatchtype AS match, confupdtype AS on_update, confdeltype
        AS on_delete
      FROM pg_constraint WHERE connamespace = 'sync'::regnamespace AND contype = 'f' ORDER BY conname`);
    for (const fk of foreignKeys) {
      expect({ name: fk.conname, deferrable: fk.deferrable, match: fk.match, onUpdate: fk.on_update }).toEqual({
        name: fk.conname,
        deferrable: false,
        match: 's',
        onUpdate: 'a',
      });
      expect([fk.conname, fk.on_delete]).toEqual([fk.conname, fk.conname.endsWith('_table_id_fkey') ? 'a' : 'c']);
    }

    const uniqueAndPrimary = EXPECTED_CONSTRAINTS.filter((entry) => / [pu]$/.test(entry)).map(
      (entry) => entry.split(' ')[1],
    );
    const indexes = await rows<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relnamespace = 'sync'::regnamespace AND relkind = 'i'`,
    );
    expect(indexes.map((index) => index.relname).sort()).toEqual([...uniqueAndPrimary, ...BOOTSTRAP_INDEXES].sort());
    const [partial] = await rows<{ definition: string }>(
      `SELECT pg_get_indexdef('sync.rs_user_live_snapshot_idx'::regclass) AS definition`,
    );
    expect(partial.definition).toContain('WHERE (deleted = false)');
    const [unique] = await rows<{ indisunique: boolean }>(
      `SELECT indisunique FROM pg_index WHERE indexrelid = 'sync.ssr_snapshot_table_key_idx'::regclass`,
    );
    expect(unique.indisunique).toBe(true);

    const sequences = await rows<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relnamespace = 'sync'::regnamespace AND relkind = 'S' ORDER BY relname`,
    );
    expect(sequences.map((sequence) => sequence.relname)).toEqual([
      'accepted_push_replay_seq',
      'admin_audit_audit_id_seq',
      'bundle_capture_stage_capture_ordinal_seq',
      'history_pruned_error_seq',
      'rejected_registered_write_seq',
      'rejected_writes_rejection_id_seq',
      'user_state_user_pk_seq',
    ]);
    const [counter] = await rows<{ data_type: string; start_value: string; increment: string; cycle: boolean }>(`
      SELECT format_type(seqtypid, NULL) AS data_type, seqstart AS start_value, seqincrement AS increment, seqcycle
        AS cycle
      FROM pg_sequence WHERE seqrelid = 'sync.rejected_registered_write_seq'::regclass`);
    expect(counter).toEqual({ data_type: 'bigint', start_value: '1', increment: '1', cycle: false });

    const functions = await rows<{ proname: string; volatile: string; definer: boolean; config: null; args: number }>(`
      SELECT proname, provolatile AS volatile, prosecdef AS definer, proconfig AS config, pronargs AS args
      FROM pg_proc WHERE pronamespace = 'sync'::regnamespace AND prorettype = 'trigger'::regtype ORDER BY proname`);
    // refuse_registered_table_truncate (TRUNCATE guard, spec §8.14), capture_registered_rows_inserted
    // (set-based INSERT capture, issue 14) and mark_registered_rows_inserting (its mark) are this port's additions.
    expect(functions).toEqual(
      [
        'capture_registered_row_change',
        'capture_registered_rows_inserted',
        'enforce_registered_row_owner',
        'mark_registered_rows_inserting',
        'refuse_registered_table_truncate',
      ].map((proname) => ({
        proname,
        volatile: 'v',
        definer: false,
        config: null,
        args: 0,
      })),
    );
    // the request functions of issue 21 (one round trip per request): exactly the ones the module installs
    const requestFunctions = await rows<{ signature: string }>(`
      SELECT p.oid::regprocedure::text AS signature FROM pg_proc p
       WHERE p.pronamespace = 'sync'::regnamespace AND p.prorettype <> 'trigger'::regtype ORDER BY 1`);
    expect(requestFunctions.map((f) => f.signature.replace(/ /g, ''))).toEqual(
      REQUEST_FUNCTIONS.map((f) => f.signature).sort(),
    );

    // no request function JIT-compiles: where the sync tables were never analyzed the planner costs a 1-row
    // commit's statements above jit_above_cost (docs/performance-history.md, the fifth round's quiet run)
    const entryPoints = await rows<{ proname: string; config: string[] | null }>(`
      SELECT proname, proconfig AS config FROM pg_proc WHERE pronamespace = 'sync'::regnamespace
         AND proname IN ('connect', 'pull', 'pull_page', 'committed_rows', 'push_create', 'push_chunk', 'push_commit')
       ORDER BY proname`);
    expect(entryPoints.map((f) => f.proname)).toEqual([
      'committed_rows',
      'connect',
      'pull',
      'pull_page',
      'push_chunk',
      'push_commit',
      'push_create',
    ]);
    for (const f of entryPoints)
      expect({ [f.proname]: f.config }).toEqual({ [f.proname]: expect.arrayContaining(['jit=off']) });

    expect(await rows('SELECT singleton_key, protocol_label, layout_name FROM sync.meta')).toEqual([
      { singleton_key: true, protocol_label: 'v1', layout_name: 'server_postgres_sync_v1' },
    ]);
    expect(await rows('SELECT * FROM sync.table_catalog ORDER BY table_id')).toEqual(EXPECTED_CATALOG);
  });

  it('leaves out the objects the spec says must not exist', async () => {
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    const [absent] = await rows<Record<string, boolean>>(`
      SELECT to_regclass('sync.applied_pushes') IS NULL AS applied_pushes,
             to_regclass('sync.br_user_bundle_key_idx') IS NULL AS br_user_bundle_key_idx,
             to_regclass('sync.rs_user_table_bundle_idx') IS NULL AS rs_user_table_bundle_idx`);
    expect(absent).toEqual({ applied_pushes: true, br_user_bundle_key_idx: true, rs_user_table_bundle_idx: true });
    const forbiddenColumns = await rows(`
      SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'sync'
        AND ((table_name, column_name) IN (('snapshot_sessions', 'last_accessed_at'), ('user_state', 'updated_at'),
                                           ('scope_state', 'state')))`);
    expect(forbiddenColumns).toEqual([]);
    const syncTriggers = await rows(`SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = 'sync'::regnamespace AND NOT t.tgisinternal`);
    expect(syncTriggers).toEqual([]);
  });

  it('installs the owner guard, capture and truncate guard triggers on every registered table', async () => {
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    const triggers = await rows<{ relation: string; definition: string }>(`
      SELECT tgrelid::regclass::text AS relation, pg_get_triggerdef(oid) AS definition
      FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, tgname`);
    const expected = (relation: string, tableId: number, kind: number) => [
      {
        relation,
        definition:
          `CREATE TRIGGER oversync_bundle_capture_inserted AFTER INSERT ON ${relation} REFERENCING NEW TABLE AS ` +
          `oversync_inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION ` +
          `sync.capture_registered_rows_inserted('id', '${kind}', '${tableId}')`,
      },
      {
        relation,
        definition:
          `CREATE TRIGGER oversync_bundle_capture_row AFTER DELETE OR UPDATE ON ${relation} FOR EACH ROW ` +
          `EXECUTE FUNCTION sync.capture_registered_row_change('id', '${kind}', '${tableId}')`,
      },
      {
        relation,
        definition:
          `CREATE TRIGGER oversync_bundle_mark_inserting BEFORE INSERT ON ${relation} FOR EACH STATEMENT ` +
          `EXECUTE FUNCTION sync.mark_registered_rows_inserting()`,
      },
      {
        relation,
        definition:
          `CREATE TRIGGER oversync_bundle_owner_guard BEFORE INSERT OR DELETE OR UPDATE ON ${relation} FOR EACH ` +
          `ROW EXECUTE FUNCTION sync.enforce_registered_row_owner()`,
      },
      {
        relation,
        definition:
          `CREATE TRIGGER oversync_bundle_truncate_guard BEFORE TRUNCATE ON ${relation} FOR EACH STATEMENT ` +
          `EXECUTE FUNCTION sync.refuse_registered_table_truncate()`,
      },
    ];
    expect(triggers).toEqual([
      ...expected('business.files', 1, 2),
      ...expected('business.posts', 2, 1),
      ...expected('business.users', 3, 1),
    ]);
  });

  it('assigns table ids by byte order of "schema.table", whatever the configuration order', async () => {
    await fixture.pool.query(`CREATE SCHEMA alpha;
      CREATE TABLE alpha.zeta (_sync_scope_id TEXT, id TEXT, PRIMARY KEY (_sync_scope_id, id));
      CREATE TABLE business.files_2 (_sync_scope_id TEXT, id TEXT, PRIMARY KEY (_sync_scope_id, id))`);
    const tables = await bootstrapSyncSchema(fixture.db, [
      { schema: 'business', table: 'files_2', syncKeyColumns: ['id'] },
      ...BUSINESS_TABLES,
      { schema: 'alpha', table: 'zeta', syncKeyColumns: ['id'] },
    ]);
    expect(tables.map((table) => `${table.tableId} ${table.name}`)).toEqual([
      '1 alpha.zeta',
      '2 business.files',
      '3 business.files_2',
      '4 business.posts',
      '5 business.users',
    ]);
    await fixture.pool.query('DROP SCHEMA alpha CASCADE');
  });

  it('bootstraps with no registered tables: empty catalog, no triggers', async () => {
    expect(await bootstrapSyncSchema(fixture.db, [])).toEqual([]);
    expect(await rows('SELECT * FROM sync.table_catalog')).toEqual([]);
    expect(await rows('SELECT tgname FROM pg_trigger WHERE NOT tgisinternal')).toEqual([]);
    await expect(bootstrapSyncSchema(fixture.db, [])).resolves.toEqual([]);
  });

  it('is a no-op the second time: same catalog objects and rows, data kept', async () => {
    const first = await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    await fixture.pool.query(`INSERT INTO sync.user_state (user_id) VALUES ('user-1')`);
    const before = await catalogSnapshot();
    const second = await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    expect(second).toEqual(first);
    // Triggers are re-created on every bootstrap (same definitions, new OIDs); everything else is untouched.
    expect(await catalogSnapshot()).toEqual(before);
    expect(await rows('SELECT user_id FROM sync.user_state')).toEqual([{ user_id: 'user-1' }]);
  });

  it('lets concurrent bootstraps of one database all succeed', async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => bootstrapSyncSchema(fixture.db, BUSINESS_TABLES)),
    );
    for (const result of results) expect(result).toEqual(results[0]);
    expect(await rows('SELECT count(*)::int AS count FROM sync.meta')).toEqual([{ count: 1 }]);
    expect(await rows('SELECT * FROM sync.table_catalog ORDER BY table_id')).toEqual(EXPECTED_CATALOG);
    expect(await rows(`SELECT count(*)::int AS count FROM pg_trigger WHERE NOT tgisinternal`)).toEqual([{ count: 15 }]);
  });

  it('accepts an empty pre-created sync schema as a fresh one', async () => {
    await fixture.pool.query('CREATE SCHEMA sync');
    await expect(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES)).resolves.toHaveLength(3);
  });

  it('fails closed on a sync schema of another layout', async () => {
    await fixture.pool.query('CREATE SCHEMA sync; CREATE SEQUENCE sync.leftover_seq');
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES));
    expect(error).toBeInstanceOf(UnsupportedSchemaError);
    expect(error.message).toContain('a schema named "sync" that is not Oversync\'s');
    expect(error.message).toContain('it holds sync.leftover_seq (sequence)');
    expect(error.message).toContain('changed nothing');
    expect(error.message).not.toMatch(/\bdrop\b/i);
    await expect(fixture.pool.query('SELECT 1 FROM sync.leftover_seq')).resolves.toBeDefined();
  });

  it('fails closed when only one marker table exists', async () => {
    await fixture.pool.query('CREATE SCHEMA sync; CREATE TABLE sync.meta (singleton_key BOOLEAN PRIMARY KEY)');
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES));
    expect(error).toBeInstanceOf(UnsupportedSchemaError);
    expect(error.message).toBe(
      'existing sync schema is missing required marker tables sync.meta and sync.table_catalog for layout ' +
        '"server_postgres_sync_v1"',
    );
  });

  it.each([
    [
      "UPDATE sync.meta SET layout_name = 'server_postgres_sync_v0'",
      'sync.meta layout_name = "server_postgres_sync_v0", expected "server_postgres_sync_v1"',
    ],
    ["UPDATE sync.meta SET protocol_label = 'v2'", 'sync.meta protocol_label = "v2", expected "v1"'],
    ['DELETE FROM sync.meta', 'sync.meta must contain exactly one row, found 0'],
    [
      'ALTER TABLE sync.meta DROP COLUMN layout_name',
      /^existing sync\.meta layout is unsupported: column "layout_name" does not exist/,
    ],
  ])('fails closed on a damaged sync.meta: %s', async (damage, message) => {
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    await fixture.pool.query(damage);
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES));
    expect(error).toBeInstanceOf(UnsupportedSchemaError);
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });

  it('fails closed when the registered table set or a key changes after the first bootstrap', async () => {
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);

    const fewer = await rejectionOf(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES.slice(0, 2)));
    expect(fewer).toBeInstanceOf(UnsupportedSchemaError);
    expect(fewer.message).toBe('sync.table_catalog row count = 3, expected 2');

    await fixture.pool.query(
      `CREATE TABLE business.notes (_sync_scope_id TEXT, id UUID, PRIMARY KEY (_sync_scope_id, id))`,
    );
    const replaced = await rejectionOf(
      bootstrapSyncSchema(fixture.db, [
        ...BUSINESS_TABLES.slice(0, 2),
        { schema: 'business', table: 'notes', syncKeyColumns: ['id'] },
      ]),
    );
    expect(replaced).toBeInstanceOf(UnsupportedSchemaError);
    expect(replaced.message).toBe(
      'sync.table_catalog row 0 = (1,business,files,id,2), expected (1,business,notes,id,1)',
    );

    await fixture.pool.query(`ALTER TABLE business.files ADD COLUMN slug TEXT, ADD UNIQUE (_sync_scope_id, slug)`);
    const rekeyed = await rejectionOf(
      bootstrapSyncSchema(fixture.db, [
        ...BUSINESS_TABLES.slice(0, 2),
        { schema: 'business', table: 'files', syncKeyColumns: ['slug'] },
      ]),
    );
    expect(rekeyed.message).toBe(
      'sync.table_catalog row 0 = (1,business,files,id,2), expected (1,business,files,slug,2)',
    );
  });

  it('commits the layout even when a later step fails, and validates it next time', async () => {
    await fixture.pool.query('ALTER TABLE business.posts ALTER CONSTRAINT posts_author_fk NOT DEFERRABLE');
    const error = await rejectionOf(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES));
    expect(error).toBeInstanceOf(UnsupportedSchemaError);
    expect(await rows('SELECT count(*)::int AS count FROM sync.table_catalog')).toEqual([{ count: 3 }]);
    expect(await rows('SELECT tgname FROM pg_trigger WHERE NOT tgisinternal')).toEqual([]);

    await fixture.pool.query('ALTER TABLE business.posts ALTER CONSTRAINT posts_author_fk DEFERRABLE');
    await expect(bootstrapSyncSchema(fixture.db, BUSINESS_TABLES)).resolves.toHaveLength(3);
  });

  it('keeps the driver error and its SQLSTATE reachable through the wrapping of a failed step', async () => {
    await bootstrapSyncSchema(fixture.db, BUSINESS_TABLES);
    // triggers already in place are kept (no lock taken): make users' need reinstalling
    await fixture.pool.query('DROP TRIGGER oversync_bundle_truncate_guard ON business.users');
    const impatient = new pg.Pool({ connectionString: fixture.url, options: '-c lock_timeout=100', max: 2 });
    const blocker = await fixture.pool.connect();
    try {
      await blocker.query('BEGIN; LOCK TABLE business.users IN ACCESS EXCLUSIVE MODE');
      const error = await rejectionOf(bootstrapSyncSchema(SyncDatabase.fromPool(impatient), BUSINESS_TABLES));
      expect(error.message).toMatch(
        new RegExp(
          '^failed to install registered table capture triggers: drop capture trigger for business\\.users: ' +
            'canceling statement due to lock timeout',
        ),
      );
      expect(sqlState(error)).toBe('55P03');
      expect(innermostCause(error)).toMatchObject({ code: '55P03' });
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
      await impatient.end();
    }
  });
});
