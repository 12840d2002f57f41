import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startBenchServer, type BenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { percentile } from './stats.js';

/** The 1-row round trip's servers: same code, same PostgreSQL, one database each. */
const VARIANTS = {
  off: { OVERSYNC_METRICS: 'false', OVERSYNC_TRACING: 'false', OVERSYNC_LOG_REQUESTS: 'false' },
  // metrics on the global registry, spans recorded by an SDK (batch processor, discarding exporter)
  on: { OVERSYNC_METRICS: 'true', OVERSYNC_TRACING: 'true', OVERSYNC_LOG_REQUESTS: 'false', BENCH_SERVER_NODE_ARGS: '--import ./test/bench/otel-preload.mjs' },
  // the same plus one JSON request log line per request (stdout of the bench server is discarded)
  onWithLogs: { OVERSYNC_METRICS: 'true', OVERSYNC_TRACING: 'true', OVERSYNC_LOG_REQUESTS: 'true', BENCH_SERVER_NODE_ARGS: '--import ./test/bench/otel-preload.mjs' },
} as const;
type Variant = keyof typeof VARIANTS;

export interface ObservabilityResult {
  iterations: number;
  rounds: number;
  p50Ms: Record<Variant, number>;
  meanMs: Record<Variant, number>;
  /** server process CPU time (user + system) per round trip, ms: far less sensitive to other load than wall time */
  serverCpuMs: Record<Variant, number>;
  /** (on − off) / off of the p50, of the mean and of the server CPU per round trip, in % */
  overheadPct: { p50: number; mean: number; cpu: number; p50WithLogs: number; meanWithLogs: number; cpuWithLogs: number };
}

/** utime + stime of a process, ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * 1-row push on one device + pull on another, against servers that differ only in metrics, tracing
 * and request logs. Round trips are interleaved one by one (rotating the order) so that load from
 * other processes on the machine hits every variant alike.
 */
export async function measureObservability(adminUrl: string, { rounds, perRound }: { rounds: number; perRound: number }): Promise<ObservabilityResult> {
  const cpu = { off: 0, on: 0, onWithLogs: 0 } as Record<Variant, number>;
  const servers = new Map<Variant, { server: BenchServer; a: SyncApi; b: SyncApi; seq: number }>();
  const latencies = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  try {
    for (const [variant, env] of Object.entries(VARIANTS) as Array<[Variant, Record<string, string>]>) {
      const name = `bench_observability_${variant.toLowerCase()}_${process.pid}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const server = await startBenchServer({ ...env, DATABASE_URL: url.toString() });
      const token = await server.signIn('observability');
      const a = new SyncApi(server.baseUrl, token, 'a');
      const b = new SyncApi(server.baseUrl, token, 'b');
      await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
      servers.set(variant, { server, a, b, seq: 0 });
    }
    const roundTrip = async (variant: Variant, record: boolean) => {
      const s = servers.get(variant)!;
      const cpuBefore = cpuMs(s.server.pid);
      const t = performance.now();
      const pushed = await s.a.push(++s.seq, userRows(1));
      await s.b.call('GET', `/sync/pull?after_bundle_seq=${pushed.commit.bundle_seq - 1}`);
      if (!record) return;
      latencies[variant].push(performance.now() - t);
      cpu[variant] += cpuMs(s.server.pid) - cpuBefore;
    };
    const order = Object.keys(VARIANTS) as Variant[];
    for (const variant of order) for (let i = 0; i < perRound; i++) await roundTrip(variant, false); // warm-up
    for (let i = 0; i < rounds * perRound; i++) {
      for (let k = 0; k < order.length; k++) await roundTrip(order[(i + k) % order.length]!, true);
    }
  } finally {
    for (const { server } of servers.values()) await server.stop();
  }
  const p50 = (v: Variant) => percentile(latencies[v], 50);
  const mean = (v: Variant) => latencies[v].reduce((sum, x) => sum + x, 0) / latencies[v].length;
  const pct = (on: number, off: number) => ((on - off) / off) * 100;
  return {
    iterations: latencies.off.length,
    rounds,
    p50Ms: { off: p50('off'), on: p50('on'), onWithLogs: p50('onWithLogs') },
    meanMs: { off: mean('off'), on: mean('on'), onWithLogs: mean('onWithLogs') },
    serverCpuMs: { off: cpu.off / latencies.off.length, on: cpu.on / latencies.on.length, onWithLogs: cpu.onWithLogs / latencies.onWithLogs.length },
    overheadPct: {
      p50: pct(p50('on'), p50('off')), mean: pct(mean('on'), mean('off')), cpu: pct(cpu.on, cpu.off),
      p50WithLogs: pct(p50('onWithLogs'), p50('off')), meanWithLogs: pct(mean('onWithLogs'), mean('off')), cpuWithLogs: pct(cpu.onWithLogs, cpu.off),
    },
  };
}
