// Server side of snapshot hydration alone: create + page all chunks over HTTP (no client apply).
import { startBenchServer } from './bench-server.js';
import { SyncApi, userRows } from './sync-api.js';

const rows = Number(process.argv[2] ?? 100_000);
const server = await startBenchServer();
try {
  const writer = new SyncApi(server.baseUrl, await server.signIn(`snap-${rows}`), 'w');
  await writer.call('POST', '/sync/connect', { has_local_pending_rows: false });
  // a kept database (DATABASE_URL) may hold the rows already
  const seeded = (JSON.parse(await writer.call('GET', '/sync/pull?max_bundles=1')) as { stable_bundle_seq: number })
    .stable_bundle_seq;
  // a fresh token per push: seeding 1,000,000 rows on a loaded machine outlives one (5 min)
  for (let i = seeded; i < rows / 100_000; i++)
    await new SyncApi(server.baseUrl, await server.signIn(`snap-${rows}`), 'w').push(
      i + 1,
      userRows(Math.min(100_000, rows)),
    );
  const reps = Number(process.argv[3] ?? 2);
  for (let rep = 0; rep < reps; rep++) {
    const reader = new SyncApi(server.baseUrl, await server.signIn(`snap-${rows}`), 'r');
    const t0 = performance.now();
    const created = JSON.parse(await reader.call('POST', '/sync/snapshot-sessions', {})) as {
      snapshot_id: string;
      row_count: number;
    };
    const t1 = performance.now();
    let after = 0;
    let received = 0;
    for (;;) {
      const page = JSON.parse(
        await reader.call(
          'GET',
          `/sync/snapshot-sessions/${created.snapshot_id}?after_row_ordinal=${after}&max_rows=5000`,
        ),
      ) as { rows: unknown[]; next_row_ordinal: number; has_more: boolean };
      received += page.rows.length;
      after = page.next_row_ordinal;
      if (!page.has_more) break;
    }
    const t2 = performance.now();
    await reader.call('DELETE', `/sync/snapshot-sessions/${created.snapshot_id}`);
    console.log(
      `snapshot ${created.row_count} rows: create ${(t1 - t0).toFixed(0)} ms, chunks ${(t2 - t1).toFixed(0)} ` +
        `ms (${received} rows, ${((received / (t2 - t0)) * 1000).toFixed(0)} rows/s), server peak RSS ` +
        `${server.peakRssMiB().toFixed(0)} MiB`,
    );
  }
} finally {
  await server.stop();
}
