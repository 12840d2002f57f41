// Push A/B probe: two builds' servers side by side (BENCH_BASE_CWD, the other build's checkout, against this one),
// each on its own fresh database (PUSH_AB_DB_PREFIX, default "pushab_", + a / b), pushing PUSH_PROBE_ROWS rows
// (default 100,000: create + 20 chunks of 5,000 + commit) by fresh users in turn, A B B A A B…, PUSH_AB_PAIRS
// pairs (default 4) after one warm-up push each. Per push: the server's user and system CPU of create + chunks
// and of the commit, the CPU of the build's PostgreSQL backends in the commit (/proc), and the walls (GC: the
// servers' own --trace-gc via BENCH_SERVER_NODE_ARGS).
// Medians (ranges) per build. `DATABASE_URL=… npx tsx test/bench/push-ab-probe.ts`
import pg from 'pg';
import {
  databaseBackendCpu,
  dropDatabase,
  freshDatabase,
  processCpu,
  startBenchServer,
  type BenchServer,
} from './bench-server.js';
import { summarize } from './stats.js';
import { SyncApi, userChunkBodies } from './sync-api.js';

const rows = Number(process.env.PUSH_PROBE_ROWS ?? 100_000);
const pairs = Number(process.env.PUSH_AB_PAIRS ?? 4);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');
const prefix = process.env.PUSH_AB_DB_PREFIX ?? 'pushab_';
const baseCwd = process.env.BENCH_BASE_CWD;
if (!baseCwd) throw new Error('BENCH_BASE_CWD (the checkout of the build to compare with, built) is required');

/** [user, system] CPU seconds of a process */
function cpu(pid: number): [number, number] {
  const { userMs, systemMs } = processCpu(pid);
  return [userMs / 1000, systemMs / 1000];
}

const builds = [
  { name: 'base', cwd: baseCwd, db: `${prefix}a` },
  { name: 'this', cwd: process.cwd(), db: `${prefix}b` },
];
const servers: BenchServer[] = [];
/** per build, a connection to its database that lists the server's backends */
const monitors: pg.Client[] = [];
for (const build of builds) {
  const url = await freshDatabase(adminUrl, build.db);
  servers.push(await startBenchServer({ BENCH_SERVER_CWD: build.cwd, DATABASE_URL: url }));
  const monitor = new pg.Client({ connectionString: url });
  await monitor.connect();
  monitors.push(monitor);
}
type Sample = {
  chunkUser: number;
  chunkSys: number;
  commitCpu: number;
  commitPgCpu: number;
  chunkPgCpu: number;
  chunkWall: number;
  commitWall: number;
};
const samples: Sample[][] = [[], []];

/** CPU seconds the monitor's database backends spent from `before` to now (a backend gone since counts nothing) */
async function backendCpuSince(monitor: pg.Client, before: Map<number, number>): Promise<number> {
  let total = 0;
  for (const [pid, seconds] of await databaseBackendCpu(monitor))
    total += Math.max(0, seconds - (before.get(pid) ?? 0));
  return total;
}

async function push(server: BenchServer, monitor: pg.Client, rep: string): Promise<Sample> {
  const a = new SyncApi(server.baseUrl, await server.signIn(`u${Date.now()}-${rep}`), 'a');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  // fresh rows per push, encoded beforehand
  const bodies = userChunkBodies(rows);
  const pg0 = await databaseBackendCpu(monitor);
  const [u0, s0] = cpu(server.pid);
  const t0 = performance.now();
  const pushId = await a.stage(1, rows, bodies);
  const t1 = performance.now();
  const [u1, s1] = cpu(server.pid);
  const pg1 = await databaseBackendCpu(monitor);
  let chunkPgCpu = 0;
  for (const [pid, seconds] of pg1) chunkPgCpu += Math.max(0, seconds - (pg0.get(pid) ?? 0));
  const t1c = performance.now();
  await a.call('POST', `/sync/push-sessions/${pushId}/commit`);
  const t2 = performance.now();
  const [u2, s2] = cpu(server.pid);
  const commitPgCpu = await backendCpuSince(monitor, pg1);
  return {
    chunkUser: u1 - u0,
    chunkSys: s1 - s0,
    commitCpu: u2 + s2 - u1 - s1,
    commitPgCpu,
    chunkPgCpu,
    chunkWall: t1 - t0,
    commitWall: t2 - t1c,
  };
}

const fmt = (s: Sample) =>
  `chunks CPU ${(s.chunkUser + s.chunkSys).toFixed(2)} s ` +
  `(user ${s.chunkUser.toFixed(2)}, sys ${s.chunkSys.toFixed(2)}; PostgreSQL ${s.chunkPgCpu.toFixed(2)}), ` +
  `commit CPU ${s.commitCpu.toFixed(2)} s, its PostgreSQL CPU ${s.commitPgCpu.toFixed(2)} s; ` +
  `wall create+chunks ${s.chunkWall.toFixed(0)} ms, commit ${s.commitWall.toFixed(0)} ms, ` +
  `total ${(s.chunkWall + s.commitWall).toFixed(0)} ms`;
try {
  for (let i = 0; i < 2; i++)
    console.log(`warm-up ${builds[i]!.name}: ${fmt(await push(servers[i]!, monitors[i]!, `w${i}`))}`);
  for (let pair = 0; pair < pairs; pair++) {
    const order = pair % 2 ? [1, 0] : [0, 1];
    for (const i of order) {
      const s = await push(servers[i]!, monitors[i]!, `${pair}-${i}`);
      samples[i]!.push(s);
      console.log(`${builds[i]!.name}: ${fmt(s)}`);
    }
  }
  const stat = (xs: number[], digits: number) => {
    const { median, min, max } = summarize(xs);
    return `${median.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`;
  };
  for (let i = 0; i < 2; i++) {
    const s = samples[i]!;
    console.log(
      `${builds[i]!.name} (${builds[i]!.cwd}), ${s.length} pushes: chunks CPU ` +
        `${stat(
          s.map((x) => x.chunkUser + x.chunkSys),
          2,
        )} s (PostgreSQL ${stat(
          s.map((x) => x.chunkPgCpu),
          2,
        )}), user ${stat(
          s.map((x) => x.chunkUser),
          2,
        )}, ` +
        `sys ${stat(
          s.map((x) => x.chunkSys),
          2,
        )}; commit CPU ${stat(
          s.map((x) => x.commitCpu),
          2,
        )}, its PostgreSQL CPU ${stat(
          s.map((x) => x.commitPgCpu),
          2,
        )}, commit wall ${stat(
          s.map((x) => x.commitWall),
          0,
        )} ms; ` +
        `create+chunks wall ${stat(
          s.map((x) => x.chunkWall),
          0,
        )} ms; total ${stat(
          s.map((x) => x.chunkWall + x.commitWall),
          0,
        )} ms ` +
        `(${stat(
          s.map((x) => rows / ((x.chunkWall + x.commitWall) / 1000)),
          0,
        )} rows/s)`,
    );
  }
} finally {
  for (const monitor of monitors) await monitor.end();
  for (const server of servers.reverse()) await server.stop();
  for (const build of builds) await dropDatabase(adminUrl, build.db);
}
