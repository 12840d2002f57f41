/** One client per SQLite database per process (spec/client.md §0.4). */
import type { Database } from 'better-sqlite3';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { DatabaseAlreadyOwnedError } from './errors.js';

const owners = new Map<string, object>();
const inMemoryIds = new WeakMap<Database, number>();
let nextInMemoryId = 1;

/** `sqlite:<absolute real path>` for files, `in-memory:<n>` per handle for in-memory databases. */
export function databaseIdentity(db: Database): { key: string; name: string } {
  let file: string;
  try {
    const main = (db.pragma('database_list') as { name: string; file: string }[]).find((row) => row.name === 'main');
    file = main?.file ?? '';
  } catch (err) {
    throw new Error(`failed to inspect SQLite database identity: ${(err as Error).message}`, { cause: err });
  }
  if (!file) {
    let id = inMemoryIds.get(db);
    if (id === undefined) {
      id = nextInMemoryId++;
      inMemoryIds.set(db, id);
    }
    return { key: `in-memory:${id}`, name: '' };
  }
  let path = file;
  if (!path.startsWith('file:')) {
    path = resolve(path);
    try {
      path = realpathSync(path);
    } catch {
      // A path that cannot be resolved further is used as is.
    }
  }
  return { key: `sqlite:${path}`, name: path };
}

/** Claims the database for `owner`; throws `DatabaseAlreadyOwnedError` when another client holds it. */
export function claimDatabase(db: Database, owner: object): string {
  const { key, name } = databaseIdentity(db);
  const current = owners.get(key);
  if (current && current !== owner) throw new DatabaseAlreadyOwnedError(name);
  owners.set(key, owner);
  return key;
}

export function releaseDatabase(key: string, owner: object): void {
  if (owners.get(key) === owner) owners.delete(key);
}

/** Hands a claim from a placeholder owner to the client that was built under it. */
export function transferOwnership(key: string, from: object, to: object): void {
  if (owners.get(key) === from) owners.set(key, to);
}
