import type { SyncDatabase } from '../database/sync-database.js';
import { withErrorContext } from './error-context.js';
import { compareUtf8 } from './go-string-semantics.js';
import { normalizeTableConfig, type NormalizedTableConfig } from './normalized-table-config.js';
import { KEY_KIND_TEXT, KEY_KIND_UUID, type RegisteredTable, type RegisteredTableConfig } from './registered-table.js';
import { SYNC_SCOPE_COLUMN } from './sync-layout.js';
import { UnsupportedSchemaError } from './unsupported-schema.error.js';

interface UniqueIndex {
  readonly name: string;
  readonly isPartial: boolean;
  readonly hasExpressions: boolean;
  /** lower-cased, whole indkey (INCLUDE columns too); '' for expression entries */
  readonly columns: string[];
}

type ColumnTypes = Map<string, string>;
type ValidatedTable = Omit<RegisteredTable, 'tableId'>;

// Tables are matched by exact equality with the normalised names (spec §2.9).
const COLUMN_TYPES_SQL = `
  WITH t AS (SELECT * FROM unnest($1::text[], $2::text[]) AS x(schema_name, table_name))
  SELECT c.table_schema, c.table_name, lower(c.column_name) AS column_name, lower(c.udt_name) AS udt_name
  FROM information_schema.columns c
  JOIN t ON c.table_schema = t.schema_name AND c.table_name = t.table_name`;

const UNIQUE_INDEXES_SQL = `
  WITH t AS (SELECT * FROM unnest($1::text[], $2::text[]) AS x(schema_name, table_name))
  SELECT n.nspname AS table_schema, c.relname AS table_name, i.relname AS index_name,
         idx.indpred IS NOT NULL AS is_partial, idx.indexprs IS NOT NULL AS has_expressions,
         ord.ordinality AS column_ordinal, lower(COALESCE(a.attname, '')) AS column_name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN t ON n.nspname = t.schema_name AND c.relname = t.table_name
  JOIN pg_index idx ON idx.indrelid = c.oid
  JOIN pg_class i ON i.oid = idx.indexrelid
  LEFT JOIN LATERAL unnest(idx.indkey) WITH ORDINALITY AS ord(attnum, ordinality) ON TRUE
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ord.attnum
  WHERE idx.indisunique
  ORDER BY n.nspname, c.relname, i.relname, ord.ordinality`;

/**
 * Bootstrap step 1 (spec §2.9): checks every registered table against the catalog, in configuration
 * order, and assigns table ids. Returns the tables in configuration order.
 */
export async function validateRegisteredTables(
  db: SyncDatabase,
  configs: readonly RegisteredTableConfig[],
): Promise<RegisteredTable[]> {
  if (configs.length === 0) return [];
  const tables = configs.map(normalizeTableConfig);
  // Each table once: the reference passes duplicates through, which doubles index columns (rule 10).
  const distinct = [...new Map(tables.map((table) => [table.name, table])).values()];
  const schemas = distinct.map((table) => table.schema);
  const names = distinct.map((table) => table.table);
  const columnTypes = await loadColumnTypes(db, schemas, names);
  const uniqueIndexes = await loadUniqueIndexes(db, schemas, names);
  const validated = tables.map((table) =>
    validateTable(table, columnTypes.get(table.name), uniqueIndexes.get(table.name) ?? []),
  );
  return assignTableIds(validated);
}

async function loadColumnTypes(
  db: SyncDatabase,
  schemas: string[],
  tables: string[],
): Promise<Map<string, ColumnTypes>> {
  const rows = await db
    .query<{ table_schema: string; table_name: string; column_name: string; udt_name: string }>(COLUMN_TYPES_SQL, [
      schemas,
      tables,
    ])
    .catch((error: unknown) => {
      throw withErrorContext('load registered table column types', error);
    });
  const byTable = new Map<string, ColumnTypes>();
  for (const row of rows) {
    const key = `${row.table_schema}.${row.table_name}`;
    const columns = byTable.get(key) ?? new Map<string, string>();
    columns.set(row.column_name, row.udt_name);
    byTable.set(key, columns);
  }
  return byTable;
}

async function loadUniqueIndexes(
  db: SyncDatabase,
  schemas: string[],
  tables: string[],
): Promise<Map<string, UniqueIndex[]>> {
  const rows = await db
    .query<{
      table_schema: string;
      table_name: string;
      index_name: string;
      is_partial: boolean;
      has_expressions: boolean;
      column_ordinal: string | null;
      column_name: string;
    }>(UNIQUE_INDEXES_SQL, [schemas, tables])
    .catch((error: unknown) => {
      throw withErrorContext('load registered table unique indexes', error);
    });
  const byTable = new Map<string, UniqueIndex[]>();
  for (const row of rows) {
    const key = `${row.table_schema}.${row.table_name}`;
    const indexes = byTable.get(key) ?? [];
    byTable.set(key, indexes);
    let index = indexes.find((candidate) => candidate.name === row.index_name);
    if (!index) {
      index = { name: row.index_name, isPartial: row.is_partial, hasExpressions: row.has_expressions, columns: [] };
      indexes.push(index);
    }
    if (row.column_ordinal !== null) index.columns.push(row.column_name);
  }
  return byTable;
}

function unsupported(message: string): UnsupportedSchemaError {
  return new UnsupportedSchemaError(message);
}

/** Rules 1–10 of spec §2.9, in the normative order. */
function validateTable(
  table: NormalizedTableConfig,
  columns: ColumnTypes | undefined,
  uniqueIndexes: readonly UniqueIndex[],
): ValidatedTable {
  const name = table.name;
  if (table.keyColumns.length !== 1) {
    throw unsupported(
      `registered table ${name} must resolve to exactly one sync key column for the current server runtime`,
    );
  }
  const keyColumn = table.keyColumns[0];
  if (keyColumn === SYNC_SCOPE_COLUMN) {
    throw unsupported(
      `registered table ${name} cannot use hidden scope column ${SYNC_SCOPE_COLUMN} as its visible sync key`,
    );
  }
  if (!columns) throw new Error(`registered table ${name} could not load column metadata for sync key validation`);
  if (columns.get(SYNC_SCOPE_COLUMN) !== 'text')
    throw unsupported(`registered table ${name} must define ${SYNC_SCOPE_COLUMN} TEXT`);
  const keyType = columns.get(keyColumn) ?? '';
  if (keyType !== 'uuid' && keyType !== 'text') {
    throw unsupported(
      `registered table ${name} uses unsupported sync key column type ${keyType} for ${keyColumn}; the ` +
        `current server runtime allows only uuid and text`,
    );
  }
  validateUniqueIndexes(name, keyColumn, uniqueIndexes);
  return {
    schema: table.schema,
    table: table.table,
    name,
    keyColumn,
    keyKind: keyType === 'uuid' ? KEY_KIND_UUID : KEY_KIND_TEXT,
    columnTypes: columns,
  };
}

function validateUniqueIndexes(name: string, keyColumn: string, uniqueIndexes: readonly UniqueIndex[]): void {
  if (uniqueIndexes.length === 0) {
    throw unsupported(`registered table ${name} must provide unique indexes or constraints for scope-aware identity`);
  }
  for (const index of uniqueIndexes) {
    if (index.isPartial || index.hasExpressions) {
      throw unsupported(`registered table ${name} uses unsupported partial or expression unique index ${index.name}`);
    }
    if (index.columns.length === 0) {
      throw unsupported(`registered table ${name} uses unsupported unique index ${index.name} without column entries`);
    }
    if (index.columns[0] !== SYNC_SCOPE_COLUMN) {
      throw unsupported(
        `registered table ${name} has unique index ${index.name} that does not begin with ${SYNC_SCOPE_COLUMN}`,
      );
    }
  }
  const hasScopedIdentity = uniqueIndexes.some(
    (index) => index.columns.length === 2 && index.columns[0] === SYNC_SCOPE_COLUMN && index.columns[1] === keyColumn,
  );
  if (!hasScopedIdentity) {
    throw unsupported(`registered table ${name} must provide unique identity (${SYNC_SCOPE_COLUMN}, ${keyColumn})`);
  }
}

/** table_id = 1-based position of "schema.table" in byte order (spec §1.3). */
function assignTableIds(tables: readonly ValidatedTable[]): RegisteredTable[] {
  const names = tables.map((table) => table.name);
  const duplicate = names.find((name, position) => names.indexOf(name) !== position);
  // The reference has no such check; a duplicate fails there with a misleading rule-10 message.
  if (duplicate !== undefined) throw unsupported(`registered table ${duplicate} is registered more than once`);
  const sorted = [...names].sort(compareUtf8);
  return tables.map((table) => ({ ...table, tableId: sorted.indexOf(table.name) + 1 }));
}
