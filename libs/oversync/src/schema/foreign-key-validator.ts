import type { SyncDatabase } from '../database/sync-database.js';
import { withErrorContext } from './error-context.js';
import { compareUtf8, goQuote, goToLower, goTrimSpace } from './go-string-semantics.js';
import type { RegisteredTable } from './registered-table.js';
import { SYNC_SCOPE_COLUMN } from './sync-layout.js';
import { UnsupportedSchemaError } from './unsupported-schema.error.js';

/** One column of a foreign key whose child table is registered (one row per FK column). */
interface ForeignKeyColumn {
  constraint_name: string;
  table_schema: string;
  table_name: string;
  column_name: string;
  ordinal_position: number;
  ref_schema: string;
  ref_table: string;
  ref_column: string;
  match_option: string;
  delete_rule: string;
  update_rule: string;
}

// The referenced column is the referenced constraint's column at the same ordinal position.
const FOREIGN_KEYS_SQL = `
  SELECT kcu.constraint_name, kcu.table_schema, kcu.table_name, kcu.column_name, kcu.ordinal_position::int,
         rc.unique_constraint_schema AS ref_schema, kcu2.table_name AS ref_table,
         kcu2.column_name AS ref_column, rc.match_option, rc.delete_rule, rc.update_rule
  FROM information_schema.key_column_usage kcu
  JOIN information_schema.referential_constraints rc
    ON kcu.constraint_name = rc.constraint_name AND kcu.constraint_schema = rc.constraint_schema
  JOIN information_schema.key_column_usage kcu2
    ON rc.unique_constraint_name = kcu2.constraint_name
   AND rc.unique_constraint_schema = kcu2.constraint_schema
   AND kcu.ordinal_position = kcu2.ordinal_position
  WHERE (kcu.table_schema || '.' || kcu.table_name) = ANY($1::text[])
  ORDER BY kcu.table_schema, kcu.table_name, kcu.constraint_name, kcu.ordinal_position`;

const DEFERRABILITY_SQL = `
  SELECT n.nspname, con.conname, con.condeferrable, con.condeferred
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_namespace n ON n.oid = con.connamespace
  WHERE con.contype = 'f' AND n.nspname || '.' || con.conname = ANY($1::text[])`;

const ALLOWED_ACTIONS = new Set(['', 'NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', 'SET DEFAULT']);
const ALLOWED_MATCH_OPTIONS = new Set(['', 'NONE', 'SIMPLE']);

/**
 * Bootstrap step 3 (spec §2.10): registered tables must be FK-closed, use standard actions, reference
 * registered parents through (_sync_scope_id, parent sync key), and be DEFERRABLE.
 */
export async function validateRegisteredForeignKeys(
  db: SyncDatabase,
  tables: readonly RegisteredTable[],
): Promise<void> {
  const registered = new Map(tables.map((table) => [table.name, table]));
  const names = [...registered.keys()].sort(compareUtf8);
  const columns = await db.query<ForeignKeyColumn>(FOREIGN_KEYS_SQL, [names]).catch((error: unknown) => {
    throw withErrorContext(
      'failed to get foreign key constraints',
      withErrorContext('failed to query foreign key constraints', error),
    );
  });
  const registeredChildColumns = columns.filter((fk) => registered.has(childKey(fk)));
  if (registeredChildColumns.length === 0) return;
  checkClosure(registeredChildColumns, registered);
  checkActions(registeredChildColumns);
  checkScopeInclusiveShape(registeredChildColumns, registered);
  await checkDeferrable(db, registeredChildColumns);
}

function childKey(fk: ForeignKeyColumn): string {
  return goToLower(`${fk.table_schema}.${fk.table_name}`);
}

function parentKey(fk: ForeignKeyColumn): string {
  return goToLower(`${fk.ref_schema}.${fk.ref_table}`);
}

function checkClosure(columns: readonly ForeignKeyColumn[], registered: ReadonlyMap<string, RegisteredTable>): void {
  const missingByChild = new Map<string, string[]>();
  for (const fk of columns) {
    if (registered.has(parentKey(fk))) continue;
    const child = childKey(fk);
    const entries = missingByChild.get(child) ?? [];
    entries.push(`${child} -> ${parentKey(fk)} (${fk.constraint_name})`);
    missingByChild.set(child, entries);
  }
  if (missingByChild.size === 0) return;
  const details = [...missingByChild.keys()]
    .sort(compareUtf8)
    .flatMap((child) => (missingByChild.get(child) ?? []).sort(compareUtf8));
  throw new UnsupportedSchemaError(`registered tables are not FK-closed: ${details.join('; ')}`);
}

function checkActions(columns: readonly ForeignKeyColumn[]): void {
  for (const fk of columns) {
    const where = `on ${fk.table_schema}.${fk.table_name} (${fk.constraint_name})`;
    if (!ALLOWED_ACTIONS.has(normalizeRule(fk.delete_rule))) {
      throw new UnsupportedSchemaError(
        `registered schema contains unsupported FK ON DELETE action ${goQuote(fk.delete_rule ?? '')} ${where}`,
      );
    }
    if (!ALLOWED_ACTIONS.has(normalizeRule(fk.update_rule))) {
      throw new UnsupportedSchemaError(
        `registered schema contains unsupported FK ON UPDATE action ${goQuote(fk.update_rule ?? '')} ${where}`,
      );
    }
    if (!ALLOWED_MATCH_OPTIONS.has(normalizeRule(fk.match_option))) {
      throw new UnsupportedSchemaError(
        `registered schema contains unsupported FK MATCH option ${goQuote(fk.match_option ?? '')} ${where}`,
      );
    }
  }
}

function normalizeRule(rule: string | null): string {
  return goTrimSpace(rule ?? '').toUpperCase();
}

/** Registered-to-registered FKs must be exactly (_sync_scope_id, x) → (_sync_scope_id, parent sync key). */
function checkScopeInclusiveShape(
  columns: readonly ForeignKeyColumn[],
  registered: ReadonlyMap<string, RegisteredTable>,
): void {
  const groups = new Map<string, ForeignKeyColumn[]>();
  for (const fk of columns) {
    const group = JSON.stringify([fk.table_schema, fk.table_name, fk.constraint_name]);
    groups.set(group, [...(groups.get(group) ?? []), fk]);
  }
  const invalid: string[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => a.ordinal_position - b.ordinal_position);
    const [first, second] = group;
    const parent = registered.get(parentKey(first));
    if (!parent) continue;
    const scopeInclusive =
      group.length === 2 &&
      first.column_name === SYNC_SCOPE_COLUMN &&
      first.ref_column === SYNC_SCOPE_COLUMN &&
      second.ref_column === parent.keyColumn;
    if (!scopeInclusive) {
      invalid.push(`${first.table_schema}.${first.table_name} -> ${parent.name} (${first.constraint_name})`);
    }
  }
  if (invalid.length === 0) return;
  throw new UnsupportedSchemaError(
    `registered schema contains unsupported registered FK constraints; registered child FKs must be ` +
      `scope-inclusive and reference (_sync_scope_id, parent_sync_key): ${invalid.sort(compareUtf8).join('; ')}`,
  );
}

async function checkDeferrable(db: SyncDatabase, columns: readonly ForeignKeyColumn[]): Promise<void> {
  const constraintKeys = [...new Set(columns.map((fk) => `${fk.table_schema}.${fk.constraint_name}`))];
  const rows = await db
    .query<{ nspname: string; conname: string; condeferrable: boolean }>(DEFERRABILITY_SQL, [constraintKeys])
    .catch((error: unknown) => {
      throw withErrorContext('check FK deferrable status', error);
    });
  const nonDeferrable = rows.filter((row) => !row.condeferrable).map((row) => `${row.nspname}.${row.conname}`);
  if (nonDeferrable.length === 0) return;
  throw new UnsupportedSchemaError(
    `registered schema contains non-deferrable FK constraints: ${nonDeferrable.sort(compareUtf8).join(', ')}; ` +
      `make these constraints DEFERRABLE before bootstrap (INITIALLY DEFERRED recommended)`,
  );
}
