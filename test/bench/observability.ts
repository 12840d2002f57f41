import { dropDatabase, freshDatabase, processCpuMs, startBenchServer, type BenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { percentile } from './stats.js';

const SDK = { BENCH_SERVER_NODE_ARGS: '--import ./test/bench/otel-preload.mjs' };
/** Servers that differ only in what is observed; same code, same PostgreSQL, one database each. */
export const OBSERVABILITY_VARIANTS = {
  off: { OVERSYNC_METRICS: 'false', OVERSYNC_TRACING: 'false', OVERSYNC_LOG_REQUESTS: 'false' },
  metrics: { OVERSYNC_METRICS: 'true', OVERSYNC_TRACING: 'false', OVERSYNC_LOG_REQUESTS: 'false' },
  // tracing on but no SDK registered: the module's own cost of tracing
  metricsTracing: { OVERSYNC_METRICS: 'true', OVERSYNC_TRACING: 'true', OVERSYNC_LOG_REQUESTS: 'false' },
  // a host's SDK registered (AsyncLocalStorage context manager, batch processor, discarding
  // exporter), module tracing off
  metricsSdk: { OVERSYNC_METRICS: 'true', OVERSYNC_TRACING: 'false', OVERSYNC_LOG_REQUESTS: 'false', ...SDK },
  // the module's spans recorded by that SDK
  metricsTracingSdk: { OVERSYNC_METRICS: 'true', OVERSYNC_TRACING: 'true', OVERSYNC_LOG_REQUESTS: 'false', ...SDK },
  // the same plus one JSON request log line per request (stdout of the bench server is discarded)
  all: { OVERSYNC_METRICS: 'true', OVERSYNC_TRACING: 'true', OVERSYNC_LOG_REQUESTS: 'true', ...SDK },
} as const;
export type ObservabilityVariant = keyof typeof OBSERVABILITY_VARIANTS;

export interface VariantFigures {
  p50Ms: number;
  meanMs: number;
  /** server process CPU time (user + system) per round trip: far less sensitive to other load than wall time */
  serverCpuMs: number;
  /** (variant − off) / off, in % */
  overheadPct: { p50: number; mean: number; cpu: number };
}

export interface ObservabilityResult {
  iterations: number;
  variants: Record<ObservabilityVariant, VariantFigures>;
}

/**
 * 1-row push on one device + pull on another against each variant's server. Round trips are
 * interleaved one by one (rotating the order) so that load from other processes on the machine hits
 * every variant alike.
 */
export async function measureObservability(
  adminUrl: string,
  { iterations, warmUp }: { iterations: number; warmUp: number },
): Promise<ObservabilityResult> {
  const order = Object.keys(OBSERVABILITY_VARIANTS) as ObservabilityVariant[];
  const servers = new Map<
    ObservabilityVariant,
    { server: BenchServer; a: SyncApi; b: SyncApi; seq: number; latencies: number[]; cpu: number; signedInAt: number }
  >();
  // dummy sign-in tokens last 5 minutes: renew them between round trips
  const devices = async (server: BenchServer) => {
    const token = await server.signIn('observability');
    return {
      a: new SyncApi(server.baseUrl, token, 'a'),
      b: new SyncApi(server.baseUrl, token, 'b'),
      signedInAt: performance.now(),
    };
  };
  // each variant's fresh database, dropped once its server stopped (a bench run left six behind)
  const databases: string[] = [];
  try {
    for (const variant of order) {
      const name = `bench_observability_${variant.toLowerCase()}_${process.pid}`;
      databases.push(name);
      const server = await startBenchServer({
        ...OBSERVABILITY_VARIANTS[variant],
        DATABASE_URL: await freshDatabase(adminUrl, name),
      });
      const signedIn = await devices(server);
      await signedIn.a.call('POST', '/sync/connect', { has_local_pending_rows: false });
      servers.set(variant, { server, ...signedIn, seq: 0, latencies: [], cpu: 0 });
    }
    const roundTrip = async (variant: ObservabilityVariant, record: boolean) => {
      const s = servers.get(variant)!;
      if (performance.now() - s.signedInAt > 180_000) Object.assign(s, await devices(s.server));
      const cpuBefore = processCpuMs(s.server.pid);
      const t = performance.now();
      const pushed = await s.a.push(++s.seq, userRows(1));
      await s.b.call('GET', `/sync/pull?after_bundle_seq=${pushed.commit.bundle_seq - 1}`);
      if (!record) return;
      s.latencies.push(performance.now() - t);
      s.cpu += processCpuMs(s.server.pid) - cpuBefore;
    };
    for (let i = 0; i < warmUp; i++) for (const variant of order) await roundTrip(variant, false);
    for (let i = 0; i < iterations; i++) {
      for (let k = 0; k < order.length; k++) await roundTrip(order[(i + k) % order.length]!, true);
    }
    const figures = (variant: ObservabilityVariant) => {
      const { latencies, cpu } = servers.get(variant)!;
      return {
        p50Ms: percentile(latencies, 50),
        meanMs: latencies.reduce((sum, x) => sum + x, 0) / latencies.length,
        serverCpuMs: cpu / latencies.length,
      };
    };
    const off = figures('off');
    const pct = (on: number, base: number) => ((on - base) / base) * 100;
    const variants = Object.fromEntries(
      order.map((variant) => {
        const f = figures(variant);
        return [
          variant,
          {
            ...f,
            overheadPct: {
              p50: pct(f.p50Ms, off.p50Ms),
              mean: pct(f.meanMs, off.meanMs),
              cpu: pct(f.serverCpuMs, off.serverCpuMs),
            },
          },
        ];
      }),
    ) as Record<ObservabilityVariant, VariantFigures>;
    return { iterations, variants };
  } finally {
    for (const { server } of servers.values()) await server.stop();
    for (const name of databases) await dropDatabase(adminUrl, name);
  }
}
