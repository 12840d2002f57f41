/** Reads and authoritative writes of the business rows of managed tables (spec/client.md §8.5, §9.2). */
import { rowImageSql, TRIGGER_SUFFIXES, triggerName } from './capture-triggers.js';
import { quoteIdent } from './local-schema.js';
import type { ManagedTable } from './managed-table.js';
import { type SqlValue, sqlKeyValue } from './row-codec.js';
import type { SyncState } from './sync-state.js';
import type { Statement } from 'better-sqlite3';

export class RowStore {
  /** One prepared upsert and delete per table: applying a pull runs them for every row. */
  private readonly upserts = new Map<ManagedTable, Statement>();
  private readonly deletes = new Map<ManagedTable, Statement>();
  /** `insertPrefix` by table and then by row count. */
  private readonly inserts = new Map<ManagedTable, Statement[]>();

  constructor(private readonly state: SyncState) {}

  /** UPSERT, not REPLACE, so `ON DELETE CASCADE` children survive. */
  upsert(table: ManagedTable, values: readonly SqlValue[]): void {
    let statement = this.upserts.get(table);
    if (statement === undefined) {
      const columns = table.columns.map((c) => quoteIdent(c.name));
      const key = quoteIdent(table.keyColumn.name);
      const updates = table.columns
        .filter((c) => c !== table.keyColumn)
        .map((c) => `${quoteIdent(c.name)} = excluded.${quoteIdent(c.name)}`);
      statement = this.state.stmt(
        `INSERT INTO ${quoteIdent(table.name)} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
          `ON CONFLICT(${key}) ${updates.length ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`,
      );
      this.upserts.set(table, statement);
    }
    statement.run(...values);
  }

  /**
   * Inserts rows (each one's column values) with one multi-row `INSERT OR FAIL` (no statement journal,
   * unlike a multi-row upsert); returns how many, from the first, it inserted before a row broke a
   * constraint (a key already there: that row takes `upsert`, which also words a real error).
   */
  insertPrefix(table: ManagedTable, rows: readonly (readonly SqlValue[])[]): number {
    let bySize = this.inserts.get(table);
    if (bySize === undefined) this.inserts.set(table, (bySize = []));
    const columns = table.columns.length;
    let statement = bySize[rows.length];
    if (statement === undefined) {
      const tuple = `(${table.columns.map(() => '?').join(', ')})`;
      statement = bySize[rows.length] = this.state.stmt(
        `INSERT OR FAIL INTO ${quoteIdent(table.name)} (${table.columns.map((c) => quoteIdent(c.name)).join(', ')}) ` +
          `VALUES ${Array.from(rows, () => tuple).join(', ')}`,
      );
    }
    const params = new Array<SqlValue>(rows.length * columns);
    for (let i = 0, at = 0; i < rows.length; i++) {
      const values = rows[i]!;
      for (let c = 0; c < columns; c++) params[at++] = values[c]!;
    }
    return this.state.insertPrefix(statement, params);
  }

  /** Whether the table has a trigger besides the client's capture triggers (one the application made). */
  hasForeignTriggers(table: ManagedTable): boolean {
    const ours = new Set(TRIGGER_SUFFIXES.map((suffix) => triggerName(table.name, suffix)));
    const triggers = this.state
      .stmt("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE")
      .all(table.name) as { name: string }[];
    return triggers.some((t) => !ours.has(t.name));
  }

  delete(table: ManagedTable, localKey: string): void {
    let statement = this.deletes.get(table);
    if (statement === undefined) {
      statement = this.state.stmt(
        `DELETE FROM ${quoteIdent(table.name)} WHERE ${quoteIdent(table.keyColumn.name)} = ?`,
      );
      this.deletes.set(table, statement);
    }
    statement.run(sqlKeyValue(table, localKey));
  }

  /** The local row image (same SQL as the capture triggers), or undefined when the row is absent. */
  image(table: ManagedTable, localKey: string): string | undefined {
    const row = this.state
      .stmt(
        `SELECT ${rowImageSql(table, 'src')} AS image FROM ${quoteIdent(table.name)} AS src
          WHERE src.${quoteIdent(table.keyColumn.name)} = ?`,
      )
      .get(sqlKeyValue(table, localKey)) as { image: string } | undefined;
    return row?.image;
  }

  /** Every local key of the table, as local key strings (hex for BLOB keys), in key order. */
  localKeys(table: ManagedTable): string[] {
    const key = quoteIdent(table.keyColumn.name);
    const expr = table.keyIsBlob ? `lower(hex(${key}))` : `CAST(${key} AS TEXT)`;
    return (
      this.state.stmt(`SELECT ${expr} AS k FROM ${quoteIdent(table.name)} ORDER BY ${key}`).all() as {
        k: string | null;
      }[]
    )
      .map((r) => r.k)
      .filter((k): k is string => k !== null);
  }

  count(table: ManagedTable): number {
    return Number((this.state.stmt(`SELECT COUNT(*) AS n FROM ${quoteIdent(table.name)}`).get() as { n: number }).n);
  }

  /** Every row image of the table, in key order (debug helper). */
  images(table: ManagedTable): string[] {
    return (
      this.state
        .stmt(
          `SELECT ${rowImageSql(table, 'src')} AS image FROM ${quoteIdent(table.name)} AS src
            ORDER BY src.${quoteIdent(table.keyColumn.name)}`,
        )
        .all() as { image: string }[]
    ).map((r) => r.image);
  }
}
