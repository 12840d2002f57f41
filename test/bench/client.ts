// The client's local side, no server: writes through the capture triggers against raw
// better-sqlite3 inserts of the same rows into the same kind of database file (WAL), in one run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  EXAMPLE_DEVICE_DDL,
  EXAMPLE_SCHEMA_NAME,
  EXAMPLE_TABLES,
  OversqliteClient,
} from '../../apps/client-node/dist/index.js';
import { timeOrderedUserRows, userRows } from './sync-api.js';

type Row = ReturnType<typeof userRows>[number];

export interface ClientWritesResult {
  rows: number;
  rawInsertRowsPerSec: number;
  triggerInsertRowsPerSec: number;
  /** the same two rates by process CPU time (less sensitive to a loaded machine) */
  rawInsertRowsPerCpuSec: number;
  triggerInsertRowsPerCpuSec: number;
  /**
   * µs per row of a probe insert of `probeRows` rows with `pending` rows already queued (and as many in the table),
   * with random keys (UUIDv4, every other figure's rows) and with time-ordered keys (UUIDv7)
   */
  perRowMicros: {
    keys: 'random' | 'time-ordered';
    pending: number;
    probeRows: number;
    triggerMicros: number;
    rawMicros: number;
  }[];
}

/**
 * A device database file (WAL) with the example tables, the sync client opened on it or not, and
 * `write(rows)`: the wall ms to insert `rows` into users in one transaction (its CPU ms in `cpuMs()`).
 */
export async function localDevice(file: string, withSync: boolean) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(EXAMPLE_DEVICE_DDL);
  const client = withSync
    ? await OversqliteClient.open(db, {
        baseUrl: 'http://127.0.0.1:9',
        tokenProvider: () => 'unused',
        schema: EXAMPLE_SCHEMA_NAME,
        tables: EXAMPLE_TABLES,
      })
    : null;
  const insert = db.prepare('INSERT INTO users(id, name, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
  let cpuMs = 0;
  const write = (rows: Row[]) => {
    const t = performance.now();
    const cpu = process.cpuUsage();
    db.transaction(() => {
      for (const r of rows)
        insert.run(r.payload.id, r.payload.name, r.payload.email, r.payload.created_at, r.payload.updated_at);
    })();
    const used = process.cpuUsage(cpu);
    cpuMs = (used.user + used.system) / 1000;
    return performance.now() - t;
  };
  return { db, write, cpuMs: () => cpuMs, close: async () => (await client?.close(), db.close()) };
}

export async function measureClientWrites(options: {
  rows: number;
  pendingSizes: number[];
  probeRows: number;
}): Promise<ClientWritesResult> {
  const dir = mkdtempSync(join(tmpdir(), 'oversync-bench-client-'));
  let files = 0;
  const device = (withSync: boolean) => localDevice(join(dir, `device-${++files}.sqlite`), withSync);
  try {
    const rows = userRows(options.rows);
    const raw = await device(false);
    const rawMs = raw.write(rows);
    const rawCpuMs = raw.cpuMs();
    await raw.close();
    const synced = await device(true);
    const triggerMs = synced.write(rows);
    const triggerCpuMs = synced.cpuMs();
    const queued = (synced.db.prepare('SELECT count(*) AS n FROM _sync_dirty_rows').get() as { n: number }).n;
    if (queued !== rows.length) throw new Error(`captured ${queued} of ${rows.length} rows`);
    await synced.close();

    const perRowMicros: ClientWritesResult['perRowMicros'] = [];
    // a random key's insert touches a leaf anywhere in each key's B-tree (the table's and the queue's), a
    // time-ordered key's the last one: the two show what the growth with pending rows is made of
    for (const [keys, rowsOf] of [
      ['random', userRows],
      ['time-ordered', timeOrderedUserRows],
    ] as const) {
      for (const pending of options.pendingSizes) {
        const fill = async (withSync: boolean) => {
          const filled = await device(withSync);
          for (let done = 0; done < pending; done += 100_000) filled.write(rowsOf(Math.min(100_000, pending - done)));
          return filled;
        };
        const filled = await fill(true);
        const triggerMicros = (filled.write(rowsOf(options.probeRows)) * 1000) / options.probeRows;
        await filled.close();
        const plain = await fill(false);
        const rawMicros = (plain.write(rowsOf(options.probeRows)) * 1000) / options.probeRows;
        await plain.close();
        perRowMicros.push({ keys, pending, probeRows: options.probeRows, triggerMicros, rawMicros });
      }
    }
    const rate = (ms: number) => (rows.length / ms) * 1000;
    return {
      rows: rows.length,
      rawInsertRowsPerSec: rate(rawMs),
      triggerInsertRowsPerSec: rate(triggerMs),
      rawInsertRowsPerCpuSec: rate(rawCpuMs),
      triggerInsertRowsPerCpuSec: rate(triggerCpuMs),
      perRowMicros,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
