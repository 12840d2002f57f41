import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
const server = await startBenchServer();
try {
  for (let rep = 0; rep < 2; rep++) {
    const a = new SyncApi(server.baseUrl, await server.signIn('u' + rep), 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    const r = await a.push(1, userRows(100000));
    const t = performance.now();
    const body = await new SyncApi(server.baseUrl, a.token, 'b').call('GET', '/sync/pull');
    const pull = performance.now() - t;
    console.log(
      `total ${r.totalMs.toFixed(0)} ms (${((100000 / r.totalMs) * 1000).toFixed(0)} rows/s), commit ${r.commitMs.toFixed(0)} ms, pull ${pull.toFixed(0)} ms ${(body.length / 1e6).toFixed(1)}MB`,
    );
  }
} finally {
  await server.stop();
}
