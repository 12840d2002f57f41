// Issue 21 probe: the request functions of a 1-row bundle called directly on one pg connection (no
// HTTP), as the server calls them (named prepared statements, autocommit). Prints per call the
// client-side round trip (median / p95 of `N` iterations) and, from `track_functions = 'all'`, the
// server-side time per function (including nested ones and the trigger functions), and the CPU time
// the backend spent per call (/proc/<pid>/stat, summed over the iterations: robust on a loaded machine).
// `npx tsx test/bench/sql-probe.ts` (DATABASE_URL: the server; a database sql_probe is created and dropped).
// `--explain`: one more iteration with auto_explain of every nested statement: per request, the statements it
// executed (those of the functions and triggers, the foreign-key checks and cascades PostgreSQL runs for them) with
// their executor time; PROBE_EXPLAIN_PLANS=1 prints their plans too.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { dropDatabase, freshDatabase, startBenchServer } from './bench-server.js';
import { probeRoundTrip, pushChunkArity, readSyncCatalog } from './sql-probe-calls.js';

const N = Number(process.env.PROBE_N ?? 300);
const PROBE_DB = process.env.PROBE_DB ?? 'sql_probe';
// PROBE_ROWS: rows per bundle (default 1)
const rowsPerBundle = Number(process.env.PROBE_ROWS ?? 1);
// PROBE_SYNC_COMMIT=off: the session's synchronous_commit (what the commit's flush costs); `--explain` prints each
// statement's WAL too
const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const url = await freshDatabase(admin, PROBE_DB);
const server = await startBenchServer({ DATABASE_URL: url });
await server.stop();

const client = new pg.Client({ connectionString: url });
await client.connect();
if (process.env.PROBE_SYNC_COMMIT)
  await client.query(`SELECT set_config('synchronous_commit', $1, false)`, [process.env.PROBE_SYNC_COMMIT]);
// PROBE_SESSION_SQL: statements run once on the probe's session first (e.g. `SET session_replication_role = replica`:
// what the foreign-key checks cost)
if (process.env.PROBE_SESSION_SQL) await client.query(process.env.PROBE_SESSION_SQL);
const backendPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
/** utime + stime of the backend, in ms (clock ticks of 10 ms). */
const cpuMs = () => {
  const fields = readFileSync(`/proc/${backendPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const cpu: Record<string, number> = {};
const q = async (name: string, text: string, values: unknown[]) => {
  const before = cpuMs();
  const result = await client.query({ name, text, values });
  cpu[name] = (cpu[name] ?? 0) + cpuMs() - before;
  return result;
};
try {
  const { rows: tables } = await client.query<{ table_id: number; key_kind: number }>(
    `SELECT table_id, sync_key_kind AS key_kind FROM sync.table_catalog WHERE schema_name = 'business'
      AND table_name = 'users'`,
  );
  const { pullPrefixes: prefixes } = await readSyncCatalog(client);
  const chunkArity = await pushChunkArity(client);
  const tableId = tables[0]!.table_id;
  const user = 'probe-user';
  for (const source of ['a', 'b'])
    await q('connect', 'SELECT * FROM sync.connect($1, $2, $3, $4::uuid, $5, $6)', [
      user,
      source,
      false,
      randomUUID(),
      60000,
      5000,
    ]);

  const times: Record<string, number[]> = { push_create: [], push_chunk: [], push_commit: [], pull: [], total: [] };
  const stages: number[][] = [];
  let sourceBundleId = 0;
  let after = 0;
  const once = async () => {
    sourceBundleId++;
    const calls = probeRoundTrip({
      user,
      tableId,
      sourceBundleId,
      rows: rowsPerBundle,
      chunkArity,
      pullPrefixes: prefixes,
      after,
    });
    const t0 = performance.now();
    await q('create', calls.create.text, calls.create.values);
    const t1 = performance.now();
    await q('chunk', calls.chunk.text, calls.chunk.values);
    const t2 = performance.now();
    const { rows } = await q('commit', calls.commit.text, calls.commit.values);
    const t3 = performance.now();
    stages.push(rows[0].out_stage_ms as number[]);
    const pulled = await q('pull', calls.pull.text, calls.pull.values);
    const t4 = performance.now();
    if (pulled.rows[0]?.bundle_seq !== rows[0].out_bundle_seq) throw new Error('pull did not return the bundle');
    after = Number(rows[0].out_bundle_seq);
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0];
  };
  for (let i = 0; i < 30; i++) await once();
  await client.query(`SET track_functions = 'all'`);
  await client.query('SELECT pg_stat_reset()');
  for (const name of Object.keys(cpu)) cpu[name] = 0;
  for (let i = 0; i < N; i++) {
    const ts = await once();
    Object.values(times).forEach((list, j) => list.push(ts[j]!));
  }
  await client.query(`SET track_functions = 'none'`);
  const pct = (list: number[], p: number) => [...list].sort((a, b) => a - b)[Math.floor((list.length - 1) * p)]!;
  console.log(`round trip per call (ms), ${N} iterations: p50 / p95`);
  for (const [name, list] of Object.entries(times))
    console.log(`  ${name.padEnd(14)} ${pct(list, 0.5).toFixed(3)} / ${pct(list, 0.95).toFixed(3)}`);
  const stageNames = [
    'lock',
    'stage',
    'conflicts',
    'apply',
    'capture',
    'canonicalize',
    'hash',
    'finalize',
    'retention',
  ];
  const measured = stages.slice(-N);
  console.log(
    `push_commit stages (ms, p50): ${stageNames
      .map(
        (name, i) =>
          `${name} ${pct(
            measured.map((s) => s[i]!),
            0.5,
          ).toFixed(3)}`,
      )
      .join(', ')}`,
  );
  console.log('backend CPU per call (ms, mean):');
  for (const [name, total] of Object.entries(cpu))
    if (name !== 'connect') console.log(`  ${name.padEnd(14)} ${(total / N).toFixed(3)}`);
  await new Promise((r) => setTimeout(r, 1500));
  const { rows: stats } = await client.query<{ f: string; calls: string; total: number; self: number }>(
    `SELECT schemaname || '.' || funcname AS f, calls, total_time / NULLIF(calls, 0) AS total,
            self_time / NULLIF(calls, 0) AS self FROM pg_stat_user_functions ORDER BY total_time DESC`,
  );
  console.log('server side per call (ms, mean): total / self, calls');
  for (const s of stats)
    console.log(`  ${s.f.padEnd(44)} ${(s.total ?? 0).toFixed(3)} / ${(s.self ?? 0).toFixed(3)}  ${s.calls}`);
  if (process.argv.includes('--explain')) {
    await client.query(`LOAD 'auto_explain'`);
    await client.query(
      `SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET ` +
        `auto_explain.log_analyze = on; SET auto_explain.log_level = 'notice'; SET auto_explain.log_triggers = ` +
        `on; SET auto_explain.log_wal = on`,
    );
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    await once();
    // PROBE_EXPLAIN_PLANS=1: every statement's plan as auto_explain logged it
    if (process.env.PROBE_EXPLAIN_PLANS) for (const notice of notices) console.log(notice);
    printStatementCounts(notices);
  }
} finally {
  await client.end();
  // PROBE_KEEP=1: the database stays for a look afterwards
  if (!process.env.PROBE_KEEP) await dropDatabase(admin, PROBE_DB);
}

/**
 * The statements of each request function call from auto_explain's notices (`log_nested_statements`: a statement
 * is logged when it ends, so a call's nested statements come before it): counted by kind, each listed with its
 * executor time (ms, wall; not its ExecutorStart) except the foreign-key checks, which are summed.
 */
function printStatementCounts(notices: string[]): void {
  let nested: Array<{ ms: number; text: string }> = [];
  console.log('statements per request (auto_explain, one round trip):');
  for (const notice of notices) {
    const ms = Number(/^duration: ([\d.]+) ms/.exec(notice)?.[1] ?? NaN);
    const query = /Query Text: ([\s\S]*?)\n[^\n]*\(cost=/.exec(notice)?.[1] ?? '';
    const text = query.replace(/\s+/g, ' ').trim();
    const call = /^SELECT \* FROM sync\.(\w+)\(\$1/.exec(text);
    if (!call) {
      nested.push({ ms, text });
      continue;
    }
    const fk = nested.filter((s) => s.text.endsWith('FOR KEY SHARE OF x'));
    const cascades = nested.filter((s) => s.text.startsWith('DELETE FROM ONLY'));
    const own = nested.filter((s) => !fk.includes(s) && !cascades.includes(s));
    const sum = (list: Array<{ ms: number }>) => list.reduce((total, s) => total + s.ms, 0).toFixed(3);
    console.log(
      `  ${call[1]}: ${nested.length} statements = ${own.length} of functions and triggers + ${fk.length} ` +
        `foreign-key checks (${sum(fk)} ms) + ${cascades.length} cascades; the call ${ms.toFixed(3)} ms`,
    );
    for (const s of [...own, ...cascades]) console.log(`    ${s.ms.toFixed(3)}  ${s.text.slice(0, 100)}`);
    nested = [];
  }
}
