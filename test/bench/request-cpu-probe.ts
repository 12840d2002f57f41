// Server CPU per 1-row round trip (create + chunk + commit + pull on another device) for servers that
// differ only in their environment, the round trips interleaved one by one so that other load hits
// every variant alike. `DATABASE_URL=<admin url> tsx test/bench/request-cpu-probe.ts '<variants json>' [iterations]`
// e.g. '{"logs":{},"no request log":{"OVERSYNC_LOG_REQUESTS":"false"},"silent":{"LOG_LEVEL":"silent"}}';
// `"BENCH_SERVER_CWD":"/path/of/another/checkout"` runs that build. Each iteration also sends
// FLOOR_CALLS empty requests (GET /sync/capabilities, default 5): the server CPU of the HTTP floor.
// BENCH_DATABASE_PREFIX names the variants' databases (default `bench_cpu_probe`).
import { dropDatabase, freshDatabase, processCpuMs, startBenchServer, type BenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { fmt, percentile } from './stats.js';

const variants = JSON.parse(process.argv[2] ?? '{"default":{}}') as Record<string, Record<string, string>>;
const iterations = Number(process.argv[3] ?? 300);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl)
  throw new Error('DATABASE_URL (an admin connection) is required: each variant gets a database of its own');

const servers: Array<{
  name: string;
  database: string;
  server: BenchServer;
  a: SyncApi;
  b: SyncApi;
  seq: number;
  cpu: number;
  floorCpu: number;
  latencies: number[];
  floor: number[];
}> = [];
const FLOOR_CALLS = Number(process.env.FLOOR_CALLS ?? 5);
try {
  for (const [name, env] of Object.entries(variants)) {
    const database = `${process.env.BENCH_DATABASE_PREFIX ?? 'bench_cpu_probe'}_${servers.length}_${process.pid}`;
    const server = await startBenchServer({ ...env, DATABASE_URL: await freshDatabase(adminUrl, database) });
    const token = await server.signIn('cpu-probe');
    const a = new SyncApi(server.baseUrl, token, 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    servers.push({
      name,
      database,
      server,
      a,
      b: new SyncApi(server.baseUrl, token, 'b'),
      seq: 0,
      cpu: 0,
      floorCpu: 0,
      latencies: [],
      floor: [],
    });
  }
  const warmUp = Math.ceil(iterations / 10);
  for (let i = 0; i < warmUp + iterations; i++) {
    for (let k = 0; k < servers.length; k++) {
      const s = servers[(i + k) % servers.length]!;
      const before = processCpuMs(s.server.pid);
      const t = performance.now();
      const pushed = await s.a.push(++s.seq, userRows(1));
      await s.b.call('GET', `/sync/pull?after_bundle_seq=${pushed.commit.bundle_seq - 1}`);
      if (i < warmUp) continue;
      s.latencies.push(performance.now() - t);
      s.cpu += processCpuMs(s.server.pid) - before;
      const floorBefore = processCpuMs(s.server.pid);
      for (let f = 0; f < FLOOR_CALLS; f++) {
        const t0 = performance.now();
        await s.b.call('GET', '/sync/capabilities');
        s.floor.push(performance.now() - t0);
      }
      s.floorCpu += processCpuMs(s.server.pid) - floorBefore;
    }
  }
  const base = servers[0]!;
  const change = (value: number, of: number) => (value === of ? 'base' : `${fmt(((value - of) / of) * 100, 1)} %`);
  for (const s of servers) {
    console.log(
      `${s.name.padEnd(28)} server CPU per round trip ${fmt(s.cpu / iterations, 3)} ms (` +
        `${change(s.cpu, base.cpu)}), p50 ${fmt(percentile(s.latencies, 50), 2)} ms`,
    );
    if (FLOOR_CALLS > 0)
      console.log(
        `${''.padEnd(28)} per empty request ${fmt(s.floorCpu / iterations / FLOOR_CALLS, 3)} ms (` +
          `${change(s.floorCpu, base.floorCpu)}), p50 ${fmt(percentile(s.floor, 50), 2)} ms`,
      );
  }
} finally {
  for (const { server, database } of servers) {
    await server.stop();
    await dropDatabase(adminUrl, database);
  }
}
