import { dropDatabase, freshDatabase, startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
const server = await startBenchServer({ BENCH_SERVER_NODE_ARGS: process.env.ARGS ?? '', DATABASE_URL: await freshDatabase(admin, 'everyday_load') });
console.log('PID', server.pid);
try {
  const token = await server.signIn('t');
  const a = new SyncApi(server.baseUrl, token, 'a'); const b = new SyncApi(server.baseUrl, token, 'b');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  let seq = 0; const until = Date.now() + Number(process.argv[2] ?? 10000);
  while (Date.now() < until) { const p = await a.push(++seq, userRows(1)); await b.call('GET', `/sync/pull?after_bundle_seq=${p.commit.bundle_seq - 1}`); }
} finally { await server.stop(); await dropDatabase(admin, 'everyday_load'); }
