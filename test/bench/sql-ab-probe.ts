// Issue 21 probe: the request functions of a small bundle (push create, chunk, commit, pull on another
// source) of two or more builds, called directly on one pg connection each (no HTTP) and interleaved
// one round trip at a time, each build on a database of its own bootstrapped by that build's server.
// Prints per request the database backend's CPU per call (ns from /proc/<pid>/schedstat: exact on a
// loaded machine, where wall time is not) and the wall time (p50 / p95).
// `DATABASE_URL=<admin url> tsx test/bench/sql-ab-probe.ts '<variants json>' [iterations]`, variants as
// `{"base":{"BENCH_SERVER_CWD":"/work/main"},"this":{}}`; PROBE_ROWS rows per bundle (default 1); a
// variant's PROBE_SQL runs on its database after the bootstrap; BENCH_DATABASE_PREFIX names the databases
// (`<prefix>_<variant>`, dropped at the end unless PROBE_KEEP).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { dropDatabase, freshDatabase, startBenchServer } from './bench-server.js';
import { fmt, percentile } from './stats.js';
import { probeRoundTrip, pushChunkArity, readSyncCatalog } from './sql-probe-calls.js';

const variants = JSON.parse(process.argv[2] ?? '{"this":{}}') as Record<string, Record<string, string>>;
const iterations = Number(process.argv[3] ?? 500);
const rowsPerBundle = Number(process.env.PROBE_ROWS ?? 1);
const prefix = process.env.BENCH_DATABASE_PREFIX ?? 'sql_ab_probe';
const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REQUESTS = ['create', 'chunk', 'commit', 'pull'] as const;

interface Variant {
  name: string;
  database: string;
  client: pg.Client;
  pid: number;
  tableId: number;
  /** `push_chunk`'s argument count in this build (13 before #22's insert shape, 14 after) */
  chunkArity: number;
  prefixes: unknown[];
  sourceBundleId: number;
  after: number;
  wall: Record<string, number[]>;
  cpu: Record<string, number[]>;
}

/** CPU time of a backend in ns (schedstat: on-CPU time). */
const cpuNs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);

const up: Variant[] = [];
try {
  for (const [name, env] of Object.entries(variants)) {
    const database = `${prefix}_${name}`;
    const url = await freshDatabase(admin, database);
    const server = await startBenchServer({ ...env, DATABASE_URL: url });
    await server.stop();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // PROBE_SQL of a variant: statements run on its database after the bootstrap (an experiment on the functions)
    if (env.PROBE_SQL) await client.query(env.PROBE_SQL);
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const { tables: all, pullPrefixes } = await readSyncCatalog(client);
    const users = all.find((t) => t.schema_name === 'business' && t.table_name === 'users')!;
    const variant: Variant = {
      name,
      database,
      client,
      pid,
      tableId: users.table_id,
      chunkArity: await pushChunkArity(client),
      prefixes: pullPrefixes,
      sourceBundleId: 0,
      after: 0,
      wall: Object.fromEntries(REQUESTS.map((r) => [r, []])),
      cpu: Object.fromEntries(REQUESTS.map((r) => [r, []])),
    };
    up.push(variant);
    for (const source of ['a', 'b'])
      await client.query('SELECT * FROM sync.connect($1, $2, $3, $4::uuid, $5, $6)', [
        'probe-user',
        source,
        false,
        randomUUID(),
        60000,
        5000,
      ]);
  }

  const call = async (v: Variant, request: string, measured: boolean, text: string, values: unknown[]) => {
    const cpu0 = cpuNs(v.pid);
    const t0 = performance.now();
    const result = await v.client.query({ name: request, text, values });
    const t1 = performance.now();
    if (measured) {
      v.wall[request]!.push(t1 - t0);
      v.cpu[request]!.push((cpuNs(v.pid) - cpu0) / 1e6);
    }
    return result;
  };

  const roundTrip = async (v: Variant, measured: boolean) => {
    const calls = probeRoundTrip({
      user: 'probe-user',
      tableId: v.tableId,
      sourceBundleId: ++v.sourceBundleId,
      rows: rowsPerBundle,
      chunkArity: v.chunkArity,
      pullPrefixes: v.prefixes,
      after: v.after,
    });
    await call(v, 'create', measured, calls.create.text, calls.create.values);
    await call(v, 'chunk', measured, calls.chunk.text, calls.chunk.values);
    const { rows } = await call(v, 'commit', measured, calls.commit.text, calls.commit.values);
    const pulled = await call(v, 'pull', measured, calls.pull.text, calls.pull.values);
    if (pulled.rows[0]?.bundle_seq !== rows[0].out_bundle_seq) throw new Error(`${v.name}: pull missed the bundle`);
    v.after = Number(rows[0].out_bundle_seq);
  };

  for (let i = 0; i < 50; i++) for (const v of up) await roundTrip(v, false);
  // Each round trip starts at the next variant (rotation): a variant that ran last and first again in a row (as
  // the ends did when every other round ran in reverse) found its caches warm, and the middle ones paid for it
  // (four variants of one build, 400 round trips: create 0.327 / 0.377 / 0.374 / 0.331 ms, round trip +3-5 %).
  for (let i = 0; i < iterations; i++)
    for (const v of [...up.slice(i % up.length), ...up.slice(0, i % up.length)]) await roundTrip(v, true);

  const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;
  console.log(`${iterations} round trips per variant, ${rowsPerBundle} row(s) per bundle, interleaved`);
  console.log('backend CPU per call, mean / p50 (ms); wall p50 / p95 (ms)');
  for (const request of REQUESTS) {
    console.log(`  ${request}`);
    for (const v of up)
      console.log(
        `    ${v.name.padEnd(10)} cpu ${fmt(mean(v.cpu[request]!), 3)} / ${fmt(percentile(v.cpu[request]!, 50), 3)}` +
          `   wall ${fmt(percentile(v.wall[request]!, 50), 3)} / ${fmt(percentile(v.wall[request]!, 95), 3)}`,
      );
  }
  for (const v of up) {
    const total = REQUESTS.reduce((sum, r) => sum + mean(v.cpu[r]!), 0);
    console.log(`  round trip ${v.name.padEnd(10)} cpu ${fmt(total, 3)} ms`);
  }
} finally {
  for (const v of up) {
    await v.client.end();
    if (!process.env.PROBE_KEEP) await dropDatabase(admin, v.database);
  }
}
