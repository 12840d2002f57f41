// Issue 21 probe: what the slow 1-row round trips (create + chunk + commit + pull on another device, as the
// bench's latency phase) are made of. Each request's wall time is split into its time in pg queries, the rest
// of the server's time (tail-preload.mjs marks its arrival and answer) and the time outside the server (this
// client, the loopback, scheduling); the server's and this client's GC pauses are laid beside the slowest
// 5 %, and the server's CPU (main thread, other threads: V8's compilers and GC helpers) and its main thread's
// wait for a core (time runnable on the run queue, /proc schedstat) are shown per 100 round trips and over the
// first 300, so a warm-up still under way in the measured window shows. BENCH_SERVER_SESSION=1 (a variant's
// or the whole run's) starts each server in a session of its own (bench-server.ts).
// `DATABASE_URL=<admin url> tsx test/bench/tail-probe.ts [round trips] ['<variants json>']`; variants as in
// request-cpu-probe.ts (`{"base":{"BENCH_SERVER_CWD":"/work/main"},"this":{}}`), interleaved one round trip
// at a time (a variant's TAIL_PROBE_PG_SOCKET_DIR=/var/run/postgresql: its server on PostgreSQL's Unix
// socket instead of the URL's TCP address). TAIL_PROBE_EMPTY_FIRST empty requests first (the bench's floor
// phase runs 1,100 before its latency phase); TAIL_PROBE_WARM_UP unmeasured round trips (default a tenth, as
// the bench); TAIL_PROBE_DUMP=1 lists the slowest; TAIL_PROBE_HEAP_FILE=<path> writes the server's
// allocation profile of the measured part (`<path>.<variant>`), TAIL_PROBE_CPU_FILE its CPU profile;
// TAIL_PROBE_DATABASE_WARM_UP=<n> first runs n round trips on each database from a server stopped before the
// measured one starts (a warm database under a cold server); TAIL_PROBE_SQL=1 also runs the same four statements
// straight on one pg connection to the first variant's database, interleaved, so the database's own tail shows
// beside the server's. Each 100 measured round trips get their p50 / p95, split as above. TAIL_PROBE_TIER_UP=1
// runs the servers with --trace-opt and lists what V8 still optimized inside the measured window, by origin
// (TAIL_PROBE_KEEP_TRACE=1 keeps their trace, /tmp/tail-probe-<pid>-<n>.json.out, for --trace-deopt and the like).
// BENCH_DATABASE_PREFIX names the databases (default `tail_probe`).
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
  /** server ms per round trip, per 100 measured: CPU of the main thread, of the other threads; their wait for a core */
  windows: ThreadTimes[];
  windowStart: ThreadTimes;
}

/** ms: CPU of the main thread, of the other threads; time runnable but waiting for a core (run queue), likewise */
type ThreadTimes = [mainCpu: number, othersCpu: number, mainWait: number, othersWait: number];

/** A process's thread times so far (`/proc/<pid>/task/<tid>/schedstat`: CPU ns, run-queue wait ns, …). */
function threadTimes(pid: number): ThreadTimes {
  const times: ThreadTimes = [0, 0, 0, 0];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const [cpu, wait] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ').map(Number);
    const other = Number(task) === pid ? 0 : 1;
    times[other] += cpu! / 1e6;
    times[2 + other] += wait! / 1e6;
  }
  return times;
}

const len = ([s, e]: Span) => e - s;
/** p50 / p95 / p99 of `values`, ms */
const p = (values: number[]) =>
  values.length === 0 ? '–' : [50, 95, 99].map((q) => fmt(percentile(values, q), 2)).join(' / ');
const total = (t: Trip) => t.pull[1] - t.create[0];
const overlap = (pauses: Pause[], [s, e]: Span) =>
  pauses.reduce((sum, [ps, ms]) => sum + Math.max(0, Math.min(e, ps + ms) - Math.max(s, ps)), 0);

async function roundTrip(v: Pick<Variant, 'a' | 'b'>, i: number): Promise<Trip> {
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

/** `values` in windows of 100 (the last one shorter) */
const hundreds = <T>(values: T[]): T[][] =>
  Array.from({ length: Math.ceil(values.length / 100) }, (_, k) => values.slice(100 * k, 100 * k + 100));
/** p50/p95 of `values`, ms */
const p50p95 = (values: number[]) => `${fmt(percentile(values, 50), 2)}/${fmt(percentile(values, 95), 2)}`;

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
  // the fresh server's first 300 (where the tier-up is): their wall, the server's CPU and waits per round trip
  const first = v.windows.slice(0, 3);
  const cpu = (k: number) => first.reduce((sum, w) => sum + w[k]!, 0) / Math.max(1, first.length);
  console.log(
    `  first 300: p50 / p95 / p99 ${p(totals.slice(0, 300))} ms; server CPU per round trip ` +
      `${fmt(cpu(0) + cpu(1), 2)} ms (main ${fmt(cpu(0), 2)} + other threads ${fmt(cpu(1), 2)});` +
      ` waiting for a core: main ${fmt(cpu(2), 2)}, other threads ${fmt(cpu(3), 2)} ms per round trip`,
  );
  for (const [k, r] of REQUESTS.entries())
    console.log(
      `  ${r.padEnd(7)} ${p(trips.map((t) => len(t[r])))}: in pg ${p(split.map((s) => s[k]!.db))},` +
        ` server besides ${p(split.map((s) => s[k]!.node))}, outside ${p(split.map((s) => s[k]!.outside))}`,
    );
  // per 100: the server's CPU, and the round trip's p50 / p95 whole and by part (the four requests summed):
  // whether a window's tail is the database's, the server's or the rest's
  const parts = split.map((s) => PARTS.map((f) => s.reduce((sum, request) => sum + request[f], 0)));
  const windows = hundreds(totals.map((t, i) => [t, ...parts[i]!]));
  console.log(
    '  per 100 round trips: wall p50/p95 ms (server CPU ms per round trip, main + other threads, the main' +
      ' thread waiting for a core;' +
      ' in pg, server besides, outside p50/p95): ' +
      v.windows
        .map(([main, others, mainWait], k) => {
          const w = windows[k]!;
          const byPart = PARTS.map((_, j) => p50p95(w.map((x) => x[j + 1]!))).join(', ');
          const cpu = `${fmt(main, 2)} + ${fmt(others, 2)}, main waiting ${fmt(mainWait, 2)}`;
          return `${p50p95(w.map((x) => x[0]!))} (${cpu}; ${byPart})`;
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

/** Where a compiled function's source is: our packages by name, Node's own, else the npm package. */
function origin(file: string): string {
  if (file.startsWith('node:')) return 'node';
  const ours = /\/(libs\/\w+|apps\/[\w-]+|src)\/(?!.*node_modules)/.exec(file);
  if (ours) return ours[1]!;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
  if (pkg === undefined) return 'other';
  return /^(pg|pg-[\w-]+|postgres-[\w-]+)$/.test(pkg) ? 'pg' : /^@nestjs\//.test(pkg) ? '@nestjs' : pkg;
}

/**
 * TAIL_PROBE_TIER_UP: the TurboFan jobs that finished inside the measured window (`--trace-opt`), their job time
 * by where the function's source is (`--print-opt-source` names it), and the costliest functions.
 */
function tierUpReport(traceFile: string): void {
  const lines = readFileSync(traceFile, 'utf8').split('\n');
  const from = lines.indexOf('=== tail-probe measured start');
  const to = lines.indexOf('=== tail-probe measured end');
  const sources = new Map<string, string[]>();
  const byOrigin = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let jobs = 0;
  for (const line of lines.slice(from, to)) {
    const source = /^--- FUNCTION SOURCE \((.*):([^:]*)\) id\{\d+,-1\}/.exec(line);
    if (source) {
      sources.set(source[2]!, [...(sources.get(source[2]!) ?? []), source[1]!]);
      continue;
    }
    const done = /^\[completed compiling \S+ <JSFunction([^>]*)>.*took ([\d.]+), ([\d.]+), ([\d.]+) ms/.exec(line);
    if (!done) continue;
    // the function's name as the source line gives it ('' when anonymous)
    const fn = done[1]!.replace(/\(sfi = \w+\)/, '').trim();
    const ms = Number(done[2]) + Number(done[3]) + Number(done[4]);
    const file = sources.get(fn)?.shift() ?? 'other';
    const where = origin(file);
    byOrigin.set(where, (byOrigin.get(where) ?? 0) + ms);
    const name = `${fn || '(anonymous)'} ${file.replace(/^.*\/(node_modules|libs|apps|src)\//, '')}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    jobs++;
  }
  const all = [...byOrigin.values()].reduce((sum, ms) => sum + ms, 0);
  const top = (map: Map<string, number>, n: number, share: boolean) =>
    [...map]
      .sort(([, x], [, y]) => y - x)
      .slice(0, n)
      .map(([key, ms]) => `${key} ${share ? `${fmt((100 * ms) / all, 0)} %` : `${fmt(ms, 1)} ms`}`)
      .join(', ');
  console.log(
    `  TurboFan in the measured window: ${jobs} jobs, ${fmt(all, 0)} ms of job time (wall, on the compiler threads);` +
      ` by origin ${top(byOrigin, 8, true)}; costliest ${top(byFunction, 8, false)}`,
  );
}

/**
 * TAIL_PROBE_DATABASE_WARM_UP: `n` round trips of another user on a server of its own, stopped before the measured
 * server starts on the same database: a warm database under a cold server.
 */
async function warmDatabase(databaseUrl: string, env: Record<string, string>, n: number): Promise<void> {
  const server = await startBenchServer({ ...env, DATABASE_URL: databaseUrl });
  try {
    const token = await server.signIn('tail-database-warm-up');
    const v = { a: new SyncApi(server.baseUrl, token, 'a'), b: new SyncApi(server.baseUrl, token, 'b') };
    await v.a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    for (let i = 0; i < n; i++) await roundTrip(v, i);
  } finally {
    await server.stop();
  }
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
    const tierUp = process.env.TAIL_PROBE_TIER_UP ? '--trace-opt --print-opt-source' : undefined;
    // a variant's TAIL_PROBE_PG_SOCKET_DIR: its server reaches PostgreSQL through that Unix socket directory
    const url = new URL(await freshDatabase(adminUrl, database));
    if (env.TAIL_PROBE_PG_SOCKET_DIR) url.searchParams.set('host', env.TAIL_PROBE_PG_SOCKET_DIR);
    const databaseWarmUp = Number(process.env.TAIL_PROBE_DATABASE_WARM_UP ?? 0);
    if (databaseWarmUp > 0) await warmDatabase(url.toString(), env, databaseWarmUp);
    const server = await startBenchServer({
      ...env,
      DATABASE_URL: url.toString(),
      BENCH_SERVER_NODE_ARGS: [env.BENCH_SERVER_NODE_ARGS, tierUp, preload].filter(Boolean).join(' '),
      ...(tierUp ? { BENCH_SERVER_STDOUT: `${recordFile}.out` } : {}),
      TAIL_PROBE_RECORD_FILE: recordFile,
      ...(heapFile ? { TAIL_PROBE_HEAP_FILE: `${heapFile}.${name}` } : {}),
      ...(cpuFile ? { TAIL_PROBE_CPU_FILE: `${cpuFile}.${name}` } : {}),
    });
    const token = await server.signIn('tail');
    const a = new SyncApi(server.baseUrl, token, 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const b = new SyncApi(server.baseUrl, token, 'b');
    variantsUp.push({ name, database, server, recordFile, a, b, trips: [], windows: [], windowStart: [0, 0, 0, 0] });
  }
  if (process.env.TAIL_PROBE_SQL) sql = await directSql(variantsUp[0]!.server.databaseUrl);
  for (let i = 0; i < Number(process.env.TAIL_PROBE_EMPTY_FIRST ?? 0); i++)
    for (const v of variantsUp) await v.a.call('GET', '/sync/capabilities');
  for (let i = 0; i < warmUp + iterations; i++) {
    for (let k = 0; k < variantsUp.length; k++) {
      const v = variantsUp[(i + k) % variantsUp.length]!;
      if (i === warmUp) {
        process.kill(v.server.pid, 'SIGURG');
        v.windowStart = threadTimes(v.server.pid);
      }
      const trip = await roundTrip(v, i);
      if (i < warmUp) continue;
      v.trips.push(trip);
      if (v.trips.length % 100 === 0) {
        const cpu = threadTimes(v.server.pid);
        v.windows.push(cpu.map((ms, k) => (ms - v.windowStart[k]!) / 100) as ThreadTimes);
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
    if (process.env.TAIL_PROBE_TIER_UP) tierUpReport(`${v.recordFile}.out`);
    console.log(`  server RSS at the end ${fmt(rss[k]!, 0)} MiB`);
  }
  if (sql) {
    const totals = sql.trips.map(total);
    console.log(
      `the same statements straight on one connection: p50 / p95 / p99 ${p(totals)} ms; without the first 100 ` +
        `${p(totals.slice(100))} ms; ` +
        REQUESTS.map((r) => `${r} ${p(sql!.trips.map((t) => len(t[r])))}`).join(', '),
    );
    console.log(`  per 100 round trips: p50/p95 (ms): ${hundreds(totals).map(p50p95).join(', ')}`);
  }
} finally {
  await sql?.end();
  for (const v of variantsUp) {
    await v.server.stop();
    await dropDatabase(adminUrl, v.database);
    rmSync(v.recordFile, { force: true });
    if (!process.env.TAIL_PROBE_KEEP_TRACE) rmSync(`${v.recordFile}.out`, { force: true });
  }
}
