import { readdirSync, readFileSync } from 'node:fs';
import { dropDatabase, freshDatabase, startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
import { percentile } from './stats.js';
const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
const server = await startBenchServer({ BENCH_SERVER_NODE_ARGS: process.env.ARGS ?? '', DATABASE_URL: await freshDatabase(admin, 'everyday_warm') });
const cpu = () => { let m = 0, w = 0; for (const t of readdirSync(`/proc/${server.pid}/task`)) { const v = Number(readFileSync(`/proc/${server.pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6; if (t === String(server.pid)) m += v; else w += v; } return [m, w]; };
try {
  const token = await server.signIn('t');
  const a = new SyncApi(server.baseUrl, token, 'a'); const b = new SyncApi(server.baseUrl, token, 'b');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  let seq = 0; const W = Number(process.argv[2] ?? 300);
  for (let w = 0; w < Number(process.argv[3] ?? 8); w++) {
    const [m0, w0] = cpu(); const lat: number[] = [];
    for (let i = 0; i < W; i++) { const t = performance.now(); const p = await a.push(++seq, userRows(1)); await b.call('GET', `/sync/pull?after_bundle_seq=${p.commit.bundle_seq - 1}`); lat.push(performance.now() - t); }
    const [m1, w1] = cpu();
    console.log(`window ${w}: round trip p50 ${percentile(lat, 50).toFixed(2)} ms; server main ${((m1 - m0) / W).toFixed(3)} ms, workers ${((w1 - w0) / W).toFixed(3)} ms per round trip`);
  }
} finally { await server.stop(); await dropDatabase(admin, 'everyday_warm'); }
