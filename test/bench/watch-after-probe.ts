// Issue 21 probe: why the bench's watch phase is slower in a whole `npm run bench` than in `--only` runs.
// One server, one database; each pair runs the bench's latency phase (550 1-row round trips) and then its
// watch phase (275 commits) either at once (`after`, as in a whole run) or after BENCH_WATCH_IDLE_S seconds
// of idle (`idle`, as when a `--reference` server's phase runs between ours), the order alternating pair by
// pair. Per watch window: p50 / p95, the server's CPU per commit, its GC time (prom-client's gauges from
// GET /metrics), and what PostgreSQL did meanwhile (autovacuum workers on the database, sampled every 50 ms;
// checkpoints). `DATABASE_URL=<admin url> tsx test/bench/watch-after-probe.ts [pairs]`; the server's env and
// node flags as the bench's (BENCH_SERVER_CWD, BENCH_SERVER_NODE_ARGS). BENCH_DATABASE_PREFIX names the
// database (default `watch_after`).
import pg from 'pg';
import { dropDatabase, freshDatabase, processCpuMs, startBenchServer } from './bench-server.js';
import { oneRowRoundTrip, watchLatency } from './everyday.js';
import { fmt, percentile } from './stats.js';

const pairs = Number(process.argv[2] ?? 6);
const idleMs = Number(process.env.BENCH_WATCH_IDLE_S ?? 5) * 1000;
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');
const database = `${process.env.BENCH_DATABASE_PREFIX ?? 'watch_after'}_0`;
const server = await startBenchServer({ DATABASE_URL: await freshDatabase(adminUrl, database) });
const observer = new pg.Client({ connectionString: server.databaseUrl });
await observer.connect();

/** total GC seconds of the server so far, by kind (prom-client's nodejs_gc_duration_seconds_sum) */
async function gcSeconds(): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^\w*nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}
const checkpoints = async () =>
  Number((await observer.query('SELECT checkpoints_timed + checkpoints_req AS n FROM pg_stat_bgwriter')).rows[0].n);

type Window = {
  p50: number;
  p95: number;
  cpuPerCommit: number;
  gcMs: Record<string, number>;
  autovacuum: string[];
  checkpoints: number;
};
const windows: Record<'after' | 'idle', Window[]> = { after: [], idle: [] };

async function watchWindow(user: string): Promise<Window> {
  const seen = new Set<string>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await observer.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = current_database()`,
      );
      for (const r of rows) seen.add(r.query);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const gcBefore = await gcSeconds();
  const checkpointsBefore = await checkpoints();
  const cpuBefore = processCpuMs(server.pid);
  const watch = await watchLatency(server, 250, user);
  const cpu = processCpuMs(server.pid) - cpuBefore;
  sampling = false;
  await sampler;
  const gcAfter = await gcSeconds();
  const gcMs: Record<string, number> = {};
  for (const kind of Object.keys(gcAfter)) gcMs[kind] = (gcAfter[kind]! - (gcBefore[kind] ?? 0)) * 1000;
  return {
    p50: watch.p50,
    p95: watch.p95,
    cpuPerCommit: cpu / 275,
    gcMs,
    autovacuum: [...seen],
    checkpoints: (await checkpoints()) - checkpointsBefore,
  };
}

const show = (name: string, w: Window) =>
  console.log(
    `${name.padEnd(6)} p50 / p95 ${fmt(w.p50, 2)} / ${fmt(w.p95, 2)} ms; ` +
      `server CPU ${fmt(w.cpuPerCommit, 2)} ms/commit; ` +
      `GC ${Object.entries(w.gcMs)
        .filter(([, ms]) => ms > 0)
        .map(([k, ms]) => `${k} ${fmt(ms, 1)}`)
        .join(', ')} ms; checkpoints ${w.checkpoints}; autovacuum ${w.autovacuum.join(' | ') || '–'}`,
  );
try {
  for (let pair = 0; pair < pairs; pair++) {
    const order: Array<'after' | 'idle'> = pair % 2 === 0 ? ['after', 'idle'] : ['idle', 'after'];
    for (const kind of order) {
      await oneRowRoundTrip(server, 500, `latency-${pair}-${kind}`);
      if (kind === 'idle') await new Promise((r) => setTimeout(r, idleMs));
      const w = await watchWindow(`watch-${pair}-${kind}`);
      windows[kind].push(w);
      show(kind, w);
    }
  }
  const med = (xs: number[]) => percentile(xs, 50);
  for (const kind of ['after', 'idle'] as const) {
    const ws = windows[kind];
    console.log(
      `median ${kind.padEnd(5)} p50 ${fmt(med(ws.map((w) => w.p50)), 2)} p95 ${fmt(med(ws.map((w) => w.p95)), 2)} ` +
        `CPU/commit ${fmt(med(ws.map((w) => w.cpuPerCommit)), 2)} ms`,
    );
  }
  const lower = windows.after.filter((w, i) => w.p50 > windows.idle[i]!.p50).length;
  console.log(`after slower than idle (p50) in ${lower} of ${pairs} pairs`);
} finally {
  await observer.end();
  await server.stop();
  await dropDatabase(adminUrl, database);
}
