// Push probe: PUSH_PROBE_ROWS rows (default 100,000) pushed end to end twice by fresh users, then pulled
// by another device; prints the times and the server's RSS (peak of each push, and after).
import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
const rows = Number(process.env.PUSH_PROBE_ROWS ?? 100_000);
const server = await startBenchServer();
try {
  for (let rep = 0; rep < 2; rep++) {
    const a = new SyncApi(server.baseUrl, await server.signIn('u' + rep), 'a');
    await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
    server.startPhase();
    const r = await a.push(1, userRows(rows));
    const pushPeak = server.phasePeakRssMiB();
    const t = performance.now();
    const body = await new SyncApi(server.baseUrl, a.token, 'b').call('GET', '/sync/pull');
    const pull = performance.now() - t;
    console.log(
      `total ${r.totalMs.toFixed(0)} ms (${((rows / r.totalMs) * 1000).toFixed(0)} rows/s), commit ${r.commitMs.toFixed(0)} ms, pull ${pull.toFixed(0)} ms ${(body.length / 1e6).toFixed(1)}MB; server RSS peak during push ${pushPeak.toFixed(0)} MiB, now ${server.rssMiB().toFixed(0)} MiB`,
    );
  }
} finally {
  await server.stop();
}
