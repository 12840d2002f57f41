// CPU per cycle of issue 21's many-devices load (`everydayDevices`: 4 client processes × 12 users, one cycle
// in flight per process), split by kind of process: the server's Node process, its database's backends
// (pg_stat_activity of its database, the LISTEN connection included), the 4 client processes; beside them
// PostgreSQL's other processes (WAL writer, checkpointer, autovacuum: every database's on a shared machine)
// and this probe. Two builds side by side
// (BENCH_BASE_CWD against this checkout, each server on its own fresh database), runs in turn A B B A…,
// DEVICES_PROBE_PAIRS pairs (default 6) of DEVICES_PROBE_SECONDS (default 10) after a warm-up run each.
// DEVICES_PROBE_VARY=both (default) | server | client: what the base build supplies (the other part is this
// checkout's). Without BENCH_BASE_CWD: this build alone.
// `DATABASE_URL=<admin url> npx tsx test/bench/devices-cpu-probe.ts`
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import {
  dropDatabase,
  freshDatabase,
  processCpu,
  processCpuMs,
  startBenchServer,
  type BenchServer,
} from './bench-server.js';
import { everydayDevices } from './many-devices-phase.js';
import { runUser } from './everyday.js';
import { fmt, summarize } from './stats.js';

const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');
const seconds = Number(process.env.DEVICES_PROBE_SECONDS ?? 10);
const pairs = Number(process.env.DEVICES_PROBE_PAIRS ?? 6);
const prefix = process.env.DEVICES_PROBE_DB_PREFIX ?? 'devprobe_';
const vary = process.env.DEVICES_PROBE_VARY ?? 'both';
const baseCwd = process.env.BENCH_BASE_CWD;

interface Build {
  name: string;
  db: string;
  serverCwd: string;
  clientCwd: string;
  server?: BenchServer;
  runs: Record<string, number>[];
}
const here = process.cwd();
const builds: Build[] = [{ name: 'this', db: `${prefix}b`, serverCwd: here, clientCwd: here, runs: [] }];
if (baseCwd)
  builds.unshift({
    name: 'base',
    db: `${prefix}a`,
    serverCwd: vary === 'client' ? here : baseCwd,
    clientCwd: vary === 'server' ? here : baseCwd,
    runs: [],
  });

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();

/** CPU so far (ms) of the backends connected to database `db` */
async function backendsCpuMs(db: string): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db]);
  return new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)]));
}

/** CPU so far (ms) of every postgres process but the client backends (WAL writer, checkpointer, autovacuum…) */
function postgresAuxCpuMs(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      // a client backend's title names its peer: "postgres: 15/main: user db 127.0.0.1(5432) idle"
      if (/\(\d+\)|\[local\]/.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) continue;
      cpu.set(Number(entry), processCpuMs(Number(entry)));
    } catch {
      // gone
    }
  }
  return cpu;
}

/** CPU between two snapshots of processes (a process that started between them counts from 0) */
function delta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

async function run(build: Build, label: string, secs: number): Promise<Record<string, number>> {
  const server = build.server!;
  const backends0 = await backendsCpuMs(build.db);
  const aux0 = postgresAuxCpuMs();
  const server0 = processCpu(server.pid);
  const self0 = process.cpuUsage();
  const r = await everydayDevices(server, runUser(label), secs, undefined, build.clientCwd);
  const self = process.cpuUsage(self0);
  const server1 = processCpu(server.pid);
  const serverSystemMs = server1.systemMs - server0.systemMs;
  const serverMs = server1.userMs - server0.userMs + serverSystemMs;
  const aux = delta(aux0, postgresAuxCpuMs());
  const backends = delta(backends0, await backendsCpuMs(build.db));
  const bundles = r.bundlesPerSec * secs;
  if (r.errors) throw new Error(`${build.name}: ${r.errors} errors, first ${r.firstError}`);
  const per = (ms: number) => ms / bundles;
  const sample = {
    bundlesPerSec: r.bundlesPerSec,
    p95: r.cycleP95Ms,
    server: per(serverMs),
    serverSystem: per(serverSystemMs),
    backends: per(backends),
    clients: per(r.clientCpuMs),
    probe: per((self.user + self.system) / 1000),
    postgresAux: per(aux),
  };
  return { ...sample, total: sample.server + sample.backends + sample.clients };
}

const line = (name: string, s: Record<string, number>) =>
  `${name.padEnd(5)} ${fmt(s.bundlesPerSec!, 1).padStart(6)} b/s p95 ${fmt(s.p95!, 1).padStart(5)} ms | ` +
  `CPU ms/cycle: server ${fmt(s.server!, 2)} (system ${fmt(s.serverSystem!, 2)}), backends ${fmt(s.backends!, 2)}, ` +
  `clients ${fmt(s.clients!, 2)} = ${fmt(s.total!, 2)}` +
  ` (postgres aux ${fmt(s.postgresAux!, 2)}, probe ${fmt(s.probe!, 2)})`;

try {
  for (const build of builds)
    build.server = await startBenchServer({
      BENCH_SERVER_CWD: build.serverCwd,
      DATABASE_URL: await freshDatabase(adminUrl, build.db),
    });
  for (const build of builds) console.log(line(`${build.name}*`, await run(build, `warm-${build.name}`, 5)));
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 ? [...builds].reverse() : builds;
    for (const build of order) {
      const s = await run(build, `${build.name}-${i}`, seconds);
      build.runs.push(s);
      console.log(line(build.name, s));
    }
  }
  for (const key of ['bundlesPerSec', 'server', 'serverSystem', 'backends', 'clients', 'total', 'postgresAux']) {
    const text = builds.map((b) => {
      const s = summarize(b.runs.map((r) => r[key]!));
      return `${b.name} ${fmt(s.median, 2)} (${fmt(s.min, 2)}–${fmt(s.max, 2)})`;
    });
    let won = '';
    if (builds.length === 2) {
      const wins = builds[1]!.runs.filter((r, i) =>
        key === 'bundlesPerSec' ? r[key]! > builds[0]!.runs[i]![key]! : r[key]! < builds[0]!.runs[i]![key]!,
      ).length;
      won = `, this better in ${wins} of ${pairs} pairs`;
    }
    console.log(`${key.padEnd(13)} ${text.join('  ')}${won}`);
  }
} finally {
  for (const build of builds) await build.server?.stop();
  for (const build of builds) await dropDatabase(adminUrl, build.db);
  await admin.end();
}
