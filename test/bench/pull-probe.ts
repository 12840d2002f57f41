// Pull alone: push N rows once (system PG via DATABASE_URL keeps the data for EXPLAIN), then time pulls.
import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';
const rows = Number(process.argv[2] ?? 100_000);
const server = await startBenchServer();
try {
  const a = new SyncApi(server.baseUrl, await server.signIn('pullprobe'), 'a');
  await a.call('POST', '/sync/connect', { has_local_pending_rows: false });
  const first = JSON.parse(await a.call('GET', '/sync/pull')) as { stable_bundle_seq: number };
  if (first.stable_bundle_seq === 0)
    for (let i = 0; i < rows / 100_000; i++) await a.push(i + 1, userRows(Math.min(rows, 100_000)));
  const b = new SyncApi(server.baseUrl, a.token, 'b');
  for (let rep = 0; rep < 4; rep++) {
    const rss0 = server.peakRssMiB();
    const t = performance.now();
    const res = await fetch(`${server.baseUrl}/sync/pull`, {
      headers: { authorization: `Bearer ${a.token}`, 'oversync-source-id': 'b' },
    });
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
    const ms = performance.now() - t;
    console.log(
      `pull ${rows} rows: ${ms.toFixed(0)} ms (${((rows / ms) * 1000).toFixed(0)} rows/s) ${(bytes / 1e6).toFixed(1)} MB, server peak RSS ${rss0.toFixed(0)} -> ${server.peakRssMiB().toFixed(0)} MiB`,
    );
  }
  void b;
} finally {
  await server.stop();
}
