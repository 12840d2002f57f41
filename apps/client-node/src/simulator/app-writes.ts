/**
 * What a simulated app writes into its own tables: plain SQL on the reference app's business
 * tables, as an application would (the client's triggers capture it).
 */
import type { Database } from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { quoteIdent } from '../local-schema.js';

export type ColumnValue = string | number | bigint | Buffer | null;
export type RowValues = Readonly<Record<string, ColumnValue>>;

/** A key for the text-keyed tables: canonical lower-case UUID text, as the server's `uuid` keys require. */
export const newId = (): string => randomUUID();

/** A key for the BLOB-keyed tables (`files`, `file_reviews`): the 16 bytes of a UUID. */
export const newBlobId = (): Buffer => Buffer.from(randomUUID().replace(/-/g, ''), 'hex');

/** RFC 3339 UTC with milliseconds (what `Date#toISOString` gives). */
export const timestamp = (at: Date = new Date()): string => at.toISOString();

export function insertRow(db: Database, table: string, values: RowValues): void {
  const columns = Object.keys(values);
  db.prepare(
    `INSERT INTO ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')})
      VALUES (${columns.map(() => '?').join(', ')})`,
  ).run(...Object.values(values));
}

export function updateRow(db: Database, table: string, id: string | Buffer, values: RowValues): void {
  const assignments = Object.keys(values).map((column) => `${quoteIdent(column)} = ?`);
  const changed = db
    .prepare(`UPDATE ${quoteIdent(table)} SET ${assignments.join(', ')} WHERE id = ?`)
    .run(...Object.values(values), id).changes;
  if (changed !== 1) throw new Error(`update of ${table} ${String(id)} changed ${changed} rows`);
}

export function deleteRow(db: Database, table: string, id: string | Buffer): void {
  db.prepare(`DELETE FROM ${quoteIdent(table)} WHERE id = ?`).run(id);
}

/** A user row with `name`, a derived e-mail and timestamps. */
export function insertUser(db: Database, name: string, id: string = newId()): string {
  const now = timestamp();
  insertRow(db, 'users', {
    id,
    name,
    email: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@example.test`,
    created_at: now,
    updated_at: now,
  });
  return id;
}

/** Runs `write` in one SQLite transaction (FKs are checked at its end: the tables' FKs are deferred). */
export function inTransaction<T>(db: Database, write: () => T): T {
  return db.transaction(write)();
}

/** Column `column` of every row of `table`, ordered by it. */
export function columnValues(db: Database, table: string, column: string): ColumnValue[] {
  return (
    db.prepare(`SELECT ${quoteIdent(column)} AS v FROM ${quoteIdent(table)} ORDER BY 1`).all() as { v: ColumnValue }[]
  ).map((r) => r.v);
}

export function rowCount(db: Database, table: string): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM ${quoteIdent(table)}`).get() as { n: number }).n;
}
