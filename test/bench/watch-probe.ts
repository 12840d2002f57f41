// Issue 21 probe: the watch path of a 1-row commit on servers that differ only in their build or
// environment (variants as in request-cpu-probe.ts), commits interleaved one at a time. Per variant:
// commit request start → SSE `bundle` event (what the bench measures), the commit's own round trip,
// and how long after the commit's answer the event came (negative: before it); the server's CPU and its
// database backends' CPU per measured commit (/proc).
// BENCH_DATABASE_PREFIX names the variants' databases (default `everyday_watch`); a variant's BENCH_ADMIN_URL puts
// its database on another PostgreSQL (e.g. the bench's embedded one beside the system's).
// `DATABASE_URL=<admin url> tsx test/bench/watch-probe.ts '<variants json>' [commits]`
import pg from 'pg';
import {
  databaseBackendCpu,
  dropDatabase,
  freshDatabase,
  heapMiB,
  processCpuMs,
  startBenchServer,
  type BenchServer,
} from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { oneRowRoundTrip } from './everyday.js';
import { SseStream, syncHeaders } from '../support/sse.js';
import { fmt, percentile } from './stats.js';

const variants = JSON.parse(process.argv[2] ?? '{"this":{}}') as Record<string, Record<string, string>>;
const commits = Number(process.argv[3] ?? 300);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');

interface Variant {
  name: string;
  database: string;
  adminUrl: string;
  server: BenchServer;
  observer: pg.Client;
  cpuMs: number;
  backendCpuMs: number;
  writer: SyncApi;
  stream: SseStream;
  seq: number;
  event: number[];
  commit: number[];
  flush: number[];
  afterAnswer: number[];
}
const up: Variant[] = [];
try {
  for (const [name, env] of Object.entries(variants)) {
    const database = `${process.env.BENCH_DATABASE_PREFIX ?? 'everyday_watch'}_${up.length}`;
    const admin = env.BENCH_ADMIN_URL ?? adminUrl;
    const server = await startBenchServer({ ...env, DATABASE_URL: await freshDatabase(admin, database) });
    // WATCH_PROBE_PRELOAD=n: the bench's latency phase first (n 1-row round trips of another user), as the bench's
    // watch phase follows it; WATCH_PROBE_ANALYZE=1 then ANALYZEs the database (as autovacuum would have)
    if (env.WATCH_PROBE_PRELOAD) await oneRowRoundTrip(server, Number(env.WATCH_PROBE_PRELOAD), 'watch-probe-preload');
    // WATCH_PROBE_BULK=n: then the bench's bulk phase in small (one n-row push and its pull, another user)
    if (env.WATCH_PROBE_BULK) {
      const bulk = new SyncApi(server.baseUrl, await server.signIn('watch-probe-bulk'), 'bulk');
      await bulk.call('POST', '/sync/connect', { has_local_pending_rows: false });
      const pushed = await bulk.push(1, userRows(Number(env.WATCH_PROBE_BULK)));
      console.log(`${name}: bulk push ${fmt(pushed.totalMs)} ms, its commit ${fmt(pushed.commitMs)} ms`);
      await new SyncApi(server.baseUrl, bulk.token, 'bulk-reader').call('GET', '/sync/pull?after_bundle_seq=0');
    }
    if (env.WATCH_PROBE_ANALYZE === '1') {
      const client = new pg.Client({ connectionString: server.databaseUrl });
      await client.connect();
      await client.query('ANALYZE');
      await client.end();
    }
    console.log(`${name}: server RSS ${fmt(server.rssMiB())} MiB, ${await heapMiB(server.baseUrl)}`);
    const token = await server.signIn('watch-probe');
    const writer = new SyncApi(server.baseUrl, token, 'writer');
    await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const stream = await SseStream.open(
      `${server.baseUrl}/sync/watch?after_bundle_seq=0`,
      syncHeaders(token, 'watcher'),
    );
    const observer = new pg.Client({ connectionString: server.databaseUrl });
    await observer.connect();
    up.push({
      name,
      database,
      adminUrl: admin,
      server,
      observer,
      cpuMs: 0,
      backendCpuMs: 0,
      writer,
      stream,
      seq: 0,
      event: [],
      commit: [],
      flush: [],
      afterAnswer: [],
    });
  }
  const warmUp = Math.ceil(commits / 10);
  const backendSeconds = async (v: Variant) =>
    [...(await databaseBackendCpu(v.observer)).values()].reduce((a, b) => a + b, 0);
  for (let i = 0; i < warmUp + commits; i++) {
    if (i === warmUp)
      for (const v of up) {
        v.cpuMs = -processCpuMs(v.server.pid);
        v.backendCpuMs = -(await backendSeconds(v)) * 1000;
      }
    for (let k = 0; k < up.length; k++) {
      const v = up[(i + k) % up.length]!;
      const seq = ++v.seq;
      const { push_id: pushId } = JSON.parse(
        await v.writer.call('POST', '/sync/push-sessions', { source_bundle_id: seq, planned_row_count: 1 }),
      ) as { push_id: string };
      await v.writer.call('POST', `/sync/push-sessions/${pushId}/chunks`, { start_row_ordinal: 0, rows: userRows(1) });
      const t = performance.now();
      let answered = 0;
      const committed = v.writer
        .call('POST', `/sync/push-sessions/${pushId}/commit`)
        .then(() => (answered = performance.now()));
      const frame = await v.stream.next(
        (f) => f.event === 'bundle' && (JSON.parse(f.data ?? '{}') as { bundle_seq?: number }).bundle_seq === seq,
        5000,
      );
      await committed;
      if (i < warmUp) continue;
      // the disk's share: a commit's WAL flush alone on the variant's database, right after
      const f = performance.now();
      await v.observer.query("SELECT pg_logical_emit_message(true, 'watch-probe', '')");
      v.flush.push(performance.now() - f);
      v.event.push(frame.receivedAt - t);
      v.commit.push(answered - t);
      v.afterAnswer.push(frame.receivedAt - answered);
    }
  }
  for (const v of up) {
    v.cpuMs += processCpuMs(v.server.pid);
    v.backendCpuMs += (await backendSeconds(v)) * 1000;
  }
  const p = (values: number[]) => `${fmt(percentile(values, 50), 2)} / ${fmt(percentile(values, 95), 2)}`;
  console.log(`${commits} commits each, p50 / p95 ms`);
  for (const v of up)
    console.log(
      `${v.name.padEnd(12)} ${await heapMiB(v.server.baseUrl)}\n${' '.repeat(13)}` +
        `commit start → event ${p(v.event)}; commit answer ${p(v.commit)}; event − answer ${p(v.afterAnswer)}; ` +
        `WAL flush alone ${p(v.flush)}; CPU per commit: server ${fmt(v.cpuMs / commits, 2)}, ` +
        `its backends ${fmt(v.backendCpuMs / commits, 2)} ms`,
    );
} finally {
  for (const v of up) {
    await v.stream.close();
    await v.observer.end();
    await v.server.stop();
    await dropDatabase(v.adminUrl, v.database);
  }
}
