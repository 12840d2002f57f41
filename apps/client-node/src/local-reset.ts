/** Clearing the synced data of the local database (Detach, snapshot replace: spec/client.md §5.6, §8.7). */
import type { ClientContext } from './client-context.js';
import { errorMessage } from './errors.js';
import { quoteIdent, tableExists } from './local-schema.js';

/** Registry tables (alphabetical) then configured tables not yet listed, in config order. */
export function historicallyManagedTables(ctx: ClientContext): string[] {
  const names: string[] = [];
  if (tableExists(ctx.db, '_sync_managed_tables')) {
    const rows = ctx.state.stmt('SELECT table_name FROM _sync_managed_tables ORDER BY table_name').all() as {
      table_name: string;
    }[];
    for (const row of rows) {
      const name = row.table_name.trim().toLowerCase();
      if (name && !names.includes(name)) names.push(name);
    }
  }
  for (const table of ctx.tables) if (!names.includes(table.name)) names.push(table.name);
  return names;
}

/**
 * Deletes the business rows and row state of every (historically) managed table, the dirty queue
 * and the push stage; the outbox unless `preserveOutbox`; the snapshot stage when asked.
 * Must run inside `applyTransaction` so nothing is captured and FKs are checked at COMMIT.
 */
export function clearManagedDataInTx(
  ctx: ClientContext,
  options: { preserveOutbox: boolean; clearSnapshotStage: boolean },
): void {
  for (const name of historicallyManagedTables(ctx)) {
    if (tableExists(ctx.db, name)) {
      try {
        ctx.state.stmt(`DELETE FROM ${quoteIdent(name)}`).run();
      } catch (err) {
        throw new Error(`failed to clear managed table ${name}: ${errorMessage(err)}`, { cause: err });
      }
    }
    ctx.state.stmt('DELETE FROM _sync_row_state WHERE schema_name = ? AND table_name = ?').run(ctx.schema, name);
  }
  ctx.state.stmt('DELETE FROM _sync_dirty_rows').run();
  if (!options.preserveOutbox) ctx.state.clearOutbox();
  ctx.state.stmt('DELETE FROM _sync_push_stage').run();
  if (options.clearSnapshotStage) ctx.state.stmt('DELETE FROM _sync_snapshot_stage').run();
}
