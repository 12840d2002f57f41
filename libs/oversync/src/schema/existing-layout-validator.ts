import type { SyncClient } from '../database/sync-database.js';
import { withErrorContext } from './error-context.js';
import { goQuote } from './go-string-semantics.js';
import type { RegisteredTable } from './registered-table.js';
import { SYNC_LAYOUT_NAME, SYNC_PROTOCOL_LABEL } from './sync-layout.js';
import { UnsupportedSchemaError } from './unsupported-schema.error.js';

interface CatalogRow {
  table_id: number;
  schema_name: string;
  table_name: string;
  sync_key_column: string;
  sync_key_kind: number;
}

/**
 * Spec §2.1.1: the effective catalog when a valid layout exists (no DDL needed), null when the
 * `sync` schema is empty or absent; anything else fails closed. Runs inside the schema transaction,
 * under the lock. Unlike the reference, newly registered tables are appended to an existing catalog
 * (§8.13), so adding a table keeps all history.
 */
export async function validateExistingLayout(
  client: SyncClient,
  expected: readonly RegisteredTable[],
): Promise<RegisteredTable[] | null> {
  const markers = await client
    .query<{ meta: boolean; catalog: boolean }>(
      `SELECT to_regclass('sync.meta') IS NOT NULL AS meta, to_regclass('sync.table_catalog') IS NOT NULL AS catalog`,
    )
    .catch((error: unknown) => {
      throw withErrorContext('inspect sync schema marker tables', error);
    });
  const { meta, catalog } = markers.rows[0];
  if (!meta && !catalog) {
    const found = await syncSchemaObjects(client);
    if (found.length === 0) return null;
    // Unlike the reference ("drop and recreate"), never suggest dropping: the schema may hold someone's data.
    throw new UnsupportedSchemaError(
      `the database already has a schema named "sync" that is not Oversync's (no sync.meta or ` +
        `sync.table_catalog); it holds ` +
        (`${found.slice(0, 5).join(', ')}${found.length > 5 ? ` and ${found.length - 5} more` : ''}. Oversync ` +
          `keeps its tables in `) +
        (`the schema "sync" (layout ${goQuote(SYNC_LAYOUT_NAME)}) and changed nothing. Use a database without ` +
          `that schema, or move `) +
        (`those objects to another schema (ALTER TABLE/SEQUENCE/FUNCTION … SET SCHEMA …) if they are yours and ` +
          `not needed there`),
    );
  }
  if (!meta || !catalog) {
    throw new UnsupportedSchemaError(
      `existing sync schema is missing required marker tables sync.meta and sync.table_catalog for layout ` +
        `${goQuote(SYNC_LAYOUT_NAME)}`,
    );
  }
  await validateMeta(client);
  return validateTableCatalog(client, expected);
}

/** What the `sync` schema holds, as "sync.<name> (<kind>)", sorted; empty when nothing. */
async function syncSchemaObjects(client: SyncClient): Promise<string[]> {
  const result = await client
    .query<{ object: string }>(
      `SELECT 'sync.' || c.relname || ' (' || CASE c.relkind WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'v'
        THEN 'view'
                WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'p' THEN 'table' ELSE 'relation' END || ')'
                  AS object
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'sync'
       UNION ALL
       SELECT 'sync.' || p.proname || '() (function)' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'sync'
       ORDER BY 1`,
    )
    .catch((error: unknown) => {
      throw withErrorContext('inspect sync schema objects', error);
    });
  return result.rows.map((row) => row.object);
}

async function validateMeta(client: SyncClient): Promise<void> {
  const result = await client
    .query<{ singleton_key: unknown; protocol_label: unknown; layout_name: unknown }>(
      'SELECT singleton_key, protocol_label, layout_name FROM sync.meta ORDER BY singleton_key DESC',
    )
    .catch((error: unknown) => {
      throw new UnsupportedSchemaError(`existing sync.meta layout is unsupported: ${errorText(error)}`, {
        cause: error,
      });
    });
  for (const row of result.rows) {
    const { singleton_key: singleton, protocol_label: label, layout_name: layout } = row;
    if (typeof singleton !== 'boolean' || typeof label !== 'string' || typeof layout !== 'string') {
      throw new UnsupportedSchemaError('scan sync.meta row: unexpected column types');
    }
    if (!singleton) throw new UnsupportedSchemaError('sync.meta must contain singleton_key = true');
    if (label !== SYNC_PROTOCOL_LABEL) {
      throw new UnsupportedSchemaError(
        `sync.meta protocol_label = ${goQuote(label)}, expected ${goQuote(SYNC_PROTOCOL_LABEL)}`,
      );
    }
    if (layout !== SYNC_LAYOUT_NAME) {
      throw new UnsupportedSchemaError(
        `sync.meta layout_name = ${goQuote(layout)}, expected ${goQuote(SYNC_LAYOUT_NAME)}`,
      );
    }
  }
  if (result.rows.length !== 1) {
    throw new UnsupportedSchemaError(`sync.meta must contain exactly one row, found ${result.rows.length}`);
  }
}

async function validateTableCatalog(
  client: SyncClient,
  expected: readonly RegisteredTable[],
): Promise<RegisteredTable[]> {
  const result = await client
    .query<CatalogRow>(
      'SELECT table_id, schema_name, table_name, sync_key_column, sync_key_kind FROM sync.table_catalog ORDER ' +
        'BY table_id',
    )
    .catch((error: unknown) => {
      throw new UnsupportedSchemaError(`existing sync.table_catalog layout is unsupported: ${errorText(error)}`, {
        cause: error,
      });
    });
  const actual = result.rows;
  if (!actual.every(isCatalogRow))
    throw new UnsupportedSchemaError('scan sync.table_catalog row: unexpected column types');
  const appended = await appendNewTables(client, actual, expected);
  if (appended) return appended;
  if (actual.length !== expected.length) {
    throw new UnsupportedSchemaError(`sync.table_catalog row count = ${actual.length}, expected ${expected.length}`);
  }
  expected.forEach((table, position) => {
    const want = `(${table.tableId},${table.schema},${table.table},${table.keyColumn},${table.keyKind})`;
    const row = actual[position];
    const got = `(${row.table_id},${row.schema_name},${row.table_name},${row.sync_key_column},${row.sync_key_kind})`;
    const same =
      row.table_id === table.tableId &&
      row.schema_name === table.schema &&
      row.table_name === table.table &&
      row.sync_key_column === table.keyColumn &&
      row.sync_key_kind === table.keyKind;
    if (!same) throw new UnsupportedSchemaError(`sync.table_catalog row ${position} = ${got}, expected ${want}`);
  });
  return [...expected];
}

/**
 * The catalog migration (§8.13): when every stored table is still registered with the same key and
 * the configuration only adds tables, the new ones are appended with the next table ids (in name
 * order) and the stored ids are kept — history, row_state and sessions keep referring to them.
 * Also accepts the catalog such a migration left (stored ids no longer in sorted-name positions).
 * Returns null when the change is not purely additive (then the reference's checks apply).
 */
async function appendNewTables(
  client: SyncClient,
  stored: readonly CatalogRow[],
  expected: readonly RegisteredTable[],
): Promise<RegisteredTable[] | null> {
  if (stored.length > expected.length) return null;
  const byName = new Map(expected.map((table) => [table.name, table]));
  for (const row of stored) {
    const table = byName.get(`${row.schema_name}.${row.table_name}`);
    if (!table || table.keyColumn !== row.sync_key_column || table.keyKind !== row.sync_key_kind) return null;
  }
  const storedNames = new Set(stored.map((row) => `${row.schema_name}.${row.table_name}`));
  let nextId = Math.max(0, ...stored.map((row) => row.table_id));
  const added = expected
    .filter((table) => !storedNames.has(table.name))
    .map((table) => ({ ...table, tableId: ++nextId }));
  for (const table of added) {
    await client
      .query(
        `INSERT INTO sync.table_catalog (table_id, schema_name, table_name, sync_key_column, sync_key_kind) VALUES ($1,
          $2, $3, $4, $5)`,
        [table.tableId, table.schema, table.table, table.keyColumn, table.keyKind],
      )
      .catch((error: unknown) => {
        throw withErrorContext(`insert sync.table_catalog row ${table.tableId}`, error);
      });
  }
  const kept = stored.map((row) => ({ ...byName.get(`${row.schema_name}.${row.table_name}`)!, tableId: row.table_id }));
  return [...kept, ...added];
}

function isCatalogRow(row: CatalogRow): boolean {
  return (
    typeof row.table_id === 'number' &&
    typeof row.schema_name === 'string' &&
    typeof row.table_name === 'string' &&
    typeof row.sync_key_column === 'string' &&
    typeof row.sync_key_kind === 'number'
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
