import { BOOTSTRAP_TX_RETRY_BASE_DELAY_MS, TX_RETRY_ATTEMPTS } from '@oversync/protocol';
import { isConnectionError, runRetryable, type SyncDatabase } from '../database/sync-database.js';
import { installCaptureTriggers } from './capture-triggers.js';
import { withErrorContext } from './error-context.js';
import { validateRegisteredForeignKeys } from './foreign-key-validator.js';
import type { RegisteredTable, RegisteredTableConfig } from './registered-table.js';
import { validateRegisteredTables } from './registered-table-validator.js';
import { createSyncSchema } from './sync-schema-creation.js';

const SCHEMA_TRANSACTION_ATTEMPTS = TX_RETRY_ATTEMPTS;
const SCHEMA_TRANSACTION_RETRY_BASE_MS = BOOTSTRAP_TX_RETRY_BASE_DELAY_MS;

/**
 * Validates the registered tables and prepares PostgreSQL for sync (spec §2.1): the `sync` schema,
 * its layout marker and table catalog, then the per-table triggers. Safe to run on every start and
 * concurrently from several processes. The four steps commit independently, as in the reference.
 * Returns the registered tables in table_id order.
 */
export async function bootstrapSyncSchema(
  db: SyncDatabase,
  tables: readonly RegisteredTableConfig[],
): Promise<RegisteredTable[]> {
  if (!db) throw new Error('bootstrap requires a database pool');
  // A backend killed under a start (restart, failover, pg_terminate_backend) is no schema problem:
  // every step is idempotent, so the start begins again on a fresh connection.
  return runRetryable(
    SCHEMA_TRANSACTION_ATTEMPTS,
    SCHEMA_TRANSACTION_RETRY_BASE_MS,
    () => bootstrapOnce(db, tables),
    causedByConnectionLoss,
  );
}

/** Whether `error` or one of its causes is a lost database connection. */
function causedByConnectionLoss(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (isConnectionError(e)) return true;
  return false;
}

async function bootstrapOnce(db: SyncDatabase, tables: readonly RegisteredTableConfig[]): Promise<RegisteredTable[]> {
  const validated = await validateRegisteredTables(db, tables);
  const sorted = [...validated].sort((a, b) => a.tableId - b.tableId);

  const catalog = (
    await runRetryable(SCHEMA_TRANSACTION_ATTEMPTS, SCHEMA_TRANSACTION_RETRY_BASE_MS, () =>
      db.transaction((client) => createSyncSchema(client, sorted)),
    )
  ).sort((a, b) => a.tableId - b.tableId);
  if (catalog.length === 0) return catalog;
  // configuration order for the steps below, with the ids of the effective catalog
  const byName = new Map(catalog.map((table) => [table.name, table]));
  const registered = validated.map((table) => byName.get(table.name)!);

  await validateRegisteredForeignKeys(db, registered).catch((error: unknown) => {
    // The reference wraps this step twice with the same text; kept for message parity.
    const context = 'failed to discover schema relationships';
    throw withErrorContext(context, withErrorContext(context, error));
  });
  await installCaptureTriggers(db, registered).catch((error: unknown) => {
    throw withErrorContext('failed to install registered table capture triggers', error);
  });
  return catalog;
}
