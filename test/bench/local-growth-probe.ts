// What a local write's growth with the queue is made of (#23): per row of successive 10,000-row inserts into
// `users` (one transaction each, as client.ts's probe) after filling `pending` rows in the same connection:
// wall µs, user and system CPU µs, bytes read and written by the process (/proc/self/io: leaf misses, WAL
// frames, checkpoint copies).
//   npx tsx test/bench/local-growth-probe.ts <mode> <pending> [step …]
// mode: `sync` (the client's capture triggers), `raw` (no trigger), or `q-<layout>`: no sync client, a
// minimal AFTER INSERT trigger writing the queue's row into a table of `_sync_dirty_rows`' columns laid out
// as `LAYOUTS` says. Each step is one measured insert after its pragmas (`a=1,b=2`; `-` for none), or `ckpt`:
// a `wal_checkpoint(PASSIVE)` measured instead (after `wal_autocheckpoint=0`, the write's checkpoint alone).
// Default steps: three plain inserts. Env: PRAGMAS (set before the fill, e.g. `cache_size=-262144`),
// PAGE_SIZE (the file's page size, before any table), KEYS=v7 (time-ordered UUIDv7 keys instead of random v4).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { localDevice } from './client.js';
import { timeOrderedUserRows, userRows } from './sync-api.js';

const COLUMNS = `schema_name TEXT NOT NULL, table_name TEXT NOT NULL, key_json TEXT NOT NULL,
  op TEXT NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')), base_row_version INTEGER NOT NULL DEFAULT 0,
  payload TEXT, dirty_ordinal INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

const LAYOUTS: Record<string, string> = {
  // the normative DDL: rowid table (appended), the key's autoindex (random), the ordinal index (appended)
  norm: `CREATE TABLE queue_rows (${COLUMNS}, PRIMARY KEY (schema_name, table_name, key_json));
    CREATE INDEX queue_rows_ordinal ON queue_rows(dirty_ordinal);`,
  noord: `CREATE TABLE queue_rows (${COLUMNS}, PRIMARY KEY (schema_name, table_name, key_json));`,
  // the whole row in the key's B-tree
  wor: `CREATE TABLE queue_rows (${COLUMNS}, PRIMARY KEY (schema_name, table_name, key_json)) WITHOUT ROWID;
    CREATE INDEX queue_rows_ordinal ON queue_rows(dirty_ordinal);`,
  // a smaller unique key: (table_name, key_json)
  keyonly: `CREATE TABLE queue_rows (${COLUMNS});
    CREATE UNIQUE INDEX queue_rows_key ON queue_rows(table_name, key_json);`,
  // 8 characters of the key, not unique (not shippable): what a much smaller key index would save
  small: `CREATE TABLE queue_rows (${COLUMNS});
    CREATE INDEX queue_rows_ordinal ON queue_rows(dirty_ordinal);
    CREATE INDEX queue_rows_key8 ON queue_rows(substr(key_json, 8, 8));`,
  // no key index at all (appends only; no coalescing possible): the bound of any layout
  nokey: `CREATE TABLE queue_rows (${COLUMNS});
    CREATE INDEX queue_rows_ordinal ON queue_rows(dirty_ordinal);`,
};

const [mode = 'sync', pendingArg = '1000', ...stepArgs] = process.argv.slice(2);
const pending = Number(pendingArg);
const rowsOf = process.env.KEYS === 'v7' ? timeOrderedUserRows : userRows;
const steps = stepArgs.length ? stepArgs : ['-', '-', '-'];
const pragmas = (process.env.PRAGMAS ?? '').split(',').filter(Boolean);
const dir = mkdtempSync(join(tmpdir(), 'oversync-growth-probe-'));
const file = join(dir, 'device.sqlite');
if (process.env.PAGE_SIZE) {
  const db = new Database(file);
  db.pragma(`page_size = ${Number(process.env.PAGE_SIZE)}`);
  db.exec('CREATE TABLE page_size_probe (x); DROP TABLE page_size_probe');
  db.close();
}
const device = await localDevice(file, mode === 'sync');
for (const p of pragmas) device.db.pragma(p);
const layout = /^q-(\w+)$/.exec(mode)?.[1];
if (layout) {
  if (!LAYOUTS[layout]) throw new Error(`layouts: ${Object.keys(LAYOUTS).join(', ')}`);
  // as the sync client's open sets it: the trigger's statement journal in memory
  device.db.pragma('temp_store = MEMORY');
  device.db.exec(`${LAYOUTS[layout]}
    CREATE TRIGGER queue_users AFTER INSERT ON users BEGIN
      INSERT INTO queue_rows VALUES ('business', 'users', json_object('id', NEW.id), 'INSERT', 0,
        json_object('id', NEW.id, 'name', NEW.name, 'email', NEW.email, 'created_at', NEW.created_at,
          'updated_at', NEW.updated_at), NEW.rowid, strftime('%Y-%m-%dT%H:%M:%fZ','now'));
    END;`);
}
const io = () => {
  const text = readFileSync('/proc/self/io', 'utf8');
  return { read: Number(/rchar: (\d+)/.exec(text)![1]), written: Number(/wchar: (\d+)/.exec(text)![1]) };
};
const fillStart = performance.now();
for (let done = 0; done < pending; done += 100_000) device.write(rowsOf(Math.min(100_000, pending - done)));
const fillMs = performance.now() - fillStart;
const lines: string[] = [];
for (const step of steps) {
  const checkpoint = step === 'ckpt';
  if (!checkpoint) for (const p of step.split(',')) if (p !== '-') device.db.pragma(p);
  const rows = rowsOf(10_000);
  const before = io();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const wall = checkpoint
    ? (device.db.pragma('wal_checkpoint(PASSIVE)'), performance.now() - start)
    : device.write(rows);
  const used = process.cpuUsage(cpu);
  const after = io();
  const per = (n: number, digits: number) => (n / rows.length).toFixed(digits);
  lines.push(
    `${step.padEnd(40)} wall ${per(wall * 1000, 2)} usr ${per(used.user, 2)} sys ${per(used.system, 2)} ` +
      `read ${per(after.read - before.read, 0)} B written ${per(after.written - before.written, 0)} B`,
  );
}
const pageCount = device.db.pragma('page_count', { simple: true }) as number;
const pageSize = device.db.pragma('page_size', { simple: true }) as number;
console.log(
  `${mode} ${pending} [${pragmas.join(' ')}] fill ${(fillMs / 1000).toFixed(1)} s, ${pageCount} pages of ${pageSize} B`,
);
console.log(`  ${lines.join('\n  ')}`);
await device.close();
rmSync(dir, { recursive: true, force: true });
