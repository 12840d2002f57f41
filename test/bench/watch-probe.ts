// Issue 21 probe: the watch path of a 1-row commit on servers that differ only in their build or
// environment (variants as in request-cpu-probe.ts), commits interleaved one at a time. Per variant:
// commit request start → SSE `bundle` event (what the bench measures), the commit's own round trip,
// and how long after the commit's answer the event came (negative: before it).
// `DATABASE_URL=<admin url> tsx test/bench/watch-probe.ts '<variants json>' [commits]`
import { dropDatabase, freshDatabase, startBenchServer, type BenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { SseStream, syncHeaders } from '../support/sse.js';
import { fmt, percentile } from './stats.js';

const variants = JSON.parse(process.argv[2] ?? '{"this":{}}') as Record<string, Record<string, string>>;
const commits = Number(process.argv[3] ?? 300);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) throw new Error('DATABASE_URL (an admin connection) is required');

interface Variant {
  name: string;
  database: string;
  server: BenchServer;
  writer: SyncApi;
  stream: SseStream;
  seq: number;
  event: number[];
  commit: number[];
  afterAnswer: number[];
}
const up: Variant[] = [];
try {
  for (const [name, env] of Object.entries(variants)) {
    // PROBE_DB_PREFIX: the databases' names (another probe running on the same PostgreSQL keeps its own)
    const database = `${process.env.PROBE_DB_PREFIX ?? 'everyday_watch'}_${up.length}`;
    const server = await startBenchServer({ ...env, DATABASE_URL: await freshDatabase(adminUrl, database) });
    const token = await server.signIn('watch-probe');
    const writer = new SyncApi(server.baseUrl, token, 'writer');
    await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const stream = await SseStream.open(
      `${server.baseUrl}/sync/watch?after_bundle_seq=0`,
      syncHeaders(token, 'watcher'),
    );
    up.push({ name, database, server, writer, stream, seq: 0, event: [], commit: [], afterAnswer: [] });
  }
  const warmUp = Math.ceil(commits / 10);
  for (let i = 0; i < warmUp + commits; i++) {
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
      v.event.push(frame.receivedAt - t);
      v.commit.push(answered - t);
      v.afterAnswer.push(frame.receivedAt - answered);
    }
  }
  const p = (values: number[]) => `${fmt(percentile(values, 50), 2)} / ${fmt(percentile(values, 95), 2)}`;
  console.log(`${commits} commits each, p50 / p95 ms`);
  for (const v of up)
    console.log(
      `${v.name.padEnd(12)} commit start → event ${p(v.event)}; commit answer ${p(v.commit)}; ` +
        `event − answer ${p(v.afterAnswer)}`,
    );
} finally {
  for (const v of up) {
    await v.stream.close();
    await v.server.stop();
    await dropDatabase(adminUrl, v.database);
  }
}
