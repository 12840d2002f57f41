// Issue 21 probe: where a 1-row round trip's time goes, per request (create, chunk, commit, pull on
// another device, and an empty GET /sync/capabilities as the floor). For each request: the client's
// wall time, the CPU the server process (all its threads), the database's backends and this client
// spent on it (ns from /proc/<pid>/schedstat: exact on a loaded machine, where wall time is not).
// `DATABASE_URL=<admin url> tsx test/bench/everyday-breakdown-probe.ts '<variants json>' [iterations]`;
// variants as in request-cpu-probe.ts (`{"base":{"BENCH_SERVER_CWD":"/work/main"},"this":{}}`),
// interleaved one round trip at a time. BENCH_DATABASE_PREFIX names the variants' databases (default
// `everyday_breakdown`: `<prefix>_0`, `<prefix>_1`, …). A variant of a server already running (go-oversync's example
// server as a third column): `{"go":{"BENCH_REFERENCE_URL":"http://127.0.0.1:<port>","BENCH_REFERENCE_PID":"<pid>",
// "BENCH_REFERENCE_DATABASE":"<its database>"}}` (signed in with its dummy sign-in, a fresh user; left running).
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { dropDatabase, freshDatabase, startBenchServer, type BenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { runUser, urlTarget } from './everyday.js';
import { fmt, percentile } from './stats.js';

const variants = JSON.parse(process.argv[2] ?? '{"this":{}}') as Record<string, Record<string, string>>;
const iterations = Number(process.argv[3] ?? 300);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');

/** CPU time of a process, all its threads, in ms (0 once it is gone). */
function cpuOf(pid: number): number {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    // gone
  }
  return ns / 1e6;
}
const clientCpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const REQUESTS = ['create', 'chunk', 'commit', 'pull', 'empty'] as const;
type Request = (typeof REQUESTS)[number];
interface Figures {
  wall: number[];
  server: number;
  database: number;
  client: number;
}
interface Variant {
  name: string;
  database: string;
  server: Pick<BenchServer, 'pid' | 'baseUrl'> & { stop?: () => Promise<void> };
  backends: number[];
  /** CPU ms of each backend (by application name or type) over the measured round trips */
  backendCpu: Map<string, number>;
  a: SyncApi;
  b: SyncApi;
  seq: number;
  figures: Record<Request, Figures>;
  /** user and system CPU of the server over the measured round trips, clock ticks */
  ticks: [number, number];
}

const emptyFigures = () =>
  Object.fromEntries(REQUESTS.map((r) => [r, { wall: [], server: 0, database: 0, client: 0 }])) as unknown as Record<
    Request,
    Figures
  >;

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const variantsUp: Variant[] = [];
const backendsOf = async (database: string) =>
  (
    await admin.query<{ pid: number; name: string }>(
      `SELECT pid, COALESCE(NULLIF(application_name, ''), backend_type) AS name FROM pg_stat_activity
        WHERE datname = $1`,
      [database],
    )
  ).rows;
const backendNames = new Map<number, string>();
try {
  for (const [name, env] of Object.entries(variants)) {
    const {
      BENCH_REFERENCE_URL: referenceUrl,
      BENCH_REFERENCE_PID: referencePid,
      BENCH_REFERENCE_DATABASE: referenceDatabase,
    } = env;
    if (referenceUrl) {
      const target = urlTarget(referenceUrl, Number(referencePid));
      const token = await target.signIn(runUser('breakdown'));
      const a = new SyncApi(target.baseUrl, token, 'a');
      await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
      variantsUp.push({
        name,
        database: referenceDatabase!,
        server: { pid: Number(referencePid), baseUrl: target.baseUrl },
        backends: [],
        backendCpu: new Map(),
        a,
        b: new SyncApi(target.baseUrl, token, 'b'),
        seq: 0,
        figures: emptyFigures(),
        ticks: [0, 0],
      });
      continue;
    }
    const database = `${process.env.BENCH_DATABASE_PREFIX ?? 'everyday_breakdown'}_${variantsUp.length}`;
    // BENCH_DATABASE_SOCKET: the server reaches PostgreSQL on this Unix socket directory instead of TCP
    const { BENCH_DATABASE_SOCKET: socket, ...serverEnv } = env;
    const url = new URL(await freshDatabase(adminUrl, database));
    if (socket) url.searchParams.set('host', socket);
    const server = await startBenchServer({ ...serverEnv, DATABASE_URL: url.toString() });
    const token = await server.signIn('breakdown');
    const a = new SyncApi(server.baseUrl, token, 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const figures = emptyFigures();
    variantsUp.push({
      name,
      database,
      server,
      backends: [],
      backendCpu: new Map(),
      a,
      b: new SyncApi(server.baseUrl, token, 'b'),
      seq: 0,
      figures,
      ticks: [0, 0],
    });
  }
  const measure = async <T>(v: Variant, request: Request, record: boolean, fn: () => Promise<T>): Promise<T> => {
    const databaseCpu = () => v.backends.map(cpuOf);
    const [s0, d0, c0, t0] = [cpuOf(v.server.pid), databaseCpu(), clientCpu(), performance.now()];
    const result = await fn();
    const [t1, c1, d1, s1] = [performance.now(), clientCpu(), databaseCpu(), cpuOf(v.server.pid)];
    if (record) {
      const f = v.figures[request];
      f.wall.push(t1 - t0);
      f.server += s1 - s0;
      // a backend that ended meanwhile (the pool closed an idle connection) counts for nothing
      f.database += d1.reduce((sum, after, i) => (after > 0 && d0[i]! > 0 ? sum + after - d0[i]! : sum), 0);
      f.client += c1 - c0;
    }
    return result;
  };
  const ticksOf = (pid: number) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return [Number(fields[11]), Number(fields[12])];
  };
  const roundTrip = async (v: Variant, record: boolean) => {
    const [user, system] = ticksOf(v.server.pid);
    const rows = userRows(1);
    const created = JSON.parse(
      await measure(v, 'create', record, () =>
        v.a.call('POST', '/sync/push-sessions', { source_bundle_id: ++v.seq, planned_row_count: 1 }),
      ),
    ) as { push_id: string };
    const base = `/sync/push-sessions/${created.push_id}`;
    await measure(v, 'chunk', record, () => v.a.call('POST', `${base}/chunks`, { start_row_ordinal: 0, rows }));
    const committed = JSON.parse(await measure(v, 'commit', record, () => v.a.call('POST', `${base}/commit`))) as {
      bundle_seq: number;
    };
    await measure(v, 'pull', record, () => v.b.call('GET', `/sync/pull?after_bundle_seq=${committed.bundle_seq - 1}`));
    await measure(v, 'empty', record, () => v.b.call('GET', '/sync/capabilities'));
    const [userAfter, systemAfter] = ticksOf(v.server.pid);
    if (record) v.ticks = [v.ticks[0] + userAfter! - user!, v.ticks[1] + systemAfter! - system!];
  };
  const warmUp = Math.ceil(iterations / 10);
  for (let i = 0; i < warmUp + iterations; i++) {
    for (let k = 0; k < variantsUp.length; k++) {
      const v = variantsUp[(i + k) % variantsUp.length]!;
      if (i % 50 === 0) {
        const found = await backendsOf(v.database);
        for (const b of found) backendNames.set(b.pid, b.name);
        v.backends = found.map((b) => b.pid);
      }
      const byBackend = i >= warmUp ? v.backends.map((pid) => [pid, cpuOf(pid)] as const) : [];
      await roundTrip(v, i >= warmUp);
      for (const [pid, before] of byBackend) {
        const name = backendNames.get(pid)!;
        const after = cpuOf(pid);
        if (after > 0 && before > 0) v.backendCpu.set(name, (v.backendCpu.get(name) ?? 0) + after - before);
      }
    }
  }
  console.log(
    `per request, ${iterations} round trips: wall p50 / p95 ms; CPU ms per request: server, database, client`,
  );
  for (const v of variantsUp) {
    const [user, system] = v.ticks;
    const byBackend = [...v.backendCpu].map(([name, ms]) => `${name} ${fmt(ms / iterations, 3)}`).join(', ');
    console.log(`${v.name}: server CPU ${fmt((100 * user) / (user + system), 0)} % user, the rest system`);
    console.log(`  database CPU per round trip by backend (ms): ${byBackend}`);
    for (const request of REQUESTS) {
      const f = v.figures[request];
      console.log(
        `  ${request.padEnd(8)} wall ${fmt(percentile(f.wall, 50), 2)} / ${fmt(percentile(f.wall, 95), 2)}` +
          `  cpu server ${fmt(f.server / iterations, 3)}  database ${fmt(f.database / iterations, 3)}` +
          `  client ${fmt(f.client / iterations, 3)}`,
      );
    }
  }
} finally {
  for (const v of variantsUp) {
    if (!v.server.stop) continue;
    await v.server.stop();
    await dropDatabase(adminUrl, v.database);
  }
  await admin.end();
}
