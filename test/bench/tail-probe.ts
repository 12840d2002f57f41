// Issue 21 probe: what the slow 1-row round trips (create + chunk + commit + pull on another device, as the
// bench's latency phase) are made of. Each request's wall time is split into its time in pg queries, the rest
// of the server's time (tail-preload.mjs marks its arrival and answer) and the time outside the server (this
// client, the loopback, scheduling); the server's and this client's GC pauses are laid beside the slowest
// 5 %, and the server's CPU (main thread, other threads: V8's compilers and GC helpers) is shown per 100
// round trips, so a warm-up still under way in the measured window shows.
// `DATABASE_URL=<admin url> tsx test/bench/tail-probe.ts [round trips] ['<variants json>']`; variants as in
// request-cpu-probe.ts (`{"base":{"BENCH_SERVER_CWD":"/work/main"},"this":{}}`), interleaved one round trip
// at a time (a variant's TAIL_PROBE_PG_SOCKET_DIR=/var/run/postgresql: its server on PostgreSQL's Unix
// socket instead of the URL's TCP address). TAIL_PROBE_EMPTY_FIRST empty requests first (the bench's floor
// phase runs 1,100 before its latency phase); TAIL_PROBE_WARM_UP unmeasured round trips (default a tenth, as
// the bench); TAIL_PROBE_DUMP=1 lists the slowest; TAIL_PROBE_HEAP_FILE=<path> writes the server's
// allocation profile of the measured part (`<path>.<variant>`), TAIL_PROBE_CPU_FILE its CPU profile;
// TAIL_PROBE_SQL=1 also runs the same four statements straight on one pg connection to the first variant's
// database, interleaved, so the database's own tail shows beside the server's. BENCH_DATABASE_PREFIX names
// the databases (default `tail_probe`).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { dropDatabase, freshDatabase, startBenchServer, type BenchServer } from './bench-server.js';
import { probeRoundTrip, pushChunkArity, readSyncCatalog } from './sql-probe-calls.js';
import { SyncApi, userRows } from './sync-api.js';
import { fmt, percentile } from './stats.js';

const iterations = Number(process.argv[2] ?? 500);
const variants = JSON.parse(process.argv[3] ?? '{"this":{}}') as Record<string, Record<string, string>>;
const warmUp = Number(process.env.TAIL_PROBE_WARM_UP ?? Math.ceil(iterations / 10));
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');
const now = () => performance.timeOrigin + performance.now();

type Pause = [start: number, ms: number, kind: string];
const clientPauses: Pause[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    clientPauses.push([
      performance.timeOrigin + e.startTime,
      e.duration,
      String((e as { detail?: { kind?: number } }).detail?.kind),
    ]);
}).observe({ entryTypes: ['gc'] });

const REQUESTS = ['create', 'chunk', 'commit', 'pull'] as const;
const PARTS = ['db', 'node', 'outside'] as const;
type Span = [start: number, end: number];
type Trip = Record<(typeof REQUESTS)[number], Span>;
interface Variant {
  name: string;
  database: string;
  server: BenchServer;
  recordFile: string;
  a: SyncApi;
  b: SyncApi;
  trips: Trip[];
  /** server CPU ms per round trip, per 100 measured: main thread, other threads */
  windows: Array<[number, number]>;
  windowStart: [number, number];
}

/** CPU ms of a process's main thread and of its other threads. */
function threadCpu(pid: number): [number, number] {
  const cpu: [number, number] = [0, 0];
  for (const task of readdirSync(`/proc/${pid}/task`))
    cpu[Number(task) === pid ? 0 : 1] +=
      Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  return cpu;
}

const len = ([s, e]: Span) => e - s;
/** p50 / p95 / p99 of `values`, ms */
const p = (values: number[]) => [50, 95, 99].map((q) => fmt(percentile(values, q), 2)).join(' / ');
const total = (t: Trip) => t.pull[1] - t.create[0];
const overlap = (pauses: Pause[], [s, e]: Span) =>
  pauses.reduce((sum, [ps, ms]) => sum + Math.max(0, Math.min(e, ps + ms) - Math.max(s, ps)), 0);

async function roundTrip(v: Variant, i: number): Promise<Trip> {
  const span = async (fn: () => Promise<string>): Promise<[string, Span]> => {
    const t = now();
    const text = await fn();
    return [text, [t, now()]];
  };
  const [created, create] = await span(() =>
    v.a.call('POST', '/sync/push-sessions', { source_bundle_id: i + 1, planned_row_count: 1 }),
  );
  const base = `/sync/push-sessions/${(JSON.parse(created) as { push_id: string }).push_id}`;
  const [, chunk] = await span(() => v.a.call('POST', `${base}/chunks`, { start_row_ordinal: 0, rows: userRows(1) }));
  const [committed, commit] = await span(() => v.a.call('POST', `${base}/commit`));
  const seq = (JSON.parse(committed) as { bundle_seq: number }).bundle_seq;
  const [, pull] = await span(() => v.b.call('GET', `/sync/pull?after_bundle_seq=${seq - 1}`));
  return { create, chunk, commit, pull };
}

function report(v: Variant): void {
  const { trips } = v;
  const recorded = JSON.parse(readFileSync(v.recordFile, 'utf8')) as {
    pauses: Pause[];
    requests: Array<[arrived: number, answered: number, inPg: number]>;
  };
  // the server's /sync requests in order: the last 4 × iterations are the measured round trips'
  const answered = recorded.requests.slice(-4 * iterations);
  const split = trips.map((t, i) =>
    REQUESTS.map((r, k) => {
      const [arrived, done, db] = answered[4 * i + k]!;
      return { db, node: done - arrived - db, outside: len(t[r]) - (done - arrived) };
    }),
  );
  const from = trips[0]!.create[0];
  const to = trips.at(-1)!.pull[1];
  const serverPauses = recorded.pauses.filter(([s]) => s >= from && s <= to);
  const totals = trips.map(total);
  console.log(
    `${v.name}: ${iterations} round trips p50 / p95 / p99 ${p(totals)} ms; without the first 100 ` +
      `${p(totals.slice(100))} ms`,
  );
  for (const [k, r] of REQUESTS.entries())
    console.log(
      `  ${r.padEnd(7)} ${p(trips.map((t) => len(t[r])))}: in pg ${p(split.map((s) => s[k]!.db))},` +
        ` server besides ${p(split.map((s) => s[k]!.node))}, outside ${p(split.map((s) => s[k]!.outside))}`,
    );
  console.log(
    '  per 100 round trips: wall p50 ms (server CPU ms per round trip, main + other threads): ' +
      v.windows
        .map(([main, others], k) => {
          const window = totals.slice(100 * k, 100 * k + 100);
          return `${fmt(percentile(window, 50), 2)} (${fmt(main, 2)} + ${fmt(others, 2)})`;
        })
        .join(', '),
  );
  for (const [who, pauses] of [
    ['server', serverPauses],
    ['client', clientPauses.filter(([s]) => s >= from && s <= to)],
  ] as const) {
    const ms = pauses.map((x) => x[1]);
    console.log(
      `  ${who} GC: ${pauses.length} pauses (${[...new Set(pauses.map((x) => x[2]))].join(', ')}),` +
        ` ${fmt(ms.reduce((s, x) => s + x, 0) / iterations, 3)} ms per round trip, p50 ${fmt(percentile(ms, 50), 2)}` +
        ` max ${fmt(Math.max(0, ...ms), 2)} ms`,
    );
  }
  const slow = trips.map((t, i) => [t, i] as const).sort(([x], [y]) => total(y) - total(x));
  const slowest = slow.slice(0, Math.ceil(trips.length / 20));
  const medians = REQUESTS.map((_, k) =>
    PARTS.map((f) =>
      percentile(
        split.map((s) => s[k]![f]),
        50,
      ),
    ),
  );
  const excess = [0, 0, 0];
  let serverGc = 0;
  let clientGc = 0;
  let early = 0;
  for (const [t, i] of slowest) {
    REQUESTS.forEach((_, k) => PARTS.forEach((f, j) => (excess[j]! += split[i]![k]![f] - medians[k]![j]!)));
    serverGc += overlap(serverPauses, [t.create[0], t.pull[1]]);
    clientGc += overlap(clientPauses, [t.create[0], t.pull[1]]);
    if (i < 100) early++;
  }
  const mean = (x: number) => fmt(x / slowest.length, 2);
  console.log(
    `  slowest ${slowest.length}: ${early} of them among the first 100; mean excess over the medians: in pg ` +
      `${mean(excess[0]!)}, server besides ${mean(excess[1]!)}, outside ${mean(excess[2]!)} ms; GC in them: ` +
      `server ${mean(serverGc)}, client ${mean(clientGc)} ms`,
  );
  if (process.env.TAIL_PROBE_DUMP)
    for (const [t, i] of slowest)
      console.log(
        `    #${i} ` +
          REQUESTS.map((r, k) => {
            const s = split[i]![k]!;
            return `${r} ${fmt(len(t[r]), 2)} (${PARTS.map((f) => fmt(s[f], 1)).join('+')})`;
          }).join(' '),
      );
}

/** The round trip's four statements on one connection of their own (TAIL_PROBE_SQL): the database alone. */
async function directSql(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const { rows } = await client.query<{ table_id: number }>(
    `SELECT table_id FROM sync.table_catalog WHERE schema_name = 'business' AND table_name = 'users'`,
  );
  const { pullPrefixes } = await readSyncCatalog(client);
  const chunkArity = await pushChunkArity(client);
  const user = 'tail-sql';
  for (const source of ['a', 'b'])
    await client.query('SELECT * FROM sync.connect($1, $2, $3, $4::uuid, $5, $6)', [
      user,
      source,
      false,
      randomUUID(),
      60000,
      5000,
    ]);
  let after = 0;
  const trips: Trip[] = [];
  return {
    trips,
    async roundTrip(i: number, record: boolean) {
      const calls = probeRoundTrip({
        user,
        tableId: rows[0]!.table_id,
        sourceBundleId: i + 1,
        rows: 1,
        chunkArity,
        pullPrefixes,
        after,
      });
      const spans: Span[] = [];
      let committed = 0;
      for (const call of [calls.create, calls.chunk, calls.commit, calls.pull]) {
        const t = now();
        const result = await client.query<{ out_bundle_seq?: string }>(call.text, call.values);
        spans.push([t, now()]);
        if (call === calls.commit) committed = Number(result.rows[0]!.out_bundle_seq);
      }
      after = committed;
      if (record) trips.push({ create: spans[0]!, chunk: spans[1]!, commit: spans[2]!, pull: spans[3]! });
    },
    end: () => client.end(),
  };
}

const variantsUp: Variant[] = [];
let sql: Awaited<ReturnType<typeof directSql>> | undefined;
try {
  for (const [name, env] of Object.entries(variants)) {
    const database = `${process.env.BENCH_DATABASE_PREFIX ?? 'tail_probe'}_${variantsUp.length}`;
    const recordFile = `/tmp/tail-probe-${process.pid}-${variantsUp.length}.json`;
    const heapFile = process.env.TAIL_PROBE_HEAP_FILE;
    const cpuFile = process.env.TAIL_PROBE_CPU_FILE;
    const preload = `--import=${new URL('./tail-preload.mjs', import.meta.url).pathname}`;
    // a variant's TAIL_PROBE_PG_SOCKET_DIR: its server reaches PostgreSQL through that Unix socket directory
    const url = new URL(await freshDatabase(adminUrl, database));
    if (env.TAIL_PROBE_PG_SOCKET_DIR) url.searchParams.set('host', env.TAIL_PROBE_PG_SOCKET_DIR);
    const server = await startBenchServer({
      ...env,
      DATABASE_URL: url.toString(),
      BENCH_SERVER_NODE_ARGS: [env.BENCH_SERVER_NODE_ARGS, preload].filter(Boolean).join(' '),
      TAIL_PROBE_RECORD_FILE: recordFile,
      ...(heapFile ? { TAIL_PROBE_HEAP_FILE: `${heapFile}.${name}` } : {}),
      ...(cpuFile ? { TAIL_PROBE_CPU_FILE: `${cpuFile}.${name}` } : {}),
    });
    const token = await server.signIn('tail');
    const a = new SyncApi(server.baseUrl, token, 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const b = new SyncApi(server.baseUrl, token, 'b');
    variantsUp.push({ name, database, server, recordFile, a, b, trips: [], windows: [], windowStart: [0, 0] });
  }
  if (process.env.TAIL_PROBE_SQL) sql = await directSql(variantsUp[0]!.server.databaseUrl);
  for (let i = 0; i < Number(process.env.TAIL_PROBE_EMPTY_FIRST ?? 0); i++)
    for (const v of variantsUp) await v.a.call('GET', '/sync/capabilities');
  for (let i = 0; i < warmUp + iterations; i++) {
    for (let k = 0; k < variantsUp.length; k++) {
      const v = variantsUp[(i + k) % variantsUp.length]!;
      if (i === warmUp) {
        process.kill(v.server.pid, 'SIGURG');
        v.windowStart = threadCpu(v.server.pid);
      }
      const trip = await roundTrip(v, i);
      if (i < warmUp) continue;
      v.trips.push(trip);
      if (v.trips.length % 100 === 0) {
        const cpu = threadCpu(v.server.pid);
        v.windows.push([(cpu[0] - v.windowStart[0]) / 100, (cpu[1] - v.windowStart[1]) / 100]);
        v.windowStart = cpu;
      }
    }
    await sql?.roundTrip(i, i >= warmUp);
  }
  const rss = variantsUp.map((v) => v.server.rssMiB());
  for (const v of variantsUp) process.kill(v.server.pid, 'SIGWINCH');
  await new Promise((r) => setTimeout(r, 1000));
  for (const [k, v] of variantsUp.entries()) {
    report(v);
    console.log(`  server RSS at the end ${fmt(rss[k]!, 0)} MiB`);
  }
  if (sql) {
    const totals = sql.trips.map(total);
    console.log(
      `the same statements straight on one connection: p50 / p95 / p99 ${p(totals)} ms; without the first 100 ` +
        `${p(totals.slice(100))} ms; ` +
        REQUESTS.map((r) => `${r} ${p(sql!.trips.map((t) => len(t[r])))}`).join(', '),
    );
  }
} finally {
  await sql?.end();
  for (const v of variantsUp) {
    await v.server.stop();
    await dropDatabase(adminUrl, v.database);
    rmSync(v.recordFile, { force: true });
  }
}
