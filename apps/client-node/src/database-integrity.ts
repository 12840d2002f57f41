/** Detecting a damaged SQLite file: `quick_check` on demand, and SQLite's corruption codes on any statement. */
import type { Database } from 'better-sqlite3';
import { databaseIdentity } from './database-ownership.js';
import { DatabaseCorruptError } from './errors.js';

const CORRUPTION_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_VTAB']);

/** True for the errors SQLite raises when it reads damaged pages or a file that is not a database. */
export function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CORRUPTION_CODES.has(code);
}

/** `PRAGMA quick_check` (O(N), no index content comparison); throws `DatabaseCorruptError` on any problem. */
export function verifyDatabaseIntegrity(db: Database): void {
  let problems: string[];
  try {
    problems = (db.pragma('quick_check(20)') as { quick_check: string }[]).map((r) => r.quick_check);
  } catch (err) {
    throw new DatabaseCorruptError(databaseName(db), (err as Error).message, { cause: err });
  }
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new DatabaseCorruptError(databaseName(db), problems.join('; '));
}

/** Rethrows SQLite corruption as `DatabaseCorruptError` naming the file; other errors unchanged. */
export function asCorruptionError(db: Database, err: unknown): unknown {
  if (err instanceof DatabaseCorruptError || !isCorruptionError(err)) return err;
  return new DatabaseCorruptError(databaseName(db), (err as Error).message, { cause: err });
}

function databaseName(db: Database): string {
  try {
    return databaseIdentity(db).name;
  } catch {
    return '';
  }
}
