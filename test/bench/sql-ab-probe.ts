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
import { pushCreateStatement } from '../../libs/oversync/dist/push/push-session.service.js';
import { dropDatabase, freshDatabase, startBenchServer } from './bench-server.js';
import { fmt, percentile } from './stats.js';
import { readSyncCatalog } from './sync-catalog.js';

const variants = JSON.parse(process.argv[2] ?? '{"this":{}}') as Record<string, Record<string, string>>;
const iterations = Number(process.argv[3] ?? 500);
const rowsPerBundle = Number(process.env.PROBE_ROWS ?? 1);
const prefix = process.env.BENCH_DATABASE_PREFIX ?? 'sql_ab_probe';
const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REQUESTS = ['create', 'chunk', 'commit', 'pull'] as const;

/** `SELECT * FROM sync.push_chunk($1, …, $n)` */
const chunkCall = (n: number): string =>
  `SELECT * FROM sync.push_chunk(${Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ')})`;

interface Variant {
  name: string;
  database: string;
  client: pg.Client;
  pid: number;
  tableId: number;
  /** `push_chunk`'s arguments after the 13 every build takes (a build since #22's insert shape takes 14) */
  chunkExtra: unknown[];
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
    const { rows: chunkArity } = await client.query<{ n: number }>(
      `SELECT max(pronargs)::int AS n FROM pg_proc WHERE proname = 'push_chunk'`,
    );
    const variant: Variant = {
      name,
      database,
      client,
      pid,
      tableId: users.table_id,
      chunkExtra: chunkArity[0]!.n > 13 ? [null] : [],
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
    const sourceBundleId = ++v.sourceBundleId;
    const pushId = randomUUID();
    const now = new Date().toISOString();
    const ids = Array.from({ length: rowsPerBundle }, () => randomUUID());
    const payloads = ids.map(
      (id, i) =>
        `{"created_at":"${now}","email":"u${sourceBundleId}-${i}@example.com","id":"${id}","name":"User ` +
        `${sourceBundleId} ${i}","updated_at":"${now}"}`,
    );
    const create = pushCreateStatement({
      userId: 'probe-user',
      sourceId: 'a',
      sourceBundleId: BigInt(sourceBundleId),
      plannedRowCount: BigInt(rowsPerBundle),
      initializationId: '',
      pushId,
      sessionTtlMs: 60000,
      leaseTtlMs: 60000,
      lockTimeoutMs: 5000,
      uploadLockTimeoutMs: 0,
    });
    await call(v, 'create', measured, create.text, create.values!);
    await call(v, 'chunk', measured, chunkCall(13 + v.chunkExtra.length), [
      pushId,
      'probe-user',
      'a',
      0,
      ids.map(() => v.tableId),
      ids.map((id) => id.replaceAll('-', '')),
      ids.map(() => 1),
      ids.map(() => 0),
      payloads.join('\n'),
      60000,
      60000,
      5000,
      0,
      ...v.chunkExtra,
    ]);
    const { rows } = await call(
      v,
      'commit',
      measured,
      'SELECT * FROM sync.push_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
      [pushId, 'probe-user', 'a', 999, [], 'oversync_probe', 1000, 100, 60000, 5000, 0],
    );
    const pulled = await call(v, 'pull', measured, 'SELECT * FROM sync.pull($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
      'probe-user',
      'b',
      v.after,
      0,
      1000,
      ...v.prefixes,
      1000,
    ]);
    if (pulled.rows[0]?.bundle_seq !== rows[0].out_bundle_seq) throw new Error(`${v.name}: pull missed the bundle`);
    v.after = Number(rows[0].out_bundle_seq);
  };

  for (let i = 0; i < 50; i++) for (const v of up) await roundTrip(v, false);
  for (let i = 0; i < iterations; i++) for (const v of i % 2 ? [...up].reverse() : up) await roundTrip(v, true);

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
