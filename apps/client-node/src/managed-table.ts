/**
 * Introspection and validation of the managed tables (spec/client.md §1.2 checks 8–19, §4).
 * The result is computed once per client; a schema change needs a new client.
 */
import type { Database } from 'better-sqlite3';
import { normalizedKeyColumns, type SyncTable } from './config.js';
import { OversqliteConfigError } from './errors.js';

export interface ManagedColumn {
  /** Declared spelling. */
  readonly name: string;
  /** Member name in payloads. */
  readonly lowerName: string;
  readonly declaredType: string;
  /** Declared type contains `blob`: hex locally, base64 (or UUID text) on the wire. */
  readonly isBlob: boolean;
  /** BLOB that holds a UUID on the wire: the BLOB primary key or a BLOB FK column. */
  readonly isUuid: boolean;
}

export interface ManagedTable {
  /** Lower-cased table name: the local table, the wire `table`, and `_sync_*` `table_name`. */
  readonly name: string;
  readonly columns: readonly ManagedColumn[];
  readonly keyColumn: ManagedColumn;
  readonly keyIsBlob: boolean;
  /** Position in the FK-safe order (parents first). */
  readonly order: number;
  /** Single-column FK edges to other tables (lower-cased names). */
  readonly references: readonly { readonly from: string; readonly table: string; readonly to: string }[];
}

interface RawColumn {
  name: string;
  type: string;
  pk: number;
}

interface RawForeignKey {
  id: number;
  seq: number;
  table: string;
  from: string;
  to: string | null;
}

/** Validates the configured tables in config order and returns them with their FK order. */
export function inspectManagedTables(db: Database, tables: readonly SyncTable[]): ManagedTable[] {
  const seen = new Set<string>();
  const inspected: {
    config: SyncTable;
    name: string;
    columns: RawColumn[];
    keyColumn: RawColumn;
    fks: RawForeignKey[];
  }[] = [];
  for (const config of tables) {
    const name = config.tableName.trim().toLowerCase();
    if (!name) throw new OversqliteConfigError('sync table name must be provided');
    if (name.includes('.')) {
      throw new OversqliteConfigError(
        `table ${config.tableName} must not include a schema qualifier; oversqlite supports exactly one ` +
          `options.schema per local database`,
      );
    }
    if (seen.has(name)) throw new OversqliteConfigError(`duplicate sync table registration for ${name}`);
    seen.add(name);
    const keyColumns = normalizedKeyColumns(config);
    if (keyColumns.length === 0) {
      throw new OversqliteConfigError(
        (config.syncKeyColumns?.length ?? 0) > 0
          ? `table ${config.tableName} must declare at least one non-empty sync key column`
          : `table ${config.tableName} must declare syncKeyColumnName or syncKeyColumns explicitly`,
      );
    }
    if (keyColumns.length > 1) {
      throw new OversqliteConfigError(
        `table ${config.tableName} must declare exactly one sync key column in the current client runtime`,
      );
    }
    let columns: RawColumn[];
    let fks: RawForeignKey[];
    try {
      columns = db.prepare('SELECT name, type, pk FROM pragma_table_info(?)').all(name) as RawColumn[];
      fks = db
        .prepare('SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?)')
        .all(name) as RawForeignKey[];
    } catch (err) {
      throw new OversqliteConfigError(`failed to inspect table ${config.tableName}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (columns.length === 0)
      throw new OversqliteConfigError(`table ${config.tableName} does not exist in the database`);
    const wanted = keyColumns[0]!;
    const keyColumn = columns.find((c) => c.name.toLowerCase() === wanted.toLowerCase());
    if (!keyColumn)
      throw new OversqliteConfigError(
        `table ${config.tableName} does not contain configured primary key column ${wanted}`,
      );
    if (keyColumn.pk !== 1) {
      throw new OversqliteConfigError(
        `configured primary key column ${keyColumn.name} for table ${config.tableName} is not declared as PRIMARY KEY`,
      );
    }
    const keyType = keyColumn.type.toLowerCase();
    if (!keyType.includes('blob') && !keyType.includes('text')) {
      throw new OversqliteConfigError(
        `table ${config.tableName} uses unsupported local sync key column ${keyColumn.name} type ` +
          `${JSON.stringify(keyColumn.type)}; oversqlite supports only TEXT keys and UUID-backed BLOB keys`,
      );
    }
    inspected.push({ config, name, columns, keyColumn, fks });
  }

  checkForeignKeyClosure(
    inspected.map((t) => ({ name: t.name, fks: t.fks })),
    seen,
  );
  const order = managedTableOrder(
    inspected.map((t) => t.name),
    inspected.flatMap((t) =>
      t.fks.filter((fk) => fk.seq === 0).map((fk) => ({ parent: fk.table.trim().toLowerCase(), child: t.name })),
    ),
  );

  return inspected.map((t) => {
    const fkColumns = new Set(t.fks.map((fk) => fk.from.toLowerCase()));
    const pkColumn = t.columns.find((c) => c.pk === 1);
    const columns = t.columns.map((c): ManagedColumn => {
      const lowerName = c.name.toLowerCase();
      const isBlob = c.type.toLowerCase().includes('blob');
      return {
        name: c.name,
        lowerName,
        declaredType: c.type,
        isBlob,
        isUuid: isBlob && (c === pkColumn || fkColumns.has(lowerName)),
      };
    });
    const keyColumn = columns.find((c) => c.name === t.keyColumn.name)!;
    return {
      name: t.name,
      columns,
      keyColumn,
      keyIsBlob: keyColumn.isBlob,
      order: order.get(t.name)!,
      references: t.fks
        .filter((fk) => fk.seq === 0)
        .map((fk) => ({
          from: fk.from.toLowerCase(),
          table: fk.table.trim().toLowerCase(),
          to: (fk.to ?? '').toLowerCase(),
        })),
    };
  });
}

/** Checks 18 and 19, iterated in config order (the reference's map order is not deterministic). */
function checkForeignKeyClosure(tables: { name: string; fks: RawForeignKey[] }[], managed: Set<string>): void {
  for (const table of tables) {
    const composite = table.fks.filter((fk) => fk.seq > 0).map((fk) => `${table.name} -> ${fk.table}`);
    if (composite.length > 0) {
      throw new OversqliteConfigError(
        `managed tables contain unsupported composite foreign keys: ${composite.sort().join('; ')}`,
      );
    }
    const missing = table.fks
      .filter((fk) => fk.seq === 0 && !managed.has(fk.table.trim().toLowerCase()))
      .map((fk) => `${table.name}.${fk.from} -> ${fk.table}.${fk.to ?? ''}`);
    if (missing.length > 0)
      throw new OversqliteConfigError(`managed tables are not FK-closed: ${missing.sort().join('; ')}`);
  }
}

/**
 * Kahn's sort over parent → child edges with the ready queue kept in config order; tables of
 * cycles are appended in config order (spec/client.md §4.3).
 */
export function managedTableOrder(
  configOrder: readonly string[],
  edges: readonly { parent: string; child: string }[],
): Map<string, number> {
  const position = new Map(configOrder.map((name, i) => [name, i]));
  const children = new Map<string, Set<string>>();
  const indegree = new Map(configOrder.map((name) => [name, 0]));
  for (const { parent, child } of edges) {
    if (parent === child || !position.has(parent) || !position.has(child)) continue;
    const set = children.get(parent) ?? new Set<string>();
    if (set.has(child)) continue;
    set.add(child);
    children.set(parent, set);
    indegree.set(child, indegree.get(child)! + 1);
  }
  const byConfig = (a: string, b: string) => position.get(a)! - position.get(b)!;
  const queue = configOrder.filter((name) => indegree.get(name) === 0);
  const result = new Map<string, number>();
  while (queue.length > 0) {
    const next = queue.shift()!;
    result.set(next, result.size);
    for (const child of children.get(next) ?? []) {
      const remaining = indegree.get(child)! - 1;
      indegree.set(child, remaining);
      if (remaining === 0) queue.push(child);
    }
    queue.sort(byConfig);
  }
  for (const name of configOrder) if (!result.has(name)) result.set(name, result.size);
  return result;
}
