// A local write's cost with many rows already pending: CPU µs and bytes written (write() calls: WAL
// frames, checkpoints) per row of a 10,000-row insert, through the capture triggers or raw.
//   npx tsx test/bench/local-writes-probe.ts <pending rows> <cache KiB | default> <sync | raw>
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  EXAMPLE_DEVICE_DDL,
  EXAMPLE_SCHEMA_NAME,
  EXAMPLE_TABLES,
  OversqliteClient,
} from '../../apps/client-node/dist/index.js';
import { userRows } from './sync-api.js';

const [pendingArg = '1000', cacheArg = 'default', mode = 'sync'] = process.argv.slice(2);
const pending = Number(pendingArg);
const dir = mkdtempSync(join(tmpdir(), 'oversync-writes-probe-'));
const db = new Database(join(dir, 'device.sqlite'));
db.pragma('journal_mode = WAL');
if (cacheArg !== 'default') db.pragma(`cache_size = -${Number(cacheArg)}`);
db.exec(EXAMPLE_DEVICE_DDL);
const client =
  mode === 'sync'
    ? await OversqliteClient.open(db, {
        baseUrl: 'http://127.0.0.1:9',
        tokenProvider: () => 'unused',
        schema: EXAMPLE_SCHEMA_NAME,
        tables: EXAMPLE_TABLES,
      })
    : null;
const insert = db.prepare('INSERT INTO users(id, name, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
const writtenBytes = () => Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
/** CPU µs per row of one transaction inserting `rows` */
const write = (rows: ReturnType<typeof userRows>) => {
  const cpu = process.cpuUsage();
  db.transaction(() => {
    for (const r of rows)
      insert.run(r.payload.id, r.payload.name, r.payload.email, r.payload.created_at, r.payload.updated_at);
  })();
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / rows.length;
};
for (let done = 0; done < pending; done += 100_000) write(userRows(Math.min(100_000, pending - done)));
const before = writtenBytes();
const micros = write(userRows(10_000));
const bytes = (writtenBytes() - before) / 10_000;
console.log(
  `${mode} with ${pending} rows pending, cache ${cacheArg}: ${micros.toFixed(2)} µs CPU and ` +
    `${bytes.toFixed(0)} bytes written per row`,
);
await client?.close();
db.close();
rmSync(dir, { recursive: true, force: true });
