import type { SyncClient } from '../database/sync-database.js';
import { execWithContext } from './exec-with-context.js';
import { validateExistingLayout } from './existing-layout-validator.js';
import type { RegisteredTable } from './registered-table.js';
import { ACQUIRE_BOOTSTRAP_LOCK_SQL, SYNC_LAYOUT_NAME, SYNC_PROTOCOL_LABEL } from './sync-layout.js';
import {
  SYNC_BOOTSTRAP_INDEXES,
  SYNC_SCHEMA_STATEMENTS,
  SYNC_SCHEMA_UPGRADES,
  SYNC_SCHEMA_UPGRADES_NEEDED,
} from './sync-schema.sql.js';

/**
 * Bootstrap step 2 (spec §2.1), inside one transaction: validates (or extends) an existing layout
 * or creates the whole `sync` schema with its marker rows. `catalog` is in table_id order; returns
 * the effective catalog (stored ids win over sorted positions after a catalog migration).
 */
export async function createSyncSchema(
  client: SyncClient,
  catalog: readonly RegisteredTable[],
): Promise<RegisteredTable[]> {
  await execWithContext(client, 'acquire sync bootstrap lock', ACQUIRE_BOOTSTRAP_LOCK_SQL);
  const existing = await validateExistingLayout(client, catalog);
  if (existing) {
    await applySchemaUpgrades(client);
    return existing;
  }

  for (const [position, statement] of SYNC_SCHEMA_STATEMENTS.entries()) {
    await execWithContext(client, `sync migration ${position + 1} failed`, statement);
  }
  await execWithContext(
    client,
    'insert sync.meta row',
    'INSERT INTO sync.meta (singleton_key, protocol_label, layout_name) VALUES (TRUE, $1, $2)',
    [SYNC_PROTOCOL_LABEL, SYNC_LAYOUT_NAME],
  );
  for (const table of catalog) {
    await execWithContext(
      client,
      `insert sync.table_catalog row ${table.tableId}`,
      `INSERT INTO sync.table_catalog (table_id, schema_name, table_name, sync_key_column, sync_key_kind)
       VALUES ($1, $2, $3, $4, $5)`,
      [table.tableId, table.schema, table.table, table.keyColumn, table.keyKind],
    );
  }
  for (const statement of SYNC_BOOTSTRAP_INDEXES) {
    await execWithContext(client, 'bundle bootstrap index creation failed', statement);
  }
  await applySchemaUpgrades(client);
  return [...catalog];
}

/** This port's additions (SYNC_SCHEMA_UPGRADES), on a new or an existing layout; nothing when present. */
async function applySchemaUpgrades(client: SyncClient): Promise<void> {
  const { rows } = await client.query<{ needed: boolean }>(SYNC_SCHEMA_UPGRADES_NEEDED);
  if (!rows[0]?.needed) return;
  for (const [position, statement] of SYNC_SCHEMA_UPGRADES.entries()) {
    await execWithContext(client, `sync upgrade ${position + 1} failed`, statement);
  }
}
