import { writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

type Row = { payload: Record<string, string> };

/** The users rows' values in the raw insert's column order (id, name, email, created_at, updated_at). */
export const usersValues = (rows: Row[]): string[][] =>
  rows.map(({ payload: p }) => [p.id!, p.name!, p.email!, p.created_at!, p.updated_at!]);

/**
 * The raw SQLite reference every client figure is divided by: a plain better-sqlite3 insert of users rows (values in
 * `usersValues` order) into `:memory:` in one transaction; its ms.
 */
export function rawSqliteInsertMs(values: string[][]): number {
  const sqlite = new Database(':memory:');
  sqlite.exec(
    'CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT, ' +
      'updated_at TEXT)',
  );
  const insert = sqlite.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?)');
  const t = performance.now();
  sqlite.transaction(() => {
    for (const v of values) insert.run(v[0], v[1], v[2], v[3], v[4]);
  })();
  const ms = performance.now() - t;
  sqlite.close();
  return ms;
}

/**
 * Physical references on the same rows: PostgreSQL COPY, multi-row INSERT, SELECT; SQLite insert in one transaction.
 */
export async function measureReferences(databaseUrl: string, rows: Row[]) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const table = 'public.bench_reference_users';
  const recreate = () =>
    client.query(
      `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id uuid PRIMARY KEY, name text NOT NULL, email text
        NOT NULL, created_at timestamptz, updated_at timestamptz)`,
    );
  const csv = join(tmpdir(), `oversync-bench-${process.pid}.csv`);
  writeFileSync(
    csv,
    rows
      .map((r) => [r.payload.id, r.payload.name, r.payload.email, r.payload.created_at, r.payload.updated_at].join(','))
      .join('\n'),
  );
  chmodSync(csv, 0o644);
  try {
    await recreate();
    let t = performance.now();
    let copyMs: number | null = null;
    try {
      await client.query(`COPY ${table} FROM '${csv}' WITH (FORMAT csv)`);
      copyMs = performance.now() - t;
    } catch {
      copyMs = null; // server cannot read the file (remote DATABASE_URL): reported as n/a
    }
    await recreate();
    t = performance.now();
    for (let start = 0; start < rows.length; start += 5000) {
      const part = rows.slice(start, start + 5000);
      await client.query(
        `INSERT INTO ${table} SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
          $5::timestamptz[])`,
        [
          part.map((r) => r.payload.id),
          part.map((r) => r.payload.name),
          part.map((r) => r.payload.email),
          part.map((r) => r.payload.created_at),
          part.map((r) => r.payload.updated_at),
        ],
      );
    }
    const insertMs = performance.now() - t;
    t = performance.now();
    const selected = await client.query(`SELECT * FROM ${table}`);
    const selectMs = performance.now() - t;
    await client.query(`DROP TABLE ${table}`);

    const sqliteMs = rawSqliteInsertMs(usersValues(rows));
    const rate = (ms: number | null) => (ms === null ? null : (rows.length / ms) * 1000);
    return {
      rows: rows.length,
      pgCopyRowsPerSec: rate(copyMs),
      pgMultiRowInsertRowsPerSec: rate(insertMs),
      pgSelectRowsPerSec: rate(selectMs) ?? 0,
      selectedRows: selected.rowCount ?? 0,
      sqliteInsertRowsPerSec: rate(sqliteMs) ?? 0,
    };
  } finally {
    rmSync(csv, { force: true });
    await client.end();
  }
}
