// Issue 21 probe: where the database backends' CPU of the many-devices load goes (`everydayDevices`: 4 client
// processes × 12 users, 5-row bundles). Starts this build's server on a fresh database, warms up, then runs the load
// while `perf record` (cpu-clock, call graphs; hardware counters are not available here) samples the backends of that
// database (pg_stat_activity), and prints the share of the samples under named PostgreSQL functions (inclusive) —
// executor setup, trigger queues, foreign-key checks, commit, … — beside the CPU per cycle from /proc. The Debian
// binary has only its exported symbols: static functions (and PL/pgSQL's) count in their nearest exported caller.
// `DATABASE_URL=<admin url> npx tsx test/bench/backends-perf-probe.ts [seconds]` (root or perf_event_paranoid ≤ 1);
// BACKENDS_PERF_DB names the database (default backends_perf, dropped at the end), BACKENDS_PERF_FRAMES adds frames
// (comma-separated).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { dropDatabase, freshDatabase, processCpuMs, startBenchServer } from './bench-server.js';
import { everydayDevices } from './many-devices-phase.js';
import { runUser } from './everyday.js';
import { fmt } from './stats.js';

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');
const seconds = Number(process.argv[2] ?? 20);
const db = process.env.BACKENDS_PERF_DB ?? 'backends_perf';
/** Frames whose inclusive share is printed, with what they stand for. */
const FRAMES: Array<[frame: string, meaning: string]> = [
  ['fmgr_security_definer', 'request functions (called through their SET clauses)'],
  ['SPI_execute_plan_with_paramlist', 'their SQL statements (PL/pgSQL)'],
  ['standard_ExecutorStart', 'executor setup'],
  ['ExecInitExprWithParams', "PL/pgSQL simple expressions' setup"],
  ['AfterTriggerEndQuery', 'after-trigger queues at statement end'],
  ['SPI_execute_snapshot', 'of it foreign-key checks (and cascades)'],
  ['plpgsql_exec_trigger', 'PL/pgSQL trigger functions'],
  ['SPI_execute_extended', 'dynamic EXECUTE (the apply of the prepared INSERT)'],
  ['ExecConstraints', 'CHECK constraints'],
  ['stringToNode', 'of them reading stored expressions back'],
  ['ExecInsertIndexTuples', 'index inserts'],
  ['index_getnext_slot', 'index scans'],
  ['GetCachedPlan', 'plan cache lookups and their locks'],
  ['LockAcquireExtended', 'lock acquisition'],
  ['CommitTransactionCommand', 'transaction commit'],
  ['XLogFlush', 'of it WAL flush'],
  ['ProcessGUCArray', 'SET clauses applied'],
  ['AtEOXact_GUC', 'settings restored'],
  ['pq_getbyte', 'protocol: reading the next message'],
  ['standard_planner', 'planning'],
  ...(process.env.BACKENDS_PERF_FRAMES ?? '')
    .split(',')
    .filter(Boolean)
    .map((frame): [string, string] => [frame, '']),
];

/** Inclusive sample count per frame of `perf script` output (a frame counts once per sample). */
function inclusiveShares(script: string): { samples: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  let samples = 0;
  for (const block of script.split(/\n\s*\n/)) {
    const seen = new Set<string>();
    for (const line of block.split('\n')) {
      const symbol = /^\s+[0-9a-f]+ ([^+ ]+)/.exec(line)?.[1];
      if (symbol) seen.add(symbol);
    }
    if (seen.size === 0) continue;
    samples++;
    for (const symbol of seen) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
  }
  return { samples, counts };
}

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const server = await startBenchServer({ DATABASE_URL: await freshDatabase(adminUrl, db) });
const dir = mkdtempSync(join(tmpdir(), 'backends-perf-'));
try {
  await everydayDevices(server, runUser('warm'), 5);
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db]);
  const before = rows.map((r) => processCpuMs(r.pid));
  const data = join(dir, 'perf.data');
  const perf = spawn(
    'perf',
    ['record', '-e', 'cpu-clock', '-F', '2000', '-g', '-o', data, '-p', rows.map((r) => r.pid).join(',')],
    {
      stdio: 'ignore',
    },
  );
  const result = await everydayDevices(server, runUser('perf'), seconds);
  perf.kill('SIGINT');
  await new Promise((resolve) => perf.once('exit', resolve));
  const cpuMs = rows.reduce((sum, r, i) => sum + processCpuMs(r.pid) - before[i]!, 0);
  const cycles = result.bundlesPerSec * seconds;
  const script = spawnSync('perf', ['script', '-i', data], { encoding: 'utf8', maxBuffer: 2 ** 31 - 1 }).stdout;
  const { samples, counts } = inclusiveShares(script);
  console.log(
    `${fmt(result.bundlesPerSec, 1)} b/s, ${rows.length} backends, CPU per cycle ${fmt(cpuMs / cycles, 2)} ms ` +
      `(perf's own overhead included), ${samples} samples`,
  );
  for (const [frame, meaning] of FRAMES) {
    const share = (counts.get(frame) ?? 0) / samples;
    console.log(
      `${(share * 100).toFixed(1).padStart(5)} %  ${fmt((share * cpuMs) / cycles, 3)} ms/cycle  ${frame}  ${meaning}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
  await dropDatabase(adminUrl, db);
  await admin.end();
}
