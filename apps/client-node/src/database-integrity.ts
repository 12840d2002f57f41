/** Detecting a damaged SQLite file: `quick_check` on demand, and SQLite's corruption codes on any statement. */
import type { Database } from 'better-sqlite3';
import { databaseIdentity } from './database-ownership.js';
import { DatabaseCorruptError } from './errors.js';

const CORRUPTION_CODES = new Set([
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT_INDEX',
  'SQLITE_CORRUPT_SEQUENCE',
  'SQLITE_CORRUPT_VTAB',
]);

/** True for the errors SQLite raises when it reads damaged pages or a file that is not a database (causes included). */
export function isCorruptionError(err: unknown): boolean {
  for (
    let e: unknown = err, depth = 0;
    e !== null && typeof e === 'object' && depth < 10;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if (e instanceof DatabaseCorruptError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CORRUPTION_CODES.has(code)) return true;
  }
  return false;
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
  // keep the message of the SQLite error itself, not of the wrappers around it
  return new DatabaseCorruptError(databaseName(db), (err as Error).message, { cause: err });
}

function databaseName(db: Database): string {
  try {
    return databaseIdentity(db).name;
  } catch {
    return '';
  }
}
