import type { SyncClient, SyncDatabase } from '../database/sync-database.js';
import { execWithContext } from './exec-with-context.js';
import type { RegisteredTable } from './registered-table.js';
import { ACQUIRE_BOOTSTRAP_LOCK_SQL } from './sync-layout.js';
import {
  CAPTURE_FUNCTION_SQL,
  CAPTURE_INSERTED_FUNCTION_SQL,
  OWNER_GUARD_FUNCTION_SQL,
  TRUNCATE_GUARD_FUNCTION_SQL,
} from './sync-trigger-functions.sql.js';

export const OWNER_GUARD_TRIGGER = 'oversync_bundle_owner_guard';
export const CAPTURE_TRIGGER = 'oversync_bundle_capture_row';
export const TRUNCATE_GUARD_TRIGGER = 'oversync_bundle_truncate_guard';
export const CAPTURE_INSERTED_TRIGGER = 'oversync_bundle_capture_inserted';
export const REGISTERED_TABLE_TRIGGERS = [OWNER_GUARD_TRIGGER, CAPTURE_TRIGGER, CAPTURE_INSERTED_TRIGGER, TRUNCATE_GUARD_TRIGGER] as const;

/** The trigger functions, replaced at every bootstrap (spec §8.13). */
export const TRIGGER_FUNCTION_STATEMENTS: ReadonlyArray<[context: string, sql: string]> = [
  ['replace sync.enforce_registered_row_owner()', OWNER_GUARD_FUNCTION_SQL],
  ['replace sync.capture_registered_row_change()', CAPTURE_FUNCTION_SQL],
  ['replace sync.capture_registered_rows_inserted()', CAPTURE_INSERTED_FUNCTION_SQL],
  ['replace sync.refuse_registered_table_truncate()', TRUNCATE_GUARD_FUNCTION_SQL],
];

/**
 * Bootstrap step 4 (spec §2.1): one transaction under the bootstrap lock, not retried. Unlike the
 * reference it first replaces the trigger functions, so fixes reach databases whose layout already
 * exists (spec §8.13), and it adds a TRUNCATE guard per table (spec §8.14).
 */
export async function installCaptureTriggers(db: SyncDatabase, tables: readonly RegisteredTable[]): Promise<void> {
  await db.transaction(async (client) => {
    await execWithContext(client, 'acquire sync bootstrap lock for capture triggers', ACQUIRE_BOOTSTRAP_LOCK_SQL);
    for (const [context, sql] of TRIGGER_FUNCTION_STATEMENTS) await execWithContext(client, context, sql);
    for (const table of tables) await installTableTriggers(client, table);
  });
}

/** The statements that (re)install the four triggers of one registered table, with their error contexts. */
export function tableTriggerStatements(table: Pick<RegisteredTable, 'schema' | 'table' | 'keyColumn' | 'keyKind' | 'tableId'>): Array<[context: string, sql: string]> {
  const target = `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.table)}`;
  const captureArguments = [table.keyColumn, String(table.keyKind), String(table.tableId)].map(quoteLiteral).join(', ');
  const statements: Array<[context: string, sql: string]> = [
    ['drop capture trigger', `DROP TRIGGER IF EXISTS ${CAPTURE_TRIGGER} ON ${target}`],
    ['drop owner guard trigger', `DROP TRIGGER IF EXISTS ${OWNER_GUARD_TRIGGER} ON ${target}`],
    ['drop truncate guard trigger', `DROP TRIGGER IF EXISTS ${TRUNCATE_GUARD_TRIGGER} ON ${target}`],
    ['drop insert capture trigger', `DROP TRIGGER IF EXISTS ${CAPTURE_INSERTED_TRIGGER} ON ${target}`],
    [
      'create owner guard trigger',
      `CREATE TRIGGER ${OWNER_GUARD_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON ${target}
       FOR EACH ROW EXECUTE FUNCTION sync.enforce_registered_row_owner()`,
    ],
    [
      'create capture trigger',
      // INSERTs are captured per statement (below): one set-based stage insert instead of a call per row.
      `CREATE TRIGGER ${CAPTURE_TRIGGER} AFTER UPDATE OR DELETE ON ${target}
       FOR EACH ROW EXECUTE FUNCTION sync.capture_registered_row_change(${captureArguments})`,
    ],
    [
      'create insert capture trigger',
      `CREATE TRIGGER ${CAPTURE_INSERTED_TRIGGER} AFTER INSERT ON ${target} REFERENCING NEW TABLE AS oversync_inserted_rows
       FOR EACH STATEMENT EXECUTE FUNCTION sync.capture_registered_rows_inserted(${captureArguments})`,
    ],
    [
      'create truncate guard trigger',
      `CREATE TRIGGER ${TRUNCATE_GUARD_TRIGGER} BEFORE TRUNCATE ON ${target}
       FOR EACH STATEMENT EXECUTE FUNCTION sync.refuse_registered_table_truncate()`,
    ],
  ];
  return statements;
}

async function installTableTriggers(client: SyncClient, table: RegisteredTable): Promise<void> {
  const statements = tableTriggerStatements(table);
  for (const [context, sql] of statements) await execWithContext(client, `${context} for ${table.name}`, sql);
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
