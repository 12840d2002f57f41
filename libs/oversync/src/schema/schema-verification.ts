import type { SyncDatabase } from '../database/sync-database.js';
import { REQUIRED_TABLE_TRIGGERS } from './capture-triggers.js';
import { validateRegisteredForeignKeys } from './foreign-key-validator.js';
import type { RegisteredTable, RegisteredTableConfig } from './registered-table.js';
import { validateRegisteredTables } from './registered-table-validator.js';
import { SYNC_LAYOUT_NAME, SYNC_PROTOCOL_LABEL } from './sync-layout.js';
import { SYNC_SCHEMA_UPGRADES_NEEDED } from './sync-schema.sql.js';
import { REQUEST_FUNCTIONS } from './sync-request-functions.sql.js';
import { UnsupportedSchemaError } from './unsupported-schema.error.js';

const APPLY =
  'apply the DDL of oversyncSchemaSql() / createOversyncSchemaMigration() for the registered tables, or start ' +
  'with bootstrap: true';

/**
 * `bootstrap: false`: the host owns the DDL. Checks read-only that the sync schema, its layout, the
 * catalog of exactly the registered tables and their triggers are in place; changes nothing.
 * Returns the registered tables with their stored table ids, in table_id order.
 */
export async function verifySyncSchema(
  db: SyncDatabase,
  tables: readonly RegisteredTableConfig[],
): Promise<RegisteredTable[]> {
  const validated = await validateRegisteredTables(db, tables);
  const [markers] = await db.query<{ meta: boolean; catalog: boolean }>(
    `SELECT to_regclass('sync.meta') IS NOT NULL AS meta, to_regclass('sync.table_catalog') IS NOT NULL AS catalog`,
  );
  if (!markers?.meta || !markers.catalog)
    throw new UnsupportedSchemaError(`bootstrap is off and the sync schema is not installed: ${APPLY}`);
  const meta = await db.query<{ protocol_label: string; layout_name: string }>(
    'SELECT protocol_label, layout_name FROM sync.meta',
  );
  if (
    meta.length !== 1 ||
    meta[0]!.protocol_label !== SYNC_PROTOCOL_LABEL ||
    meta[0]!.layout_name !== SYNC_LAYOUT_NAME
  ) {
    throw new UnsupportedSchemaError(
      `sync.meta does not describe layout ${SYNC_LAYOUT_NAME} ${SYNC_PROTOCOL_LABEL}: ${APPLY}`,
    );
  }
  // this port's additions (admin console logs, pull checkpoints), which the DDL export includes
  const [upgrades] = await db.query<{ needed: boolean }>(SYNC_SCHEMA_UPGRADES_NEEDED);
  if (upgrades?.needed)
    throw new UnsupportedSchemaError(
      `the sync schema lacks this version's additions (sync.rejected_writes, sync.admin_audit, pull ` +
        `checkpoints): ${APPLY}`,
    );
  const absent = await db.query<{ signature: string }>(
    'SELECT signature FROM unnest($1::text[]) AS f(signature) WHERE to_regprocedure(signature) IS NULL',
    [REQUEST_FUNCTIONS.map((f) => f.signature)],
  );
  if (absent.length > 0)
    throw new UnsupportedSchemaError(
      `the sync schema lacks the functions ${absent.map((f) => f.signature).join(', ')}: ${APPLY}`,
    );
  const stored = await db.query<{
    table_id: number;
    schema_name: string;
    table_name: string;
    sync_key_column: string;
    sync_key_kind: number;
  }>(
    'SELECT table_id, schema_name, table_name, sync_key_column, sync_key_kind FROM sync.table_catalog ORDER ' +
      'BY table_id',
  );
  const registered = validated.map((table) => {
    const row = stored.find((r) => `${r.schema_name}.${r.table_name}` === table.name);
    if (!row) throw new UnsupportedSchemaError(`registered table ${table.name} is not in sync.table_catalog: ${APPLY}`);
    if (row.sync_key_column !== table.keyColumn || row.sync_key_kind !== table.keyKind) {
      throw new UnsupportedSchemaError(
        `sync.table_catalog has ${table.name} keyed by ${row.sync_key_column} (kind ${row.sync_key_kind}), ` +
          `configured: ${table.keyColumn} (kind ${table.keyKind})`,
      );
    }
    return { ...table, tableId: row.table_id };
  });
  const unknown = stored.filter((r) => !validated.some((t) => t.name === `${r.schema_name}.${r.table_name}`));
  if (unknown.length > 0) {
    throw new UnsupportedSchemaError(
      `sync.table_catalog holds tables that are not registered: ` +
        `${unknown.map((r) => `${r.schema_name}.${r.table_name}`).join(', ')}`,
    );
  }
  const triggers = await db.query<{ name: string; table_name: string }>(
    `SELECT t.tgname AS name, n.nspname || '.' || c.relname AS table_name
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT t.tgisinternal AND t.tgname = ANY($1::text[])`,
    [[...REQUIRED_TABLE_TRIGGERS]],
  );
  for (const table of registered) {
    const missing = REQUIRED_TABLE_TRIGGERS.filter(
      (name) => !triggers.some((t) => t.name === name && t.table_name === table.name),
    );
    if (missing.length > 0)
      throw new UnsupportedSchemaError(
        `registered table ${table.name} lacks the triggers ${missing.join(', ')}: ${APPLY}`,
      );
  }
  await validateRegisteredForeignKeys(db, registered);
  return registered.sort((a, b) => a.tableId - b.tableId);
}
