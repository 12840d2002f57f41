import type { RegisteredTable } from './registered-table.js';

/** The registered tables after bootstrap, looked up by "schema.table" and by table_id. */
export class SyncCatalog {
  private readonly byName = new Map<string, RegisteredTable>();
  private readonly byId = new Map<number, RegisteredTable>();

  /**
   * @param tables the registered tables
   * @param trustedSyncWrites the connection role may set session_replication_role, so finalisation can
   *   skip re-checking foreign keys of sync rows it derives from rows it has just written
   */
  constructor(
    readonly tables: readonly RegisteredTable[],
    readonly trustedSyncWrites = false,
  ) {
    for (const table of tables) {
      this.byName.set(table.name, table);
      this.byId.set(table.tableId, table);
    }
  }

  find(schema: string, table: string): RegisteredTable | undefined {
    return this.byName.get(`${schema}.${table}`);
  }

  get(tableId: number): RegisteredTable {
    const table = this.byId.get(tableId);
    if (!table) throw new Error(`table_id ${tableId} is not in the registered catalog`);
    return table;
  }

  /** sorted "schema.table" keys */
  get names(): string[] {
    return this.tables.map((t) => t.name).sort();
  }
}
