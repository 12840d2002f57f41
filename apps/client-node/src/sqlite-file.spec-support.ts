import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from '@jest/globals';
import Database from 'better-sqlite3';

/** SQLite database files for unit specs, in one temp folder removed after the suite. */
export function sqliteFiles(): { open(name?: string): { db: Database.Database; path: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'oversqlite-spec-'));
  const opened: Database.Database[] = [];
  let count = 0;
  afterAll(() => {
    for (const db of opened) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    open(name = `device-${++count}.sqlite`) {
      const path = join(dir, name);
      const db = new Database(path);
      opened.push(db);
      return { db, path };
    },
  };
}
