// A local write's cost with many rows already pending: CPU µs and bytes written (write() calls: WAL
// frames, checkpoints) per row of a 10,000-row insert, through the capture triggers or raw.
//   npx tsx test/bench/local-writes-probe.ts <pending rows> <cache KiB | default> <sync | raw | queue>
// `queue`: no sync client, a minimal AFTER INSERT trigger that writes each row into a table of
// `_sync_dirty_rows`' normative DDL and ordinal index (what the queue's rows cost by themselves);
// sync − queue is what the capture triggers add (guards, WHEN, row-state lookups, next ordinal, upsert).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDevice } from './client.js';
import { userRows } from './sync-api.js';

const [pendingArg = '1000', cacheArg = 'default', mode = 'sync'] = process.argv.slice(2);
const pending = Number(pendingArg);
const dir = mkdtempSync(join(tmpdir(), 'oversync-writes-probe-'));
const device = await localDevice(join(dir, 'device.sqlite'), mode === 'sync');
if (cacheArg !== 'default') device.db.pragma(`cache_size = -${Number(cacheArg)}`);
if (mode === 'queue') {
  // as the sync client's open sets it: the trigger's statement journal in memory, not in a temp file
  device.db.pragma('temp_store = MEMORY');
  device.db.exec(`CREATE TABLE queue_rows (schema_name TEXT NOT NULL, table_name TEXT NOT NULL, key_json TEXT NOT NULL,
      op TEXT NOT NULL CHECK (op IN ('INSERT','UPDATE','DELETE')), base_row_version INTEGER NOT NULL DEFAULT 0,
      payload TEXT, dirty_ordinal INTEGER NOT NULL DEFAULT 0,
      updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
      PRIMARY KEY (schema_name, table_name, key_json));
    CREATE INDEX queue_rows_ordinal ON queue_rows(dirty_ordinal);
    CREATE TRIGGER queue_users AFTER INSERT ON users BEGIN
      INSERT INTO queue_rows VALUES ('business', 'users', json_object('id', NEW.id), 'INSERT', 0,
        json_object('id', NEW.id, 'name', NEW.name, 'email', NEW.email, 'created_at', NEW.created_at,
          'updated_at', NEW.updated_at), NEW.rowid, strftime('%Y-%m-%dT%H:%M:%fZ','now'));
    END;`);
}
const writtenBytes = () => Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
for (let done = 0; done < pending; done += 100_000) device.write(userRows(Math.min(100_000, pending - done)));
const before = writtenBytes();
device.write(userRows(10_000));
const micros = (device.cpuMs() * 1000) / 10_000;
const bytes = (writtenBytes() - before) / 10_000;
console.log(
  `${mode} with ${pending} rows pending, cache ${cacheArg}: ${micros.toFixed(2)} µs CPU and ` +
    `${bytes.toFixed(0)} bytes written per row`,
);
await device.close();
rmSync(dir, { recursive: true, force: true });
