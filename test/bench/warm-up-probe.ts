// Issue 21 probe: how a fresh server's cost per 1-row round trip (create + chunk + commit + pull on
// another device) falls while V8 optimizes it. Per window of round trips: p50 wall time and the CPU of
// the server's main thread and of its other threads (V8's compiler and GC workers), from schedstat.
// `DATABASE_URL=<admin url> [NODE_FLAGS='--interrupt-budget=…'] tsx test/bench/warm-up-probe.ts [per window] [windows]`
import { readdirSync, readFileSync } from 'node:fs';
import { dropDatabase, freshDatabase, startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { fmt, percentile } from './stats.js';

const perWindow = Number(process.argv[2] ?? 300);
const windows = Number(process.argv[3] ?? 8);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'everyday_warm_up_probe';
const server = await startBenchServer({
  BENCH_SERVER_NODE_ARGS: process.env.NODE_FLAGS ?? '',
  DATABASE_URL: await freshDatabase(adminUrl, DATABASE),
});

/** CPU ms so far of the server's main thread and of all its other threads. */
function threadCpu(): { main: number; others: number } {
  const cpu = { main: 0, others: 0 };
  for (const task of readdirSync(`/proc/${server.pid}/task`)) {
    const ms = Number(readFileSync(`/proc/${server.pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    if (task === String(server.pid)) cpu.main += ms;
    else cpu.others += ms;
  }
  return cpu;
}

try {
  const token = await server.signIn('warm-up');
  const a = new SyncApi(server.baseUrl, token, 'a');
  const b = new SyncApi(server.baseUrl, token, 'b');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  let sourceBundleId = 0;
  for (let w = 0; w < windows; w++) {
    const before = threadCpu();
    const latencies: number[] = [];
    for (let i = 0; i < perWindow; i++) {
      const t = performance.now();
      const pushed = await a.push(++sourceBundleId, userRows(1));
      await b.call('GET', `/sync/pull?after_bundle_seq=${pushed.commit.bundle_seq - 1}`);
      latencies.push(performance.now() - t);
    }
    const after = threadCpu();
    console.log(
      `round trips ${w * perWindow}–${(w + 1) * perWindow - 1}: p50 ${fmt(percentile(latencies, 50), 2)} ms; ` +
        `server CPU per round trip: main thread ${fmt((after.main - before.main) / perWindow, 3)} ms, ` +
        `other threads ${fmt((after.others - before.others) / perWindow, 3)} ms`,
    );
  }
} finally {
  await server.stop();
  await dropDatabase(adminUrl, DATABASE);
}
