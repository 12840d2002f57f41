import { runRetryable, type SyncClient, type SyncDatabase } from '../database/sync-database.js';
import { quoteIdentifier, quoteLiteral } from '../database/sql-quote.js';
import { execWithContext } from './exec-with-context.js';
import type { RegisteredTable } from './registered-table.js';
import { ACQUIRE_BOOTSTRAP_LOCK_SQL } from './sync-layout.js';
import {
  CAPTURE_FUNCTION_SQL,
  CAPTURE_INSERTED_FUNCTION_SQL,
  MARK_INSERTING_FUNCTION_SQL,
  OWNER_GUARD_FUNCTION_SQL,
  TRUNCATE_GUARD_FUNCTION_SQL,
} from './sync-trigger-functions.sql.js';
import { REQUEST_FUNCTIONS } from './sync-request-functions.sql.js';

export const OWNER_GUARD_TRIGGER = 'oversync_bundle_owner_guard';
export const CAPTURE_TRIGGER = 'oversync_bundle_capture_row';
export const TRUNCATE_GUARD_TRIGGER = 'oversync_bundle_truncate_guard';
export const CAPTURE_INSERTED_TRIGGER = 'oversync_bundle_capture_inserted';
export const MARK_INSERTING_TRIGGER = 'oversync_bundle_mark_inserting';
/** The triggers a registered table must carry (a host's migrations from an older build lack the mark). */
export const REQUIRED_TABLE_TRIGGERS = [
  OWNER_GUARD_TRIGGER,
  CAPTURE_TRIGGER,
  CAPTURE_INSERTED_TRIGGER,
  TRUNCATE_GUARD_TRIGGER,
] as const;
/** Every trigger the module installs on a registered table. */
export const REGISTERED_TABLE_TRIGGERS = [...REQUIRED_TABLE_TRIGGERS, MARK_INSERTING_TRIGGER] as const;

/** The trigger functions, replaced at every bootstrap (spec §8.13). */
export const TRIGGER_FUNCTION_STATEMENTS: ReadonlyArray<[context: string, sql: string]> = [
  ['replace sync.enforce_registered_row_owner()', OWNER_GUARD_FUNCTION_SQL],
  ['replace sync.capture_registered_row_change()', CAPTURE_FUNCTION_SQL],
  ['replace sync.capture_registered_rows_inserted()', CAPTURE_INSERTED_FUNCTION_SQL],
  ['replace sync.mark_registered_rows_inserting()', MARK_INSERTING_FUNCTION_SQL],
  ['replace sync.refuse_registered_table_truncate()', TRUNCATE_GUARD_FUNCTION_SQL],
];

/** Trigger and request functions (spec §8.13; issue 21): replaced together at every bootstrap. */
export const SYNC_FUNCTION_STATEMENTS: ReadonlyArray<[context: string, sql: string]> = [
  ...TRIGGER_FUNCTION_STATEMENTS,
  ...REQUEST_FUNCTIONS.map(({ signature, sql }): [string, string] => [`replace ${signature}`, sql]),
];

/**
 * Bootstrap step 4 (spec §2.1): one transaction under the bootstrap lock. Unlike the
 * reference it first replaces the trigger functions, so fixes reach databases whose layout already
 * exists (spec §8.13), and it adds a TRUNCATE guard per table (spec §8.14).
 * Triggers already as wanted are left alone: dropping one locks its table exclusively, and an
 * instance restarting while others serve pushes deadlocked with their commits (scale-out suite,
 * issue 25). A deadlock while triggers do change (an upgrade under load) retries the transaction.
 */
export async function installCaptureTriggers(db: SyncDatabase, tables: readonly RegisteredTable[]): Promise<void> {
  await runRetryable(5, 200, () => installOnce(db, tables));
}

async function installOnce(db: SyncDatabase, tables: readonly RegisteredTable[]): Promise<void> {
  await db.transaction(async (client) => {
    await execWithContext(client, 'acquire sync bootstrap lock for capture triggers', ACQUIRE_BOOTSTRAP_LOCK_SQL);
    for (const [context, sql] of SYNC_FUNCTION_STATEMENTS) await execWithContext(client, context, sql);
    for (const table of tables) await installTableTriggers(client, table);
  });
}

/** pg_trigger.tgtype bits */
const ROW = 1;
const BEFORE = 2;
const INSERT = 4;
const DELETE = 8;
const UPDATE = 16;
const TRUNCATE = 32;

/** True when the table carries exactly the module's five triggers, as `installTableTriggers` creates them. */
async function triggersUpToDate(client: SyncClient, table: RegisteredTable, target: string): Promise<boolean> {
  // tgargs: each argument followed by a NUL byte
  const args = Buffer.from(
    [table.keyColumn, String(table.keyKind), String(table.tableId)].map((a) => `${a}\0`).join(''),
    'utf8',
  ).toString('hex');
  const wanted = new Map<string, string>([
    [OWNER_GUARD_TRIGGER, `${ROW | BEFORE | INSERT | UPDATE | DELETE}|sync.enforce_registered_row_owner()||`],
    [CAPTURE_TRIGGER, `${ROW | UPDATE | DELETE}|sync.capture_registered_row_change()|${args}|`],
    [CAPTURE_INSERTED_TRIGGER, `${INSERT}|sync.capture_registered_rows_inserted()|${args}|oversync_inserted_rows`],
    [TRUNCATE_GUARD_TRIGGER, `${BEFORE | TRUNCATE}|sync.refuse_registered_table_truncate()||`],
    [MARK_INSERTING_TRIGGER, `${BEFORE | INSERT}|sync.mark_registered_rows_inserting()||`],
  ]);
  const { rows } = await client.query<{ name: string; shape: string }>(
    `SELECT tgname AS name,
            tgtype::int || '|' || tgfoid::regprocedure::text || '|' ||
            encode(tgargs, 'hex') || '|' || COALESCE(tgnewtable, '') AS shape
       FROM pg_trigger
      WHERE tgrelid = $1::regclass AND tgname = ANY($2) AND tgenabled = 'O' AND tgqual IS NULL
        AND tgattr = ''::int2vector AND tgoldtable IS NULL`,
    [target, [...wanted.keys()]],
  );
  return rows.length === wanted.size && rows.every((row) => wanted.get(row.name) === row.shape);
}

/** The statements that (re)install the five triggers of one registered table, with their error contexts. */
export function tableTriggerStatements(
  table: Pick<RegisteredTable, 'schema' | 'table' | 'keyColumn' | 'keyKind' | 'tableId'>,
): Array<[context: string, sql: string]> {
  const target = `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.table)}`;
  const captureArguments = [table.keyColumn, String(table.keyKind), String(table.tableId)].map(quoteLiteral).join(', ');
  const statements: Array<[context: string, sql: string]> = [
    ['drop capture trigger', `DROP TRIGGER IF EXISTS ${CAPTURE_TRIGGER} ON ${target}`],
    ['drop owner guard trigger', `DROP TRIGGER IF EXISTS ${OWNER_GUARD_TRIGGER} ON ${target}`],
    ['drop truncate guard trigger', `DROP TRIGGER IF EXISTS ${TRUNCATE_GUARD_TRIGGER} ON ${target}`],
    ['drop insert capture trigger', `DROP TRIGGER IF EXISTS ${CAPTURE_INSERTED_TRIGGER} ON ${target}`],
    ['drop insert mark trigger', `DROP TRIGGER IF EXISTS ${MARK_INSERTING_TRIGGER} ON ${target}`],
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
      `CREATE TRIGGER ${CAPTURE_INSERTED_TRIGGER} AFTER INSERT ON ${target} REFERENCING NEW TABLE
        AS oversync_inserted_rows
       FOR EACH STATEMENT EXECUTE FUNCTION sync.capture_registered_rows_inserted(${captureArguments})`,
    ],
    [
      'create insert mark trigger',
      `CREATE TRIGGER ${MARK_INSERTING_TRIGGER} BEFORE INSERT ON ${target}
       FOR EACH STATEMENT EXECUTE FUNCTION sync.mark_registered_rows_inserting()`,
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
  if (await triggersUpToDate(client, table, `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.table)}`)) return;
  const statements = tableTriggerStatements(table);
  for (const [context, sql] of statements) await execWithContext(client, `${context} for ${table.name}`, sql);
}
