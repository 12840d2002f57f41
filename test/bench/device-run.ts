// One device in its own process, so its peak RSS is its own: `tsx test/bench/device-run.ts <json args>`.
// Prints one JSON line: { ms, rows, peakRssMiB }.
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { EXAMPLE_DEVICE_DDL, EXAMPLE_SCHEMA_NAME, EXAMPLE_TABLES, OversqliteClient } from '../../apps/client-node/dist/index.js';

const args = JSON.parse(process.argv[2] ?? '{}') as { baseUrl: string; token: string; user: string; mode: 'hydrate' | 'pull'; ready?: string };
const db = new Database(':memory:');
db.exec(EXAMPLE_DEVICE_DDL);
const client = await OversqliteClient.open(db, {
  baseUrl: args.baseUrl,
  tokenProvider: () => args.token,
  schema: EXAMPLE_SCHEMA_NAME,
  tables: EXAMPLE_TABLES,
  snapshotChunkRows: 5000,
  downloadLimit: 1000,
});
let ms: number;
if (args.mode === 'hydrate') {
  const t = performance.now();
  await client.attach(args.user);
  ms = performance.now() - t;
} else {
  await client.attach(args.user);
  process.stdout.write('attached\n');
  // wait for the parent to push, then pull everything into SQLite
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const t = performance.now();
  await client.pullToStable();
  ms = performance.now() - t;
}
const rows = (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
await client.close();
process.stdout.write(`${JSON.stringify({ ms, rows, peakRssMiB: peakKiB / 1024 })}\n`);
process.exit(0);
